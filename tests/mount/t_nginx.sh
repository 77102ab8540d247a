#!/usr/bin/env bash
# A real server uses the vault's certificates: Debian's nginx, its master running as root,
# loads fullchain.pem and key.pem of an exportable certificate issued by a vault CA
# straight from the mount, and curl completes the handshake trusting only the CA's
# cert.pem from the mount. Policy gives export on certs/web to nginx's executable alone:
# root's own cat gets EACCES on key.pem, and nginx's reads are recorded with its exe.
# After `vaultfs cert renew` and `nginx -s reload` the server presents the new version.
. "$(dirname "$0")/lib.sh"
NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || { echo "nginx missing (scripts/deps.sh --tests): skipped"; exit 77; }
command -v curl >/dev/null || { echo "curl missing: skipped"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (nginx's master as root): skipped"; exit 77; }
C=$M/certs
new_vault "$(cat <<POLICY
allow     *               secrets/**    uid=0
allow     *               keys/**       uid=0
allow     *               certs/ca      uid=0
allow     list            certs         uid=0
allow     read,list       certs/web     uid=0
allow     read,export     certs/web     uid=0 exe=$NGINX
POLICY
)"
cert() { "$VAULTFS" cert "$@"; }
check "a vault CA" cert create "$V" ca --subject "/CN=Example Vault CA" --ca --days 3650
check "a server certificate it issues, exportable" cert create "$V" web \
	--subject /CN=web.example --san DNS:web.example --issuer ca --exportable --days 30
start

same "root's cat gets no key.pem: export is nginx's" "open:EACCES" "$(sys_ read "$C/web/key.pem")"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
N=$T/nginx
mkdir -p "$N/tmp" "$N/logs"
cat >"$N/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/logs/error.log;
events { worker_connections 64; }
http {
	access_log $N/logs/access.log;
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	server {
		listen 127.0.0.1:$PORT ssl;
		server_name web.example;
		ssl_certificate $C/web/fullchain.pem;
		ssl_certificate_key $C/web/key.pem;
		location / { return 200 "served by nginx\n"; }
	}
}
CONF
ngx() { "$NGINX" -p "$N" -e "$N/logs/error.log" -c "$N/nginx.conf" "$@"; }
check "nginx -t reads the certificate and key from the mount" ngx -t
NGINX_PID=
stop_nginx() {
	[ -n "$NGINX_PID" ] || return 0
	kill -QUIT "$NGINX_PID" 2>/dev/null
	wait_exit "$NGINX_PID" 10 || kill -KILL "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
}
at_exit stop_nginx
env --default-signal=INT "$NGINX" -p "$N" -e "$N/logs/error.log" -c "$N/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 1 100); do
	curl -s -o /dev/null -k "https://127.0.0.1:$PORT/" && break
	kill -0 "$NGINX_PID" 2>/dev/null || break
	sleep 0.1
done

get() {
	curl -sS --cacert "$C/ca/cert.pem" --resolve "web.example:$PORT:127.0.0.1" \
		"https://web.example:$PORT/"
}
same "curl trusts the vault CA's cert.pem and completes the handshake" "served by nginx" "$(get 2>&1)"
served_serial() {
	openssl s_client -connect "127.0.0.1:$PORT" -servername web.example </dev/null 2>/dev/null |
		openssl x509 -noout -serial
}
same "nginx serves the current version" "$(openssl x509 -in "$C/web/cert.pem" -noout -serial)" \
	"$(served_serial)"
same "nginx's export recorded with its executable" "0 allow key.pem $NGINX" \
	"$(jq -r 'select(.op=="export" and .decision=="allow") | "\(.uid) \(.decision) \(.detail) \(.exe)"' "$V/audit.log" | tail -n 1)"

# Renew, reload: the new version is served.
old=$(served_serial)
check "cert renew" cert renew "$V" web
new=$(openssl x509 -in "$C/web/cert.pem" -noout -serial)
[ "$old" != "$new" ] && pass || fail "the renewal kept serial $old"
check "nginx -s reload" ngx -s reload
got=
for _ in $(seq 1 100); do
	got=$(served_serial)
	[ "$got" = "$new" ] && break
	sleep 0.1
done
same "after the reload nginx serves the renewed version" "$new" "$got"
same "and curl still completes the handshake" "served by nginx" "$(get 2>&1)"

stop_nginx
stop
check "the trail verifies" "$VAULTFS" audit verify "$V"
finish

#!/usr/bin/env bash
# The lifetime engine and certificates, through the real mount, the real token and real
# openssl: with `[lifetime] interval = 1`, a self-signed and a vault-CA-issued certificate
# of short validity are renewed when their --renew-at point comes (a new version in
# certs/NAME, recorded as cert-renew under the rule lifetime, a new serial and a new key,
# the issued one still verifying against the CA); a certificate of an outside CA gets a
# pending renewal (csr.pem beside its files) instead; an expiring certificate is warned of
# once a day and shown by cert list; and `vaultfs watch` prints a line within a second for
# the renewals and for a key rotation made by the engine.
. "$(dirname "$0")/lib.sh"
A=$V/audit.log
C=$M/certs
new_vault
cert() { "$VAULTFS" cert "$@"; }
sed -i '/^\[lifetime\]/,$ s/^interval = 3600$/interval = 1/' "$V/vaultfs.conf"

# Bad durations: a usage error (exit 2, one line), nothing changed.
before=$(db_dump "$V")
usage() {
	local what=$1; shift
	"$@" >/dev/null 2>"$T/.err"
	same "$what: exit" 2 "$?"
	same "$what: one line" 1 "$(grep -c '^vaultfs: .*takes' "$T/.err")"
}
usage "--days 0" cert create "$V" x --subject /CN=x --days 0
usage "--days 2w" cert create "$V" x --subject /CN=x --days 2w
usage "--renew-at 30 (no unit)" cert create "$V" x --subject /CN=x --renew-at 30
usage "--renew-at 100%" cert create "$V" x --subject /CN=x --renew-at 100%
same "nothing changed by the refusals" "$before" "$(db_dump "$V")"

check "a vault CA" cert create "$V" ca --subject "/CN=Fleet CA" --ca --days 3650
# 40 s of validity, renewed 30 s before its end: about 10 s after it is made
check "a leaf of the vault CA, 40 s" cert create "$V" web --subject /CN=web.example \
	--san DNS:web.example --issuer ca --days 40s --renew-at 30s
check "a self-signed one, 20 s, renewed at 50%" cert create "$V" self1 --subject /CN=self1 \
	--type rsa-2048 --days 20s --renew-at 50%
check "one without --renew-at" cert create "$V" still --subject /CN=still --days 20s
# an outside CA's certificate, one day long, to be renewed two days before its end: at once
check "a request for an outside CA" cert create "$V" shop --subject /CN=shop.example \
	--issuer unknown --renew-at 2d
cert get "$V" shop csr.pem >"$T/shop.csr"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/oca.key" \
	-subj /CN=Outside -days 30 -out "$T/oca.pem" 2>/dev/null
openssl x509 -req -in "$T/shop.csr" -CA "$T/oca.pem" -CAkey "$T/oca.key" -days 1 \
	-out "$T/shop.pem" 2>/dev/null
check "the outside CA's answer merged" cert merge "$V" shop "$T/shop.pem"
check "a key rotated every 3 s" "$VAULTFS" key create "$V" rot --type ec-p256 --rotate-every 3s
serial() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
pubkey() { openssl x509 -noout -pubkey -in "$1" | sha256sum; }
cert get "$V" web cert.pem >"$T/web1.pem"
cert get "$V" self1 cert.pem >"$T/self1.pem"
cert get "$V" ca cert.pem >"$T/ca.pem"

W_PID=
stop_watcher() { [ -n "$W_PID" ] && kill -TERM "$W_PID" 2>/dev/null; }
at_exit stop_watcher
# each line prefixed with the moment it arrived (ns), to measure how late it is
env --default-signal=INT "$VAULTFS" watch "$V" certs keys/rot 2>"$T/watch.err" |
	while IFS= read -r l; do printf '%s\t%s\n' "$(date +%s%N)" "$l"; done >"$T/watch.t" &
for _ in $(seq 1 100); do W_PID=$(pgrep -f "vaultfs watch $V") && break; sleep 0.02; done
for _ in $(seq 1 100); do
	ls -l "/proc/$W_PID/fd" 2>/dev/null | grep -q inotify && break
	sleep 0.02
done

start
# Each renewal's line: within a second of its record, which is written as it commits.
# wait_line JQ SECONDS: the first watch line matching JQ ("ARRIVAL_NS<tab>LINE"), waited
# for up to SECONDS.
wait_line() {
	for _ in $(seq 1 $(($2 * 10))); do
		cut -f2 "$T/watch.t" >"$T/watch"
		grep -n . "$T/watch" | while IFS=: read -r n l; do
			jq -e "$1" <<<"$l" >/dev/null && { sed -n "${n}p" "$T/watch.t"; break; }
		done | grep . && return 0
		sleep 0.1
	done
	return 1
}
for what in "certs/self1 2" "certs/web 2" "keys/rot 2"; do
	set -- $what
	got=$(wait_line ".path == \"$1\" and .version == $2" 30) ||
		{ fail "no watch line for $1 version $2: $(cat "$T/watch.t" "$T/watch.err")"; continue; }
	seen=${got%%$'\t'*}
	line=${got#*$'\t'}
	rec=$(date -d "$(jq -r .time <<<"$line")" +%s%N)
	echo "$1@$2: $line, seen $(((seen - rec) / 1000000)) ms after its record"
	[ $(((seen - rec) / 1000000)) -lt 1000 ] && pass || fail "$1: line $(((seen - rec) / 1000000)) ms late"
done
same "the engine's renewal op" cert-renew \
	"$(jq -r 'select(.path == "certs/web" and .version == 2) | .op' "$T/watch" | head -n 1)"
same "the engine's rotation op" key-rotate \
	"$(jq -r 'select(.path == "keys/rot" and .version == 2) | .op' "$T/watch" | head -n 1)"

# The renewals, through the mount: new serial, new key, same subject and names, recorded.
for n in web self1; do
	[ -f "$C/$n@2/cert.pem" ] && pass || fail "$n@2 not in the mount"
	[ "$(serial "$C/$n@2/cert.pem")" != "$(serial "$T/$n$([ $n = web ] && echo 1 || echo)".pem)" ] &&
		pass || fail "$n: the renewal kept the serial"
	same "$n@1 is the first version" "$(serial "$T/$n$([ $n = web ] && echo 1 || echo)".pem)" \
		"$(serial "$C/$n@1/cert.pem")"
	[ "$(pubkey "$C/$n@2/cert.pem")" != "$(pubkey "$C/$n@1/cert.pem")" ] && pass ||
		fail "$n: the renewal kept the key"
	same "$n: the subject kept" "$(openssl x509 -noout -subject -in "$C/$n@1/cert.pem")" \
		"$(openssl x509 -noout -subject -in "$C/$n@2/cert.pem")"
	same "$n@2: recorded by the engine" '"cert-renew" "lifetime" "allow" 0' \
		"$(jq -r "select(.path == \"certs/$n\" and .version == 2 and .op == \"cert-renew\") |
			[.op, .rule, .decision, .result] | @json" "$A" | head -n 1 | jq -r 'map(@json) | join(" ")')"
done
same "web@2 verifies against the vault CA" "$C/web@2/cert.pem: OK" \
	"$(openssl verify -CAfile "$C/ca/cert.pem" "$C/web@2/cert.pem" 2>&1)"
same "web@2 keeps the SAN" "DNS:web.example" \
	"$(openssl x509 -noout -ext subjectAltName -in "$C/web@2/cert.pem" | tail -n 1 | tr -d ' ')"
# the key as keys/web signs with the renewed certificate's key
printf 'renewed' >"$T/msg"
$SYS_PY keyop "$M/keys/web/sign" "$T/msg" "$T/sig" >/dev/null
openssl x509 -noout -pubkey -in "$C/web/cert.pem" >"$T/web.pub"
same "keys/web signs with the current certificate's key" "Verified OK" \
	"$(openssl dgst -sha256 -verify "$T/web.pub" -signature "$T/sig" "$T/msg" 2>&1)"
[ -f "$C/still@2/cert.pem" ] && fail "a certificate without --renew-at was renewed" || pass

# The outside CA's certificate: a pending renewal, its csr.pem beside the current files.
for _ in $(seq 1 50); do [ -f "$C/shop/csr.pem" ] && break; sleep 0.1; done
[ -f "$C/shop/csr.pem" ] && pass || fail "no pending renewal for the outside CA's certificate"
[ -f "$C/shop/cert.pem" ] && pass || fail "the current version went away while pending"
openssl req -verify -noout -in "$C/shop/csr.pem" >/dev/null 2>&1 && pass || fail "csr.pem does not verify"
same "the request asks for the same subject" "subject=CN = shop.example" \
	"$(openssl req -noout -subject -in "$C/shop/csr.pem")"
same "shop's state: inside its renew-at window" expiring "$(cert list "$V" | awk -F'\t' '$1 == "shop" { print $6 }')"
sleep 2 # more runs: a pending renewal is started once
same "one pending renewal, however many runs" 1 \
	"$(jq -c 'select(.path == "certs/shop" and .op == "cert-renew" and .result == 0)' "$A" | wc -l)"

# Warnings: every certificate within warn_days is recorded as expiring once a day.
sleep 1
for n in web self1 still; do
	same "$n warned of once today" 1 \
		"$(jq -c "select(.op == \"expiring\" and .path == \"certs/$n\")" "$A" | wc -l)"
done
same "the CA is not warned of" 0 "$(jq -c 'select(.op == "expiring" and .path == "certs/ca")' "$A" | wc -l)"
same "cert list: the CA valid" valid "$(cert list "$V" | awk -F'\t' '$1 == "ca" { print $6 }')"
cut -f2 "$T/watch.t" >"$T/watch"
[ -n "$(jq -c 'select(.op == "expiring")' "$T/watch")" ] && fail "watch printed a warning as a change" || pass

stop
"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify"
finish

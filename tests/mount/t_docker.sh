#!/usr/bin/env bash
# Containers survive the daemon's restarts, with Debian's Docker engine (docker.io) as the
# runtime; unshare(1) is the other runtime (t_containers.sh). The deployment is the
# README's for a host whose init is not systemd: the parent made a shared mount of its own
# (`mount --bind P P; mount --make-shared P`) and the vault mounted below it, each
# container binding the parent with rslave propagation — with `docker run -v`, with
# `--mount`, and the Compose file of examples/ run as it is. A restart by SIGTERM, and a
# kill -9 then start, reach the running containers without restarting them; an unmount
# while a container that bound the mount point itself still holds the connection ends
# it (the daemon used to serve that container for good and refuse the next mount).
#
# Everything runs in a mount namespace of the test's own, where /run and /etc/docker are
# fresh tmpfs mounts: dockerd and containerd keep files at fixed paths there (/run/docker,
# /run/containerd, /etc/docker/key.json), and /run/vaultfs here is the test's own
# directory, not the host's. dockerd gets its own data root, exec root, socket and pid
# file in the test's directory, no iptables, no bridge, no IP forwarding, and a cgroup
# parent of its own; the image is made locally (busybox-static, `docker import`), the
# containers have no network. All of it is gone at the end.
[ -n "${VAULTFS_NS:-}" ] || VAULTFS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
DOCKERD=$(command -v dockerd) || { echo "dockerd missing (Debian's docker.io): skipped"; exit 77; }
# Debian's client, of dockerd's own version, before any other docker on the PATH
DOCKER_BIN=/usr/bin/docker
[ -x "$DOCKER_BIN" ] || { echo "$DOCKER_BIN missing (Debian's docker.io): skipped"; exit 77; }
BUSYBOX=$(command -v busybox) || { echo "busybox missing (busybox-static): skipped"; exit 77; }
[ -d /etc/docker ] || { echo "/etc/docker missing (Debian's docker.io): skipped"; exit 77; }

# /run and /etc/docker of this namespace only; nothing is made unless they are.
mount -t tmpfs -o mode=755 vaultfs-test-run /run && mount -t tmpfs -o mode=755 vaultfs-test-etc /etc/docker ||
	{ echo "cannot put tmpfs mounts on /run and /etc/docker in the test's namespace"; exit 1; }
[ "$(findmnt -n -o SOURCE /run)" = vaultfs-test-run ] || { echo "/run is not the test's own"; exit 1; }

D=$T/docker
CG=vaultfs-test-$$
DOCKERD_PID=
docker() { timeout -s KILL 120 "$DOCKER_BIN" -H "unix://$D/sock" "$@"; }

teardown() {
	local m c
	if [ -n "$DOCKERD_PID" ]; then
		docker ps -a -q | xargs -r "$DOCKER_BIN" -H "unix://$D/sock" rm -f >/dev/null 2>&1
		kill -TERM "$DOCKERD_PID"
		wait_exit "$DOCKERD_PID" 30 || { echo "dockerd still running 30 s after SIGTERM" >&2; kill -KILL "$DOCKERD_PID"; }
		wait "$DOCKERD_PID" 2>/dev/null
		DOCKERD_PID=
	fi
	[ -n "$DAEMON_PID" ] && { kill -TERM "$DAEMON_PID"; stop_daemon 20; }
	# the containers' cgroups went with them; the parent dockerd made for them goes now
	for c in /sys/fs/cgroup/*/"$CG"; do [ -d "$c" ] && rmdir "$c"; done
	for m in $(mounts_below /run/vaultfs); do umount -l "$m"; done
	for m in $(mounts_below "$D"); do umount -l "$m"; done
}
at_exit teardown

mkdir -p "$D/data" "$D/exec"
"$DOCKERD" --data-root "$D/data" --exec-root "$D/exec" -H "unix://$D/sock" --pidfile "$D/pid" \
	--iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
	--cgroup-parent "/$CG" >"$T/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 300); do
	exited "$DOCKERD_PID" && break
	[ -S "$D/sock" ] && docker version >/dev/null 2>&1 && break
	sleep 0.1
done
if ! docker version >/dev/null 2>&1; then
	why=$(grep -E 'level=(fatal|error)' "$T/dockerd.log" | tail -n 1)
	echo "dockerd does not start here: ${why:-$(tail -n 1 "$T/dockerd.log")}: skipped"
	exit 77
fi

# The image: busybox-static and the directories a container needs, imported from a tarball.
IMG=vaultfs-test/consumer:1
mkdir -p "$T/img/bin" "$T/img/proc" "$T/img/sys" "$T/img/dev" "$T/img/etc" "$T/img/tmp"
cp "$BUSYBOX" "$T/img/bin/busybox"
for a in sh cat sleep ls; do ln -s busybox "$T/img/bin/$a"; done
tar -C "$T/img" -c . | docker import - "$IMG" >/dev/null && pass || fail "docker import"

# The parent, made a shared mount point of its own as README says for such a host —
# without which Docker refuses the rslave bind, as README says.
P=/run/vaultfs
M=$P/app
S=$M/secrets
mkdir -p "$P"
refuses_rslave=$(docker run --rm --network none -v "$P:$P:rslave" "$IMG" true 2>&1)
[[ "$refuses_rslave" == *"is not a shared or slave mount"* ]] && pass ||
	fail "Docker's rslave bind of a private parent: $refuses_rslave"
mount --bind "$P" "$P" && mount --make-shared "$P" || { echo "cannot make $P a shared mount"; exit 1; }
mkdir -p "$M"
# root in the containers is uid 0; the Compose example's consumer runs as uid 1000
new_vault "$(printf 'allow * ** uid=0\nallow read secrets/db uid=1000\n')"
printf 's1' | "$VAULTFS" secret set "$V" db

# errno_of TEXT: a failed read's message as the errno name, else TEXT.
errno_of() {
	case $1 in
	*"not connected"*) echo ENOTCONN ;;
	*"No such file"*) echo ENOENT ;;
	*) echo "$1" ;;
	esac
}
# c_read CONTAINER PATH: what PATH reads as in the container (docker exec): the value, or
# the errno name.
c_read() {
	local out
	if out=$(docker exec "$1" cat "$2" 2>&1); then echo "$out"; else errno_of "$out"; fi
}
started() { docker inspect -f '{{.State.Running}} {{.State.StartedAt}} {{.RestartCount}}' "$1"; }

# Container a, started before the vault is mounted, with `docker run -v ...:rslave`.
docker run -d --network none --name vaultfs-test-a -v "$P:$P:rslave" "$IMG" sleep 100000 >/dev/null &&
	pass || fail "docker run -v $P:$P:rslave: $(tail -n 3 "$T/dockerd.log")"
same "container a's /run/vaultfs/app before the mount" "" "$(docker exec vaultfs-test-a ls "$M")"
start
# Container b, started once it is mounted, with --mount (what Compose's long syntax makes).
docker run -d --network none --name vaultfs-test-b \
	--mount "type=bind,source=$P,target=$P,bind-propagation=rslave" "$IMG" sleep 100000 >/dev/null &&
	pass || fail "docker run --mount ...,bind-propagation=rslave"
same "container a, started before the mount, reads" s1 "$(c_read vaultfs-test-a "$S/db")"
same "container b reads" s1 "$(c_read vaultfs-test-b "$S/db")"
a0=$(started vaultfs-test-a)
b0=$(started vaultfs-test-b)

# A restart by SIGTERM.
kill -TERM "$DAEMON_PID"
stop_daemon
same "the daemon stopped by SIGTERM exits 0" 0 "$DAEMON_RC"
same "container a while the vault is down" ENOENT "$(c_read vaultfs-test-a "$S/db")"
printf 's2' | "$VAULTFS" secret set "$V" db
start
same "container a reads after a restart" s2 "$(c_read vaultfs-test-a "$S/db")"
same "container b reads after a restart" s2 "$(c_read vaultfs-test-b "$S/db")"

# kill -9 then start.
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
same "container a after kill -9" ENOTCONN "$(c_read vaultfs-test-a "$S/db")"
same "container b after kill -9" ENOTCONN "$(c_read vaultfs-test-b "$S/db")"
start
same "container a reads after kill -9 and start" s2 "$(c_read vaultfs-test-a "$S/db")"
same "container b reads after kill -9 and start" s2 "$(c_read vaultfs-test-b "$S/db")"
same "container a was never restarted" "$a0" "$(started vaultfs-test-a)"
same "container b was never restarted" "$b0" "$(started vaultfs-test-b)"

# Container d binds the mount point itself (no propagation: a copy of the mount of its own).
docker run -d --network none --name vaultfs-test-d -v "$M:/secrets" "$IMG" sleep 100000 >/dev/null &&
	pass || fail "docker run -v $M:/secrets"
same "container d reads its copy" s2 "$(c_read vaultfs-test-d /secrets/secrets/db)"
t0=$(date +%s%N)
fusermount3 -u "$M" && pass || fail "fusermount3 -u with container d's copy"
if wait_exit "$DAEMON_PID" 15; then
	t1=$(date +%s%N)
	pass
	echo "the daemon exited $(((t1 - t0) / 1000000)) ms after its unmount"
else
	fail "the daemon still serves container d's copy 15 s after its unmount"
fi
stop_daemon 0
same "the daemon exits 0" 0 "$DAEMON_RC"
same "container d's copy, its connection ended" ENOTCONN "$(c_read vaultfs-test-d /secrets/secrets/db)"
same "container a once unmounted" ENOENT "$(c_read vaultfs-test-a "$S/db")"
same "the unmount record" "$M (unmounted while copies elsewhere still held the connection: ended)" \
	"$(last_record 'select(.op == "unmount") | .detail' | tr -d '"')"
start
same "the next mount is accepted, container a reads" s2 "$(c_read vaultfs-test-a "$S/db")"
same "container d, bound to the mount point, stays cut off: bind the parent" ENOTCONN \
	"$(c_read vaultfs-test-d /secrets/secrets/db)"

# A process of container a working in the mount: `umount` is refused (busy), `umount -l`
# takes it from the host and the containers, and the daemon ends what the process holds.
docker exec -d vaultfs-test-a sh -c "cd $S && exec sleep 100001"
H=
for _ in $(seq 1 100); do H=$(pgrep -f -x 'sleep 100001') && [ "$(readlink "/proc/$H/cwd")" = "$S" ] && break; sleep 0.05; done
held() { timeout -s KILL 20 $SYS_PY read "/proc/$H/cwd/db"; }
same "container a's process reads by its working directory" s2 "$(held)"
umount "$M" 2>/dev/null && fail "umount succeeded on a busy mount" || pass
umount -l "$M" && pass || fail "umount -l"
wait_exit "$DAEMON_PID" 15 && pass || fail "the daemon still serves a lazily unmounted mount's holder"
stop_daemon 0
same "the daemon exits 0 (umount -l)" 0 "$DAEMON_RC"
same "container a's process after umount -l" open:ENOTCONN "$(held)"
start
same "the next mount is accepted, container b reads" s2 "$(c_read vaultfs-test-b "$S/db")"

# The Compose file of examples/, run as it is but for two things this machine lacks: a
# network, and busybox from a registry (the local image is tagged with its name).
if command -v docker-compose >/dev/null; then
	EX=$(cd "$(dirname "$0")/../../examples" && pwd)
	cimg=$(awk '$1 == "image:" { print $2; exit }' "$EX/compose.yaml")
	docker tag "$IMG" "$cimg"
	printf 'services:\n  consumer:\n    network_mode: none\n' >"$T/offline.yaml"
	DOCKER_HOST=unix://$D/sock timeout -s KILL 120 docker-compose -p vaultfstest \
		-f "$EX/compose.yaml" -f "$T/offline.yaml" up -d >"$T/compose.log" 2>&1 &&
		pass || fail "docker-compose up: $(cat "$T/compose.log")"
	cid=$(docker ps -q --filter label=com.docker.compose.project=vaultfstest)
	same "the Compose consumer reads" s2 "$(c_read "$cid" "$S/db")"
	kill -TERM "$DAEMON_PID"
	stop_daemon
	printf 's3' | "$VAULTFS" secret set "$V" db
	start
	same "the Compose consumer reads after a restart" s3 "$(c_read "$cid" "$S/db")"
	DOCKER_HOST=unix://$D/sock timeout -s KILL 120 docker-compose -p vaultfstest \
		-f "$EX/compose.yaml" -f "$T/offline.yaml" down -t 1 >>"$T/compose.log" 2>&1 &&
		pass || fail "docker-compose down: $(cat "$T/compose.log")"
else
	echo "docker-compose missing: the Compose example is not run"
fi
stop
finish

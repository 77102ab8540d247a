#!/usr/bin/env bash
# Containers survive the daemon's restarts, with unshare(1) as the container runtime (the
# Docker engine is t_docker.sh). The deployment is the README's: the vault mounted under a
# shared parent (here a directory in a shared tmpfs, as /run/vaultfs is in systemd's /run),
# and each container's mount namespace a slave of it — one made by `unshare -m
# --propagation slave`, one built as a runtime builds a container (a new root of its own,
# busybox in it, the parent bound there with rslave propagation, chroot). A restart by
# SIGTERM and a kill -9 then start both reach the running containers without restarting
# them. And an unmount really stops serving: unmounted while a copy of the mount in
# another namespace still held the FUSE connection — a container that bound the mount
# point itself, a process whose working directory is in it — the daemon used to serve
# that copy for good and keep its lock, so that the next mount was refused; now it ends
# the connection, the copies answer ENOTCONN, it records that and exits 0, and the next
# mount is accepted. The connection is aborted through fusectl — systemd's where it is
# mounted, else, as root, one the daemon mounts in a namespace of its own — and a user's
# daemon (on a stock system) that cannot, ends it by closing its device as it exits.
[ -n "${VAULTFS_NS:-}" ] || VAULTFS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
for tool in unshare nsenter busybox; do
	command -v "$tool" >/dev/null || { echo "$tool missing (util-linux, busybox-static): skipped"; exit 77; }
done

# The host's /run, as systemd leaves it: a shared mount; the parent is a directory in it.
mkdir -p "$T/run"
mount -t tmpfs -o mode=755 vaultfs-test-run "$T/run" && mount --make-shared "$T/run" ||
	{ echo "cannot make a shared tmpfs"; exit 1; }
P=$T/run/vaultfs
M=$P/app
S=$M/secrets
mkdir -p "$M"
new_vault
printf 's1' | "$VAULTFS" secret set "$V" db

PIDS=()
# Kills the containers' processes and unmounts the stand-in for /run (their namespaces go
# with their last process).
teardown() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait_exit "$p" 10; done
	[ -n "$DAEMON_PID" ] && { kill -TERM "$DAEMON_PID"; stop_daemon 20; }
	umount /sys/fs/fuse/connections 2>/dev/null
	for m in $(mounts_below "$T/run"); do umount -l "$m"; done
}
at_exit teardown

# errno_of TEXT: a failed read's message as the errno name SPEC speaks of, else TEXT.
errno_of() {
	case $1 in
	*"not connected"*) echo ENOTCONN ;;
	*"No such file"*) echo ENOENT ;;
	*) echo "$1" ;;
	esac
}

# c_read PID PATH: what PATH reads as in the mount namespace and root of process PID —
# the value, or the errno name.
c_read() {
	local out
	if out=$(timeout -s KILL 20 nsenter -t "$1" -m -r busybox cat "$2" 2>&1); then
		echo "$out"
	else
		errno_of "$out"
	fi
}

# Container 1, started before the vault is mounted: unshare's slave namespace.
unshare -m --propagation slave sleep 100000 &
C1=$!
PIDS+=("$C1")
# new_ns PID: waits until process PID is in a mount namespace other than this one.
new_ns() {
	for _ in $(seq 1 100); do
		[ "$(readlink "/proc/$1/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] && return 0
		sleep 0.05
	done
	fail "process $1 has no mount namespace of its own"
}
new_ns "$C1"
# The daemon as a service runs it; and container 2, started once the vault is mounted,
# as a runtime makes one: everything slave, a new root with busybox, the parent bound
# into it with rslave propagation, chroot.
start
R=$T/c2root
mkdir -p "$R"
unshare -m --propagation slave sh -c '
	mount -t tmpfs -o mode=755 vaultfs-c2 "$1" && mkdir -p "$1/bin" "$1/run/vaultfs" &&
	cp "$(command -v busybox)" "$1/bin/" &&
	mount --rbind "$2" "$1/run/vaultfs" && mount --make-rslave "$1/run/vaultfs" &&
	exec chroot "$1" /bin/busybox sleep 100000' sh "$R" "$P" &
C2=$!
PIDS+=("$C2")
for _ in $(seq 1 100); do nsenter -t "$C2" -m -r busybox test -d /run/vaultfs/app 2>/dev/null && break; sleep 0.05; done
IN2=/run/vaultfs/app/secrets/db
same "container 1, started before the mount, reads" s1 "$(c_read "$C1" "$S/db")"
same "container 2 reads, from its own root" s1 "$(c_read "$C2" "$IN2")"
ns1=$(readlink "/proc/$C1/ns/mnt")

# A restart by SIGTERM: the daemon's unmount leaves the containers (the mount point is
# an empty directory there), and its next mount reaches them.
kill -TERM "$DAEMON_PID"
stop_daemon
same "the daemon stopped by SIGTERM exits 0" 0 "$DAEMON_RC"
same "container 1 while the vault is down" ENOENT "$(c_read "$C1" "$S/db")"
same "container 2 while the vault is down" ENOENT "$(c_read "$C2" "$IN2")"
printf 's2' | "$VAULTFS" secret set "$V" db
start
same "container 1 reads after a restart" s2 "$(c_read "$C1" "$S/db")"
same "container 2 reads after a restart" s2 "$(c_read "$C2" "$IN2")"

# kill -9 then start: the dead mount answers ENOTCONN in the containers too, until the
# next start unmounts it (which propagates) and mounts again.
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
same "container 1 after kill -9" ENOTCONN "$(c_read "$C1" "$S/db")"
same "container 2 after kill -9" ENOTCONN "$(c_read "$C2" "$IN2")"
start
same "container 1 reads after kill -9 and start" s2 "$(c_read "$C1" "$S/db")"
same "container 2 reads after kill -9 and start" s2 "$(c_read "$C2" "$IN2")"
same "container 1 is the same namespace, never restarted" "$ns1" "$(readlink "/proc/$C1/ns/mnt")"
kill -0 "$C1" && kill -0 "$C2" && pass || fail "a container died"

# unmounted_while_held HOW WHAT: the daemon's mount is unmounted by HOW while a copy of
# it in container 0 — a private namespace made while it was mounted, as a container that
# binds the mount point itself — still holds the connection. The daemon must end the
# connection and exit 0 within seconds, the copy answer ENOTCONN, the unmount record say
# so, and the next mount be accepted.
unmounted_while_held() {
	local how=$1 what=$2 c0 t0 t1 rc
	unshare -m --propagation private sleep 100000 &
	c0=$!
	PIDS+=("$c0")
	new_ns "$c0"
	same "$what: container 0 reads its copy" s2 "$(c_read "$c0" "$S/db")"
	t0=$(date +%s%N)
	$how "$M"; rc=$?
	same "$what: the unmount succeeds" 0 "$rc"
	if wait_exit "$DAEMON_PID" 15; then
		t1=$(date +%s%N)
		pass
		echo "$what: the daemon exited $(((t1 - t0) / 1000000)) ms after the unmount"
	else
		fail "$what: the daemon still serves the copy 15 s after its unmount"
	fi
	stop_daemon 0
	same "$what: the daemon exits 0" 0 "$DAEMON_RC"
	cp "$T/daemon.err" "$T/ended.err"
	grep -qi error "$T/ended.err" && fail "$what: daemon stderr says error: $(cat "$T/ended.err")"
	same "$what: container 0's copy" ENOTCONN "$(c_read "$c0" "$S/db")"
	same "$what: the unmount record" \
		"$M (unmounted while copies elsewhere still held the connection: ended)" \
		"$(last_record 'select(.op == "unmount") | .detail' | tr -d '"')"
	kill -KILL "$c0"
	wait "$c0" 2>/dev/null
	start
	same "$what: the next mount is accepted, container 1 reads" s2 "$(c_read "$C1" "$S/db")"
}
# The root daemon aborts the connection through fusectl: one of its own where none is
# mounted (as on this machine), systemd's where it is (mounted here for the second case).
unmounted_while_held "fusermount3 -u" "fusermount3 -u, no fusectl mounted"
grep -q 'cannot abort' "$T/ended.err" && fail "not aborted: $(cat "$T/ended.err")" || pass
mount -t fusectl vaultfs-test /sys/fs/fuse/connections || fail "cannot mount fusectl"
unmounted_while_held umount "umount, fusectl mounted"
grep -q 'cannot abort' "$T/ended.err" && fail "not aborted: $(cat "$T/ended.err")" || pass
umount /sys/fs/fuse/connections

# A user's daemon on a stock system (/dev/fuse 0666, fusermount3), its mount copied into
# a container's private namespace: unmounted by its user, it ends the connection too —
# aborted through fusectl where that is mounted (its files are the mounting user's), and
# where not, by closing its device as it exits.
stock_fuse
U=$T/user
mkdir -p "$U/m" && chown 1001:1001 "$U" "$U/m"
as 1001 "$VAULTFS" init "$U/v" >/dev/null
as 1001 sh -c "echo 'allow * ** uid=1001' >'$U/v/policy'"
printf 'u1' | as 1001 "$VAULTFS" secret set "$U/v" db
u_read() { timeout -s KILL 20 nsenter -t "$1" -m setpriv --reuid 1001 --regid 1001 --clear-groups \
	$SYS_PY read "$U/m/secrets/db"; }
user_unmount_while_held() {
	local what=$1 upid c0
	# setpriv itself, not a function's subshell: $! is the daemon
	setpriv --reuid 1001 --regid 1001 --clear-groups -- "$VAULTFS" mount "$U/v" "$U/m" -f \
		2>"$T/user.err" &
	upid=$!
	for _ in $(seq 1 200); do [ -d "$U/m/secrets" ] && break; sleep 0.05; done
	unshare -m --propagation private sleep 100000 &
	c0=$!
	PIDS+=("$c0")
	new_ns "$c0"
	same "$what: the container reads its copy" u1 "$(u_read "$c0")"
	as 1001 fusermount3 -u "$U/m" && pass || fail "$what: uid 1001 unmounts"
	wait_exit "$upid" 15 && pass || { fail "$what: the daemon still serves the copy"; kill -KILL "$upid"; }
	wait "$upid"
	same "$what: the daemon exits 0" 0 "$?"
	same "$what: the container's copy" open:ENOTCONN "$(u_read "$c0")"
	kill -KILL "$c0"
	wait "$c0" 2>/dev/null
	grep -qi error "$T/user.err" && fail "$what: daemon stderr says error: $(cat "$T/user.err")"
}
user_unmount_while_held "a user's daemon, no fusectl mounted"
grep -q 'cannot abort the connection' "$T/user.err" && pass ||
	fail "a user's daemon without fusectl does not say it left the end to its device: $(cat "$T/user.err")"
mount -t fusectl vaultfs-test /sys/fs/fuse/connections || fail "cannot mount fusectl"
user_unmount_while_held "a user's daemon, fusectl mounted"
grep -q 'cannot abort' "$T/user.err" && fail "not aborted: $(cat "$T/user.err")" || pass
umount /sys/fs/fuse/connections
as 1001 "$VAULTFS" mount "$U/v" "$U/m" && pass || fail "uid 1001's next mount"
as 1001 fusermount3 -u "$U/m" && pass || fail "uid 1001's last unmount"

# A process whose working directory is in the mount, inside container 1: a plain unmount
# is refused (busy, as for any filesystem); a lazy one takes the mount from the host and
# the container alike, and the daemon then ends what the process still holds.
nsenter -t "$C1" -m sh -c "cd '$S' && exec sleep 100001" &
H=$!
PIDS+=("$H")
for _ in $(seq 1 100); do [ "$(readlink "/proc/$H/cwd")" = "$S" ] && break; sleep 0.05; done
fusermount3 -u "$M" 2>/dev/null && fail "fusermount3 -u succeeded on a busy mount" || pass
# what the holder reads by its working directory (through its /proc link to it)
held() { timeout -s KILL 20 $SYS_PY read "/proc/$H/cwd/db"; }
same "the holder reads, by its working directory" s2 "$(held)"
fusermount3 -u -z "$M" && pass || fail "fusermount3 -uz"
wait_exit "$DAEMON_PID" 15 && pass || fail "the daemon still serves a lazily unmounted mount's holder"
stop_daemon 0
same "the daemon exits 0" 0 "$DAEMON_RC"
same "the holder's working directory" open:ENOTCONN "$(held)"
same "container 1's mount point" ENOENT "$(c_read "$C1" "$S/db")"
start
same "the next mount is accepted, container 2 reads" s2 "$(c_read "$C2" "$IN2")"

# And the stop: SIGTERM ends what a holder still holds as well.
kill -KILL "$H"
nsenter -t "$C1" -m sh -c "cd '$S' && exec sleep 100002" &
H=$!
PIDS+=("$H")
for _ in $(seq 1 100); do [ "$(readlink "/proc/$H/cwd")" = "$S" ] && break; sleep 0.05; done
kill -TERM "$DAEMON_PID"
stop_daemon 15
same "stopped with a holder, the daemon exits 0" 0 "$DAEMON_RC"
same "the holder after the stop" open:ENOTCONN "$(held)"
start
same "container 1 reads after the stop and a start" s2 "$(c_read "$C1" "$S/db")"
stop
grep -qi error "$T/daemon.err" && fail "daemon stderr says error: $(cat "$T/daemon.err")" || pass
finish

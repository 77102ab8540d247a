#!/usr/bin/env bash
# Mount points (SPEC): one that is the vault directory, inside it or above it — named
# directly, through a symbolic link, or through a bind mount — is refused at once with one
# line, before anything is mounted (it used to hang the daemon on its own mount for good);
# one where a filesystem is already mounted is refused (a second vault used to stack on
# the first); one left dead by a daemon that died is cleaned up and mounted again — root's
# and, on a stock system (/dev/fuse 0666), a user's own (through fusermount3 -uz).
[ -n "${VAULTFS_NS:-}" ] || VAULTFS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
stock_fuse
new_vault
printf 'v' | "$VAULTFS" secret set "$V" x

# refused_at_once WHAT PATTERN MOUNTPOINT [OPTION...]: mount refuses MOUNTPOINT with one
# line, in bounded time, and mounts nothing.
refused_at_once() {
	local before what=$1 pattern=$2
	shift 2
	before=$(grep -c . /proc/self/mountinfo)
	refuses "$what" "$pattern" timeout -s KILL 20 "$VAULTFS" mount "$V" "$@"
	same "$what: nothing mounted" "$before" "$(grep -c . /proc/self/mountinfo)"
}

refused_at_once "the vault directory" 'is the vault directory itself' "$V"
refused_at_once "the vault directory, with -f" 'is the vault directory itself' "$V" -f
refused_at_once "the vault's tokens/" 'is inside the vault directory' "$V/tokens"
mkdir "$V/sub"
refused_at_once "a new folder in the vault" 'is inside the vault directory' "$V/sub"
rmdir "$V/sub"
refused_at_once "the directory above the vault" 'is above the vault directory' "$T"
refused_at_once "/" 'is above the vault directory' /
ln -s "$V" "$T/link"
refused_at_once "a symbolic link to the vault" 'is the vault directory itself' "$T/link"
refused_at_once "tokens/ through a symbolic link" 'is inside the vault directory' "$T/link/tokens"

# Bind mounts: the vault's tokens/ reached through a bind mount of the directory above
# it, and the directory above the vault reached through a bind mount of the vault's own
# parent under another name (where paths alone see nothing wrong).
mkdir -p "$T/alias" "$T/p"
mount --bind "$T" "$T/alias"
refused_at_once "tokens/ through a bind mount" 'is inside the vault directory' "$T/alias/vault/tokens"
umount "$T/alias"
"$VAULTFS" init "$T/p/v" >/dev/null
mkdir "$T/q"
mount --bind "$T/p" "$T/q"
before=$(grep -c . /proc/self/mountinfo)
refuses "above the vault, which is named through a bind mount" 'is above the vault directory' \
	timeout -s KILL 20 "$VAULTFS" mount "$T/q/v" "$T/p"
same "nothing mounted" "$before" "$(grep -c . /proc/self/mountinfo)"
umount "$T/q"

# A mount point where something is mounted already: a tmpfs, and a mounted vault.
mkdir "$T/busy"
mount -t tmpfs vaultfs-test "$T/busy"
refused_at_once "a tmpfs's mount point" 'tmpfs \(vaultfs-test\) is already mounted there' "$T/busy"
umount "$T/busy"
start
"$VAULTFS" init "$T/other" >/dev/null
refuses "a second vault on a mounted one" 'fuse.vaultfs .* is already mounted there' \
	timeout -s KILL 20 "$VAULTFS" mount "$T/other" "$M"
same "one mount on the mount point" 1 "$(awk -v m="$M" '$5 == m' /proc/self/mountinfo | wc -l)"
same "the first vault still serves" v "$(cat "$S/x")"

# A mount point left dead by a daemon that died is cleaned up and mounted again.
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
same "the mount point is dead" "ENOTCONN" "$(sys_ stat "$M")"
"$VAULTFS" mount "$V" "$M" 2>"$T/remount.err" && pass || fail "remount on a dead mount point: $(cat "$T/remount.err")"
same "the vault serves again" v "$(cat "$S/x" 2>&1)"
same "one mount on the mount point" 1 "$(awk -v m="$M" '$5 == m' /proc/self/mountinfo | wc -l)"
grep -q 'left dead by a daemon that died' "$T/remount.err" "$V/vaultfs.log" && pass ||
	fail "the clean-up is not told"
same "the mount's record says so" "$M (a dead mount left there was unmounted first)" \
	"$(last_record 'select(.op == "mount") | .detail' | tr -d '"')"
pid=$(pgrep -f -- "vaultfs mount $V $M" | head -1)
fusermount3 -u "$M" && pass || fail "unmount"
wait_exit "$pid" 30 && pass || fail "the daemon did not exit after its unmount"

# With -f too; and a user's own dead mount, which only fusermount3 can unmount for it.
start
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start
same "the vault serves again (-f)" v "$(cat "$S/x" 2>&1)"
stop

mkdir "$T/user" && chown 1001:1001 "$T/user"
U=$T/user
as 1001 "$VAULTFS" init "$U/v" >/dev/null
as 1001 sh -c "echo 'allow * ** uid=1001' >'$U/v/policy'"
printf 'u' | as 1001 "$VAULTFS" secret set "$U/v" x
mkdir "$U/m" && chown 1001:1001 "$U/m"
setpriv --reuid 1001 --regid 1001 --clear-groups -- "$VAULTFS" mount "$U/v" "$U/m" -f \
	2>"$T/user-f.err" &
upid=$!
for _ in $(seq 1 200); do mountpoint -q "$U/m" && break; sleep 0.05; done
kill -9 "$upid"
wait "$upid" 2>/dev/null
same "uid 1001's mount point is dead" "ENOTCONN" "$(as_sys 1001 stat "$U/m")"
as 1001 "$VAULTFS" mount "$U/v" "$U/m" 2>"$T/user.err" && pass || fail "uid 1001 remounts: $(cat "$T/user.err")"
same "uid 1001's vault serves again" u "$(as 1001 cat "$U/m/secrets/x" 2>&1)"
upid=$(pgrep -u 1001 -f -- "vaultfs mount $U/v" | head -1)
as 1001 fusermount3 -u "$U/m" && pass || fail "uid 1001 unmounts"
wait_exit "$upid" 30 && pass || fail "uid 1001's daemon did not exit"
finish

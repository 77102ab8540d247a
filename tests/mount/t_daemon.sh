#!/usr/bin/env bash
# The daemon: returns once the mount serves, token opened after the fork, not dumpable,
# memory locked, one mount per vault, clean unmount on SIGTERM with nothing acknowledged
# lost, readers killed mid-read, and a clear last word when it dies.
. "$(dirname "$0")/lib.sh"
new_vault
head -c 25600 /dev/urandom >"$T/big"
"$VAULTFS" secret set "$V" big --file "$T/big"
printf 'v' | "$VAULTFS" secret set "$V" small

# Without -f: the command returns when the mount already serves.
"$VAULTFS" mount "$V" "$M" && pass || fail "mount"
cmp -s "$T/big" "$S/big" && pass || fail "first read right after mount returned"
pid=$(pgrep -f "vaultfs mount $V $M" | head -1)
[ -n "$pid" ] && pass || fail "no daemon process"
grep -q libsofthsm2 "/proc/$pid/maps" && pass || fail "token not opened in the daemon"
lck=$(awk '/^VmLck/ {print $2}' "/proc/$pid/status")
if [ "${VAULTFS_SANITIZED:-0}" = 1 ]; then
	echo "AddressSanitizer makes mlock a no-op: VmLck not checked in this build"
else
	[ "${lck:-0}" -gt 0 ] && pass || fail "no locked memory (VmLck $lck kB)"
fi
grep -q "mounted on" "$V/vaultfs.log" && pass || fail "no start line in vaultfs.log"

# A second mount of the same vault is refused with a clear error.
mkdir "$T/mnt2"
refuses "second mount" 'already mounted' "$VAULTFS" mount "$V" "$T/mnt2"
mountpoint -q "$T/mnt2" && fail "second mount mounted" || pass

# Readers killed mid-read do not hurt the daemon.
for _ in $(seq 1 30); do
	dd if="$S/big" of=/dev/null bs=1 status=none &
	r=$!
	sleep 0.02
	kill -9 "$r" 2>/dev/null
	wait "$r" 2>/dev/null
done
cmp -s "$T/big" "$S/big" && pass || fail "daemon hurt by killed readers"

# The daemon's last word when it dies, in its log.
kill -SEGV "$pid"
wait_exit "$pid" 5 || true
grep -q "daemon died: SIGSEGV" "$V/vaultfs.log" && pass || fail "no last word: $(tail -3 "$V/vaultfs.log")"
fusermount3 -uz "$M"

# SIGTERM unmounts cleanly, and every write whose close succeeded is in the vault.
start
: >"$T/acked"
(
	for i in $(seq 1 400); do
		if $SYS_PY write "$S/w" "value-$i" 2>/dev/null | grep -qx ok; then
			echo "value-$i" >>"$T/acked"
		fi
	done
) &
writer=$!
sleep 1
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"; rc=$?
DAEMON_PID=
same "exit status after SIGTERM" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/daemon.err" >&2
wait "$writer"
mountpoint -q "$M" && fail "still mounted after SIGTERM" || pass
acked=$(wc -l <"$T/acked")
[ "$acked" -gt 0 ] && pass || fail "no write was acknowledged before SIGTERM"
versions=$("$VAULTFS" secret versions "$V" w | wc -l)
[ "$versions" -ge "$acked" ] && pass || fail "$acked writes acknowledged, $versions versions"
missing=0
for v in $(seq 1 "$versions"); do "$VAULTFS" secret get "$V" w --version "$v"; echo; done >"$T/stored"
while read -r line; do grep -qx "$line" "$T/stored" || missing=$((missing + 1)); done <"$T/acked"
same "acknowledged writes missing from the vault" 0 "$missing"

# Not dumpable: every vaultfs process, the daemon included, sets PR_SET_DUMPABLE 0 in
# main(). For a process of an ordinary user that shows as /proc files owned by root; the
# daemon itself runs as root, so a blocked `secret set` of uid 1001 stands in for it.
mkdir "$T/user" && chown 1001:1001 "$T/user"
U=$T/user/vault
as 1001 "$VAULTFS" init "$U" >/dev/null && pass || fail "init as uid 1001"
mkfifo "$T/user/in" && chown 1001 "$T/user/in"
as 1001 "$VAULTFS" secret set "$U" x <"$T/user/in" &
upid=$!
exec 8>"$T/user/in"
for _ in $(seq 1 100); do
	p=$(pgrep -u 1001 -f "vaultfs secret set $U" | head -1)
	[ -n "$p" ] && grep -q libsofthsm2 "/proc/$p/maps" 2>/dev/null && break
	sleep 0.05
done
same "uid 1001's vaultfs has /proc owned by root (not dumpable)" 0 "$(stat -c %u "/proc/$p/status")"
same "while an ordinary process of uid 1001 does not" 1001 "$(as 1001 sh -c 'stat -c %u /proc/$$/status')"
echo -n value >&8
exec 8>&-
wait "$upid"
same "the blocked set finished" value "$(as 1001 "$VAULTFS" secret get "$U" x)"

finish

#!/usr/bin/env bash
# The harness catches what it exists to catch: a mounted test that leaves a mount behind
# fails, whatever its own checks said, and the mount is gone after it; a test whose
# fusermount3 -u fails (the mount busy) fails in bounded time instead of waiting on the
# daemon until the ctest timeout, and leaves neither the daemon nor the mount behind.
. "$(dirname "$0")/lib.sh"
LIB=$(cd "$(dirname "$0")" && pwd)/lib.sh
mkdir "$T/runs"
chmod 755 "$T"

# run NAME BODY: runs a mounted test whose body is BODY, bounded; its directory is under
# $T/runs, so that what it leaves is found there. Sets RC and SECS.
run() {
	local start
	printf '. "%s"\nnew_vault\nstart\n%s\nfinish\n' "$LIB" "$2" >"$T/$1.sh"
	start=$(date +%s)
	TMPDIR=$T/runs timeout -k 5 120 bash "$T/$1.sh" >"$T/$1.out" 2>&1
	RC=$?
	SECS=$(($(date +%s) - start))
}

# A test that passes its checks but never unmounts.
run leak 'pass'
[ "$RC" -ne 0 ] && pass || fail "a test that left its mount behind exited 0: $(cat "$T/leak.out")"
grep -q "left a mount behind" "$T/leak.out" && pass || fail "no word of the mount left: $(cat "$T/leak.out")"
same "mounts left under the test's directory" "" "$(mounts_below "$T/runs")"

# A test whose unmount fails: a process holds the mount busy.
run busy '( cd "$S" && exec sleep 300 ) &
holder=$!
sleep 0.5
stop
kill "$holder"'
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ] && pass ||
	fail "a test whose unmount failed: exit $RC after ${SECS}s: $(cat "$T/busy.out")"
[ "$SECS" -lt 60 ] && pass || fail "a test whose unmount failed took ${SECS}s"
grep -q "fusermount3 -u failed" "$T/busy.out" && pass || fail "no word of the failed unmount: $(cat "$T/busy.out")"
same "mounts left after the busy test" "" "$(mounts_below "$T/runs")"
same "daemons left after the busy test" "" "$(pgrep -f -- "vaultfs mount $T/runs/")"
finish

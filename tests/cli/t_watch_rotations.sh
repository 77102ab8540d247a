#!/bin/bash
# `vaultfs watch` across two rotations by move that it sees late: the watcher is stopped
# (SIGSTOP, as a loaded machine or a slow reader would hold it) while the trail is moved
# aside twice (logrotate's move: audit.log.2, then audit.log.1) with changes made into
# each file; once it runs again, every change is printed once, those of the file in the
# middle too.
. "$(dirname "$0")/lib.sh"

V=$T/vault
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }

"$VAULTFS" watch "$V" secrets/s >"$T/out" 2>"$T/err" &
WPID=$!
sleep 0.5
kill -STOP "$WPID"
for i in $(seq 1 5); do printf 'a%s' "$i" | "$VAULTFS" secret set "$V" s >/dev/null; done
mv "$V/audit.log" "$V/audit.log.2"
for i in $(seq 6 10); do printf 'b%s' "$i" | "$VAULTFS" secret set "$V" s >/dev/null; done
mv "$V/audit.log" "$V/audit.log.1"
for i in $(seq 11 15); do printf 'c%s' "$i" | "$VAULTFS" secret set "$V" s >/dev/null; done
kill -CONT "$WPID"
for _ in $(seq 1 50); do
	[ "$(wc -l <"$T/out")" -ge 15 ] && break
	sleep 0.1
done
sleep 0.3
kill -INT "$WPID"; wait "$WPID"; same "exit status" 0 "$?"
same "every version printed once" "$(seq 1 15)" "$(jq -r '.version' "$T/out" 2>&1)"
same "nothing on stderr" "" "$(cat "$T/err")"
out=$("$VAULTFS" audit verify "$V" 2>&1) && pass || fail "verify: $out"
finish

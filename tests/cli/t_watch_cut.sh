#!/bin/bash
# `vaultfs watch` across a copytruncate that it sees late: the watcher is stopped
# (SIGSTOP, as a loaded machine or a slow reader would hold it), the trail is copied and
# truncated, and enough changes are made for it to grow past where the watcher stood;
# once it runs again, every one of those changes is printed, once.
. "$(dirname "$0")/lib.sh"

V=$T/vault
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
for i in $(seq 1 20); do printf 'x%s' "$i" | "$VAULTFS" secret set "$V" before >/dev/null; done

"$VAULTFS" watch "$V" secrets/after >"$T/out" 2>"$T/err" &
WPID=$!
sleep 0.5
kill -STOP "$WPID"
cp "$V/audit.log" "$V/audit.log.1" && : >"$V/audit.log"
# each set is three records or so: the file grows well past its old length
for i in $(seq 1 30); do printf 'y%s' "$i" | "$VAULTFS" secret set "$V" after >/dev/null; done
kill -CONT "$WPID"
for _ in $(seq 1 50); do
	[ "$(wc -l <"$T/out")" -ge 30 ] && break
	sleep 0.1
done
sleep 0.3
kill -INT "$WPID"; wait "$WPID"; same "exit status" 0 "$?"
same "every version after the cut printed once" "$(seq 1 30)" \
	"$(jq -r '.version' "$T/out" 2>&1)"
same "nothing on stderr" "" "$(cat "$T/err")"
finish

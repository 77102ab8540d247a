#!/usr/bin/env bash
# A token that goes away and comes back clears without a remount: while the embedded
# token's directory is gone, what needs the token fails closed (EIO, nothing served
# unrecorded); once it is back, the daemon opens the token again within seconds, records
# it, and every operation works again — twice in a row, with every value and the trail
# intact. (The old daemon stayed at EIO for every operation until remounted.)
. "$(dirname "$0")/lib.sh"
new_vault
printf 'one' | "$VAULTFS" secret set "$V" a
start

# put PATH DATA: one write through the mount, acknowledged by close.
put() { [ "$(sys_ write "$1" "$2")" = ok ]; }

# wait_ok WHAT COMMAND...: the command succeeds within 10 s.
wait_ok() {
	local what=$1; shift
	for _ in $(seq 1 100); do
		"$@" >/dev/null 2>&1 && { pass; return 0; }
		sleep 0.1
	done
	fail "$what: still failing 10 s after the token came back"
}

for round in 1 2; do
	same "read before round $round" "one" "$(cat "$S/a")"
	mv "$V/tokens" "$V/tokens.away"
	# a new secret needs a data key wrapped by the token: it must fail, not hang
	for _ in $(seq 1 50); do
		sys_ write "$S/new$round" "v$round" >"$T/w" 2>&1
		grep -q EIO "$T/w" && break
		sleep 0.1
	done
	grep -q EIO "$T/w" && pass || fail "a write while the token is gone (round $round): $(cat "$T/w")"
	mv "$V/tokens.away" "$V/tokens"
	wait_ok "write after the token came back (round $round)" put "$S/new$round" "v$round"
	same "the value written (round $round)" "v$round" "$(cat "$S/new$round")"
	same "the old value (round $round)" "one" "$(cat "$S/a")"
	grep -c '"op":"token-reopen"' "$V/audit.log" >"$T/n"
	same "reopenings recorded after round $round" "$round" "$(cat "$T/n")"
	# what the command line sees is the same store
	same "secret get (round $round)" "v$round" "$("$VAULTFS" secret get "$V" "new$round")"
done
grep -q "The token is gone" "$T/daemon.err" && pass || fail "the loss is in the log"
grep -q "The token is back" "$T/daemon.err" && pass || fail "the return is in the log"
ERR_EXPECTED=1 # the daemon's stderr names the loss
stop
"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify"
finish

#!/usr/bin/env bash
# The crash campaign: writers through the mount (crash_writer.py, which counts a version as
# acknowledged once close() returned 0) and through the command line (`vaultfs secret set`
# exiting 0), the daemon killed with SIGKILL at a random moment while they write, its dead
# mount cleaned up with fusermount3 -uz, and the vault mounted again. After each cycle
# every acknowledged value is found, byte for byte, as a version of its secret, versions
# run 1..current, no version holds bytes that nobody wrote (crash_check.py), and
# `vaultfs audit verify` passes. CYCLES cycles (default 20; tests/soak/crash.sh runs 1,000).
#
# The daemon is killed only once it serves: a kill during its login to the token is the
# token's durability, which this campaign reports apart ("token lost") rather than as data
# loss.
. "$(dirname "$0")/lib.sh"
cycles=${CYCLES:-20}
here=$(cd "$(dirname "$0")" && pwd)
names=a,b,c,d,e,f
new_vault
touch "$T/writers.log"
lost_token() {
	if grep -q "no token with that label" "$T/daemon.err" "$T"/cli.err 2>/dev/null; then
		echo "TOKEN LOST after cycle $1: the vault's token is gone after a kill (known: SoftHSM2 rewrites token.object at C_Login)" >&2
		exit 1
	fi
}

acked_before=0
for cycle in $(seq 1 "$cycles"); do
	"$VAULTFS" mount "$V" "$M" -f 2>"$T/daemon.err" &
	DAEMON_PID=$!
	for _ in $(seq 1 200); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		mountpoint -q "$M" && [ -d "$S" ] && break
		sleep 0.05
	done
	if ! mountpoint -q "$M"; then
		lost_token "$((cycle - 1))"
		fail "cycle $cycle: the vault did not mount again: $(cat "$T/daemon.err")"
		break
	fi
	rm -f "$T/stop"
	pids=()
	for w in 1 2; do
		/usr/bin/python3 "$here/crash_writer.py" "$S" "c$cycle-w$w" "$names" \
			"$T/writer$w.log" "$T/stop" &
		pids+=($!)
	done
	cli_writer "$T/stop" "$T/cli.log" &
	pids+=($!)
	# a random moment in the next 0.2 to 1.7 s
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.2 + r / 32767 * 1.5 }')"
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	touch "$T/stop"
	wait "${pids[@]}"
	fusermount3 -uz "$M" || fail "cycle $cycle: fusermount3 -uz"
	grep -h '^error' "$T"/writer*.log && fail "cycle $cycle: a close failed other than by the kill"

	# Mounted again: every acknowledged value is there, and nothing else.
	start
	full=()
	[ "$cycle" = "$cycles" ] && full=(--full)
	if out=$(/usr/bin/python3 "$here/crash_check.py" "$S" "$T/state.json" "${full[@]}" \
		"$T"/writer*.log "$T/cli.log" 2>"$T/check.err"); then
		pass
	else
		fail "cycle $cycle: $out: $(cat "$T/check.err")"
	fi
	if verify=$("$VAULTFS" audit verify "$V" 2>&1); then pass; else fail "cycle $cycle: audit verify: $verify"; fi
	stop
	lost_token "$cycle"
	acked=$(cat "$T"/writer*.log "$T/cli.log" | grep -c '^ack')
	[ "$acked" -gt "$acked_before" ] || echo "cycle $cycle: no write acknowledged"
	acked_before=$acked
	[ $((cycle % 50)) = 0 ] && echo "cycle $cycle: $out"
	[ "$failed" -eq 0 ] || break
done
mount_acked=$(cat "$T"/writer*.log | grep -c '^ack')
cli_acked=$(grep -c '^ack' "$T/cli.log")
echo "crash campaign: $cycle cycles of kill -9; acknowledged $mount_acked through the mount and $cli_acked by the command line; last check: $out; audit: $verify"
finish

#!/usr/bin/env bash
# The audit trail survives rotation as operators run it: real `logrotate -f` on a mounted
# vault, again and again, with admin commands (secret set, audit verify) writing the last
# records before each rotation, so that the daemon's own idea of the chain's head is
# behind. Three styles, each several times: the rotated file moved out of the vault and
# compressed (only vault.db's head says where the chain stands), move + create + SIGHUP
# (the README's advice), and copytruncate; then an admin command writing inside
# logrotate's window between its rename and its create. `vaultfs audit verify` passes after every
# rotation and at the end, every seq is in the files once, and vaultfs.log is reopened on
# SIGHUP: the moved one stops growing, the new one grows.
. "$(dirname "$0")/lib.sh"
command -v logrotate >/dev/null || { echo "logrotate missing (scripts/deps.sh): skipped"; exit 77; }
command -v strace >/dev/null || { echo "strace missing (scripts/deps.sh): skipped"; exit 77; }

A=$V/audit.log
L=$V/vaultfs.log
OLD=$T/old
new_vault "allow * ** uid=0"
printf 'first' | "$VAULTFS" secret set "$V" s0 || fail "secret set"
mkdir -m 700 "$OLD"

# The daemon as it runs in production: detached, logging to DIR/vaultfs.log. Its pid is
# the one its own mount record names.
"$VAULTFS" mount "$V" "$M" || { echo "mount failed"; exit 1; }
DAEMON_PID=$(jq -r 'select(.op == "mount") | .pid' "$A" | tail -n 1)
[ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" || { echo "no daemon pid"; exit 1; }

# stop_detached: unmounts, waits for the daemon to end, and checks its log for errors.
stop_detached() {
	fusermount3 -u "$M" || fail "fusermount3 -u failed"
	# detached, it is init's child: a zombie init has not reaped yet has exited
	wait_exit "$DAEMON_PID" 10 || fail "daemon still running after unmount"
	DAEMON_PID=
	if grep -qi error "$V"/vaultfs.log*; then fail "vaultfs.log says error: $(cat "$V"/vaultfs.log*)"; fi
}

# verify_ok WHAT: the whole trail verifies, and every record found in the trail files is
# there once, with no seq missing between the first and the last.
verify_ok() {
	local out seqs
	out=$("$VAULTFS" audit verify "$V" 2>&1) && pass || fail "$1: verify: $out"
	seqs=$(cat "$V"/audit.log "$V"/audit.log.[0-9]* "$V"/audit.log-*.backup 2>/dev/null | jq -r .seq | sort -n)
	same "$1: each seq once" "$(uniq <<<"$seqs" | wc -l)" "$(wc -l <<<"$seqs")"
	same "$1: no gap" "$(($(tail -n 1 <<<"$seqs") - $(head -n 1 <<<"$seqs") + 1))" "$(wc -l <<<"$seqs")"
}

# round N CONF: reads through the mount, then admin commands write the trail's last
# records (verify last of all), then logrotate -f CONF, then the first writer after the
# rotation is the daemon (odd rounds) or an admin command (even rounds).
round() {
	local n=$1 conf=$2 got
	got=$(cat "$S/s0") && same "round $n: read before" first "$got"
	printf 'value-%s' "$n" | "$VAULTFS" secret set "$V" "s$n" || fail "round $n: secret set"
	"$VAULTFS" audit verify "$V" >/dev/null || fail "round $n: verify before rotating"
	logrotate -f -s "$T/logrotate.state" "$conf" 2>"$T/lr.err" || fail "round $n: logrotate: $(cat "$T/lr.err")"
	if [ $((n % 2)) -eq 0 ]; then
		got=$("$VAULTFS" secret get "$V" s0) && same "round $n: admin read first" first "$got"
	fi
	got=$(cat "$S/s$n") && same "round $n: read after" "value-$n" "$got"
	verify_ok "round $n, after the rotation"
	printf 'again-%s' "$n" | "$VAULTFS" secret set "$V" "s$n" || fail "round $n: secret set after"
	got=$(cat "$S/s$n") && same "round $n: read the new version" "again-$n" "$got"
	verify_ok "round $n, after more records"
}

# 1. Rotated out of the vault and compressed at once: no trail file left in DIR tells
# where the chain stands, only the head in vault.db (and the daemon's own, behind).
cat >"$T/away.conf" <<EOF
$A {
	rotate 100
	olddir $OLD
	compress
	create 0600 root root
	postrotate
		kill -HUP $DAEMON_PID
	endscript
}
EOF
for n in 1 2; do round "$n" "$T/away.conf"; done
[ "$(ls "$OLD" | grep -c '^audit\.log\.[0-9]*\.gz$')" -eq 2 ] && pass || fail "rotated away: $(ls "$OLD")"
[ "$(head -n 1 "$A" | jq -r .op)" = audit-rotate ] && pass || fail "first record after rotating away: $(head -n 1 "$A")"

# 2. The README's way: move, create, SIGHUP; vaultfs.log rotated with it.
cat >"$T/create.conf" <<EOF
$A $L {
	rotate 100
	create 0600 root root
	sharedscripts
	postrotate
		kill -HUP $DAEMON_PID
	endscript
}
EOF
for n in 3 4 5; do
	round "$n" "$T/create.conf"
	# vaultfs.log: the daemon says it reopened it, in the new file; then a policy reload
	# logs there and not in the moved one.
	for _ in $(seq 1 100); do grep -q 'Reopened' "$L" 2>/dev/null && break; sleep 0.05; done
	grep -q 'Reopened' "$L" 2>/dev/null && pass || fail "round $n: vaultfs.log not reopened: $(ls -l "$V")"
	old_size=$(stat -c %s "$L.1")
	new_size=$(stat -c %s "$L")
	set_policy "allow * ** uid=0 # round $n"
	for _ in $(seq 1 40); do [ "$(stat -c %s "$L")" -gt "$new_size" ] && break; sleep 0.05; done
	[ "$(stat -c %s "$L")" -gt "$new_size" ] && pass || fail "round $n: the new vaultfs.log does not grow"
	same "round $n: the moved vaultfs.log does not grow" "$old_size" "$(stat -c %s "$L.1")"
done
mountpoint -q "$M" && pass || fail "SIGHUP unmounted"

# 3. copytruncate: the file stays where it is, cut to nothing under the daemon.
cat >"$T/copy.conf" <<EOF
$A {
	rotate 100
	copytruncate
}
EOF
for n in 6 7 8; do round "$n" "$T/copy.conf"; done

# 4. A writer in logrotate's own window, between its rename and its create (held open
# with strace): the admin command makes audit.log anew, logrotate then finds it there and
# moves it to audit.log-YYYYMMDDHH.backup before it creates its own. The chain runs
# through that file too.
cat >"$T/race.conf" <<EOF
$A {
	rotate 100
	create 0600 root root
}
EOF
got=$(cat "$S/s0") && same "race: read before" first "$got"
"$VAULTFS" audit verify "$V" >/dev/null || fail "race: verify before"
strace -f -o /dev/null -P "$A" -e trace=rename,renameat,renameat2 \
	-e inject=rename,renameat,renameat2:delay_exit=1500000 \
	logrotate -f -s "$T/logrotate.state" "$T/race.conf" 2>"$T/lr.err" &
lr=$!
for _ in $(seq 1 100); do [ -e "$A" ] || break; sleep 0.01; done
[ -e "$A" ] && fail "race: logrotate did not move audit.log"
printf 'in-the-window' | "$VAULTFS" secret set "$V" s9 || fail "race: secret set in the window"
wait "$lr"
grep -q 'already exists, renaming' "$T/lr.err" && pass || fail "race: logrotate did not meet the file: $(cat "$T/lr.err")"
ls "$V" | grep -q '^audit\.log-[0-9]*\.backup$' && pass || fail "race: no .backup file: $(ls "$V")"
got=$(cat "$S/s9") && same "race: read after" in-the-window "$got"
verify_ok "race, after the rotation"

# The end: every record in the files that are still in DIR, once, intact.
stop_detached
verify_ok "at the end"
total=$(cat "$V"/audit.log "$V"/audit.log.[0-9]* "$V"/audit.log-*.backup | wc -l)
out=$("$VAULTFS" audit verify "$V")
[[ "$out" =~ ^$total\ records ]] && pass || fail "count: \"$out\", $total lines before it"
finish

#!/usr/bin/env bash
# The mount's metrics and `vaultfs status`, as Prometheus and an operator see them. A
# mounted vault under load — reads allowed and denied as uid 1001, writes, opens refused
# past [limits], policy reloads good and bad — writes a metrics file that `promtool check
# metrics` accepts; its counters moved by exactly what the test did, and agree with the
# audit trail count for count (metrics_check.py); `vaultfs status` shows the mount, the
# daemon's pid and the counts, and never a name, a value or the PIN. Then the error
# paths: not mounted (exit 3), a bad DIR (one line, exit 1), a metrics file that cannot be
# written (the mount serves all the same), a name in [metrics] that is no file name, a
# symbolic link planted at the temporary name, no metrics file at all, a daemon killed
# (its file is not believed), the OpenMetrics format through Prometheus's own strict
# parser, and a daemon in a mount namespace of its own.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || { echo "promtool missing (scripts/deps.sh --tests): skipped"; exit 77; }
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null ||
	{ echo "python3-prometheus-client missing (scripts/deps.sh --tests): skipped"; exit 77; }
CHECK="/usr/bin/python3 $(dirname "$0")/metrics_check.py"

MF=$V/metrics.prom
new_vault "allow * ** uid=0
allow read,list secrets/app uid=1001
allow read secrets/app/one uid=1001"
sed -i 's/^interval = .*/interval = 1/; s/^open_files_per_uid = .*/open_files_per_uid = 4/' "$V/vaultfs.conf"
for s in app/one app/two app/three; do printf 'value-of-%s' "$s" | "$VAULTFS" secret set "$V" "$s"; done

# metric NAME [SUBSTRING...]: the sum of the samples of NAME whose line holds every SUBSTRING.
metric() {
	local name=$1; shift
	awk -v n="$name" -v want="$(printf '%s\037' "$@")" '
		BEGIN { k = split(want, w, "\037") - 1 }
		index($0, n "{") == 1 || index($0, n " ") == 1 {
			for (i = 1; i <= k; i++) if (!index($0, w[i])) next
			s += $NF
		}
		END { printf "%d\n", s }' "${MF_READ:-$MF}"
}
# fresh: waits for two new files, so that the last was rendered after whatever came before.
fresh() {
	local ino i
	for _ in 1 2; do
		ino=$(stat -c %i "$MF" 2>/dev/null)
		for i in $(seq 1 100); do
			[ "$(stat -c %i "$MF" 2>/dev/null)" != "$ino" ] && break
			sleep 0.05
		done
		[ "$i" -lt 100 ] || { fail "metrics file not rewritten within 5 s"; return 1; }
	done
}

start
for _ in $(seq 1 100); do [ -f "$MF" ] && break; sleep 0.05; done
check "metrics file written when the mount serves" test -f "$MF"
same "metrics file mode" 644 "$(stat -c %a "$MF")"
promtool check metrics <"$MF" >"$T/promtool.out" 2>&1 && pass || fail "promtool at start: $(cat "$T/promtool.out")"

# The load. Denied: uid 1001 may list secrets/app and read app/one only, so each open of
# app/two is refused (EACCES) and recorded.
fresh
deny0=$(metric vaultfs_requests_total 'decision="deny"')
open0=$(metric vaultfs_requests_total 'op="open"' 'decision="allow"' 'result="0"')
write0=$(metric vaultfs_requests_total 'op="write"' 'decision="allow"' 'result="0"')
records0=$(metric vaultfs_audit_records_total)
tcalls0=$(metric vaultfs_token_calls_total)
N=25 R=17 W=6
for _ in $(seq 1 $N); do as 1001 cat "$S/app/two" >/dev/null 2>&1 && fail "uid 1001 read app/two"; done
for _ in $(seq 1 $R); do as 1001 cat "$S/app/one" >/dev/null || fail "uid 1001 cannot read app/one"; done
for i in $(seq 1 $W); do printf 'new-%s' "$i" >"$S/app/three" || fail "write $i"; done
fresh
same "denied reads counted" $((deny0 + N)) "$(metric vaultfs_requests_total 'decision="deny"')"
same "denied reads counted as opens refused EACCES" $N \
	"$(metric vaultfs_requests_total 'decision="deny"' 'result="EACCES"')"
same "allowed opens counted" $((open0 + R + W)) \
	"$(metric vaultfs_requests_total 'op="open"' 'decision="allow"' 'result="0"')"
same "new versions counted" $((write0 + W)) \
	"$(metric vaultfs_requests_total 'op="write"' 'decision="allow"' 'result="0"')"
[ "$(metric vaultfs_audit_records_total)" -ge $((records0 + N + R + 2 * W)) ] && pass ||
	fail "audit records: $(metric vaultfs_audit_records_total), expected at least $((records0 + N + R + 2 * W))"
[ "$(metric vaultfs_token_calls_total)" -gt "$tcalls0" ] && pass || fail "token calls did not move"
$CHECK "$MF" "$V/audit.log" "$DAEMON_PID" >"$T/check.out" 2>&1 && pass || fail "metrics against the trail: $(cat "$T/check.out")"

# Past [limits]: uid 1001 holds 4 files open (its cap), then 10 more opens are refused
# with EMFILE — the first recorded at once, the others in one summary at the next close,
# but each counted as it happens.
as 1001 /usr/bin/python3 -c '
import errno, os, signal, sys
fds = [os.open(sys.argv[1], os.O_RDONLY) for _ in range(4)]
refused = 0
for _ in range(10):
    try:
        os.close(os.open(sys.argv[1], os.O_RDONLY))
    except OSError as e:
        refused += e.errno == errno.EMFILE
print(refused)' "$S/app/one" >"$T/refused" || fail "the holder as uid 1001 failed"
same "opens refused past open_files_per_uid" 10 "$(cat "$T/refused")"
fresh
same "refusals counted one by one" 10 "$(metric vaultfs_requests_total 'op="open"' 'decision="deny"' 'result="EMFILE"')"
same "open files back to none" 0 "$(metric vaultfs_open_files)"
$CHECK "$MF" "$V/audit.log" "$DAEMON_PID" >"$T/check.out" 2>&1 && pass || fail "metrics against the trail after [limits]: $(cat "$T/check.out")"

# Policy reloads: one good, one refused.
set_policy "allow * ** uid=0
allow read,list secrets/app/** uid=1001
# a comment
allow write secrets/app/one uid=1001"
ERR_EXPECTED=1 # the refused policy is logged as an error
set_policy "allow bogus secrets/** uid=0"
fresh
same "policy reloads ok" 1 "$(metric vaultfs_policy_reloads_total 'result="ok"')"
same "policy reloads refused" 1 "$(metric vaultfs_policy_reloads_total 'result="error"')"
same "rules in force" 3 "$(metric vaultfs_policy_rules)"
promtool check metrics <"$MF" >"$T/promtool.out" 2>&1 && pass || fail "promtool under load: $(cat "$T/promtool.out")"

# status while mounted: the mount, the daemon, the counts; nothing secret.
"$VAULTFS" status "$V" >"$T/status" 2>"$T/status.err"
same "status exit while mounted" 0 $?
grep -q "mounted:  on $M by pid $DAEMON_PID, since " "$T/status" && pass || fail "status: $(cat "$T/status")"
grep -q "requests: .* allowed, .* denied" "$T/status" && pass || fail "status counts: $(cat "$T/status")"
grep -q "head:     seq [0-9]*, its tag verified by the token" "$T/status" && pass || fail "status head: $(cat "$T/status")"
grep -q "policy:   the file does not load: policy:1: bad operations" "$T/status" &&
	grep -q "loaded:   policy of 3 rules in force since .*; 1 reloads, 1 refused" "$T/status" && pass ||
	fail "status policy: $(cat "$T/status")"
for word in "$(cat "$V/pin")" value-of new- app/one app/two three; do
	grep -qF -- "$word" "$T/status" && fail "status prints \"$word\""
done
pass
same "status is recorded as an inspection" "admin 0" \
	"$(jq -r 'select(.op == "status") | "\(.rule) \(.result)"' "$V/audit.log" | tail -n 1)"
"$VAULTFS" status "$V" --metrics >"$T/out.prom" && pass || fail "status --metrics"
promtool check metrics <"$T/out.prom" >"$T/promtool.out" 2>&1 && pass || fail "promtool on status --metrics: $(cat "$T/promtool.out")"

# A symbolic link planted at the temporary name is replaced, never written through.
echo precious >"$T/precious"
ln -s "$T/precious" "$MF.tmp"
fresh
same "planted link not followed" precious "$(cat "$T/precious")"
[ -L "$MF.tmp" ] && fail "the planted link is still there" || pass

stop
check "metrics file removed at unmount" test ! -e "$MF"
printf 'allow * ** uid=0\nallow read,list secrets/app uid=1001\nallow read secrets/app/one uid=1001\n' >"$V/policy"
"$VAULTFS" status "$V" >"$T/status" 2>&1
same "status exit when not mounted" 3 $?
grep -q "mounted:  no$" "$T/status" && pass || fail "status not mounted: $(cat "$T/status")"
"$VAULTFS" status "$V" --metrics >"$T/status" 2>&1
same "status --metrics exit when not mounted" 3 $?
grep -q "not mounted" "$T/status" && pass || fail "status --metrics not mounted: $(cat "$T/status")"

# Errors of the command itself: one line, exit 1; usage: exit 2.
refuses "status of a missing DIR" "status: .*$T/nothing" "$VAULTFS" status "$T/nothing"
mkdir -m 700 "$T/empty"
refuses "status of a directory that holds no vault" "empty" "$VAULTFS" status "$T/empty"
"$VAULTFS" status >/dev/null 2>&1
same "status without DIR" 2 $?
"$VAULTFS" status "$V" --bogus >/dev/null 2>&1
same "status with an unknown option" 2 $?

# The vault's owner, not root, without a mount.
mkdir -m 700 "$T/own" && chown 1001:1001 "$T/own"
as 1001 env HOME="$T/own" "$VAULTFS" init "$T/own/v" >/dev/null || fail "init as 1001"
as 1001 "$VAULTFS" status "$T/own/v" >"$T/status" 2>&1
same "status as the vault's owner, not mounted" 3 $?
grep -q "mounted:  no" "$T/status" && pass || fail "status as 1001: $(cat "$T/status")"

# [metrics] file in a directory that does not exist: the mount serves, and says so.
sed -i "s|^file = .*|file = $T/no/such/dir/vault.prom|" "$V/vaultfs.conf"
start
check "the mount serves without its metrics file" cat "$S/app/one"
grep -q "Failed to write the metrics file \"$T/no/such/dir/vault.prom\"" "$T/daemon.err" && pass ||
	fail "no error logged: $(cat "$T/daemon.err")"
"$VAULTFS" status "$V" >"$T/status" 2>&1
same "status exit with the metrics file missing" 0 $?
grep -q "counts:   none: metrics file \"$T/no/such/dir/vault.prom\": No such file" "$T/status" && pass ||
	fail "status: $(cat "$T/status")"
stop

# A name that is no file name is refused with the line of vaultfs.conf.
sed -i "s|^file = .*|file = ../elsewhere.prom|" "$V/vaultfs.conf"
refuses "[metrics] file = ../elsewhere.prom" "vaultfs.conf:[0-9]+: not a file name" "$VAULTFS" mount "$V" "$M"
refuses "status with a bad [metrics] file" "vaultfs.conf:[0-9]+: not a file name" "$VAULTFS" status "$V"
sed -i "s|^file = .*|file =|" "$V/vaultfs.conf"
ERR_EXPECTED=
start
check "no metrics file when [metrics] file is empty" test ! -e "$MF"
refuses "status --metrics with no metrics file" "no metrics file" "$VAULTFS" status "$V" --metrics
"$VAULTFS" status "$V" >"$T/status" 2>&1
grep -q "counts:   none: no metrics file" "$T/status" && pass || fail "status: $(cat "$T/status")"
stop

# OpenMetrics, through Prometheus's own strict parser (python3-prometheus-client).
sed -i "s|^file =.*|file = metrics.prom|; s|^format = .*|format = openmetrics|" "$V/vaultfs.conf"
start
for _ in $(seq 1 100); do [ -f "$MF" ] && break; sleep 0.05; done
as 1001 cat "$S/app/two" >/dev/null 2>&1
fresh
same "OpenMetrics ends with # EOF" "# EOF" "$(tail -n 1 "$MF")"
grep -q '^# TYPE vaultfs_requests counter$' "$MF" && pass || fail "OpenMetrics counter family"
/usr/bin/python3 -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
assert fams["vaultfs_requests"].type == "counter", fams["vaultfs_requests"].type
assert fams["vaultfs_build"].type == "info"
assert fams["vaultfs_audit_flush_seconds"].type == "histogram"
print(len(fams))' "$MF" >"$T/om.out" 2>&1 && pass || fail "OpenMetrics parser: $(cat "$T/om.out")"
$CHECK "$MF" "$V/audit.log" "$DAEMON_PID" >"$T/check.out" 2>&1 && pass || fail "OpenMetrics against the trail: $(cat "$T/check.out")"

# A daemon killed: its mount is dead, its file stays but is not believed.
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
"$VAULTFS" status "$V" >"$T/status" 2>&1
same "status exit after a kill" 3 $?
grep -q "mounted:  no: its mount on $M was left dead" "$T/status" && pass || fail "status dead: $(cat "$T/status")"
"$VAULTFS" status "$V" --metrics >/dev/null 2>&1
same "status --metrics after a kill" 3 $?
fusermount3 -uz "$M"

# A daemon in a mount namespace of its own: its mount is not in ours, status finds it in
# the daemon's. It writes its file once (interval 3600): put back the killed daemon's
# file, status does not believe it.
cp -p "$MF" "$T/stale.prom"
sed -i "s|^format = .*|format = prometheus|; s|^interval = .*|interval = 3600|" "$V/vaultfs.conf"
unshare -m --propagation private "$VAULTFS" mount "$V" "$M" -f 2>"$T/ns.err" &
ns=$!
for _ in $(seq 1 200); do "$VAULTFS" status "$V" >/dev/null 2>&1 && break; sleep 0.05; done
"$VAULTFS" status "$V" >"$T/status" 2>&1
same "status of a mount in another namespace" 0 $?
grep -q "mounted:  on $M by pid $ns," "$T/status" && pass || fail "status ns: $(cat "$T/status")"
mountpoint -q "$M" && fail "the namespace's mount is in ours"
grep -q "requests: " "$T/status" && pass || fail "status ns counts: $(cat "$T/status")"
cp -p "$T/stale.prom" "$MF"
"$VAULTFS" status "$V" >"$T/status" 2>&1
grep -q "counts:   none: metrics file \"$MF\": not written by this daemon" "$T/status" && pass ||
	fail "status believes a killed daemon's file: $(cat "$T/status")"
refuses "status --metrics on a killed daemon's file" "not written by this daemon" "$VAULTFS" status "$V" --metrics
kill -TERM "$ns"
wait_exit "$ns" 30 || { fail "daemon in its namespace did not stop"; kill -KILL "$ns"; }
wait "$ns"
same "daemon in its namespace exit status" 0 $?
check "its metrics file removed" test ! -e "$MF"

finish

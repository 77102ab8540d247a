#!/usr/bin/env bash
# Run by t_package.sh as PID 1 of a PID namespace of its own (unshare --pid --fork
# --mount-proc), so that the snippet's pkill sees only the processes started here.
# Usage: logrotate_ns.sh ROOT WORK — ROOT is the unpacked package, WORK a new directory.
# The packaged logrotate snippet, with /var/lib/vaultfs/ moved into WORK, rotates a
# vault mounted by the packaged vaultfs, twice: audit.log and vaultfs.log are moved and
# made anew, the daemon (and only it) gets SIGHUP, logs to the new vaultfs.log and goes
# on serving with its records in the new audit.log, an admin command (`vaultfs audit
# tail -f`) runs on unharmed, and `vaultfs audit verify` passes after each rotation; and
# a vault mounted while SIGHUPs arrive mounts. Prints "ok WHAT" or "FAIL: WHAT".
set -u

# exited PID: gone, or a zombie its parent (init, for a detached daemon) has not reaped yet.
exited() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -z "$state" ] || [ "$state" = Z ]
}
R=$1
W=$2
VFS=$R/usr/bin/vaultfs
SNIPPET=$R/etc/logrotate.d/vaultfs
BASE=$W/var/lib/vaultfs
V=$BASE/t
M=$W/mnt
DAEMON=
TAIL=
M2=$W/mnt2

check() {
	local what=$1
	shift
	if "$@"; then echo "ok $what"; else echo "FAIL: $what"; fi
}

cleanup() {
	[ -n "$TAIL" ] && kill "$TAIL" 2>/dev/null
	for m in "$M2" "$M"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m"
		fi
	done
	if [ -n "$DAEMON" ]; then
		for _ in $(seq 1 200); do exited "$DAEMON" && break; sleep 0.05; done
		exited "$DAEMON" || { echo "FAIL: the daemon outlived its unmount"; kill -9 "$DAEMON"; }
	fi
}
trap cleanup EXIT

mkdir -p "$BASE" "$M"
"$VFS" init "$V" >/dev/null || { echo "FAIL: vaultfs init"; exit 1; }
printf 'allow * ** uid=0\n' >"$V/policy"
printf 'one' | "$VFS" secret set "$V" s1 || { echo "FAIL: secret set"; exit 1; }
# detached, as a service runs it: logging to DIR/vaultfs.log
"$VFS" mount "$V" "$M" || { echo "FAIL: vaultfs mount"; exit 1; }
DAEMON=$(jq -r 'select(.op == "mount") | .pid' "$V/audit.log" | tail -n 1)
[ -n "$DAEMON" ] && kill -0 "$DAEMON" || { echo "FAIL: no daemon pid"; exit 1; }
"$VFS" audit tail "$V" -f -n 0 >"$W/tail.out" 2>&1 &
TAIL=$!

# The daemons are found by their command line: the pattern finds the daemon, not the
# admin command.
pattern=$(sed -n "s/.*pkill -HUP -f '\([^']*\)'.*/\1/p" "$SNIPPET")
check "the snippet's postrotate names the daemons by a pattern" [ -n "$pattern" ]
check "the pattern finds the daemon and nothing else ($(pgrep -af "$pattern" | tr '\n' ';'))" \
	[ "$(pgrep -f "$pattern")" = "$DAEMON" ]

sed "s|/var/lib/vaultfs/|$BASE/|g" "$SNIPPET" >"$W/lr.conf"
check "the snippet names /var/lib/vaultfs/*/audit.log" grep -qF "$BASE/*/audit.log" "$W/lr.conf"

# rotate N: reads, logrotate -f, then reads until the daemon's record is in the new file
rotate() {
	local n=$1 got
	got=$(cat "$M/secrets/s1")
	check "rotation $n: read before" [ "$got" = one ]
	logrotate -f -s "$W/lr.state" "$W/lr.conf" >"$W/lr.$n.out" 2>&1
	check "rotation $n: logrotate exit status 0 ($(tr '\n' ' ' <"$W/lr.$n.out"))" [ $? -eq 0 ]
	check "rotation $n: audit.log moved to audit.log.1" [ -s "$V/audit.log.1" ]
	check "rotation $n: vaultfs.log moved to vaultfs.log.1" [ -s "$V/vaultfs.log.1" ]
	check "rotation $n: a new audit.log, mode 0600" [ "$(stat -c %a "$V/audit.log" 2>/dev/null)" = 600 ]
	check "rotation $n: a new vaultfs.log" [ -e "$V/vaultfs.log" ]
	for _ in $(seq 1 100); do
		got=$(cat "$M/secrets/s1")
		grep -q '"op":"open".*"path":"secrets/s1"' "$V/audit.log" && break
		sleep 0.05
	done
	for _ in $(seq 1 100); do
		grep -q 'Reopened vaultfs.log' "$V/vaultfs.log" 2>/dev/null && break
		sleep 0.05
	done
	check "rotation $n: the daemon got SIGHUP and logs to the new vaultfs.log" \
		grep -q 'Reopened vaultfs.log' "$V/vaultfs.log"
	check "rotation $n: the daemon serves on" [ "$got" = one ]
	check "rotation $n: its records go to the new audit.log" \
		grep -q '"op":"open".*"path":"secrets/s1"' "$V/audit.log"
	check "rotation $n: the daemon is alive" kill -0 "$DAEMON"
	check "rotation $n: the admin command's process is unharmed" kill -0 "$TAIL"
	"$VFS" audit verify "$V" >"$W/verify.$n" 2>&1
	check "rotation $n: audit verify passes ($(cat "$W/verify.$n"))" [ $? -eq 0 ]
}
rotate 1
rotate 2
check "delaycompress: the older audit.log compressed" [ -s "$V/audit.log.2.gz" ]
check "delaycompress: the older vaultfs.log compressed" [ -s "$V/vaultfs.log.2.gz" ]

# logrotate may run while a vault is being mounted: its SIGHUP must stop neither the
# starting daemon nor the command waiting for it to serve. This test holds the vault's
# token lock (as another vaultfs command would) so that the daemon waits in its start,
# sends the snippet's SIGHUP three times, and lets go.
V2=$BASE/u
"$VFS" init "$V2" >/dev/null && printf 'allow * ** uid=0\n' >"$V2/policy" && mkdir -p "$M2" ||
	{ echo "FAIL: a second vault"; exit 1; }
exec {lock}<>"$V2/tokens/.vaultfs.lock"
flock -x "$lock"
"$VFS" mount "$V2" "$M2" 2>"$W/mount2.err" {lock}>&- & # the lock is this test's alone
MOUNTER=$!
child=
for _ in $(seq 1 500); do
	child=$(pgrep -P "$MOUNTER") && break
	sleep 0.01
done
check "the daemon started and waits for the token" [ -n "$child" ]
for _ in 1 2 3; do
	pkill -HUP -f "$pattern"
	sleep 0.05
done
check "the starting daemon outlives SIGHUP" kill -0 "$child"
check "the mount command outlives SIGHUP" eval '[ -z "$(ps -o stat= -p "$MOUNTER" | grep Z)" ] && kill -0 "$MOUNTER"'
exec {lock}>&-
wait "$MOUNTER"
rc=$?
check "vaultfs mount under logrotate's SIGHUPs: exit status $rc, 0 expected ($(cat "$W/mount2.err"))" [ "$rc" -eq 0 ]
check "the vault mounted under SIGHUPs serves" [ -d "$M2/secrets" ]
DAEMON2=$(jq -r 'select(.op == "mount") | .pid' "$V2/audit.log" | tail -n 1)
if mountpoint -q "$M2"; then
	fusermount3 -u "$M2"
	for _ in $(seq 1 200); do exited "$DAEMON2" && break; sleep 0.05; done
fi

# Both unmount cleanly; the daemons' logs (rotated or not) hold no error.
kill "$TAIL" 2>/dev/null
TAIL=
fusermount3 -u "$M"
check "fusermount3 -u after the rotations" [ $? -eq 0 ]
for _ in $(seq 1 200); do exited "$DAEMON" && break; sleep 0.05; done
check "the daemon ends once unmounted" exited "$DAEMON"
DAEMON=
check "the daemons' logs hold no error ($(cat "$V"/vaultfs.log* "$V2"/vaultfs.log* | grep -i error | head -n 3))" \
	eval '! cat "$V"/vaultfs.log* "$V2"/vaultfs.log* | grep -qi error'
check "the unmount is in the daemon's log" eval 'cat "$V"/vaultfs.log* | grep -q unmounted'
ls "$V" | tr '\n' ' ' | sed 's/^/files: /'
echo

#!/usr/bin/env bash
# The daemon as systemd/vaultfs@.service runs it: the unit's own ExecStart= command line
# (its paths /var/lib/vaultfs and /run/vaultfs moved under the test's directory), with
# the unit's capability bounding set, no_new_privs, UMask= and PrivateNetwork=, a clean
# environment, NOTIFY_SOCKET on a datagram socket this test reads (notify.py), stderr
# named by JOURNAL_STREAM as the journal's would be, and CREDENTIALS_DIRECTORY. It proves:
# - READY=1 is sent only once the mount answers: the socket's queue is full, so the
#   daemon is held inside the send of READY=1, and while it is held the mount is in the
#   mount table and a stat of it is answered (notify.py --hold);
# - with the unit's capabilities alone the daemon works for a caller of another uid
#   (an exe= rule) and locks its memory beyond RLIMIT_MEMLOCK; without CAP_SYS_PTRACE an
#   exe= rule cannot hold for such a caller;
# - reload (SIGHUP, the unit's ExecReload=) sends RELOADING=1 then READY=1, and in
#   between reads the policy again (a change inotify did not see is in force after it)
#   and reopens the audit trail (logrotate's move: the new file takes the records, the
#   chain verifies);
# - SIGTERM sends STOPPING=1 and unmounts; so does an unmount from outside;
# - the PIN credential: $CREDENTIALS_DIRECTORY/pin wins over DIR/pin, for the daemon and
#   for admin commands; a credential open to others is refused with one line naming it;
#   an empty credential directory falls back to DIR/pin;
# - log lines carry <N> syslog priorities when stderr is the journal's stream, and
#   "vaultfs: " when JOURNAL_STREAM names another file.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
UNIT=$(cd "$HERE/../.." && pwd)/systemd/vaultfs@.service
[ -f "$UNIT" ] || { echo "FAIL: no $UNIT"; exit 1; }
NOTIFY="/usr/bin/python3 $HERE/notify.py"

NAME=demo
V=$T/var/lib/vaultfs/$NAME
M=$T/run/vaultfs/$NAME
S=$M/secrets
mkdir -p "$T/var/lib/vaultfs" "$T/run/vaultfs"
chmod 755 "$T/var" "$T/var/lib" "$T/var/lib/vaultfs" "$T/run" "$T/run/vaultfs"

# The unit's settings, as the test runs them.
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
exec_start=$(unit_value ExecStart)
same "ExecStart= of the unit" "/usr/bin/vaultfs mount -f /var/lib/vaultfs/%i /run/vaultfs/%i" "$exec_start"
read -r -a cmdline <<<"$(sed -e "s|%i|$NAME|g" -e "s|/var/lib/vaultfs/|$T/var/lib/vaultfs/|" \
	-e "s|/run/vaultfs/|$T/run/vaultfs/|" <<<"${exec_start#* }")"
# CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_IPC_LOCK -> +sys_admin,+sys_ptrace,+ipc_lock
caps=$(unit_value CapabilityBoundingSet | tr ' ' '\n' | sed 's/^CAP_/+/' | tr 'A-Z' 'a-z' | paste -sd,)
same "CapabilityBoundingSet= of the unit" "+sys_admin,+sys_ptrace,+ipc_lock" "$caps"
umask_unit=$(unit_value UMask)
[ "$(unit_value PrivateNetwork)" = yes ] && netns=(unshare --net --) || netns=()

new_vault "allow * ** uid=0
allow read secrets/by-cat uid=1001 exe=/usr/bin/cat"
printf 'hello' | "$VAULTFS" secret set "$V" greeting
printf 'only cat' | "$VAULTFS" secret set "$V" by-cat
printf 'later' | "$VAULTFS" secret set "$V" later
cp "$V/pin" "$T/pin.right"

# unit_start CAPS [VAR=VALUE...]: the daemon as the unit starts it, in the background;
# its stderr is $T/daemon.err, which JOURNAL_STREAM names (the unit's StandardError=
# journal). RLIMIT_MEMLOCK is 64 KiB, so that memory locked beyond it shows CAP_IPC_LOCK.
unit_start() {
	local caps=$1 journal
	shift
	: >"$T/daemon.err"
	journal=$(stat -c %d:%i "$T/daemon.err")
	(
		ulimit -l 64
		umask "$umask_unit"
		exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
			INVOCATION_ID=0123456789abcdef0123456789abcdef JOURNAL_STREAM="$journal" \
			NOTIFY_SOCKET="$T/notify" LSAN_OPTIONS="${LSAN_OPTIONS:-}" "$@" \
			"${netns[@]}" setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,"$caps" -- \
			"$VAULTFS" "${cmdline[@]}"
	) 2>"$T/daemon.err" &
	DAEMON_PID=$!
	echo "$DAEMON_PID" >"$T/daemon.pid"
}

# reader [--hold]: a fresh notify.py on $T/notify, writing $T/notify.log.
READER=
reader() {
	: >"$T/notify.log"
	rm -f "$T/daemon.pid" "$T/notify"
	if [ "${1:-}" = --hold ]; then
		$NOTIFY "$T/notify" "$T/notify.log" --hold "$M" "$T/daemon.pid" &
	else
		$NOTIFY "$T/notify" "$T/notify.log" &
	fi
	READER=$!
	for _ in $(seq 1 100); do
		if [ "${1:-}" = --hold ]; then grep -q '^filled' "$T/notify.log" && return; else
			[ -S "$T/notify" ] && return; fi
		sleep 0.05
	done
	echo "FAIL: notify.py did not start" >&2
	exit 1
}
stop_reader() { [ -n "$READER" ] && kill "$READER" 2>/dev/null && wait "$READER" 2>/dev/null; READER=; }
at_exit stop_reader

# wait_msg PATTERN [COUNT]: waits up to 20 s for COUNT (default 1) messages matching the
# extended regex PATTERN; fails the test if they do not come.
wait_msg() {
	for _ in $(seq 1 400); do
		[ "$(grep -cE "^msg .*$1" "$T/notify.log")" -ge "${2:-1}" ] && return 0
		sleep 0.05
	done
	fail "no message /$1/ (${2:-1}) from the daemon: $(tr '\n' ';' <"$T/notify.log") $(cat "$T/daemon.err")"
	return 1
}
msgs() { sed -n 's/^msg //p' "$T/notify.log" | sed 's/|STATUS=[^|]*//; s/|MONOTONIC_USEC=[0-9]*//'; }

# --- 1. READY=1 only once the mount answers.
reader --hold
unit_start "$caps"
for _ in $(seq 1 600); do grep -q '^held' "$T/notify.log" && break; sleep 0.1; done
same "while the daemon is held in its first sd_notify" "held mounted=1 answered=1 still=1" \
	"$(grep '^held' "$T/notify.log")"
wait_msg 'READY=1' || exit 1
same "the daemon's first message" "READY=1" "$(msgs | head -n 1)"
grep -qE "^msg READY=1\|STATUS=Serving $V on $M$" "$T/notify.log" && pass ||
	fail "no STATUS line naming the vault and the mount point: $(cat "$T/notify.log")"
same "read right after READY=1" hello "$(cat "$S/greeting")"

# --- 2. The unit's capabilities, and nothing else, are what the daemon runs with.
same "CapEff of the daemon (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_IPC_LOCK)" 0000000000284000 \
	"$(awk '/^CapEff/ {print $2}' "/proc/$DAEMON_PID/status")"
same "CapBnd of the daemon" 0000000000284000 "$(awk '/^CapBnd/ {print $2}' "/proc/$DAEMON_PID/status")"
same "NoNewPrivs of the daemon" 1 "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$DAEMON_PID/status")"
[ "$(readlink "/proc/$DAEMON_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ] && pass ||
	fail "the daemon shares the test's network namespace (PrivateNetwork=yes)"
same "exe= rule, uid 1001 with cat" "only cat" "$(as 1001 cat "$S/by-cat" 2>&1)"
same "exe= rule, uid 1001 with python" open:ENOENT "$(as_sys 1001 read "$S/by-cat")"
if [ "${VAULTFS_SANITIZED:-0}" = 1 ]; then
	echo "AddressSanitizer makes mlock a no-op: VmLck not checked in this build"
else
	lck=$(awk '/^VmLck/ {print $2}' "/proc/$DAEMON_PID/status")
	[ "${lck:-0}" -gt 1024 ] && pass || fail "VmLck ${lck} kB under RLIMIT_MEMLOCK 64 KiB: no CAP_IPC_LOCK?"
fi

# --- 3. Reload: RELOADING=1, then READY=1, with the policy read again and the trail
# reopened in between. The policy is changed through a hard link outside DIR, which the
# daemon's inotify watch on DIR does not see: only the reload can bring it in.
ln "$V/policy" "$T/policy.link"
printf 'allow * ** uid=0\nallow read secrets/by-cat uid=1001 exe=/usr/bin/cat\nallow read secrets/later uid=1001\n' \
	>"$T/policy.link"
sleep 2
same "a change the watch did not see is not in force" open:ENOENT "$(as_sys 1001 read "$S/later")"
reloads=$(grep -c '"op":"policy-reload"' "$V/audit.log")
mv "$V/audit.log" "$V/audit.log.1" # as logrotate does before it sends SIGHUP
kill -HUP "$DAEMON_PID"
wait_msg 'READY=1' 2
same "messages around the reload" "READY=1 RELOADING=1 READY=1" "$(msgs | paste -sd' ')"
grep -qE '^msg RELOADING=1\|MONOTONIC_USEC=[0-9]+$' "$T/notify.log" && pass ||
	fail "RELOADING=1 without MONOTONIC_USEC: $(cat "$T/notify.log")"
same "after READY=1, the policy read again is in force" later "$(as 1001 cat "$S/later" 2>&1)"
[ -f "$V/audit.log" ] && [ "$(grep -c '"op":"policy-reload"' "$V/audit.log")" -eq 1 ] && pass ||
	fail "the reload's record is not in a new audit.log"
same "policy-reload records in the moved trail (unchanged)" "$reloads" \
	"$(grep -c '"op":"policy-reload"' "$V/audit.log.1")"
out=$("$VAULTFS" audit verify "$V" 2>&1) && pass || fail "audit verify after the reload: $out"
rm -f "$T/policy.link"

# --- 4. SIGTERM: STOPPING=1, unmounted, exit 0.
kill -TERM "$DAEMON_PID"
wait_msg 'STOPPING=1'
stop_daemon
same "exit status after SIGTERM" 0 "$DAEMON_RC"
mountpoint -q "$M" && fail "still mounted after SIGTERM" || pass
same "messages from start to stop" "READY=1 RELOADING=1 READY=1 STOPPING=1" "$(msgs | paste -sd' ')"
stop_reader

# --- 5. Log lines as the journal takes them: each starts with its priority.
bad=$(grep -vE '^<[0-7]>' "$T/daemon.err")
[ -z "$bad" ] && pass || fail "lines without a <N> prefix under JOURNAL_STREAM: $bad"
grep -qE '^<6>vault ".*" mounted on ".*"$' "$T/daemon.err" && pass ||
	fail "no <6> line for the mount: $(cat "$T/daemon.err")"
if grep -qi error "$T/daemon.err"; then fail "daemon stderr says error: $(cat "$T/daemon.err")"; fi

# --- 6. Without CAP_SYS_PTRACE, an exe= rule cannot hold for a caller of another uid:
# the capability is needed, not just allowed. An unmount from outside sends STOPPING=1.
reader
unit_start "+sys_admin,+ipc_lock"
wait_msg 'READY=1'
same "exe= rule without CAP_SYS_PTRACE, uid 1001 with cat" "cat: $S/by-cat: No such file or directory" \
	"$(as 1001 cat "$S/by-cat" 2>&1)"
same "uid 0 without CAP_SYS_PTRACE" hello "$(cat "$S/greeting")"
stop
wait_msg 'STOPPING=1'
stop_reader

# --- 7. The PIN credential. DIR/pin now holds a wrong PIN: with the right one in
# $CREDENTIALS_DIRECTORY/pin (0400, as systemd makes it) the daemon mounts; without it,
# it fails, so the credential is what opened the token.
chmod 600 "$V/pin" && printf 'not-the-pin' >"$V/pin" && chmod 400 "$V/pin"
C=$T/credentials
mkdir -m 700 "$C" && install -m 0400 "$T/pin.right" "$C/pin" && chmod 500 "$C"
reader
unit_start "$caps" CREDENTIALS_DIRECTORY="$C"
wait_msg 'READY=1' && pass
same "read with the PIN from the credential" hello "$(cat "$S/greeting")"
same "admin command with the credential" hello \
	"$(CREDENTIALS_DIRECTORY=$C "$VAULTFS" secret get "$V" greeting 2>&1)"
refuses "admin command without it (wrong DIR/pin)" 'PIN' "$VAULTFS" secret get "$V" greeting
stop
stop_reader
# Without the credential, DIR/pin's wrong PIN: the start fails, with a <3> line.
reader
unit_start "$caps"
stop_daemon
same "exit status with a wrong DIR/pin and no credential" 1 "$DAEMON_RC"
grep -qE '^<3>.*PIN' "$T/daemon.err" && pass || fail "no <3> line about the PIN: $(cat "$T/daemon.err")"
grep -q '^msg READY=1' "$T/notify.log" && fail "READY=1 from a daemon that did not mount" || pass
stop_reader
# A credential that others may read is refused, naming it, and nothing is mounted.
chmod 700 "$C" && chmod 440 "$C/pin" && chmod 500 "$C"
unit_start "$caps" CREDENTIALS_DIRECTORY="$C"
stop_daemon
same "exit status with a credential open to others" 1 "$DAEMON_RC"
grep -qE "^<3>.*PIN file \"$C/pin\" is open to others" "$T/daemon.err" && pass ||
	fail "no one-line refusal naming the credential: $(cat "$T/daemon.err")"
mountpoint -q "$M" && fail "mounted with a refused credential" || pass
# An empty credential directory (a unit whose credential store holds no PIN): DIR/pin.
chmod 600 "$V/pin" && cp "$T/pin.right" "$V/pin" && chmod 400 "$V/pin"
E=$T/empty-credentials
mkdir -m 500 "$E"
reader
unit_start "$caps" CREDENTIALS_DIRECTORY="$E"
wait_msg 'READY=1' && pass
same "read with DIR/pin when the credential directory holds no pin" hello "$(cat "$S/greeting")"
stop
stop_reader

# --- 8. JOURNAL_STREAM inherited but stderr elsewhere (a child redirected it): plain lines.
JOURNAL_STREAM=$(stat -c %d:%i "$T/notify.log") "$VAULTFS" mount "$V" "$T/nonexistent" 2>"$T/plain.err"
grep -qE '^vaultfs: mount: ' "$T/plain.err" && pass || fail "not a plain line: $(cat "$T/plain.err")"
JOURNAL_STREAM=$(stat -c %d:%i "$T/plain.err") "$VAULTFS" mount "$V" "$T/nonexistent" 2>>"$T/plain.err"
grep -qE '^<3>mount: ' "$T/plain.err" && pass || fail "no <3> line when stderr is the stream: $(cat "$T/plain.err")"

finish

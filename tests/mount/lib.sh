# Shared helpers for the mounted tests: a fresh vault on its own embedded SoftHSM2 token,
# the real daemon in the foreground, readiness, callers as other uids, and a clean
# unmount whose exit code and stderr are checked.
# shellcheck shell=bash
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

[ -e /dev/fuse ] || { echo "no /dev/fuse: skipped"; exit 77; }
command -v fusermount3 >/dev/null || { echo "fusermount3 missing: skipped"; exit 77; }

V=$T/vault
M=$T/mnt
S=$M/secrets
DAEMON_PID=
ERR_EXPECTED=

# Run COMMAND... as uid N (gid N, no supplementary groups).
as() { local uid=$1; shift; setpriv --reuid "$uid" --regid "$uid" --clear-groups -- "$@"; }

# new_vault [POLICY]: a vault whose policy is POLICY (default: root may do everything).
new_vault() {
	"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
	printf '%s\n' "${1:-allow * ** uid=0}" >"$V/policy"
	mkdir -p "$M"
	chmod 755 "$T"
}

# set_policy TEXT: replaces the mounted vault's policy (as an editor would, by rename) and
# waits for the daemon's record of the reload.
set_policy() {
	local before
	before=$(grep -c '"op":"policy-reload"' "$V/audit.log")
	printf '%s\n' "$1" >"$V/policy.new" && mv "$V/policy.new" "$V/policy"
	for _ in $(seq 1 100); do
		[ "$(grep -c '"op":"policy-reload"' "$V/audit.log")" -gt "$before" ] && return 0
		sleep 0.05
	done
	fail "policy not reloaded"
}

# last_record JQ_FILTER: the newest record of the trail that the filter selects, through it.
last_record() { jq -c "$1" "$V/audit.log" | tail -n 1; }

# Starts the daemon in the foreground and waits until the mount serves.
start() {
	"$VAULTFS" mount "$V" "$M" -f "$@" 2>"$T/daemon.err" &
	DAEMON_PID=$!
	for _ in $(seq 1 200); do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			echo "daemon died at start: $(cat "$T/daemon.err")" >&2
			exit 1
		fi
		mountpoint -q "$M" && [ -d "$S" ] && return 0
		sleep 0.05
	done
	echo "mount not ready after 10s" >&2
	exit 1
}

# Unmounts and checks that the daemon exited 0 and printed no error.
stop() {
	local rc
	fusermount3 -u "$M" || fail "fusermount3 -u failed"
	wait "$DAEMON_PID"; rc=$?
	same "daemon exit status" 0 "$rc"
	DAEMON_PID=
	if [ -z "$ERR_EXPECTED" ] && grep -qi error "$T/daemon.err"; then
		fail "daemon stderr says error: $(cat "$T/daemon.err")"
	fi
}

cleanup_mount() {
	if mountpoint -q "$M" 2>/dev/null; then
		fusermount3 -uz "$M" 2>/dev/null
		echo "FAIL: left a mount behind" >&2
	fi
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup_mount EXIT

# sys OP ARGS...: one system call through tests/mount/sys.py; prints "ok" or the errno
# name, so a test can name the exact error SPEC promises.
# Debian's python3, which every uid can run (a per-user interpreter may not be).
SYS_PY="/usr/bin/python3 $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sys.py"
sys_() { $SYS_PY "$@"; }
# as_sys UID OP ARGS...: the same, as another uid.
as_sys() { local uid=$1; shift; as "$uid" $SYS_PY "$@"; }

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

# exited PID: the process has exited (a zombie not yet waited for counts) or is gone.
exited() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -z "$state" ] || [ "$state" = Z ]
}

# wait_exit PID SECONDS: waits that long at most for PID to exit; returns 1 if it has not.
wait_exit() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		exited "$1" && return 0
		sleep 0.1
	done
	exited "$1"
}

# stop_daemon [SECONDS]: the daemon must exit within SECONDS (default 30) of being asked
# to; if it does not, it is sent SIGTERM, then SIGKILL, and the test fails. Sets
# DAEMON_RC to its exit status; never waits on it for ever.
stop_daemon() {
	DAEMON_RC=
	[ -n "$DAEMON_PID" ] || return 0
	if ! wait_exit "$DAEMON_PID" "${1:-30}"; then
		fail "daemon $DAEMON_PID still running ${1:-30}s after it was asked to stop"
		kill -TERM "$DAEMON_PID" 2>/dev/null
		wait_exit "$DAEMON_PID" 10 || kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	wait "$DAEMON_PID"; DAEMON_RC=$?
	DAEMON_PID=
}

# Unmounts and checks that the daemon exited 0 and printed no error. When the unmount
# fails the daemon is stopped all the same, and the test fails.
stop() {
	if ! fusermount3 -u "$M"; then
		fail "fusermount3 -u failed"
		stop_daemon 0
		return
	fi
	stop_daemon
	same "daemon exit status" 0 "$DAEMON_RC"
	if [ -z "$ERR_EXPECTED" ] && grep -qi error "$T/daemon.err"; then
		fail "daemon stderr says error: $(cat "$T/daemon.err")"
	fi
}

# mounts_below DIR: every mount point at or below DIR in this mount namespace, deepest first.
mounts_below() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# at_exit COMMAND: runs COMMAND at exit, before the checks for what was left behind.
EXIT_HOOKS=()
at_exit() { EXIT_HOOKS+=("$1"); }

# At exit: a mount left behind under the test's directory fails the test (whatever its
# checks said), and is lazily unmounted; a daemon still running is stopped, within a bound.
cleanup_mount() {
	local left m pids p hook
	for hook in "${EXIT_HOOKS[@]}"; do $hook; done
	left=$(mounts_below "$T")
	[ -n "$left" ] && echo "FAIL: left a mount behind:" $left >&2
	[ -n "$DAEMON_PID" ] && kill -TERM "$DAEMON_PID" 2>/dev/null
	# daemons started without -f, and any that hang on a mount of their own
	pids=$(pgrep -f -- "vaultfs mount $T/" | grep -vx "$$")
	for p in $DAEMON_PID $pids; do
		kill -TERM "$p" 2>/dev/null
		wait_exit "$p" 10 || kill -KILL "$p" 2>/dev/null
	done
	for m in $(mounts_below "$T"); do
		fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	rm -rf "$T"
	# without an exit here the test's own status stands, even when a test's trap runs
	# something else first
	[ -z "$left" ] || exit 1
}
trap cleanup_mount EXIT

# stock_fuse: makes this mount namespace look like a stock system to uid 1001: /dev/fuse
# open to everyone (a node of mode 0666 bound over it) and a passwd entry "mallory" for
# uid 1001, which fusermount3 needs. Only in a private mount namespace: a test that calls
# it starts with
#   [ -n "${VAULTFS_NS:-}" ] || VAULTFS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
stock_fuse() {
	[ -n "${VAULTFS_NS:-}" ] || { echo "stock_fuse outside a private mount namespace" >&2; exit 1; }
	cp /etc/passwd "$T/passwd" &&
		echo "mallory:x:1001:1001::/nonexistent:/usr/sbin/nologin" >>"$T/passwd" &&
		chmod 644 "$T/passwd" && mount --bind "$T/passwd" /etc/passwd &&
		mknod -m 666 "$T/fuse" c 10 229 && mount --bind "$T/fuse" /dev/fuse ||
		{ echo "cannot make /dev/fuse 0666 in a private namespace" >&2; exit 1; }
}

# sys OP ARGS...: one system call through tests/mount/sys.py; prints "ok" or the errno
# name, so a test can name the exact error SPEC promises.
# Debian's python3, which every uid can run (a per-user interpreter may not be).
SYS_PY="/usr/bin/python3 $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sys.py"
sys_() { $SYS_PY "$@"; }
# as_sys UID OP ARGS...: the same, as another uid.
as_sys() { local uid=$1; shift; as "$uid" $SYS_PY "$@"; }

# cli_writer STOP LOG: `vaultfs secret set` of unique values to a secret picked from $names
# (comma-separated) until STOP exists. Each is logged "attempt NAME SHA256" before and
# "ack NAME SHA256" once the command exited 0, for crash_check.py (t_crash, t_backup).
cli_writer() {
	local stop=$1 log=$2 n=0 name value
	while [ ! -e "$stop" ]; do
		n=$((n + 1))
		name=$(echo "$names" | tr , '\n' | shuf -n 1)
		value=$T/cli.value
		{ printf 'cli-%s-' "$n"; head -c $((RANDOM % 1024)) /dev/urandom; } >"$value"
		sum=$(sha256sum <"$value" | cut -d' ' -f1)
		echo "attempt $name $sum" >>"$log"
		if "$VAULTFS" secret set "$V" "$name" --file "$value" 2>>"$T/cli.err"; then
			echo "ack $name $sum" >>"$log"
		fi
	done
}

# Shared helpers for the command-line tests: a temporary directory removed at exit,
# checks that count, and the closing "N passed, N failed" line.
# shellcheck shell=bash
set -u

VAULTFS=${VAULTFS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/vaultfs}
SOFTHSM2_MODULE=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -x "$VAULTFS" ] || { echo "vaultfs binary $VAULTFS missing"; exit 1; }
command -v softhsm2-util >/dev/null || { echo "softhsm2-util missing: skipped"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/vaultfs-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# check DESCRIPTION COMMAND...: the command succeeds.
check() {
	local what=$1; shift
	if "$@" >"$T/.out" 2>"$T/.err"; then pass; else fail "$what (exit $?): $(cat "$T/.err")"; fi
}

# refuses DESCRIPTION PATTERN COMMAND...: the command exits 1 with exactly one line on
# stderr that starts with "vaultfs: " and matches the extended regex PATTERN.
refuses() {
	local what=$1 pattern=$2 rc; shift 2
	"$@" >"$T/.out" 2>"$T/.err"; rc=$?
	if [ "$rc" -ne 1 ]; then fail "$what: exit $rc, expected 1: $(cat "$T/.err")"; return; fi
	if [ "$(wc -l <"$T/.err")" -ne 1 ]; then fail "$what: stderr is not one line: $(cat "$T/.err")"; return; fi
	if ! grep -qE "^vaultfs: " "$T/.err"; then fail "$what: message lacks the prefix: $(cat "$T/.err")"; return; fi
	if ! grep -qE -- "$pattern" "$T/.err"; then fail "$what: \"$(cat "$T/.err")\" does not match /$pattern/"; return; fi
	pass
}

# same DESCRIPTION EXPECTED ACTUAL
same() {
	if [ "$2" = "$3" ]; then pass; else fail "$1: expected \"$2\", got \"$3\""; fi
}

# The logical content of a vault database, to show that a failed command changed nothing:
# all but audit_anchor, the trail's head, which every command's record moves on.
db_dump() { sqlite3 "$1/vault.db" .dump | grep -v 'audit_anchor' | sha256sum; }

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

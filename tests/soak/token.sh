#!/usr/bin/env bash
# The long run of the token campaign (tests/soak/token_kill.py): hundreds of SIGKILL and
# SIGINT at random moments of `secret get`/`secret set` and of daemon starts, then
# commands run by four processes at once beside a mount. Prints the driver's summary line
# for each binary. Not part of ctest (mount.t_token runs a bounded campaign there).
#
#   tests/soak/token.sh [BUILD_DIR]        default: build
#   BEFORE=/path/to/old/vaultfs tests/soak/token.sh build   also runs an older binary
#   KILLS=1000 INTS=1000 MOUNTS=200 LOOPS=1000 tests/soak/token.sh   (the defaults)
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
[ -x "$build/vaultfs" ] || { echo "no $build/vaultfs: build it first" >&2; exit 1; }
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || { echo "needs /dev/fuse and fusermount3" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/vaultfs-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT
rc=0
for bin in ${BEFORE:+"$BEFORE"} "$build/vaultfs"; do
	echo "== $bin"
	dir=$(mktemp -d "$work/run.XXXXXX")
	python3 tests/soak/token_kill.py "$bin" "$dir" --vaults "${VAULTS:-8}" \
		--kill "${KILLS:-1000}" --int "${INTS:-1000}" --mount "${MOUNTS:-200}" \
		--procs 4 --loops "${LOOPS:-1000}" 2>"$dir.err"
	r=$?
	sort "$dir.err" | sed -E 's/vault [0-9]+ lost/vault N lost/; s/"vaultfs-[0-9a-f]+"/"LABEL"/' |
		uniq -c | sort -rn | head -n 8
	[ "$bin" = "$build/vaultfs" ] && rc=$r
done
exit $rc

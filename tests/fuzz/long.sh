#!/usr/bin/env bash
# The long fuzzing run: every target of tests/fuzz/run.sh for SECONDS each (default 600),
# continuing from the corpus earlier runs left in the output directory ($BUILD_FUZZ,
# default build-fuzz), then the executions in all. Exits non-zero if any target crashed.
# The test command runs the same targets for 15 s each.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
shift || true
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bash tests/fuzz/run.sh "$seconds" "$@" | tee "$log"
rc=${PIPESTATUS[0]}
awk '/^fuzz [a-z_]+: [0-9]+ executions/ { n += $3; t++ }
	/^fuzz [a-z_]+: FAILED/ { f++ }
	END { printf "fuzz: %d targets, %d executions in all, %d crashed\n", t + f, n, f }' "$log"
exit "$rc"

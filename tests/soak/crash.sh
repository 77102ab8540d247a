#!/usr/bin/env bash
# The crash soak: tests/mount/t_crash.sh for CYCLES cycles (default 1,000) against BUILD's
# vaultfs (default build): writers through the mount and the command line, the daemon
# killed with SIGKILL at random while they write, every acknowledged version checked byte
# for byte after each remount (all of them again after the last), the audit trail
# verified each time. Prints a line every 50 cycles and the figures at the end.
# usage: tests/soak/crash.sh [BUILD] [CYCLES]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
export CYCLES=${2:-1000}
export VAULTFS=$PWD/$build/vaultfs
[ -x "$VAULTFS" ] || { echo "no $VAULTFS: build first" >&2; exit 1; }
exec bash tests/mount/t_crash.sh

#!/usr/bin/env bash
# Installs what is missing, builds vaultfs twice — as released and under AddressSanitizer
# and UndefinedBehaviorSanitizer — and runs every test against both builds.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh --tests
jobs=$(nproc)

for variant in release asan; do
	dir=build
	flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	if [ "$variant" = asan ]; then
		dir=build-asan
		flags=(-DCMAKE_BUILD_TYPE=Debug -DVAULTFS_SANITIZE=ON)
	fi
	echo "=== $variant build ($dir)"
	cmake -S . -B "$dir" "${flags[@]}" >/dev/null
	cmake --build "$dir" -j "$jobs" >/dev/null
	echo "=== $variant tests"
	(cd "$dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j "$jobs")
done

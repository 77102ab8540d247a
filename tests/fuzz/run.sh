#!/usr/bin/env bash
# Builds the policy parser's libFuzzer target with clang under ASan and UBSan and runs it
# for SECONDS (default 30) from the seed corpus. Exits non-zero on any crash or finding.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
out=${BUILD_FUZZ:-build-fuzz}
mkdir -p "$out/corpus"
cp tests/fuzz/corpus/* "$out/corpus/"
clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -Ipolicy \
	tests/fuzz/fuzz_policy.c policy/policy.c policy/glob.c policy/caller.c \
	-o "$out/fuzz_policy"
"$out/fuzz_policy" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
	-artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -15

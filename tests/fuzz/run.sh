#!/usr/bin/env bash
# Builds the libFuzzer targets — the policy parser, and the audit trail's line parser —
# with clang under ASan and UBSan and runs each for SECONDS (default 30) from its seed
# corpus. Exits non-zero on any crash or finding.
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
mkdir -p "$out/corpus-audit"
cp tests/fuzz/corpus-audit/* "$out/corpus-audit/"
clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -Isrc $(pkg-config --cflags p11-kit-1) \
	tests/fuzz/fuzz_audit_line.c src/audit_line.c src/hsm.c src/secbuf.c src/log.c src/timeutil.c \
	-lcrypto -ldl -o "$out/fuzz_audit_line"
"$out/fuzz_audit_line" -max_total_time="$seconds" -max_len=20000 -print_final_stats=1 \
	-artifact_prefix="$out/" "$out/corpus-audit" 2>&1 | tail -15

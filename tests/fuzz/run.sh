#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under ASan and UBSan, through CMake
# (-DVAULTFS_FUZZ=ON, tests/fuzz/CMakeLists.txt), and runs each for SECONDS (default 30)
# from its seed corpus (tests/fuzz/corpus-NAME, committed) and what earlier runs in the
# same output directory found. Every parser of untrusted input has one:
#
#   policy      the policy file (policy/policy_parse.c, policy.c, globs, decisions)
#   audit_line  a line of the audit trail, before any MAC is checked (src/audit/audit_line.c)
#   config      vaultfs.conf through inih, written back and read again (src/config/config.c)
#   pem         a private key to import, with or without a passphrase (src/keys/keys_pem.c)
#   keyfile     the AES-GCM header and OAEP decoding of decrypt/unwrap input
#               (src/keys/keys_header.c, src/crypto/oaep.c, OAEP against OpenSSL's own decoder)
#   keyops      whole decrypt, unwrap, encrypt and wrap operations on a real SoftHSM2 token
#               made once per process (src/keys/keys_run.c and the token's own parsing)
#   attr        user.vault.* attribute names and values (src/store/attr_value.c)
#   time        RFC 3339 times, parsed and printed back (src/base/timeutil.c)
#   names       secret names and NAME@N (src/base/names.c)
#   pkcs12      a PKCS#12 file to import, with or without its password (src/certs/certs_p12.c)
#   pem_bundle  a PEM bundle to import: key, leaf and chain in any order (src/certs/certs_parse.c)
#   cert_answer a CA's answer to `cert merge`: PEM/DER leaf, chain, PKCS#7 (src/certs/certs_parse.c)
#
# Each target links only the layer libraries of what it fuzzes, and of those only the
# objects it reaches. Usage: run.sh [SECONDS] [TARGET...] (all by default). Prints one
# line per target — executions, and crashes (always 0, or the target failed) — and exits
# non-zero, after running the rest, on any crash, leak, sanitizer report or timeout,
# leaving the input that caused it in the output directory ($BUILD_FUZZ, default
# build-fuzz), which is also the targets' CMake build directory. A build that fails
# prints CMake's output and exits 1; an unknown target exits 2.
# A broken time round trip is a crash; FUZZ_TIME_LENIENT=1 counts them instead (fuzz_time.c).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
shift || true
out=${BUILD_FUZZ:-build-fuzz}
mkdir -p "$out"

# the longest input worth trying
declare -A maxlen
maxlen=([policy]=8192 [audit_line]=20000 [config]=4096 [pem]=8192 [keyfile]=600
	[keyops]=600 [attr]=600 [time]=64 [names]=4096 [pkcs12]=8192 [pem_bundle]=16384
	[cert_answer]=8192)
all=(policy audit_line config pem keyfile keyops attr time names pkcs12 pem_bundle cert_answer)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

for t in "${targets[@]}"; do
	[ -n "${maxlen[$t]:-}" ] || { echo "unknown target: $t" >&2; exit 2; }
done

# Configured every time (FUZZ_TIME_LENIENT may have changed; nothing is rebuilt when
# nothing did), and under a lock: CTest runs one target a test, several at once, on one
# directory.
config=(-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DVAULTFS_FUZZ=ON -DVAULTFS_MAN=OFF
	-DVAULTFS_FUZZ_TIME_LENIENT="$([ "${FUZZ_TIME_LENIENT:-0}" = 1 ] && echo ON || echo OFF)")
[ -n "${SOFTHSM2_MODULE:-}" ] && config+=(-DSOFTHSM2_MODULE="$SOFTHSM2_MODULE")
build() {
	cmake -S . -B "$out" "${config[@]}" &&
		cmake --build "$out" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
}
if ! msg=$({ flock 9 && build; } 9>"$out/.lock" 2>&1); then
	printf '%s\n' "$msg" >&2
	echo "fuzz: the build in $out failed" >&2
	exit 1
fi

failed=0
for t in "${targets[@]}"; do
	mkdir -p "$out/corpus-$t"
	cp tests/fuzz/corpus-"$t"/* "$out/corpus-$t/"
	log=$out/fuzz_$t.log
	rc=0
	"$out/fuzz_$t" -max_total_time="$seconds" -max_len="${maxlen[$t]}" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$t-" \
		"$out/corpus-$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -ne 0 ]; then
		tail -40 "$log"
		echo "fuzz $t: FAILED after ${execs:-?} executions (exit $rc); input in $out/$t-*"
		failed=$((failed + 1))
		continue
	fi
	grep -h '^fuzz_' "$log" || true
	echo "fuzz $t: ${execs:-0} executions in ${seconds}s, 0 crashes"
done
[ "$failed" -eq 0 ]

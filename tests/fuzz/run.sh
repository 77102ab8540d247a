#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under ASan and UBSan and runs each for SECONDS
# (default 30) from its seed corpus (tests/fuzz/corpus-NAME, committed) and what earlier
# runs in the same output directory found. Every parser of untrusted input has one:
#
#   policy      the policy file (policy/policy.c, globs, decisions)
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
#
# Each target links only the files it fuzzes. Usage: run.sh [SECONDS] [TARGET...] (all by
# default). Prints one line per target — executions, and crashes (always 0, or the target
# failed) — and exits non-zero, after running the rest, on any crash, leak, sanitizer report or timeout, leaving
# the input that caused it in the output directory ($BUILD_FUZZ, default build-fuzz).
# A broken time round trip is a crash; FUZZ_TIME_LENIENT=1 counts them instead (fuzz_time.c).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
shift || true
out=${BUILD_FUZZ:-build-fuzz}
mkdir -p "$out"

# every layer's headers: a target links only the files it lists, from any layer
layers=()
for d in src/*/ policy/; do layers+=("-I${d%/}"); done
cflags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=all "${layers[@]}" $(pkg-config --cflags p11-kit-1))

# sources and libraries of each target, and the longest input worth trying
declare -A src lib maxlen
src[policy]="policy/policy.c policy/glob.c policy/caller.c"
src[audit_line]="src/audit/audit_line.c src/hsm/hsm.c src/hsm/hsm_module.c src/hsm/hsm_session.c src/hsm/hsm_use.c src/hsm/hsm_reopen.c src/base/counters.c src/base/secbuf.c src/base/log.c src/base/timeutil.c"
lib[audit_line]="-lcrypto -ldl"
src[config]="src/config/config.c"
lib[config]="$(pkg-config --libs inih)"
src[pem]="src/keys/keys_pem.c src/base/secbuf.c"
lib[pem]="-lcrypto"
src[keyfile]="src/keys/keys_header.c src/crypto/oaep.c src/base/secbuf.c"
lib[keyfile]="-lcrypto"
src[keyops]="src/keys/keys.c src/keys/keys_run.c src/keys/keys_pem.c src/keys/keys_header.c src/crypto/oaep.c src/hsm/hsm.c
	src/hsm/hsm_keys.c src/hsm/hsm_keyops.c src/hsm/hsm_module.c src/hsm/hsm_session.c src/hsm/hsm_use.c src/hsm/hsm_reopen.c src/store/store.c src/store/store_secret.c src/store/store_attr.c src/store/store_tree.c
	src/store/store_cache.c src/store/store_sql.c src/store/store_datakey.c src/store/store_open.c src/store/store_keys.c src/crypto/crypto.c src/base/secbuf.c src/base/fdio.c src/base/counters.c
	src/base/log.c src/base/names.c src/base/timeutil.c src/store/attr_value.c"
lib[keyops]="-lsqlite3 -lcrypto -ldl -lpthread"
src[attr]="src/store/attr_value.c src/base/names.c src/base/timeutil.c"
src[time]="src/base/timeutil.c"
src[names]="src/base/names.c"
maxlen=([policy]=8192 [audit_line]=20000 [config]=4096 [pem]=8192 [keyfile]=600
	[keyops]=600 [attr]=600 [time]=64 [names]=4096)
all=(policy audit_line config pem keyfile keyops attr time names)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

softhsm_module() {
	local m
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so; do
		[ -e "$m" ] && { echo "$m"; return; }
	done
	echo /usr/lib/softhsm/libsofthsm2.so
}

failed=0
for t in "${targets[@]}"; do
	[ -n "${maxlen[$t]:-}" ] || { echo "unknown target: $t" >&2; exit 2; }
	extra=()
	[ "$t" = keyfile ] && extra=(-Wno-deprecated-declarations)
	[ "$t" = keyops ] && extra=(-DSOFTHSM2_MODULE="\"${SOFTHSM2_MODULE:-$(softhsm_module)}\""
		-DVAULTFS_VERSION='"fuzz"' -DVAULTFS_SOFTHSM2_MODULE="\"$(softhsm_module)\"")
	[ "$t" = time ] && [ "${FUZZ_TIME_LENIENT:-0}" = 1 ] && extra=(-DFUZZ_TIME_LENIENT)
	# shellcheck disable=SC2086
	clang "${cflags[@]}" "${extra[@]}" "tests/fuzz/fuzz_$t.c" ${src[$t]} ${lib[$t]:-} \
		-o "$out/fuzz_$t"
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

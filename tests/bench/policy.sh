#!/usr/bin/env bash
# Read latency against the size of the policy: open + read + close of a 64-byte secret by
# uid 1001, whose one rule stands last in a policy of 10, 1,000 and 100,000 rules (the
# others, for other uids and folders, as a large fleet's policy would be). With BEFORE=PATH
# (another build's vaultfs), that binary is measured on the same policies in the same run.
# Run as root, from a build: tests/bench/policy.sh [BUILD] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-3}
vaultfs=$build/vaultfs
bench=$build/tests/bench_read
sizes=${SIZES:-10 1000 100000}

T=$(mktemp -d /tmp/vaultfs-bench.XXXXXX)
cleanup() {
	for m in "$T"/mnt-*; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m"
	done
	rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"

# each binary makes its own vault, in the settings it knows
for bin in now ${BEFORE:+before}; do
	exe=$vaultfs
	[ $bin = before ] && exe=$BEFORE
	"$exe" init "$T/vault-$bin" >/dev/null
	for i in $(seq 0 9); do
		printf '%064d' "$i" | "$exe" secret set "$T/vault-$bin" "app/secret-$i"
	done
done
targets=""
for n in $sizes; do
	for bin in now ${BEFORE:+before}; do
		v=$T/vault-$bin-$n
		cp -a "$T/vault-$bin" "$v"
		awk -v n="$n" 'BEGIN {
			for (i = 1; i < n; i++)
				printf "allow read,list secrets/team-%d/** uid=%d\n", i, 2000 + i % 50000
			print "allow read,list secrets/app/** uid=1001"
		}' >"$v/policy"
		mkdir "$T/mnt-$bin-$n"
		if [ $bin = now ]; then "$vaultfs" mount "$v" "$T/mnt-$bin-$n"; else "$BEFORE" mount "$v" "$T/mnt-$bin-$n"; fi
		targets="$targets $bin-$n"
	done
done

rounds=${ROUNDS:-3}
echo "open+read+close of 64-byte secrets by uid 1001, 1 thread, $seconds s per run, $rounds rounds"
: >"$T/results"
for round in $(seq 1 "$rounds"); do
	for t in $targets; do
		line=$(setpriv --reuid 1001 --regid 1001 --clear-groups \
			"$bench" "$T/mnt-$t/secrets/app" 10 1 "$seconds" "$t")
		echo "round $round: $line"
		echo "$t $line" >>"$T/results"
	done
done
. "$(dirname "$0")/lib.sh"
echo
echo "medians:"
for t in $targets; do
	lines=$(awk -v t="$t" '$1 == t' "$T/results")
	printf '%-14s rules  ops/s=%8.0f  p50=%8.1f us  p99=%8.1f us\n' "$t" \
		"$(echo "$lines" | field ops/s | median)" "$(echo "$lines" | field p50 | median)" \
		"$(echo "$lines" | field p99 | median)"
done

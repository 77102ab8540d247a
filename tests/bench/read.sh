#!/usr/bin/env bash
# The read benchmark of the mounted vault, against its floor, in one run: open + read +
# close of small files on (1) vaultfs under a uid rule, (2) vaultfs under a cgroup rule
# (the caller's cgroup is read from /proc for every request), (3) floorfs — a minimal FUSE
# filesystem with the same options — and (4) tmpfs, with 1 and 2 threads. Prints the figures and the ratio of
# vaultfs to the floor. Run as root, from a build: tests/bench/read.sh [BUILD] [SECONDS]
# With BEFORE=PATH (another build's vaultfs binary), that binary serves the same secrets
# under the uid rule as one more target, "before", for figures before and after a change.
set -euo pipefail
build=${1:-build}
seconds=${2:-5}
files=100
size=64
vaultfs=$build/vaultfs
bench=$build/tests/bench_read
floorfs=$build/tests/floorfs

T=$(mktemp -d /tmp/vaultfs-bench.XXXXXX)
cleanup() {
	for m in "$T/vmnt" "$T/cmnt" "$T/bmnt" "$T/fmnt" "$T/tmpfs"; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount "$m"; }
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/vmnt" "$T/cmnt" "$T/bmnt" "$T/fmnt" "$T/tmpfs"

"$vaultfs" init "$T/vault" >/dev/null
value=$(head -c "$size" /dev/zero | tr '\0' 's')
for i in $(seq 0 $((files - 1))); do
	printf '%s' "$value" | "$vaultfs" secret set "$T/vault" "secret-$i"
done
# The same secrets under a policy that asks for the caller's cgroup.
cp -a "$T/vault" "$T/cvault"
targets="floor vaultfs vaultfs-cg tmpfs"
if [ -n "${BEFORE:-}" ]; then
	# made by that binary, in the settings it knows
	"$BEFORE" init "$T/bvault" >/dev/null
	for i in $(seq 0 $((files - 1))); do
		printf '%s' "$value" | "$BEFORE" secret set "$T/bvault" "secret-$i"
	done
	targets="floor before vaultfs vaultfs-cg tmpfs"
fi
# The reader is an ordinary service account, as in production: uid 1001.
reader=1001
echo "allow read,list ** uid=$reader" >"$T/vault/policy"
echo "allow read,list ** uid=$reader cgroup=/**" >"$T/cvault/policy"
[ -n "${BEFORE:-}" ] && echo "allow read,list ** uid=$reader" >"$T/bvault/policy"
# Both filesystems get vaultfs's default number of workers: twice the cores.
threads=${THREADS:-$(($(nproc) * 2))}
"$vaultfs" mount "$T/vault" "$T/vmnt" -o threads=$threads
"$vaultfs" mount "$T/cvault" "$T/cmnt" -o threads=$threads
[ -n "${BEFORE:-}" ] && "$BEFORE" mount "$T/bvault" "$T/bmnt" -o threads=$threads
"$floorfs" "$T/fmnt" "$files" "$size" "$threads" &
mount -t tmpfs -o size=16m tmpfs "$T/tmpfs"
for i in $(seq 0 $((files - 1))); do printf '%s' "$value" >"$T/tmpfs/secret-$i"; done
chmod 755 "$T" "$T/tmpfs"
chmod 644 "$T/tmpfs"/*
for _ in $(seq 1 100); do mountpoint -q "$T/fmnt" && break; sleep 0.05; done

rounds=${ROUNDS:-3}
echo "$threads FUSE workers each; the reader runs as uid $reader"
echo "open+read+close of $size-byte files, $seconds s per run, $rounds rounds, targets interleaved ($(nproc) cores)"
: >"$T/results"
for round in $(seq 1 "$rounds"); do
	for threads in 1 2; do
		for target in $targets; do
			case $target in
			floor) dir=$T/fmnt ;;
			before) dir=$T/bmnt/secrets ;;
			vaultfs) dir=$T/vmnt/secrets ;;
			vaultfs-cg) dir=$T/cmnt/secrets ;;
			tmpfs) dir=$T/tmpfs ;;
			esac
			line=$(setpriv --reuid $reader --regid $reader --clear-groups \
				"$bench" "$dir" "$files" "$threads" "$seconds" "$target")
			echo "round $round: $line"
			echo "$threads $target $line" >>"$T/results"
		done
	done
done
. "$(dirname "$0")/lib.sh"
echo
echo "medians:"
for threads in 1 2; do
	for target in $targets; do
		lines=$(awk -v t="$threads" -v g="$target" '$1 == t && $2 == g' "$T/results")
		ops=$(echo "$lines" | field ops/s | median)
		p50=$(echo "$lines" | field p50 | median)
		p99=$(echo "$lines" | field p99 | median)
		printf '%-10s threads=%d  ops/s=%9.0f  p50=%7.1f us  p99=%7.1f us\n' \
			"$target" "$threads" "$ops" "$p50" "$p99"
		echo "$threads $target $ops" >>"$T/medians"
	done
done
for threads in 1 2; do
	awk -v t="$threads" '$1 == t {v[$2] = $3} END {
		printf "at %d thread(s): vaultfs / floor %.2fx, with the cgroup rule %.2fx", t,
			v["vaultfs"] / v["floor"], v["vaultfs-cg"] / v["floor"]
		if (v["before"]) printf "; vaultfs / before %.2fx", v["vaultfs"] / v["before"]
		printf "\n" }' "$T/medians"
done

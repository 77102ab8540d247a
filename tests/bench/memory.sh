#!/usr/bin/env bash
# The daemon's memory over time and at scale, printed for people; it asserts nothing.
#
# 1. CALLERS processes (default 48) work the mount for SECONDS (default 60), and the daemon's
#    RSS and locked memory are printed every INTERVAL seconds (default 10), to see whether
#    they level off: three in four read secrets of 64 bytes to 25 KiB (uid 1001), one in
#    eight writes new versions of its own secret (uid 1002), one in eight signs with an EC
#    key through keys/k/sign (uid 1003).
# 2. SECRETS secrets (default 10000; the README's figure is at 100000) are made through the
#    mount, 64 bytes each, 1,000 to a folder, then each read once, twice: RSS after each
#    step. With DROP_CACHES=1, also after the kernel dropped its dentries and inodes (which
#    lets the daemon forget its nodes; this drops every cache of the machine).
#
# Each part runs on a daemon of its own; CALLERS=0 or SECRETS=0 leaves a part out. With
# BEFORE=PATH (another build's vaultfs), that binary runs the same, after this one.
# Vaults live on a tmpfs, so that fsync costs nothing: what is measured is memory.
# Run as root, from a build: tests/bench/memory.sh [BUILD] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-60}
callers=${CALLERS:-48}
interval=${INTERVAL:-10}
secrets=${SECRETS:-10000}
py="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/callers.py"

T=$(mktemp -d /tmp/vaultfs-bench.XXXXXX)
cleanup() {
	touch "$T/stop" 2>/dev/null || true
	mountpoint -q "$T/fs/mnt" 2>/dev/null && fusermount3 -u "$T/fs/mnt"
	wait 2>/dev/null || true
	mountpoint -q "$T/fs" && umount "$T/fs"
	rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"
mkdir "$T/fs"

kb() { awk -v f="$2" '$1 == f {print $2}' "/proc/$1/$3" 2>/dev/null; }
show() { # LABEL PID
	printf '%-44s RSS %7.1f MB  locked %7.1f MB\n' "$1" \
		"$(echo "$(kb "$2" VmRSS: status) / 1024" | bc -l)" \
		"$(echo "$(kb "$2" Locked: smaps_rollup) / 1024" | bc -l)"
}
as() { local uid=$1; shift; setpriv --reuid "$uid" --regid "$uid" --clear-groups -- "$@"; }

# setup VAULTFS: a vault on a fresh tmpfs, mounted; sets v, m and pid.
setup() {
	local exe=$1 i
	mount -t tmpfs -o size=4g,mode=0755 tmpfs "$T/fs"
	v=$T/fs/vault m=$T/fs/mnt
	mkdir "$m"
	"$exe" init "$v" >/dev/null
	for i in $(seq 0 99); do
		head -c $((64 + i * 256)) /dev/urandom | "$exe" secret set "$v" "s-$i"
	done
	for i in $(seq 1 $((callers / 8 + 1))); do printf 'w' | "$exe" secret set "$v" "w-$i"; done
	"$exe" key create "$v" k --type ec-p256 >/dev/null
	cat >"$v/policy" <<-POLICY
		allow read secrets/** uid=1001
		allow read,write secrets/w-* uid=1002
		allow sign keys/k uid=1003
		allow * ** uid=0
	POLICY
	"$exe" mount "$v" "$m"
	pid=$(pgrep -f "vaultfs mount $v $m" | head -1)
}

teardown() {
	fusermount3 -u "$m"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	umount "$T/fs"
}

# callers LABEL VAULTFS: part 1, on a daemon of its own.
callers() {
	local label=$1 start i
	setup "$2"
	echo "== $label ($2): $callers callers for $seconds s"
	show "mounted, idle" "$pid"
	rm -f "$T/stop"
	: >"$T/ops"
	chmod 666 "$T/ops"
	for i in $(seq 1 "$callers"); do
		case $((i % 8)) in
		0) as 1002 $py write "$m/secrets/w-$((i / 8))" "$T/stop" >>"$T/ops" & ;;
		4) as 1003 $py sign "$m/keys/k/sign" "$T/stop" >>"$T/ops" & ;;
		*) as 1001 $py read "$m/secrets" 100 "$T/stop" >>"$T/ops" & ;;
		esac
	done
	start=$(date +%s)
	while [ $(($(date +%s) - start)) -lt "$seconds" ]; do
		sleep "$interval"
		show "after $(($(date +%s) - start)) s" "$pid"
	done
	touch "$T/stop"
	wait $(jobs -p) 2>/dev/null || true
	awk '/^[a-z]+ ops=[0-9]+ errors=[0-9]+/ {
		split($2, o, "="); split($3, e, "="); ops[$1] += o[2]; err[$1] += e[2]
		for (i = 4; i <= NF; i++) { split($i, x, ":"); kind[$1 " " x[1]] += x[2] } }
		END {for (k in ops) printf "  %s: %d operations, %d errors\n", k, ops[k], err[k]
		     for (k in kind) printf "    %s: %d\n", k, kind[k]}' "$T/ops" | sort
	show "callers gone" "$pid"
	teardown
}

# scale LABEL VAULTFS: part 2, on a daemon of its own.
scale() {
	local label=$1 i n pass
	setup "$2"
	echo "== $label ($2): $secrets secrets"
	show "mounted, idle" "$pid"
	n=$(((secrets + 3999) / 4000 * 1000)) # four writers, whole folders each
	for i in 0 1 2 3; do
		$py fill "$m/secrets/bulk" $((i * n)) $(((i + 1) * n < secrets ? (i + 1) * n : secrets)) \
			>"$T/fill-$i" &
	done
	wait $(jobs -p)
	grep -hv "errors=0 *$" "$T"/fill-* || true
	show "$secrets made through the mount" "$pid"
	for pass in 1 2; do
		for i in 0 1 2 3; do
			as 1001 $py readall "$m/secrets/bulk" $((i * n)) \
				$(((i + 1) * n < secrets ? (i + 1) * n : secrets)) >"$T/read-$i" &
		done
		wait $(jobs -p)
		grep -hv "errors=0 *$" "$T"/read-* || true
		show "each read once (pass $pass)" "$pid"
	done
	if [ "${DROP_CACHES:-0}" = 1 ]; then
		sync
		echo 2 >/proc/sys/vm/drop_caches
		sleep 2
		show "after drop_caches" "$pid"
	fi
	teardown
}

for target in now ${BEFORE:+before}; do
	exe=$build/vaultfs
	[ "$target" = before ] && exe=$BEFORE
	[ "$callers" -gt 0 ] && [ "$seconds" -gt 0 ] && callers "$target" "$exe"
	[ "$secrets" -gt 0 ] && scale "$target" "$exe"
done
exit 0

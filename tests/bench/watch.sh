#!/usr/bin/env bash
# `vaultfs watch` behind a slow reader: its memory while CHANGES (default
# 20000) new versions are written through the mount, printed for people, against the
# watch's own RSS before the burst, measured in the same run. The reader (a pipe's other
# end) takes a line every 2 ms, slower than the mount makes changes, so the watch falls
# behind; every change must still come out, once, in order.
#
# With BEFORE=PATH (another build's vaultfs), that binary runs the same, after this one.
# The vault lives on a tmpfs, so that fsync costs nothing: what is measured is memory.
# Run as root, from a build: tests/bench/watch.sh [BUILD]
set -euo pipefail
build=${1:-build}
changes=${CHANGES:-20000}

T=$(mktemp -d /tmp/vaultfs-bench.XXXXXX)
cleanup() {
	[ -n "${wpid:-}" ] && kill "$wpid" 2>/dev/null
	mountpoint -q "$T/fs/mnt" 2>/dev/null && fusermount3 -u "$T/fs/mnt"
	wait 2>/dev/null || true
	mountpoint -q "$T/fs" && umount "$T/fs"
	rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/fs"

rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

run() { # LABEL VAULTFS
	local label=$1 exe=$2 v m pid base peak now lines
	mount -t tmpfs -o size=2g,mode=0755 tmpfs "$T/fs"
	v=$T/fs/vault m=$T/fs/mnt
	mkdir "$m"
	"$exe" init "$v" >/dev/null
	echo 'allow * ** uid=0' >"$v/policy"
	"$exe" mount "$v" "$m"
	pid=$(pgrep -f "vaultfs mount $v $m" | head -1)
	mkfifo "$T/fifo"
	# the reader takes a line each 2 ms, slower than the mount makes them
	python3 -c '
import sys, time
out = open(sys.argv[1], "w", buffering=1)
for line in sys.stdin:
    out.write(line)
    time.sleep(0.002)' "$T/out" <"$T/fifo" &
	"$exe" watch "$v" secrets >"$T/fifo" &
	wpid=$!
	sleep 1
	base=$(rss_kb "$wpid")
	python3 -c '
import os, sys
m, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    fd = os.open(f"{m}/secrets/k{i % 10}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"v%d" % i)
    os.close(fd)' "$m" "$changes" &
	writer=$!
	peak=$base lines=-1 still=0
	while [ "$still" -lt 20 ]; do # until the writer is done and nothing is printed for 2 s
		now=$(rss_kb "$wpid")
		[ "$now" -gt "$peak" ] && peak=$now
		sleep 0.1
		if kill -0 "$writer" 2>/dev/null || [ "$(wc -l <"$T/out")" -ne "$lines" ]; then
			still=0
		else
			still=$((still + 1))
		fi
		lines=$(wc -l <"$T/out")
	done
	wait "$writer"
	kill -INT "$wpid"
	wait "$wpid" || true
	wpid=
	wait || true
	# the new versions of each secret, in order and once each
	read -r lines bad < <(python3 -c '
import json, sys
last = {}; n = 0; bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["op"] != "write": continue
    n += 1
    if r["version"] != last.get(r["path"], 0) + 1: bad += 1
    last[r["path"]] = r["version"]
print(n, bad)' "$T/out")
	printf '%-11s watch RSS %5s MB before, %5s MB at most in the burst (+%s MB); %s of %s new versions printed, %s out of order\n' \
		"$label" "$(mb "$base")" "$(mb "$peak")" "$(mb $((peak - base)))" "$lines" "$changes" "$bad"
	fusermount3 -u "$m"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$T/fifo" "$T/out"
	umount "$T/fs"
}

echo "== vaultfs watch behind a slow reader, $changes changes through the mount"
run "this build" "$(cd "$build" && pwd)/vaultfs"
[ -n "${BEFORE:-}" ] && run "before" "$BEFORE"
exit 0

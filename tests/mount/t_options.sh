#!/usr/bin/env bash
# `vaultfs mount -o`: threads=N (1 to 256) and debug are vaultfs's own; default_permissions,
# kernel_cache and auto_cache are refused (the kernel would decide for policy, or cache a
# secret); anything else goes to the kernel (ro, noatime). A bad list is one usage line
# and exit 2, and nothing is mounted.
. "$(dirname "$0")/lib.sh"
new_vault
printf 'v' | "$VAULTFS" secret set "$V" s

usage() { # usage WHAT PATTERN -o LIST
	local what=$1 pattern=$2 rc; shift 2
	"$VAULTFS" mount "$V" "$M" -f "$@" >"$T/out" 2>"$T/err"; rc=$?
	same "$what: exit" 2 "$rc"
	same "$what: one line" 1 "$(wc -l <"$T/err")"
	grep -qE -- "$pattern" "$T/err" && pass || fail "$what: $(cat "$T/err")"
	mountpoint -q "$M" && { fail "$what: mounted"; fusermount3 -u "$M"; } || pass
}
for bad in threads=0 threads=257 threads= threads=x 'threads=4,threads=y'; do
	usage "-o $bad" 'bad -o option list' -o "$bad"
done
for refused in default_permissions kernel_cache auto_cache 'ro,auto_cache'; do
	usage "-o $refused" 'option not allowed' -o "$refused"
done

start -o threads=2,noatime
grep " $M " /proc/mounts | grep -q noatime && pass || fail "noatime reached the kernel"
same "a read" v "$(cat "$S/s")"
stop

start -o ro
grep " $M " /proc/mounts | grep -q ' ro,' && pass || fail "ro reached the kernel"
same "a read on a read-only mount" v "$(cat "$S/s")"
same "a write on a read-only mount" "open:EROFS" "$(sys_ write "$S/s" new)"
stop
finish

#!/usr/bin/env bash
# Faults that clear leave no noise behind: a vault directory made immutable while mounted,
# with a trail due for rotation, still answers `vaultfs secret get`, which prints its
# value and nothing on stderr (the rotation is tried again later, quietly).
. "$(dirname "$0")/lib.sh"
new_vault
printf 'value' | "$VAULTFS" secret set "$V" s
start
# the daemon keeps its settings; the command line reads them anew: it finds the trail due
while [ "$(stat -c %s "$V/audit.log")" -lt 66000 ]; do cat "$S/s" >/dev/null; done
sed -i 's/^rotate_size = .*/rotate_size = 65536/' "$V/vaultfs.conf"
chattr +i "$V"
out=$("$VAULTFS" secret get "$V" s 2>"$T/get.err"); rc=$?
chattr -i "$V"
same "secret get in an immutable vault directory" "0 value" "$rc $out"
same "and nothing on stderr" "" "$(cat "$T/get.err")"
"$VAULTFS" secret get "$V" s >/dev/null
ls "$V"/audit.log-* >/dev/null 2>&1 && pass || fail "the trail rotated once the directory was writable again"
"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify"
stop
finish

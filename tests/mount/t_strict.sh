#!/usr/bin/env bash
# StrictModes on the mount: uid 1001 puts its own policy into a vault directory it can
# write. A mount of such a vault is refused at once; a mounted vault whose directory or
# policy file becomes writable by others refuses the new policy as it would a policy with
# an error — the last good policy stays in force, and the refusal is in the log and the
# trail — and takes a good policy again once the vault is safe.
. "$(dirname "$0")/lib.sh"
A=$V/audit.log
new_vault "$(printf 'allow * ** uid=0\nallow read secrets/a uid=1001')"
printf 'value-a' | "$VAULTFS" secret set "$V" a >/dev/null
printf 'value-b' | "$VAULTFS" secret set "$V" b >/dev/null
printf 'allow * ** *\n' >"$T/evil"
chmod 644 "$T/evil"
# plant: uid 1001 replaces the policy with its own, as an editor would (write, rename).
plant() { as 1001 sh -c "cp '$T/evil' '$V/policy.new' && mv -f '$V/policy.new' '$V/policy'"; }
last_seq() { tail -n 1 "$A" | jq -r .seq; }
since() { jq -c "select(.seq > $mark) | $1" "$A"; }
wait_reload() {
	for _ in $(seq 1 60); do [ -n "$(since 'select(.op == "policy-reload")')" ] && return; sleep 0.05; done
}

# A world-writable vault directory: uid 1001 plants its policy, and no mount starts.
chmod 777 "$V"
plant && pass || fail "uid 1001 could not plant a policy in a mode 0777 DIR"
same "the policy is 1001's" 1001 "$(stat -c %u "$V/policy")"
refuses "mount of a 0777 DIR" "\"$V\" is writable by its group and others" "$VAULTFS" mount "$V" "$M"
refuses "mount -f of a 0777 DIR" "\"$V\" is writable by its group and others" "$VAULTFS" mount "$V" "$M" -f
mountpoint -q "$M" && { fail "a 0777 vault was mounted"; fusermount3 -u "$M"; } || pass
chmod 700 "$V"
refuses "mount with 1001's policy" "\"$V/policy\" is owned by uid 1001" "$VAULTFS" mount "$V" "$M"
mountpoint -q "$M" && { fail "a vault with 1001's policy was mounted"; fusermount3 -u "$M"; } || pass
same "no daemon log made in the refused vault" "" "$(ls "$V/vaultfs.log" 2>/dev/null)"
printf 'allow * ** uid=0\nallow read secrets/a uid=1001\n' >"$T/good"
mv -f "$T/good" "$V/policy"

start
same "1001 reads a" value-a "$(as 1001 cat "$S/a")"
same "1001 may not read b" "open:ENOENT" "$(as_sys 1001 read "$S/b")"

# The directory becomes writable by others while mounted: 1001's policy is refused.
chmod o+wx "$V"
mark=$(last_seq)
plant && pass || fail "uid 1001 could not plant a policy in a mode 0703 DIR"
wait_reload
same "refusal recorded" EPERM "$(since 'select(.op == "policy-reload") | .result' | tr -d '"' | head -n 1)"
since 'select(.op == "policy-reload") | .detail' | grep -qF "\\\"$V\\\" is writable by others" && pass ||
	fail "refusal lacks the reason: $(since 'select(.op == "policy-reload")')"
grep -qF "\"$V\" is writable by others" "$T/daemon.err" && pass || fail "refusal not logged: $(cat "$T/daemon.err")"
ERR_EXPECTED=1
same "1001 still may not read b" "open:ENOENT" "$(as_sys 1001 read "$S/b")"
same "1001 still reads a" value-a "$(as 1001 cat "$S/a")"

# Safe again, a good policy is taken.
chmod 700 "$V"
mark=$(last_seq)
printf 'allow * ** uid=0\nallow read secrets/a uid=1001\nallow read secrets/b uid=1002\n' >"$T/good"
mv -f "$T/good" "$V/policy"
wait_reload
same "a good policy in a safe vault is taken" "0 3 rules" "$(since 'select(.op == "policy-reload") | "\(.result) \(.detail)"' | tr -d '"')"
same "1002 reads b" value-b "$(as 1002 cat "$S/b")"

# The policy file itself made writable by others (in a directory they may only pass
# through): what 1001 writes into it is refused.
chmod 711 "$V"
chmod 666 "$V/policy"
mark=$(last_seq)
as 1001 sh -c "cat '$T/evil' >'$V/policy'" && pass || fail "uid 1001 could not write a mode 0666 policy"
wait_reload
same "writable policy refused" EPERM "$(since 'select(.op == "policy-reload") | .result' | tr -d '"' | tail -n 1)"
same "1001 still may not read b" "open:ENOENT" "$(as_sys 1001 read "$S/b")"
same "1002 still reads b" value-b "$(as 1002 cat "$S/b")"

chmod 700 "$V"

# A policy that is a symbolic link is refused, though its target is root's and good.
printf 'allow * ** uid=0\nallow read secrets/b uid=1001\n' >"$T/linked"
chmod 600 "$T/linked"
mark=$(last_seq)
ln -sf "$T/linked" "$V/policy.new" && mv -f "$V/policy.new" "$V/policy"
wait_reload
same "symlinked policy refused" EPERM "$(since 'select(.op == "policy-reload") | .result' | tr -d '"' | tail -n 1)"
same "1001 still may not read b" "open:ENOENT" "$(as_sys 1001 read "$S/b")"
stop
refuses "audit verify with the symlinked policy" "\"$V/policy\" is a symbolic link" "$VAULTFS" audit verify "$V"
rm "$V/policy"
printf 'allow * ** uid=0\n' >"$V/policy"
out=$("$VAULTFS" audit verify "$V" 2>&1) && pass || fail "trail: $out"
finish

#!/usr/bin/env bash
# The trail's head kept in vault.db cannot be rewritten without the token. Each attack
# runs on a copy of the vault with sqlite3 and coreutils, as someone who can write the
# vault's files but cannot use its token would: cut the tail of audit.log and set the
# head to the new last record, with the tag left, removed, or taken from another vault;
# then let a later command write past the rewritten head. verify fails every time, naming
# vault.db's head. A vault from before tags (no tag column, no head key in the token) is
# tagged when first opened, and from then on an untagged head is refused.
. "$(dirname "$0")/lib.sh"

V=$T/vault
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
for i in $(seq 1 12); do printf 'value-%s' "$i" | "$VAULTFS" secret set "$V" "s$i"; done
out=$("$VAULTFS" audit verify "$V") && pass || fail "intact: $out"
label=$(sed -n 's/^token = //p' "$V/vaultfs.conf")
p11() { # p11 VAULT ARGS...: pkcs11-tool logged in to VAULT's token
	local v=$1; shift
	(cd "$v" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
		--token-label "$label" --login --pin "$(cat pin)" "$@")
}
head_key=$(p11 "$V" --list-objects 2>/dev/null | sed -n 's/^ *label: *\(vaultfs-head-[0-9a-f]*\)$/\1/p')
[ -n "$head_key" ] && pass || fail "no head key in the token: $(p11 "$V" --list-objects 2>&1)"
p11 "$V" --list-objects 2>/dev/null | grep -A4 "label: *$head_key" >"$T/hk"
grep -qE "Access:.*[^-]sensitive" "$T/hk" && grep -qE "Access:.*never extractable" "$T/hk" &&
	grep -qE "Usage:.*verify" "$T/hk" && ! grep -qE "Usage:.*(wrap|encrypt|decrypt)" "$T/hk" &&
	pass || fail "head key attributes: $(cat "$T/hk")"

# cut C K: a copy of the vault in C whose audit.log is cut to its first K records.
cut_tail() {
	rm -rf "$1" && cp -a "$V" "$1"
	head -n "$2" "$1/audit.log" >"$1/x" && cat "$1/x" >"$1/audit.log" && rm "$1/x"
}
# rehead C K [TAG-SQL]: vault.db's head set to record K of C's trail, with TAG-SQL as tag.
rehead() {
	local mac
	mac=$(sed -n "${2}p" "$1/audit.log" | jq -r .mac)
	sqlite3 "$1/vault.db" "UPDATE audit_anchor SET seq = $2, mac = X'$mac'${3:+, tag = $3} WHERE id = 1"
}
# refused WHAT C PATTERN: verify of C exits 1 with one line naming vault.db's head.
refused() {
	local rc
	"$VAULTFS" audit verify "$2" >"$T/.out" 2>"$T/.err"; rc=$?
	if [ "$rc" -eq 1 ] && grep -qE "/vault\.db\": .*$3" "$T/.err" && [ "$(wc -l <"$T/.err")" -eq 1 ] &&
		[ ! -s "$T/.out" ]; then pass; else
		fail "$1: exit $rc, stdout \"$(cat "$T/.out")\", stderr \"$(cat "$T/.err")\""; fi
}
n=$(wc -l <"$V/audit.log")
k=$((n - 4))
C=$T/copy

# Without the head: the cut is found, as before.
cut_tail "$C" "$k"
out=$("$VAULTFS" audit verify "$C" 2>&1) && fail "a cut tail verified: $out" ||
	grep -q "seq $((k + 1)): missing" <<<"$out" && pass || fail "cut tail: $out"

# The attack: the tail cut, the head rewritten to the new last record, its tag left.
cut_tail "$C" "$k"
rehead "$C" "$k"
refused "head rewritten, tag left" "$C" "head it holds \\(seq $k\\) fails its tag"
grep -q "holds seq 1\.\.$k" "$T/.err" && pass || fail "the range the trail holds: $(cat "$T/.err")"
# verify itself is recorded, as a failure.
same "the failed verify is recorded" '"EBADMSG"' "$(tail -n 1 "$C/audit.log" | jq -c .result)"
# ... with the tag removed, or one of the wrong length: no tag at all.
cut_tail "$C" "$k"
rehead "$C" "$k" NULL
refused "head rewritten, tag removed" "$C" "\\(seq $k\\) has no tag"
cut_tail "$C" "$k"
rehead "$C" "$k" "X'00'"
refused "head rewritten, a short tag" "$C" "\\(seq $k\\) has no tag"
# ... with a tag of 32 random bytes.
cut_tail "$C" "$k"
rehead "$C" "$k" "randomblob(32)"
refused "head rewritten, a random tag" "$C" "fails its tag"

# A later command does not launder the rewritten head: it writes its record past the
# cut, but leaves the head it cannot vouch for as it is, and verify still refuses.
cut_tail "$C" "$k"
rehead "$C" "$k"
printf 'later' | "$VAULTFS" secret set "$C" later && pass || fail "a command after the rewrite"
same "the head left as it was" "$k" "$(sqlite3 "$C/vault.db" 'SELECT seq FROM audit_anchor')"
refused "head rewritten, then a command" "$C" "fails its tag"

# A head with its valid tag from another vault (another vault id, another key).
W=$T/other
"$VAULTFS" init "$W" >/dev/null || fail "second vault"
cut_tail "$C" 1
sqlite3 "$W/vault.db" "SELECT seq, hex(mac), hex(tag) FROM audit_anchor" >"$T/w"
IFS='|' read -r wseq wmac wtag <"$T/w"
head -n "$wseq" "$W/audit.log" >"$C/audit.log"
sqlite3 "$C/vault.db" "UPDATE audit_anchor SET seq = $wseq, mac = X'$wmac', tag = X'$wtag'"
"$VAULTFS" audit verify "$C" >/dev/null 2>"$T/.err" && fail "another vault's trail and head verified" ||
	pass

# A vault from before tags: no tag column (schema 3) and no head key in its token.
U=$T/old
"$VAULTFS" init "$U" >/dev/null || fail "third vault"
for i in 1 2 3 4 5; do printf 'v%s' "$i" | "$VAULTFS" secret set "$U" "s$i"; done
label=$(sed -n 's/^token = //p' "$U/vaultfs.conf")
u_key=$(p11 "$U" --list-objects 2>/dev/null | sed -n 's/^ *label: *\(vaultfs-head-[0-9a-f]*\)$/\1/p')
p11 "$U" --delete-object --type secrkey --label "$u_key" >/dev/null 2>&1 || fail "deleting the head key"
# schema 3: without the head's tag, nor what later schemas added
sqlite3 "$U/vault.db" "ALTER TABLE audit_anchor DROP COLUMN tag; ALTER TABLE hsm_keys DROP COLUMN deleted;
	ALTER TABLE hsm_keys DROP COLUMN rotate_every; ALTER TABLE hsm_keys DROP COLUMN expires;
	DROP TABLE lifetime_warned; DROP TABLE cert_versions; DROP TABLE certs;
	UPDATE schema_version SET version = 3"
out=$("$VAULTFS" audit verify "$U" 2>&1) && pass || fail "an untagged vault's first verify: $out"
same "its head is tagged now" 32 "$(sqlite3 "$U/vault.db" 'SELECT length(tag) FROM audit_anchor')"
same "schema migrated" 6 "$(sqlite3 "$U/vault.db" 'SELECT version FROM schema_version')"
p11 "$U" --list-objects 2>/dev/null | grep -q "label: *$u_key" && pass || fail "no head key made"
out=$("$VAULTFS" audit verify "$U" 2>&1) && pass || fail "its second verify: $out"
# From then on, putting it back to untagged is tampering.
m=$(wc -l <"$U/audit.log")
head -n $((m - 3)) "$U/audit.log" >"$U/x" && cat "$U/x" >"$U/audit.log" && rm "$U/x"
rehead "$U" $((m - 3)) NULL
refused "back to untagged after the upgrade" "$U" "has no tag"

# The untouched vault still verifies.
out=$("$VAULTFS" audit verify "$V") && pass || fail "the vault itself: $out"
finish

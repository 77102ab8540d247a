#!/usr/bin/env bash
# vaultfs init: the files SPEC names, their modes, a deny-all policy, every default in
# vaultfs.conf, a sensitive non-extractable key-encryption key in the embedded token,
# refusal to overwrite, and nothing left behind by a failed init.
. "$(dirname "$0")/lib.sh"

V=$T/vault
check "init" "$VAULTFS" init "$V"
for f in vault.db vaultfs.conf policy audit.log softhsm2.conf pin; do
	[ -f "$V/$f" ] && pass || fail "init made no $f"
done
[ -d "$V/tokens" ] && pass || fail "init made no tokens/"
same "vault dir mode" 700 "$(stat -c %a "$V")"
same "pin mode" 400 "$(stat -c %a "$V/pin")"
same "vault.db mode" 600 "$(stat -c %a "$V/vault.db")"
same "journal mode" wal "$(sqlite3 "$V/vault.db" 'PRAGMA journal_mode')"
same "schema version" 6 "$(sqlite3 "$V/vault.db" 'SELECT version FROM schema_version')"
same "policy has no rules" 0 "$(grep -cvE '^\s*(#|$)' "$V/policy")"
for k in max_secret_size retention_days busy_timeout_ms module token pin_file softhsm2_conf; do
	grep -qE "^$k = " "$V/vaultfs.conf" && pass || fail "vaultfs.conf lacks $k"
done
grep -q '^max_secret_size = 25600$' "$V/vaultfs.conf" && pass || fail "default max_secret_size"
grep -q '^retention_days = 90$' "$V/vaultfs.conf" && pass || fail "default retention_days"
same "pin length" 32 "$(wc -c <"$V/pin")"

# The key-encryption key: sensitive, never extractable, on the token.
label=$(sed -n 's/^token = //p' "$V/vaultfs.conf")
(cd "$V" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
	--token-label "$label" --login --pin "$(cat pin)" --list-objects) >"$T/objects" 2>&1
grep -q "Secret Key Object; AES length 32" "$T/objects" && pass || fail "no AES-256 key: $(cat "$T/objects")"
grep -q "label:.*vaultfs-kek-" "$T/objects" && pass || fail "KEK label: $(cat "$T/objects")"
# The key-encryption key, the audit trail's HMAC key and the key that tags its head, and
# nothing else; all sensitive and never extractable; the KEK only wraps, the other two
# only sign (HMAC).
same "three key objects only" 3 "$(grep -c 'Key Object' "$T/objects")"
awk -v dir="$T" '/Secret Key Object/ { n++ } n { print > (dir "/object." n) }' "$T/objects"
for f in "$T"/object.1 "$T"/object.2 "$T"/object.3; do
	grep -qE "Access:.*[^-]sensitive" "$f" && pass || fail "not sensitive: $(cat "$f")"
	grep -qE "Access:.*never extractable" "$f" && pass || fail "extractable: $(cat "$f")"
done
kek=$(grep -l 'label:.*vaultfs-kek-' "$T"/object.?)
akey=$(grep -l 'label:.*vaultfs-audit-' "$T"/object.?)
[ -n "$akey" ] && pass || fail "no audit key: $(cat "$T/objects")"
grep -qE "Usage:.*wrap, unwrap" "$kek" && ! grep -qE "Usage:.*sign" "$kek" && pass ||
	fail "KEK usage: $(cat "$kek")"
grep -qE "Usage:.*verify" "$akey" && ! grep -qE "Usage:.*(wrap|encrypt|decrypt)" "$akey" && pass ||
	fail "audit key usage: $(cat "$akey")"
hkey=$(grep -l 'label:.*vaultfs-head-' "$T"/object.?)
[ -n "$hkey" ] && grep -qE "Usage:.*verify" "$hkey" && ! grep -qE "Usage:.*(wrap|encrypt|decrypt)" "$hkey" &&
	pass || fail "head key: $(cat "$T/objects")"
# The trail starts with init's own record.
same "first record" '1 init allow' "$(jq -r '"\(.seq) \(.op) \(.decision)"' "$V/audit.log")"

# Never overwritten: a second init is refused and changes no byte.
before=$(cd "$V" && find . -type f -exec sha256sum {} + | sort | sha256sum)
refuses "second init" 'already holds a vault' "$VAULTFS" init "$V"
after=$(cd "$V" && find . -type f -exec sha256sum {} + | sort | sha256sum)
same "second init changed nothing" "$before" "$after"
# Any one vault file is enough to refuse.
mkdir "$T/partial" && touch "$T/partial/policy"
refuses "dir with a policy file" 'already holds a vault \(policy exists\)' "$VAULTFS" init "$T/partial"
same "partial dir untouched" "policy" "$(ls "$T/partial")"

# An existing empty directory is fine; its mode is kept.
mkdir -m 0750 "$T/empty"
check "init into an empty dir" "$VAULTFS" init "$T/empty"
same "existing dir mode kept" 750 "$(stat -c %a "$T/empty")"

# A failed init leaves nothing: the directory it made is gone again.
refuses "bad module" 'cannot load the PKCS#11 module' "$VAULTFS" init "$T/bad" \
	--hsm-module /nonexistent/module.so --token x --pin-file "$V/pin"
[ ! -e "$T/bad" ] && pass || fail "failed init left $T/bad"
mkdir "$T/keep" && echo hello >"$T/keep/unrelated"
refuses "bad module into an existing dir" 'cannot load' "$VAULTFS" init "$T/keep" \
	--hsm-module /nonexistent/module.so --token x --pin-file "$V/pin"
same "existing dir left as it was" "unrelated" "$(ls -A "$T/keep")"
# A token label vaultfs.conf could not hold (read back, ";x" would be a comment) is refused
# before anything is made.
refuses "label vaultfs.conf cannot hold" 'vaultfs.conf could not hold them' "$VAULTFS" init \
	"$T/semi" --hsm-module "$SOFTHSM2_MODULE" --token ';x' --pin-file "$V/pin"
[ ! -e "$T/semi" ] && pass || fail "refused init made $T/semi"
refuses "half the token options" 'go together' "$VAULTFS" init "$T/half" --token x
[ ! -e "$T/half" ] && pass || fail "refused init made $T/half"

# The vault works after init.
printf 'hello' | "$VAULTFS" secret set "$V" greeting && pass || fail "set after init"
same "get after init" hello "$("$VAULTFS" secret get "$V" greeting)"

finish

#!/usr/bin/env bash
# A vault is self-contained: moved with `mv` it opens and mounts where it now is; copied
# with `cp -a` while the original is still there, the copy opens and mounts too, and what
# is done to the copy (new secrets, a new key in its token, writes through its mount)
# never touches the original's token files (their checksum) nor its secrets. A vault made
# by an older vaultfs, whose softhsm2.conf names its token folder by absolute path, is
# copied the same way: the copy uses its own token, and its file no longer names a path.
# A place whose path SoftHSM2's configuration cannot hold is refused with one line.
. "$(dirname "$0")/lib.sh"

# tokens_sum DIR: one checksum of every file in DIR/tokens, names and contents.
tokens_sum() { (cd "$1/tokens" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }

# no_path WHAT DIR: the vault's settings and its database do not name $T (where it was).
no_path() {
	local hits
	hits=$(grep -lF "$T" "$2/vaultfs.conf" "$2/softhsm2.conf" "$2/policy" 2>/dev/null)
	hits+=$(sqlite3 "$2/vault.db" .dump | grep -cF "$T" | grep -v '^0$')
	same "$1: nothing names an absolute path" "" "$hits"
}

# mounted DIR NAME EXPECTED [NEW]: DIR mounts; NAME reads EXPECTED through the mount;
# with NEW, writes NEW through it and reads it back; then it unmounts cleanly.
mounted() {
	local v=$V
	V=$1
	start
	same "$1: $2 through the mount" "$3" "$(cat "$S/$2" 2>&1)"
	if [ -n "${4:-}" ]; then
		printf '%s' "$4" >"$S/$2" || fail "$1: write through the mount"
		same "$1: $2 written through the mount" "$4" "$(cat "$S/$2" 2>&1)"
	fi
	stop
	V=$v
}

new_vault "allow * ** uid=0"
printf 'original' | "$VAULTFS" secret set "$V" s || fail "secret set"

# 1. mv: the vault opens where it now is.
O=$T/moved/vault
mkdir -m 700 "$T/moved"
mv "$V" "$O"
check "moved: secret get" "$VAULTFS" secret get "$O" s
same "moved: value" original "$(cat "$T/.out")"
mounted "$O" s original
printf 'moved-value' | "$VAULTFS" secret set "$O" s2 || fail "moved: secret set"
check "moved: verify" "$VAULTFS" audit verify "$O"
no_path "moved" "$O"

# 2. cp -a with the original still there: the copy opens, and nothing done to it reaches
# the original's token or secrets.
C=$T/copy
before=$(tokens_sum "$O")
cp -a "$O" "$C"
check "copy: secret get" "$VAULTFS" secret get "$C" s
same "copy: value" original "$(cat "$T/.out")"
printf 'copy-value' | "$VAULTFS" secret set "$C" s || fail "copy: secret set"
check "copy: key create" "$VAULTFS" key create "$C" k --type ec-p256
mounted "$C" s copy-value copy-mounted
check "copy: verify" "$VAULTFS" audit verify "$C"
same "the original's token files untouched" "$before" "$(tokens_sum "$O")"
[ "$(tokens_sum "$C")" != "$before" ] && pass || fail "the copy's token files never changed (not its own token?)"
no_path "copy" "$C"
same "the original's secret" original "$("$VAULTFS" secret get "$O" s 2>&1)"
same "the original has no key k" "" "$("$VAULTFS" key list "$O" 2>&1 | awk '$1 == "k"')"
check "original: verify" "$VAULTFS" audit verify "$O"
mounted "$O" s original

# 3. A vault from an older vaultfs: softhsm2.conf names its token folder by absolute path.
sed -i "s|^directories.tokendir = .*|directories.tokendir = $O/tokens|" "$O/softhsm2.conf"
grep -qF "= $O/tokens" "$O/softhsm2.conf" || fail "old-style softhsm2.conf not made"
C2=$T/copy-of-old
before=$(tokens_sum "$O")
cp -a "$O" "$C2"
printf 'copy2-value' | "$VAULTFS" secret set "$C2" s || fail "old copy: secret set"
check "old copy: key create" "$VAULTFS" key create "$C2" k2 --type aes-256
same "old copy: value" copy2-value "$("$VAULTFS" secret get "$C2" s 2>&1)"
mounted "$C2" s copy2-value
same "old copy: the original's token files untouched" "$before" "$(tokens_sum "$O")"
no_path "old copy" "$C2"
same "old copy: tokendir named relative" "directories.tokendir = tokens" \
	"$(grep '^directories.tokendir' "$C2/softhsm2.conf")"
same "old original's secret" original "$("$VAULTFS" secret get "$O" s 2>&1)"
no_path "old original, once opened" "$O"

# A place SoftHSM2's configuration cannot name ('#' ends its lines): refused in one line.
mkdir -m 700 "$T/a#b"
mv "$C" "$T/a#b/vault"
refuses "a path with #" "SoftHSM2 cannot be given this path" "$VAULTFS" secret get "$T/a#b/vault" s
mv "$T/a#b/vault" "$C"
same "moved back" copy-mounted "$("$VAULTFS" secret get "$C" s 2>&1)"

# Tools that open the embedded token by hand (README): from inside the vault.
label=$(sed -n 's/^token = //p' "$C/vaultfs.conf")
(cd "$C" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" --token-label "$label" \
	--login --pin "$(cat pin)" --list-objects) >"$T/objects" 2>&1
grep -q "label: *vaultfs-[0-9a-f]*-k@1$" "$T/objects" && pass || fail "pkcs11-tool in the copy: $(cat "$T/objects")"
finish

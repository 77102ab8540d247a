#!/usr/bin/env bash
# `vaultfs cert import` on a real vault and its SoftHSM2 token, with files the real openssl
# makes (tests/unit/certs_fixtures.sh): PKCS#12 with and without a chain, AES and -legacy,
# an empty password; PEM bundles in any order, encrypted or not. What is kept is read back
# from the vault's database and checked with openssl: the leaf, the chain in order from
# the leaf, the key in the token (non-extractable, as pkcs11-tool lists it) signing for
# the leaf's public key, the PKCS#8 kept only for --exportable. Every refusal — garbage,
# a truncated file, a wrong or missing password, a key/leaf mismatch, two keys, a stray
# certificate, a taken name — exits 1 with one line and leaves the vault's database and
# the token's objects exactly as they were, and is recorded as a failed cert-import.
set -u
. "$(dirname "$0")/lib.sh"
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool (opensc) missing: skipped"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 missing: skipped"; exit 77; }

PASS='correct horse battery staple'
F=$T/files
mkdir "$F"
bash "$(dirname "$0")/../unit/certs_fixtures.sh" "$F" "$PASS" || { echo "fixtures failed"; exit 1; }
printf '%s\n' "$PASS" >"$T/pw"
printf 'not the password\n' >"$T/wrong"
: >"$T/empty-pw"
chmod 600 "$T/pw" "$T/wrong" "$T/empty-pw"

V=$T/v
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
label=$(sed -n 's/^token = //p' "$V/vaultfs.conf")

# Every object of the token, one line each (class, label, access): what a refusal must
# leave as it found.
objects() {
	(cd "$V" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
		--token-label "$label" --login --pin "$(cat pin)" --list-objects 2>/dev/null) |
		awk '/Object;/ { if (o) print o; o = $0 } /label:|Access:/ { o = o " |" $0 }
			END { if (o) print o }'
}
nobjects() { objects | wc -l; }
blob() { sqlite3 "$V/vault.db" "SELECT hex($2) FROM cert_versions WHERE name = '$1'" | xxd -r -p; }
field() { sqlite3 "$V/vault.db" "SELECT $2 FROM certs WHERE name = '$1'"; }
der_of() { openssl x509 -in "$1" -outform DER; }

# --- imports that succeed

# imported NAME FILE CHAIN_FILES [import options...]: import, then the leaf kept is
# leaf.pem and the chain kept is CHAIN_FILES' certificates in that order.
imported() {
	local name=$1 file=$2 chain=$3 before; shift 3
	before=$(nobjects)
	check "import $file as $name" "$VAULTFS" cert import "$V" "$name" "$F/$file" "$@"
	same "$name: version printed" 1 "$(cat "$T/.out")"
	same "$name: the leaf kept" "$(der_of "$F/leaf.pem" | sha256sum)" "$(blob "$name" cert | sha256sum)"
	local want=""
	for c in $chain; do want+=$(der_of "$F/$c" | xxd -p | tr -d '\n'); done
	same "$name: the chain kept, in order" "$want" "$(blob "$name" chain | xxd -p | tr -d '\n')"
	same "$name: one token object more (its private key)" $((before + 1)) "$(nobjects)"
	same "$name: issuer" unknown "$(field "$name" issuer)"
	same "$name: subject" /CN=web.example "$(field "$name" subject)"
	same "$name: names kept for a renewal" DNS:web.example "$(field "$name" sans)"
	same "$name: type" rsa-2048 "$(field "$name" type)"
}

imported p12-chain chain-aes.p12 "int.pem ca.pem" --password-file "$T/pw"
imported p12-leaf leaf-aes.p12 "" --password-file "$T/pw"
imported p12-legacy chain-legacy.p12 "int.pem ca.pem" --password-file "$T/pw"
imported p12-nopass nopass.p12 "int.pem ca.pem"
imported pem-reversed bundle-reversed.pem "int.pem ca.pem"
imported pem-enc bundle-mixed-enc.pem "int.pem ca.pem" --password-file "$T/pw"
imported pem-trad bundle-trad.pem ""
imported pem-dup bundle-trad-enc-dup.pem "int.pem ca.pem" --password-file "$T/pw"
imported exportable bundle-key-first.pem "int.pem ca.pem" --exportable --renew-at 80%

same "non-exportable: no key kept in the vault" "" "$(blob pem-reversed sealed)"
[ -n "$(blob exportable sealed | head -c1 | xxd -p)" ] && pass ||
	fail "exportable: its key is kept sealed"
same "renew-at kept" "1 80" "$(field exportable renew_kind) $(field exportable renew_value)"
# the sealed key is not the key in clear
if blob exportable sealed | grep -qaF "$(openssl pkey -in "$F/leaf.key" -outform DER | head -c 40 | xxd -p | tr -d '\n')"; then
	fail "the exported key is stored in clear"
else
	pass
fi

# every imported private key is sensitive and not extractable
bad=$(objects | grep 'Private Key' | grep -v 'Access: *sensitive' || true)
same "imported keys sensitive" "" "$bad"
bad=$(objects | grep 'Private Key' | grep -E 'Access:.*[^r] extractable|Access: extractable' || true)
same "imported keys not extractable" "" "$bad"

# the key in the token is the leaf's: it signs, and the leaf's public key verifies
if command -v openssl >/dev/null; then
	printf 'message to sign\n' >"$T/msg"
	(cd "$V" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
		--token-label "$label" --login --pin "$(cat pin)" --sign -m SHA256-RSA-PKCS \
		--label "$(objects | grep -o 'vaultfs-[0-9a-f]*-pem-reversed@1' | head -1)" \
		-i "$T/msg" -o "$T/sig" >/dev/null 2>&1)
	openssl x509 -in "$F/leaf.pem" -pubkey -noout >"$T/leaf.pub"
	check "the token's key signs for the leaf's public key" \
		openssl dgst -sha256 -verify "$T/leaf.pub" -signature "$T/sig" "$T/msg"
fi

# --- refusals: one line, exit 1, nothing changed in the vault or the token

# refused WHAT PATTERN FILE [options...]
refused() {
	local what=$1 pattern=$2 file=$3 db0 obj0 n0 name=${NAME:-refused}; shift 3
	n0=$(wc -l <"$V/audit.log")
	db0=$(db_dump "$V")
	obj0=$(objects | sha256sum)
	refuses "$what" "$pattern" "$VAULTFS" cert import "$V" "$name" "$file" "$@"
	same "$what: the vault's records unchanged" "$db0" "$(db_dump "$V")"
	same "$what: the token's objects unchanged" "$obj0" "$(objects | sha256sum)"
	same "$what: recorded as a failed import" "$((n0 + 1)) cert-import certs/$name" \
		"$(wc -l <"$V/audit.log") $(tail -1 "$V/audit.log" |
			jq -r 'select(.result != 0) | "\(.op) \(.path)"')"
}

refused "garbage" "neither PKCS#12 nor PEM" "$F/garbage.bin"
refused "text" "neither PKCS#12 nor PEM" "$F/garbage.txt" --password-file "$T/pw"
refused "empty file" "empty" "$F/empty"
refused "truncated PKCS#12" "truncated" "$F/truncated.p12" --password-file "$T/pw"
refused "truncated PEM" "truncated" "$F/truncated.pem"
refused "wrong password (AES)" "wrong password" "$F/chain-aes.p12" --password-file "$T/wrong"
refused "wrong password (legacy)" "wrong password" "$F/chain-legacy.p12" --password-file "$T/wrong"
refused "wrong password (PEM)" "wrong password" "$F/bundle-mixed-enc.pem" --password-file "$T/wrong"
refused "missing password (PKCS#12)" "--password-file" "$F/chain-aes.p12"
refused "missing password (PEM)" "--password-file" "$F/bundle-mixed-enc.pem"
refused "key/leaf mismatch" "does not match" "$F/mismatch.pem"
refused "two keys" "more than one private key" "$F/two-keys.pem"
refused "no key" "no private key" "$F/no-key.pem"
refused "no certificate" "no certificate" "$F/no-cert.pem"
refused "a certificate outside the chain" "not in the chain" "$F/unrelated.pem"
refused "a request" "CERTIFICATE REQUEST" "$F/leaf.csr"
NAME=p12-chain refused "a certificate of that name" "certificate of that name exists" \
	"$F/other.p12" --password-file "$T/pw"
check "key create" "$VAULTFS" key create "$V" signer --type ec-p256
NAME=signer refused "a key of that name" "key of that name exists" "$F/other.p12" \
	--password-file "$T/pw"
NAME=bad/name refused "a bad name" "invalid certificate name" "$F/other.p12" \
	--password-file "$T/pw"

# a missing file or a bad password file: refused before the vault is opened (a file made
# with an empty password needs no --password-file)
refuses "empty password file" "is empty" \
	"$VAULTFS" cert import "$V" x "$F/chain-aes.p12" --password-file "$T/empty-pw"
refuses "missing file" "No such file" "$VAULTFS" cert import "$V" x "$F/nonexistent"
chmod 644 "$T/pw"
refuses "password file open to others" "chmod 0400" \
	"$VAULTFS" cert import "$V" x "$F/chain-aes.p12" --password-file "$T/pw"
"$VAULTFS" cert import "$V" x "$F/leaf.pem" --renew-at 150% 2>/dev/null
same "bad --renew-at: a usage error" 2 "$?"
same "no certificate x" "" "$(field x name)"

finish

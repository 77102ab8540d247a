#!/usr/bin/env bash
# Imported certificates as the mount serves them, with files the real openssl made
# (tests/unit/certs_fixtures.sh): a PKCS#12 with its chain (AES) and a -legacy one, a PEM
# bundle in reverse order and one with an encrypted key. Through the mount: `openssl
# verify` accepts cert.pem with chain.pem against the root, chain.pem is the chain in
# order from the leaf, fullchain.pem is the two, key.pem (exportable only) is the
# bundle's key, a non-exportable import has no key.pem and its key signs as keys/NAME;
# and refused imports (wrong password, mismatch, garbage, a --renew-at past the validity)
# leave certs/ as it was.
. "$(dirname "$0")/lib.sh"
C=$M/certs
PASS='correct horse battery staple'
F=$T/files
mkdir "$F"
bash "$(dirname "$0")/../unit/certs_fixtures.sh" "$F" "$PASS" >/dev/null ||
	{ echo "fixtures failed"; exit 1; }
printf '%s\n' "$PASS" >"$T/pw"
printf 'not the password\n' >"$T/wrong"
chmod 600 "$T/pw" "$T/wrong"
new_vault
imp() { "$VAULTFS" cert import "$V" "$@"; }
check "PKCS#12 with its chain, exportable" imp p12 "$F/chain-aes.p12" --password-file "$T/pw" --exportable
check "PKCS#12, -legacy" imp legacy "$F/chain-legacy.p12" --password-file "$T/pw"
check "PEM bundle, reversed" imp rev "$F/bundle-reversed.pem" --exportable
check "PEM bundle, encrypted key" imp enc "$F/bundle-mixed-enc.pem" --password-file "$T/pw"
start

fp() { openssl x509 -noout -fingerprint -sha256 -in "$1" 2>/dev/null; }
for n in p12 legacy rev enc; do
	same "$n: verify" "$C/$n/cert.pem: OK" \
		"$(openssl verify -CAfile "$F/ca.pem" -untrusted "$C/$n/chain.pem" "$C/$n/cert.pem" 2>&1)"
	same "$n: the leaf" "$(fp "$F/leaf.pem")" "$(fp "$C/$n/cert.pem")"
	same "$n: chain.pem is the chain from the leaf up" "$(cat "$F/int.pem" "$F/ca.pem" | openssl crl2pkcs7 -nocrl -certfile /dev/stdin | openssl pkcs7 -print_certs | grep subject)" \
		"$(openssl crl2pkcs7 -nocrl -certfile "$C/$n/chain.pem" | openssl pkcs7 -print_certs | grep subject)"
	same "$n: fullchain.pem" "$(cat "$C/$n/cert.pem" "$C/$n/chain.pem" | sha256sum)" \
		"$(sha256sum <"$C/$n/fullchain.pem")"
	[ -e "$C/$n/csr.pem" ] && fail "$n: a csr.pem" || pass
done
for n in p12 rev; do
	same "$n: key.pem is the bundle's key" "$(openssl pkey -in "$F/leaf.key" -pubout | sha256sum)" \
		"$(openssl pkey -in "$C/$n/key.pem" -pubout | sha256sum)"
done
for n in legacy enc; do
	[ -e "$C/$n/key.pem" ] && fail "$n: key.pem without --exportable" || pass
done
# the imported key signs in the token, for the leaf's public key
printf 'imported' >"$T/msg"
$SYS_PY keyop "$M/keys/legacy/sign" "$T/msg" "$T/sig" >/dev/null
openssl x509 -noout -pubkey -in "$C/legacy/cert.pem" >"$T/leaf.pub"
same "keys/legacy signs for the leaf" "Verified OK" \
	"$(openssl dgst -sha256 -verify "$T/leaf.pub" -signature "$T/sig" "$T/msg" 2>&1)"
same "cert list: issuer unknown" "unknown" "$("$VAULTFS" cert list "$V" | awk -F'\t' '$1 == "p12" { print $5 }')"

# refusals, with the mount serving: one line each, nothing appears
before=$(ls "$C")
refuses "wrong password" 'password' imp bad "$F/chain-aes.p12" --password-file "$T/wrong"
refuses "missing password" 'password' imp bad "$F/chain-aes.p12"
refuses "key/leaf mismatch" 'does not match' imp bad "$F/mismatch.pem"
refuses "garbage" 'neither PKCS#12 nor PEM' imp bad "$F/garbage.bin"
# the leaf is valid for 10 days: renewing 30 days before its end would be due at every check
refuses "--renew-at past the validity" "--renew-at 30d is not inside the certificate's validity" \
	imp bad "$F/chain-aes.p12" --password-file "$T/pw" --renew-at 30d
same "certs/ unchanged by the refusals" "$before" "$(ls "$C")"
[ -e "$M/keys/bad" ] && fail "a refused import left keys/bad" || pass

stop
"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify"
finish

#!/usr/bin/env bash
# Keys held in the token, reached as files: the folders show only what each key allows;
# real openssl verifies real signatures (EC P-256/SHA-256, P-384/SHA-384, RSA PKCS#1 v1.5
# and PSS) and makes the OAEP ciphertexts the token decrypts; AES encrypt/decrypt across a
# rotation; wrap/unwrap; tampered input is EBADMSG; the shell idiom exec 3<>; one
# operation per open; size limits; eight processes signing at once; policy per operation;
# every operation recorded with the key's name and version; key objects sensitive and
# never extractable as pkcs11-tool lists them; import of PEM keys and its refusals.
. "$(dirname "$0")/lib.sh"
K=$M/keys
A=$V/audit.log
new_vault "$(cat <<'POLICY'
allow     *          **           uid=0
allow     list       keys         uid=1001
allow     sign       keys/ec      uid=1001
allow     decrypt    keys/rsa     uid=1001
deny      sign       keys/rsa     uid=1001
POLICY
)"
key() { "$VAULTFS" key "$@"; }
check "create ec-p256" key create "$V" ec --type ec-p256
check "create ec-p384" key create "$V" ec384 --type ec-p384
check "create rsa-2048" key create "$V" rsa --type rsa-2048
check "create rsa-3072 pss" key create "$V" pss --type rsa-3072 --alg ps256
check "create aes-256" key create "$V" aes --type aes-256
check "create a wrap-only aes key" key create "$V" kek --type aes-256 --ops wrap,unwrap
same "unknown type is a usage error" 2 "$(key create "$V" bad --type dsa-1024 2>/dev/null; echo $?)"
refuses "existing name" 'exists' key create "$V" ec --type ec-p256
refuses "bad name" 'invalid' key create "$V" .hidden --type ec-p256
refuses "sign on aes" 'invalid' key create "$V" bad --type aes-256 --ops sign
refuses "pss on ec" 'invalid' key create "$V" bad --type ec-p256 --alg ps256

# Import: PKCS#8, traditional, encrypted with a passphrase; refusals name the problem.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/p8.pem" 2>/dev/null
openssl genrsa -traditional -out "$T/trad.pem" 2048 2>/dev/null
openssl pkey -in "$T/p8.pem" -aes256 -passout pass:s3cret-pass -out "$T/enc.pem"
printf 's3cret-pass' >"$T/pass"; chmod 600 "$T/pass"
openssl pkey -in "$T/p8.pem" -pubout -out "$T/pub.pem"
openssl genpkey -algorithm ED25519 -out "$T/ed.pem" 2>/dev/null
printf 'not a key\n' >"$T/junk.pem"
check "import PKCS#8" key import "$V" imp8 "$T/p8.pem"
check "import traditional RSA" key import "$V" imptrad "$T/trad.pem"
check "import encrypted" key import "$V" impenc "$T/enc.pem" --passphrase-file "$T/pass"
refuses "import a public key" 'public key' key import "$V" x "$T/pub.pem"
refuses "import encrypted without passphrase" 'encrypted.*passphrase' key import "$V" x "$T/enc.pem"
printf 'wrong' >"$T/wrong"; chmod 600 "$T/wrong"
refuses "import with a wrong passphrase" 'wrong passphrase' key import "$V" x "$T/enc.pem" --passphrase-file "$T/wrong"
refuses "import garbage" 'not a PEM private key' key import "$V" x "$T/junk.pem"
refuses "import an unsupported key" 'only EC P-256' key import "$V" x "$T/ed.pem"
same "nothing imported by the refusals" "" "$(key list "$V" | awk '$1 == "x"')"
same "list" "ec ec-p256 ecdsa 1 sign" "$(key list "$V" | awk '$1 == "ec" { print $1, $2, $3, $4, $5 }')"

# Every private or secret key object: sensitive, never extractable (imported ones are
# sensitive and not extractable; the token knows they were once outside it).
label=$(sed -n 's/^token = //p' "$V/vaultfs.conf")
(cd "$V" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
	--token-label "$label" --login --pin "$(cat pin)" --list-objects) >"$T/objects" 2>/dev/null
same "private key objects" 7 "$(grep -c 'Private Key Object' "$T/objects")"
bad=$(awk '/Key Object/ { obj = $0 } /Access:/ { a = $0; sub(/never extractable/, "", a);
	if (a !~ /sensitive/ || a ~ /extractable/) print obj ": " $0 }' "$T/objects")
same "every key object sensitive, none extractable" "" "$bad"

start
# The folders show what each key allows, and nothing else.
same "keys/" "aes ec ec384 imp8 impenc imptrad kek pss rsa" "$(ls "$K" | tr '\n' ' ' | sed 's/ $//')"
same "ec files" "public.pem sign" "$(ls "$K/ec" | tr '\n' ' ' | sed 's/ $//')"
same "rsa files" "decrypt encrypt public.pem sign unwrap wrap" "$(ls "$K/rsa" | tr '\n' ' ' | sed 's/ $//')"
same "aes files" "decrypt encrypt unwrap wrap" "$(ls "$K/aes" | tr '\n' ' ' | sed 's/ $//')"
same "kek files" "unwrap wrap" "$(ls "$K/kek" | tr '\n' ' ' | sed 's/ $//')"
same "no sign file on aes" "open:ENOENT" "$(sys_ read "$K/aes/sign")"

# Interop: signatures verify with openssl.
head -c 100000 /dev/urandom >"$T/msg"
sign() { # sign KEY: the signature of $T/msg through the shell idiom
	( exec 3<>"$K/$1/sign"; cat "$T/msg" >&3; cat <&3 ) >"$T/sig.$1"
}
for k in ec ec384 rsa pss imp8 imptrad impenc; do
	sign "$k"
	cp "$K/$k/public.pem" "$T/pub.$k"
	md=sha256; [ "$k" = ec384 ] || [ "$k" = imp8 ] || [ "$k" = impenc ] && md=sha384
	opt=(); [ "$k" = pss ] && opt=(-sigopt rsa_padding_mode:pss)
	out=$(openssl dgst -"$md" -verify "$T/pub.$k" "${opt[@]}" -signature "$T/sig.$k" "$T/msg" 2>&1)
	same "signature of $k verifies" "Verified OK" "$out"
done
# the imported key's public.pem is the key's own
same "imported public key" "$(openssl pkey -pubin -in "$T/pub.pem" -outform DER | sha256sum)" \
	"$(openssl pkey -pubin -in "$T/pub.imp8" -outform DER | sha256sum)"

# RSA: openssl's OAEP (SHA-256) ciphertext decrypts through the file; encrypt's output
# decrypts too; wrap/unwrap round-trips; tampering is EBADMSG.
op() { # op KEYPATH OP INPUT OUTPUT: prints "ok" or the errno name
	$SYS_PY keyop "$K/$1/$2" "$3" "$4"
}
printf 'the plaintext %s' "$RANDOM" >"$T/plain"
openssl pkeyutl -encrypt -pubin -inkey "$T/pub.rsa" -pkeyopt rsa_padding_mode:oaep \
	-pkeyopt rsa_oaep_md:sha256 -in "$T/plain" -out "$T/ct"
same "openssl's OAEP decrypts" ok "$(op rsa decrypt "$T/ct" "$T/out")"
same "to the plaintext" "$(cat "$T/plain")" "$(cat "$T/out")"
same "encrypt" ok "$(op rsa encrypt "$T/plain" "$T/ct2")"
same "its output decrypts" ok "$(op rsa decrypt "$T/ct2" "$T/out2")"
same "to the plaintext" "$(cat "$T/plain")" "$(cat "$T/out2")"
head -c 32 /dev/urandom >"$T/material"
same "rsa wrap" ok "$(op rsa wrap "$T/material" "$T/wrapped")"
same "rsa unwrap" ok "$(op rsa unwrap "$T/wrapped" "$T/unwrapped")"
cmp -s "$T/material" "$T/unwrapped" && pass || fail "rsa unwrap gave other bytes"

# RSA wrap and unwrap are not encrypt and decrypt: wrap is OAEP (SHA-256) with the label
# "vaultfs-wrap", decrypt takes the empty label only, so neither file opens what the
# other's counterpart made. openssl makes and opens both kinds with the private key it
# holds for imptrad (imported from $T/trad.pem).
same "imptrad files" "decrypt encrypt public.pem sign unwrap wrap" "$(ls "$K/imptrad" | tr '\n' ' ' | sed 's/ $//')"
LABEL=$(printf 'vaultfs-wrap' | od -An -tx1 | tr -d ' \n')
OAEP=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
openssl pkeyutl -encrypt -pubin -inkey "$T/pub.imptrad" "${OAEP[@]}" -pkeyopt "rsa_oaep_label:$LABEL" \
	-in "$T/material" -out "$T/owrapped"
same "openssl's OAEP with the wrap label unwraps" ok "$(op imptrad unwrap "$T/owrapped" "$T/ounw")"
cmp -s "$T/material" "$T/ounw" && pass || fail "unwrap of openssl's wrapping gave other bytes"
same "decrypt refuses openssl's wrapping" EBADMSG "$(op imptrad decrypt "$T/owrapped" "$T/x")"
same "imptrad wrap" ok "$(op imptrad wrap "$T/material" "$T/vwrapped")"
openssl pkeyutl -decrypt -inkey "$T/trad.pem" "${OAEP[@]}" -pkeyopt "rsa_oaep_label:$LABEL" \
	-in "$T/vwrapped" -out "$T/vunw" 2>"$T/ossl.err" && pass || fail "openssl cannot unwrap: $(cat "$T/ossl.err")"
cmp -s "$T/material" "$T/vunw" && pass || fail "openssl unwrapped other bytes"
openssl pkeyutl -decrypt -inkey "$T/trad.pem" "${OAEP[@]}" -in "$T/vwrapped" -out "$T/x" 2>/dev/null &&
	fail "wrap's output opens without the label" || pass
same "decrypt refuses what wrap made" EBADMSG "$(op imptrad decrypt "$T/vwrapped" "$T/x")"
same "rsa decrypt refuses what rsa wrap made" EBADMSG "$(op rsa decrypt "$T/wrapped" "$T/x")"
openssl pkeyutl -encrypt -pubin -inkey "$T/pub.imptrad" "${OAEP[@]}" -in "$T/plain" -out "$T/oct"
same "openssl's plain OAEP decrypts" ok "$(op imptrad decrypt "$T/oct" "$T/x")"
same "unwrap refuses openssl's plain OAEP" EBADMSG "$(op imptrad unwrap "$T/oct" "$T/x")"
same "imptrad encrypt" ok "$(op imptrad encrypt "$T/plain" "$T/vct")"
openssl pkeyutl -decrypt -inkey "$T/trad.pem" "${OAEP[@]}" -in "$T/vct" -out "$T/vpl" 2>/dev/null &&
	cmp -s "$T/plain" "$T/vpl" && pass || fail "openssl cannot decrypt what encrypt made"
same "unwrap refuses what encrypt made" EBADMSG "$(op imptrad unwrap "$T/vct" "$T/x")"
cp "$T/ct" "$T/bad"; printf '\x00' | dd of="$T/bad" bs=1 seek=100 conv=notrunc 2>/dev/null
same "tampered RSA ciphertext" EBADMSG "$(op rsa decrypt "$T/bad" "$T/out")"
same "short RSA ciphertext" EBADMSG "$(head -c 100 "$T/ct" >"$T/short"; op rsa decrypt "$T/short" "$T/out")"

# AES: round trip, across a rotation, older versions under aes@N/, tampering.
same "aes encrypt" ok "$(op aes encrypt "$T/plain" "$T/act")"
same "header" "VKA1" "$(head -c 4 "$T/act")"
same "aes decrypt" ok "$(op aes decrypt "$T/act" "$T/aout")"
same "aes round trip" "$(cat "$T/plain")" "$(cat "$T/aout")"
same "aes wrap" ok "$(op aes wrap "$T/material" "$T/awrapped")"
same "rotate" 2 "$(key rotate "$V" aes)"
same "decrypt after rotation" ok "$(op aes decrypt "$T/act" "$T/aout2")"
same "round trip across the rotation" "$(cat "$T/plain")" "$(cat "$T/aout2")"
same "old version's folder" "decrypt unwrap" "$(ls "$K/aes@1" | tr '\n' ' ' | sed 's/ $//')"
same "unwrap with the old version" ok "$(op aes@1 unwrap "$T/awrapped" "$T/aunw")"
cmp -s "$T/material" "$T/aunw" && pass || fail "aes unwrap gave other bytes"
same "unwrap with the new version fails" EBADMSG "$(op aes unwrap "$T/awrapped" "$T/x")"
# Material of a length that is no multiple of 8 (RFC 5649 pads it and keeps the length): it
# comes back the same, or wrap refuses it at read (EINVAL) — never with zeros appended, as
# SoftHSM2 2.6's wrapping, which loses the length, gave it back before.
head -c 20 /dev/urandom >"$T/odd"
res=$(op aes wrap "$T/odd" "$T/oddw")
if [ "$res" = ok ]; then
	same "unwrap of 20 bytes of material" ok "$(op aes unwrap "$T/oddw" "$T/oddu")"
	cmp -s "$T/odd" "$T/oddu" && pass || fail "20 bytes wrapped came back as $(stat -c %s "$T/oddu")"
else
	same "wrap of 20 bytes the token cannot keep" EINVAL "$res"
fi
same "new encryptions use version 2" ok "$(op aes encrypt "$T/plain" "$T/act2")"
same "version in the header" "0000 0002" "$(od -An -tx1 -j4 -N4 "$T/act2" | tr -d ' \n' | sed 's/\(....\)\(....\)/\1 \2/')"
same "aes@1 refuses version 2's ciphertext" EBADMSG "$(op aes@1 decrypt "$T/act2" "$T/x")"
for at in 8 20 40; do
	cp "$T/act" "$T/abad"; printf '\xff' | dd of="$T/abad" bs=1 seek=$at conv=notrunc 2>/dev/null
	same "AES ciphertext changed at byte $at" EBADMSG "$(op aes decrypt "$T/abad" "$T/x")"
done
same "a ciphertext for another key" EBADMSG "$(op kek unwrap "$T/act" "$T/x")"
same "rotated signature key" 2 "$(key rotate "$V" ec)"
sign ec
cp "$K/ec/public.pem" "$T/pub.ec2"
same "new version signs" "Verified OK" "$(openssl dgst -sha256 -verify "$T/pub.ec2" -signature "$T/sig.ec" "$T/msg" 2>&1)"
cmp -s "$T/pub.ec" "$K/ec@1/public.pem" && pass || fail "ec@1 lost its public key"
same "old versions do not sign" "open:ENOENT" "$(sys_ read "$K/ec@1/sign")"

# Per open: one operation; input written after the result is refused; limits.
same "one operation per open" "EINVAL" "$($SYS_PY keytwice "$K/ec/sign")"
same "RSA input over the limit" EFBIG "$(head -c 300 /dev/zero >"$T/big"; op rsa encrypt "$T/big" "$T/x")"
same "AES input over 1 MiB" EFBIG "$(head -c 1048577 /dev/zero >"$T/big"; op aes encrypt "$T/big" "$T/x")"
same "input out of order" EINVAL "$(/usr/bin/python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.pwrite(fd, b"x", 5)
    print("ok")
except OSError as e:
    import errno; print(errno.errorcode[e.errno])' "$K/ec/sign")"
same "public.pem is not written" EBADF "$(/usr/bin/python3 -c '
import os, sys, errno
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.write(fd, b"x"); print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$K/ec/public.pem" 2>&1 | tail -n 1)"
same "a key file cannot be truncated to a size" EINVAL "$(truncate -s 5 "$K/ec/sign" 2>&1 | grep -o 'Invalid argument' | sed 's/Invalid argument/EINVAL/')"
: >"$K/ec/sign" && pass || fail "a shell's > on a key file"
same "sign takes any size" ok "$(head -c 3000000 /dev/zero >"$T/big"; op ec sign "$T/big" "$T/x")"

# Eight processes signing at once all get valid signatures.
signers=()
for i in $(seq 1 8); do
	( for j in 1 2 3 4 5; do
		printf 'message %s.%s' "$i" "$j" >"$T/m.$i.$j"
		( exec 3<>"$K/rsa/sign"; cat "$T/m.$i.$j" >&3; cat <&3 ) >"$T/s.$i.$j"
	done ) &
	signers+=($!)
done
wait "${signers[@]}"
bad=0
for i in $(seq 1 8); do for j in 1 2 3 4 5; do
	openssl dgst -sha256 -verify "$T/pub.rsa" -signature "$T/s.$i.$j" "$T/m.$i.$j" >/dev/null 2>&1 || bad=$((bad + 1))
done; done
same "40 concurrent signatures valid" 0 "$bad"

# Policy: per operation and per key, EACCES at open; no right at all hides the key.
same "1001 signs with ec" ok "$(as 1001 $SYS_PY keyop "$K/ec/sign" "$T/msg" /dev/null)"
same "1001 may not sign with rsa" "open:EACCES" "$(as 1001 $SYS_PY keyop "$K/rsa/sign" "$T/msg" /dev/null)"
same "1001 decrypts with rsa" ok "$(as 1001 $SYS_PY keyop "$K/rsa/decrypt" "$T/ct" /dev/null)"
same "1001 may not encrypt with rsa" "open:EACCES" "$(as 1001 $SYS_PY keyop "$K/rsa/encrypt" "$T/plain" /dev/null)"
# decrypt is no way around unwrap: uid 1001 may decrypt with rsa, not unwrap, and its
# decrypt of key material that rsa wrapped is EBADMSG, the material never served.
same "1001 may not unwrap with rsa" "open:EACCES" "$(as 1001 $SYS_PY keyop "$K/rsa/unwrap" "$T/wrapped" /dev/null)"
rm -f "$T/stolen"; touch "$T/stolen"; chown 1001 "$T/stolen"
same "1001's decrypt of wrapped material" EBADMSG "$(as 1001 $SYS_PY keyop "$K/rsa/decrypt" "$T/wrapped" "$T/stolen")"
cmp -s "$T/material" "$T/stolen" && fail "uid 1001 unwrapped key material through decrypt" || pass
same "recorded as refused" "allow EBADMSG" "$(jq -r 'select(.op == "decrypt" and .uid == 1001 and .path == "keys/rsa") | "\(.decision) \(.result)"' "$A" | tail -n 1)"
same "1001 reads ec's public key" "$(cat "$T/pub.ec2")" "$(as 1001 cat "$K/ec/public.pem")"
same "1001 cannot see aes" "open:EACCES" "$(as 1001 $SYS_PY read "$K/aes/decrypt")"
same "1002 sees no key" "open:ENOENT" "$(as 1002 $SYS_PY read "$K/ec/public.pem")"
same "modes for 1001" "-rw------- -r--------" "$(as 1001 stat -c %A "$K/ec/sign" "$K/ec/public.pem" | tr '\n' ' ' | sed 's/ $//')"
same "1001's sign file on rsa" "----------" "$(as 1001 stat -c %A "$K/rsa/sign")"

# Each operation is recorded with the key's name and version, with the caller.
last=$(jq -c 'select(.op == "sign" and .uid == 1001)' "$A" | tail -n 1)
same "sign recorded" "allow keys/ec 2 0 policy:3" "$(jq -r '"\(.decision) \(.path) \(.version) \(.result) \(.rule)"' <<<"$last")"
same "denied open recorded" "deny EACCES policy:5" "$(jq -r 'select(.uid == 1001 and .path == "keys/rsa" and .decision == "deny") | "\(.decision) \(.result) \(.rule)"' "$A" | head -n 1)"
same "decrypt recorded with the version in the ciphertext" "1" "$(jq -r 'select(.op == "decrypt" and .path == "keys/aes" and .result == 0) | .version' "$A" | tail -n 1)"
same "tampering recorded" "EBADMSG" "$(jq -r 'select(.op == "decrypt" and .path == "keys/aes") | .result' "$A" | tail -n 1)"
same "no plaintext in the trail" "" "$(grep -F "$(cat "$T/plain")" "$A")"

# NAME@N names version N for good: a folder entered while N was current keeps serving N
# after a rotation, and no longer offers what only the current version does.
same "a folder entered while current keeps its version" "decrypt unwrap" \
	"$(cd "$K/aes@2" && key rotate "$V" aes >/dev/null && ls | tr '\n' ' ' | sed 's/ $//')"
same "it decrypts that version's ciphertext" ok "$(op aes@2 decrypt "$T/act2" "$T/x")"
same "it no longer encrypts" "open:ENOENT" "$(op aes@2 encrypt "$T/plain" "$T/x")"
same "the new version's folder" "decrypt encrypt unwrap wrap" "$(ls "$K/aes@3" | tr '\n' ' ' | sed 's/ $//')"
# Input no key makes is bad input, told at read, whatever its length.
head -c 512 /dev/urandom >"$T/long"
same "RSA ciphertext longer than the modulus" EBADMSG "$(op rsa decrypt "$T/long" "$T/x")"
head -c 5000 /dev/urandom >"$T/long"
same "wrapped key longer than any" EBADMSG "$(op kek unwrap "$T/long" "$T/x")"
{ cat "$T/act2"; head -c 1048576 /dev/zero; } >"$T/long"
same "AES ciphertext longer than any" EBADMSG "$(op aes decrypt "$T/long" "$T/x")"
cp "$T/act2" "$T/v0"; printf '\0\0\0\0' | dd of="$T/v0" bs=1 seek=4 conv=notrunc 2>/dev/null
same "AES header naming version 0" EBADMSG "$(op aes decrypt "$T/v0" "$T/x")"
same "its record names no version" null "$(jq -r 'select(.op == "decrypt" and .path == "keys/aes") | .version' "$A" | tail -n 1)"
stop

# Delete, then purge: gone from the token and the mount.
check "delete" key delete "$V" imptrad
check "purge" key purge "$V" imptrad
refuses "delete a missing key" 'no such key' key delete "$V" imptrad
refuses "rotate a missing key" 'no such key' key rotate "$V" imptrad
same "--passphrase-file with create is a usage error" 2 "$(key create "$V" y --type aes-256 --passphrase-file "$T/pass" 2>/dev/null; echo $?)"
(cd "$V" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
	--token-label "$label" --login --pin "$(cat pin)" --list-objects) >"$T/objects" 2>/dev/null
grep -q -- '-imptrad@' "$T/objects" && fail "deleted key still in the token" || pass
same "key changes recorded" "key-create key-import key-list key-rotate key-delete key-purge" \
	"$(jq -r 'select(.op | startswith("key-")) | select(.result == 0) | .op' "$A" | uniq | tr '\n' ' ' | sed 's/ $//')"
out=$("$VAULTFS" audit verify "$V") && pass || fail "trail: $out"
finish

#!/usr/bin/env bash
# A key operation file opened while the key could still be used, and run after it no
# longer can: uid 1001 opens sign, encrypt and wrap of keys that then expire (--expires),
# are soft-deleted (key delete, and a certificate's key by cert delete) or rotated, keeps
# the files open, and only then writes its input and reads. What a fresh open would refuse
# the held file refuses too, at read: EKEYEXPIRED past --expires, EKEYREVOKED once the key
# left keys/, and NAME@N's sign after a rotation ENOTSUP (EOPNOTSUPP); keys/NAME/sign held across a
# rotation signs with the new version. Decrypt held across the expiry still works. Each
# refusal is recorded with its errno, and the trail verifies.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "openssl missing: skipped"; exit 77; }
new_vault "allow * ** uid=0
allow sign,encrypt,decrypt,wrap,unwrap keys/** uid=1001"
K=$M/keys
A=$V/audit.log
check "an expiring EC key" "$VAULTFS" key create "$V" ek --type ec-p256 --expires 6s
check "an expiring RSA key" "$VAULTFS" key create "$V" rk --type rsa-2048 --expires 6s
check "an expiring AES key" "$VAULTFS" key create "$V" ak --type aes-256 --expires 6s
check "a key to delete" "$VAULTFS" key create "$V" dk --type ec-p256
check "a certificate to delete" "$VAULTFS" cert create "$V" gone --subject /CN=gone.example
check "a key to rotate" "$VAULTFS" key create "$V" rot --type ec-p256
start
mkdir -m 777 "$T/flags"
head -c 3000 /dev/urandom >"$T/msg"
head -c 32 /dev/urandom >"$T/plain"
chmod 644 "$T/msg" "$T/plain"
openssl pkeyutl -encrypt -pubin -inkey "$K/rk/public.pem" -pkeyopt rsa_padding_mode:oaep \
	-pkeyopt rsa_oaep_md:sha256 -in "$T/plain" -out "$T/rk.ct" && chmod 644 "$T/rk.ct"

# held NAME FILE INPUT: uid 1001 opens keys/NAME/FILE now, runs it once $T/flags/go exists;
# its answer goes to $T/NAME.FILE.out
HELD=()
held() {
	local tag=$1.$2
	as 1001 $SYS_PY keyop_wait "$K/$1/$2" "$3" "$T/flags/$tag.res" "$T/flags/go" \
		>"$T/$tag.out" 2>&1 &
	HELD+=($!)
}
# each waits on the same flag: wait for each one's ready mark in turn
ready_all() {
	for _ in $(seq 1 200); do
		[ "$(jq -c 'select(.op=="open" and .uid==1001 and .result==0)' "$A" | wc -l)" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "the held files were not all opened"
}
held ek sign "$T/msg"
held rk encrypt "$T/plain"
held ak wrap "$T/plain"
held rk decrypt "$T/rk.ct"
held dk sign "$T/msg"
held gone sign "$T/msg"
held rot sign "$T/msg"
held rot@1 sign "$T/msg"
ready_all 8

# The keys change under the open files.
check "delete dk" "$VAULTFS" key delete "$V" dk
check "delete the certificate gone" "$VAULTFS" cert delete "$V" gone
check "rotate rot" "$VAULTFS" key rotate "$V" rot
sleep 7 # past the 6s expiry
same "a fresh open of ek/sign is refused" open:EKEYEXPIRED \
	"$(as_sys 1001 keyop "$K/ek/sign" "$T/msg" /dev/null)"
touch "$T/flags/go"
for p in "${HELD[@]}"; do wait_exit "$p" 30 || fail "held opener $p still running"; done

same "sign held across the expiry" EKEYEXPIRED "$(cat "$T/ek.sign.out")"
same "encrypt held across the expiry" EKEYEXPIRED "$(cat "$T/rk.encrypt.out")"
same "wrap held across the expiry" EKEYEXPIRED "$(cat "$T/ak.wrap.out")"
same "decrypt held across the expiry still works" ok "$(cat "$T/rk.decrypt.out")"
cmp -s "$T/plain" "$T/flags/rk.decrypt.res" && pass || fail "decrypt gave another plaintext"
same "sign held across key delete" EKEYREVOKED "$(cat "$T/dk.sign.out")"
same "sign held across cert delete" EKEYREVOKED "$(cat "$T/gone.sign.out")"
same "rot@1/sign held across a rotation" ENOTSUP "$(cat "$T/rot@1.sign.out")"
same "rot/sign held across a rotation signs" ok "$(cat "$T/rot.sign.out")"
check "with the new version" openssl dgst -sha256 -verify "$K/rot/public.pem" \
	-signature "$T/flags/rot.sign.res" "$T/msg"
for f in ek/sign rk/encrypt ak/wrap dk/sign gone/sign rot@1/sign; do
	[ -s "$T/flags/${f%/*}.${f#*/}.res" ] && fail "$f gave bytes" || pass
done

# Each refusal recorded with its errno, the allowed ones too.
rec() { jq -r "select(.uid==1001 and .op==\"$1\" and .path==\"keys/$2\") | .result" "$A" | tail -n 1; }
same "recorded: ek sign" EKEYEXPIRED "$(rec sign ek)"
same "recorded: rk encrypt" EKEYEXPIRED "$(rec encrypt rk)"
same "recorded: ak wrap" EKEYEXPIRED "$(rec wrap ak)"
same "recorded: rk decrypt" 0 "$(rec decrypt rk)"
same "recorded: dk sign" EKEYREVOKED "$(rec sign dk)"
same "recorded: gone sign" EKEYREVOKED "$(rec sign gone)"
same "recorded: rot sign with version 2" "0 2" \
	"$(jq -r 'select(.uid==1001 and .op=="sign" and .path=="keys/rot" and .result==0) | "\(.result) \(.version)"' "$A" | tail -n 1)"
stop
check "the trail verifies" "$VAULTFS" audit verify "$V"
finish

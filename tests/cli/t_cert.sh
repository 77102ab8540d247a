#!/usr/bin/env bash
# Certificates from the command line (SPEC "Certificates"), checked with the real openssl:
# - self-signed EC P-256, P-384 and RSA-2048 certificates verify against themselves, with
#   the SANs, key usage, extended key usage, basicConstraints, signature algorithm and
#   validity asked for; serials are 20 random octets, positive, all different;
# - a vault CA (--ca: CA:TRUE, keyCertSign) issues certificates that `openssl verify
#   -CAfile` accepts with the CA's cert.pem, its chain.pem holding the CA;
# - --issuer unknown serves a csr.pem that `openssl req -verify` accepts; an outside CA
#   (openssl x509 -req -CA) signs it; cert merge refuses a certificate for another key
#   with one line and completes the request with the right one;
# - renew: a new version, new serial and new key (the same key with --reuse-key); for an
#   outside issuer, a pending version; a second renewal while one is pending is refused;
# - key rotate and key delete of a certificate's key are refused; key create of its name
#   and cert create of a key's name are EEXIST;
# - delete, recover, purge; purge destroys the key's objects in the token;
# - every failure is one line and leaves the vault and the token exactly as they were
#   (the database dump, and the token's objects counted with pkcs11-tool);
# - every operation is in the audit trail.
. "$(dirname "$0")/lib.sh"
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool (opensc) missing: skipped"; exit 77; }

cd "$T" || exit 1
"$VAULTFS" init v >/dev/null || { echo "init failed"; exit 1; }
label=$(sed -n 's/^token = //p' v/vaultfs.conf)
objects() { # the token's objects, one label a line
	(cd v && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
		--token-label "$label" --login --pin "$(cat pin)" --list-objects 2>/dev/null) |
		sed -n 's/^ *label: *//p' | sort
}
get() { "$VAULTFS" cert get v "$@"; }
ext() { openssl x509 -noout -ext "$2" -in "$1" 2>/dev/null | tr -d '\n' | tr -s ' '; }

# --- 1. Self-signed, one per type.
for t in ec-p256 ec-p384 rsa-2048; do
	check "create $t" "$VAULTFS" cert create v "s-$t" --subject "/CN=s-$t.example/O=Example Org" \
		--san "DNS:s-$t.example,DNS:www.s-$t.example" --san IP:10.0.0.1,email:ops@example.org \
		--type "$t" --days 90
	get "s-$t" cert.pem >"s-$t.pem"
	out=$(openssl verify -CAfile "s-$t.pem" "s-$t.pem" 2>&1) && pass || fail "verify $t: $out"
	same "$t chain.pem of a self-signed one is empty" "" "$(get "s-$t" chain.pem)"
	same "$t fullchain.pem is cert.pem" "$(cat "s-$t.pem")" "$(get "s-$t" fullchain.pem)"
	same "$t subject" "subject=CN = s-$t.example, O = Example Org" \
		"$(openssl x509 -noout -subject -in "s-$t.pem")"
	same "$t SANs" "X509v3 Subject Alternative Name: DNS:s-$t.example, DNS:www.s-$t.example, IP Address:10.0.0.1, email:ops@example.org" \
		"$(ext "s-$t.pem" subjectAltName)"
	same "$t EKU" "X509v3 Extended Key Usage: TLS Web Server Authentication, TLS Web Client Authentication" \
		"$(ext "s-$t.pem" extendedKeyUsage)"
	same "$t basicConstraints" "X509v3 Basic Constraints: critical CA:FALSE" \
		"$(ext "s-$t.pem" basicConstraints)"
	case $t in
	rsa-*) ku="Digital Signature, Key Encipherment" sig=sha256WithRSAEncryption ;;
	ec-p384) ku="Digital Signature" sig=ecdsa-with-SHA384 ;;
	*) ku="Digital Signature" sig=ecdsa-with-SHA256 ;;
	esac
	same "$t key usage" "X509v3 Key Usage: critical $ku" "$(ext "s-$t.pem" keyUsage)"
	same "$t signature algorithm" "$sig" \
		"$(openssl x509 -noout -text -in "s-$t.pem" | sed -n 's/^ *Signature Algorithm: //p' | sort -u)"
	# validity as asked: 90 days (and the minute before now that the start is set back)
	nb=$(date -d "$(openssl x509 -noout -startdate -in "s-$t.pem" | cut -d= -f2)" +%s)
	na=$(date -d "$(openssl x509 -noout -enddate -in "s-$t.pem" | cut -d= -f2)" +%s)
	same "$t validity" $((90 * 86400 + 60)) $((na - nb))
	openssl x509 -checkend $((89 * 86400)) -noout -in "s-$t.pem" >/dev/null && pass || fail "$t expires too soon"
	# the certificate's public key is keys/NAME's
	"$VAULTFS" key list v | grep -q "^s-$t	$t	" && pass || fail "$t: key s-$t not listed"
done

# --- 2. A vault CA and what it issues.
check "create a CA" "$VAULTFS" cert create v root --subject "/CN=Example Root CA/O=Example" --ca \
	--type ec-p384 --days 3650
get root cert.pem >root.pem
same "CA basicConstraints" "X509v3 Basic Constraints: critical CA:TRUE" "$(ext root.pem basicConstraints)"
same "CA key usage" "X509v3 Key Usage: critical Digital Signature, Certificate Sign, CRL Sign" \
	"$(ext root.pem keyUsage)"
for t in rsa-2048 ec-p256; do
	check "issue $t" "$VAULTFS" cert create v "i-$t" --subject "/CN=i-$t.example" \
		--san "DNS:i-$t.example" --issuer root --type "$t"
	get "i-$t" cert.pem >"i-$t.pem"
	out=$(openssl verify -CAfile root.pem "i-$t.pem" 2>&1) && pass || fail "verify issued $t: $out"
	same "issued $t chain.pem is the CA" "$(cat root.pem)" "$(get "i-$t" chain.pem)"
	same "issued $t fullchain.pem" "$(cat "i-$t.pem" root.pem)" "$(get "i-$t" fullchain.pem)"
	same "issued $t issuer" "issuer=CN = Example Root CA, O = Example" \
		"$(openssl x509 -noout -issuer -in "i-$t.pem")"
	same "issued $t authority key id is the CA's subject key id" \
		"$(ext root.pem subjectKeyIdentifier | sed 's/.*: //')" \
		"$(ext "i-$t.pem" authorityKeyIdentifier | sed 's/.*: //')"
	same "issued $t is signed with SHA-384 (the CA is P-384)" "ecdsa-with-SHA384" \
		"$(openssl x509 -noout -text -in "i-$t.pem" | sed -n 's/^ *Signature Algorithm: //p' | tail -1)"
done
check "an exportable one" "$VAULTFS" cert create v exp --subject /CN=exp.example --issuer root \
	--exportable --type rsa-2048
refuses "cert get key.pem" 'key.pem is served only by the mount' "$VAULTFS" cert get v exp key.pem

# --- 3. Serials: 20 octets, positive, all different.
serials=$(for f in s-*.pem root.pem i-*.pem; do openssl x509 -noout -serial -in "$f" | cut -d= -f2; done)
same "serials are unique" "$(echo "$serials" | wc -l)" "$(echo "$serials" | sort -u | wc -l)"
same "serials are 20 octets, top bit clear" "" "$(echo "$serials" | grep -vE '^[4-7][0-9A-F]{39}$')"

# --- 4. An outside CA: request, answer, merge.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout oca.key -out oca.pem \
	-subj /CN=Outside-CA -days 30 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
	-out other.pem -subj /CN=ext.example -days 30 2>/dev/null
check "create for an outside CA" "$VAULTFS" cert create v ext --subject /CN=ext.example \
	--san DNS:ext.example --issuer unknown
get ext csr.pem >ext.csr
out=$(openssl req -verify -noout -in ext.csr 2>&1) && pass || fail "req -verify: $out"
same "the request's names" "X509v3 Subject Alternative Name: DNS:ext.example" \
	"$(openssl req -noout -text -in ext.csr | grep -A1 'Subject Alternative Name' | tr -d '\n' | tr -s ' ' | sed 's/^ //')"
refuses "no cert.pem while pending" 'no such certificate, version or file' "$VAULTFS" cert get v ext cert.pem
"$VAULTFS" cert list v | grep -qP '^ext\t-\t-\t-\tunknown\tpending$' && pass || fail "pending in list: $("$VAULTFS" cert list v)"
openssl x509 -req -in ext.csr -CA oca.pem -CAkey oca.key -CAcreateserial -out ext.pem -days 20 \
	-copy_extensions copy 2>/dev/null
dump=$(db_dump v)
refuses "merge of a certificate for another key" 'is for another key than the request of version 1' \
	"$VAULTFS" cert merge v ext other.pem
refuses "merge of a request" 'CERTIFICATE REQUEST' "$VAULTFS" cert merge v ext ext.csr
head -c 300 /dev/urandom >garbage
refuses "merge of garbage" '"ext": ' "$VAULTFS" cert merge v ext garbage
same "failed merges changed nothing" "$dump" "$(db_dump v)"
cat ext.pem oca.pem >answer.pem
same "merge" "1" "$("$VAULTFS" cert merge v ext answer.pem 2>&1)"
get ext cert.pem >ext-leaf.pem
out=$(openssl verify -CAfile oca.pem ext-leaf.pem 2>&1) && pass || fail "verify merged: $out"
same "merged chain.pem is the outside CA" "$(openssl x509 -in oca.pem)" "$(get ext chain.pem)"
refuses "csr.pem is gone once merged" 'no such' "$VAULTFS" cert get v ext csr.pem --version 1
"$VAULTFS" cert list v | grep -qP '^ext\t/CN=ext.example\t\S+Z\t(19|20)\tunknown\texpiring$' && pass ||
	fail "ext expiring in list: $("$VAULTFS" cert list v)"

# --- 5. Renewals.
pub() { openssl x509 -noout -pubkey -in "$1" | sha256sum; }
same "renew" "2" "$("$VAULTFS" cert renew v i-ec-p256 2>&1)"
get i-ec-p256 cert.pem >r2.pem
[ "$(openssl x509 -noout -serial -in r2.pem)" != "$(openssl x509 -noout -serial -in i-ec-p256.pem)" ] &&
	pass || fail "renew kept the serial"
[ "$(pub r2.pem)" != "$(pub i-ec-p256.pem)" ] && pass || fail "renew kept the key"
same "renew keeps the subject and names" "$(openssl x509 -noout -subject -ext subjectAltName -in i-ec-p256.pem)" \
	"$(openssl x509 -noout -subject -ext subjectAltName -in r2.pem)"
out=$(openssl verify -CAfile root.pem r2.pem 2>&1) && pass || fail "verify renewed: $out"
same "version 1 stays" "$(cat i-ec-p256.pem)" "$(get i-ec-p256 cert.pem --version 1)"
same "renew --reuse-key" "3" "$("$VAULTFS" cert renew v i-ec-p256 --reuse-key 2>&1)"
same "--reuse-key keeps the key" "$(pub r2.pem)" "$(get i-ec-p256 cert.pem | openssl x509 -noout -pubkey | sha256sum)"
same "the key follows the certificate" "i-ec-p256 ec-p256 2" \
	"$("$VAULTFS" key list v | awk -F'\t' '$1 == "i-ec-p256" { print $1, $2, $4 }')"
same "renew for an outside CA is pending" "2 pending" "$("$VAULTFS" cert renew v ext 2>&1)"
get ext csr.pem >ext2.csr
out=$(openssl req -verify -noout -in ext2.csr 2>&1) && pass || fail "renewal request: $out"
[ "$(openssl req -noout -pubkey -in ext2.csr)" != "$(openssl req -noout -pubkey -in ext.csr)" ] && pass ||
	fail "the renewal's request has the old key"
same "the old version is served meanwhile" "$(cat ext-leaf.pem)" "$(get ext cert.pem)"

# --- 6. Refusals: one line, nothing changed in the vault or the token.
"$VAULTFS" cert create v pca --subject /CN=pca --ca --issuer unknown >/dev/null
before=$(objects)
dump=$(db_dump v)
refuses "a second renewal while one is pending" 'waits for its CA.s answer' "$VAULTFS" cert renew v ext
refuses "key rotate of a certificate's key" "is a certificate's" "$VAULTFS" key rotate v i-rsa-2048
refuses "key delete of a certificate's key" "is a certificate's" "$VAULTFS" key delete v i-rsa-2048
refuses "key create of a certificate's name" 'exists' "$VAULTFS" key create v root --type ec-p256
refuses "cert create over a certificate" 'a certificate of that name exists' \
	"$VAULTFS" cert create v root --subject /CN=x
refuses "an issuer that is no CA" '"s-ec-p256" is not a CA' \
	"$VAULTFS" cert create v n1 --subject /CN=n1 --issuer s-ec-p256
refuses "an issuer that is not there" 'no CA "nosuch"' "$VAULTFS" cert create v n2 --subject /CN=n2 --issuer nosuch
refuses "a pending issuer" 'CA "pca" is pending' "$VAULTFS" cert create v n3 --subject /CN=n3 --issuer pca
refuses "an outside-issued issuer" '"ext" is not a CA' "$VAULTFS" cert create v n3 --subject /CN=n3 --issuer ext
refuses "a bad subject" 'subject' "$VAULTFS" cert create v n4 --subject CN=n4
refuses "an unknown subject field" 'unknown subject field "XX"' "$VAULTFS" cert create v n5 --subject /XX=n5
refuses "a bad SAN kind" 'bad --san entry "foo:bar"' "$VAULTFS" cert create v n6 --subject /CN=n6 --san foo:bar
refuses "a bad IP" 'bad --san' "$VAULTFS" cert create v n7 --subject /CN=n7 --san IP:999.1.2.3 --type rsa-2048
refuses "an AES type" 'type' "$VAULTFS" cert create v n8 --subject /CN=n8 --type aes-256
refuses "merge with nothing pending" 'no request of "root" waits' "$VAULTFS" cert merge v root answer.pem
refuses "purge of a live one" 'live: delete it first' "$VAULTFS" cert purge v root
same "failures changed no token object" "$before" "$(objects)"
same "failures changed nothing in the vault" "$dump" "$(db_dump v)"
"$VAULTFS" key create v akey --type ec-p256
refuses "cert create over a key" 'a key of that name exists' "$VAULTFS" cert create v akey --subject /CN=a
"$VAULTFS" cert create v x --subject /CN=x --days 0 >/dev/null 2>&1; same "--days 0 is a usage error" 2 $?
"$VAULTFS" cert create v x --subject /CN=x --renew-at 100% >/dev/null 2>&1; same "--renew-at 100% is a usage error" 2 $?

# --- 7. Soft delete, recover, purge.
check "delete" "$VAULTFS" cert delete v s-rsa-2048
"$VAULTFS" cert list v | grep -q '^s-rsa-2048	' && fail "deleted one listed" || pass
refuses "a deleted one is not served" 'no such' "$VAULTFS" cert get v s-rsa-2048 cert.pem
refuses "renew of a deleted one" 'no such certificate' "$VAULTFS" cert renew v s-rsa-2048
same "the deleted certificate's key is deleted" "deleted" \
	"$("$VAULTFS" key list v | awk -F'\t' '$1 == "s-rsa-2048" { print $6 }')"
refuses "key recover of a certificate's key" "is a certificate's" "$VAULTFS" key recover v s-rsa-2048
refuses "key purge of a certificate's key" "is a certificate's" "$VAULTFS" key purge v s-rsa-2048
check "recover" "$VAULTFS" cert recover v s-rsa-2048
same "recovered with its files" "$(cat s-rsa-2048.pem)" "$(get s-rsa-2048 cert.pem)"
same "the recovered certificate's key is live" "valid" \
	"$("$VAULTFS" key list v | awk -F'\t' '$1 == "s-rsa-2048" { print $6 }')"
refuses "recover of a live one" 'exists' "$VAULTFS" cert recover v s-rsa-2048
"$VAULTFS" cert renew v s-rsa-2048 >/dev/null
objects | grep -q -- "-s-rsa-2048@" && pass || fail "no token objects before purge"
check "delete again" "$VAULTFS" cert delete v s-rsa-2048
objects | grep -q -- "-s-rsa-2048@2$" && pass || fail "delete destroyed token objects"
check "purge" "$VAULTFS" cert purge v s-rsa-2048
objects | grep -q -- "-s-rsa-2048@" && fail "token objects left after purge: $(objects)" || pass
refuses "purged for good" 'no such certificate' "$VAULTFS" cert recover v s-rsa-2048
check "the name is free again" "$VAULTFS" cert create v s-rsa-2048 --subject /CN=again --type rsa-2048

# --- 8. The audit trail has every operation, with its result.
"$VAULTFS" audit tail v -n 200 >trail
for rec in 'cert-create +certs/s-ec-p256@1 .*result=0' 'cert-create +certs/i-rsa-2048@1 .*result=0' \
	'cert-merge +certs/ext@1 .*result=0' 'cert-merge +certs/ext .*result=EKEYREJECTED' \
	'cert-renew +certs/i-ec-p256@2 .*result=0' 'cert-renew +certs/ext@2 .*result=0' \
	'cert-renew +certs/ext .*result=EBUSY' 'key-rotate +keys/i-rsa-2048 .*result=EPERM' \
	'cert-delete +certs/s-rsa-2048 .*result=0' 'cert-recover +certs/s-rsa-2048 .*result=0' \
	'cert-purge +certs/s-rsa-2048 .*result=0' 'cert-create +certs/n1 .*result=EPERM' \
	'cert-list +certs .*result=0' 'cert-get +certs/ext .*detail=csr.pem'; do
	grep -qE "$rec" trail && pass || fail "no record /$rec/"
done
out=$("$VAULTFS" audit verify v 2>&1) && pass || fail "audit verify: $out"

finish

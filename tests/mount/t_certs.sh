#!/usr/bin/env bash
# Certificates through the mount, checked with real openssl: a vault CA, a leaf it issues
# and a self-signed certificate verify with `openssl verify` against the files served;
# fullchain.pem is cert.pem then chain.pem; key.pem only for an exportable certificate and
# matching its certificate; csr.pem for --issuer unknown until the CA's answer is merged;
# NAME@N found by name and never listed, the pending version by its number; sizes exact;
# every file read-only. Policy: read serves the public files, export alone serves key.pem,
# a caller with read but not export gets EACCES at open and no byte, one without rights
# nothing; each open recorded. A non-exportable certificate's key signs through
# keys/NAME/sign. .deleted/keys and .deleted/certs: listed, mv back recovers, rmdir and
# rm -r purge, mv in soft-deletes, each needing its right and recorded.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "openssl missing: skipped"; exit 77; }
C=$M/certs
D=$M/.deleted
A=$V/audit.log
new_vault "$(cat <<'POLICY'
allow     *               **            uid=0
allow     list            certs         uid=1001
allow     read,list       certs/web     uid=1001
allow     read,export     certs/web     uid=1002
allow     export          certs/web     uid=1003
allow     list            certs         uid=1004
allow     list            keys          uid=1005
allow     list            certs         uid=1005
allow     recover         keys/old      uid=1005
allow     recover,purge   certs/gone    uid=1005
allow     delete          keys/old      uid=1005
POLICY
)"
cert() { "$VAULTFS" cert "$@"; }
check "a vault CA" cert create "$V" ca --subject "/CN=Example Vault CA/O=Example" --ca --days 3650
check "a leaf it issues, exportable" cert create "$V" web --subject /CN=web.example \
	--san DNS:web.example,DNS:www.web.example --issuer ca --exportable --days 30
check "a self-signed one" cert create "$V" self --subject /CN=self.example
check "one for an outside CA" cert create "$V" ext --subject /CN=ext.example --issuer unknown
check "one to delete" cert create "$V" gone --subject /CN=gone.example
check "a key to delete" "$VAULTFS" key create "$V" old --type ec-p256
start

# rec JQ_FILTER: the newest record the filter selects, through it, as raw text
rec() { jq -r "$1" "$A" | tail -n 1; }
lsw() { ls "$1" | tr '\n' ' ' | sed 's/ $//'; }
same "root" "certs keys secrets" "$(lsw "$M")"
same ".deleted" "certs keys secrets" "$(lsw "$D")"
same "certs/" "ca ext gone self web" "$(lsw "$C")"
same "an exportable certificate's files" "cert.pem chain.pem fullchain.pem key.pem" "$(lsw "$C/web")"
same "a non-exportable one has no key.pem" "cert.pem chain.pem fullchain.pem" "$(lsw "$C/ca")"
same "no key.pem to open either" "open:ENOENT" "$(sys_ read "$C/ca/key.pem")"
same "a pending certificate: csr.pem only" "csr.pem" "$(lsw "$C/ext")"

# What OpenSSL expects.
check "the issued leaf verifies against the vault CA" \
	openssl verify -CAfile "$C/ca/cert.pem" "$C/web/cert.pem"
check "with its chain as untrusted" \
	openssl verify -CAfile "$C/ca/cert.pem" -untrusted "$C/web/chain.pem" "$C/web/cert.pem"
check "the self-signed one verifies against itself" \
	openssl verify -CAfile "$C/self/cert.pem" "$C/self/cert.pem"
same "a self-signed chain is empty" 0 "$(stat -c %s "$C/self/chain.pem")"
cat "$C/web/cert.pem" "$C/web/chain.pem" >"$T/full"
check "fullchain.pem is cert.pem then chain.pem" cmp "$T/full" "$C/web/fullchain.pem"
same "the chain is the CA" "$(openssl x509 -in "$C/ca/cert.pem" -noout -fingerprint)" \
	"$(openssl x509 -in "$C/web/chain.pem" -noout -fingerprint)"
same "key.pem is the certificate's key" \
	"$(openssl x509 -in "$C/web/cert.pem" -noout -pubkey)" \
	"$(openssl pkey -in "$C/web/key.pem" -pubout)"
same "key.pem is PKCS#8" "-----BEGIN PRIVATE KEY-----" "$(head -n 1 "$C/web/key.pem")"
check "csr.pem is a signed request" openssl req -verify -noout -in "$C/ext/csr.pem"
for f in ca/cert.pem web/cert.pem web/chain.pem web/fullchain.pem web/key.pem ext/csr.pem; do
	same "st_size of $f is exact" "$(cat "$C/$f" | wc -c)" "$(stat -c %s "$C/$f")"
done
now=$(date +%s)
mt=$(stat -c %Y "$C/web/cert.pem")
[ "$mt" -le "$now" ] && [ "$mt" -gt $((now - 600)) ] && pass || fail "mtime of web/cert.pem: $mt, now $now"

# Read-only, whoever asks.
same "write cert.pem" "open:EACCES" "$(sys_ write "$C/web/cert.pem" x notrunc)"
same "truncate key.pem" "open:EACCES" "$(sys_ write "$C/web/key.pem" x)"
same "create in a certificate's folder" "open:EACCES" "$(sys_ write "$C/web/new.pem" x)"
same "unlink cert.pem" "EPERM" "$(sys_ unlink "$C/web/cert.pem")"
same "mkdir in certs/" "EPERM" "$(sys_ mkdir "$C/new")"
same "rmdir certs/web: not a delete" "EPERM" "$(sys_ rmdir "$C/web")"
same "rm -r certs/web deletes nothing" 1 "$(rm -rf "$C/web" 2>/dev/null; echo $?)"
same "certs/web still there" "cert.pem chain.pem fullchain.pem key.pem" "$(lsw "$C/web")"
same "the refusal recorded" 'certificate EACCES' \
	"$(rec 'select(.op=="open" and .path=="certs/web" and .decision=="deny") | "\(.rule) \(.result)"')"

# Policy: read for the public files, export alone for key.pem.
same "read only: cert.pem" "$(cat "$C/web/cert.pem")" "$(as_sys 1001 read "$C/web/cert.pem")"
same "read only: key.pem at open, no byte" "open:EACCES" "$(as_sys 1001 read "$C/web/key.pem")"
same "read only: cert.pem shown readable, the caller's" "400 1001 1001" \
	"$(as_sys 1001 stat "$C/web/cert.pem" | cut -d' ' -f1-3)"
same "read only: key.pem shown unreadable" "0" "$(as_sys 1001 stat "$C/web/key.pem" | cut -d' ' -f1)"
same "read and export: key.pem shown readable" "400" "$(as_sys 1002 stat "$C/web/key.pem" | cut -d' ' -f1)"
same "read only: access(R_OK) on key.pem" "EACCES" "$(as_sys 1001 access "$C/web/key.pem" r)"
same "the denial recorded as export" '1001 deny EACCES key.pem' \
	"$(rec 'select(.op=="export" and .uid==1001) | "\(.uid) \(.decision) \(.result) \(.detail)"')"
same "read and export: key.pem" "$(cat "$C/web/key.pem")" "$(as_sys 1002 read "$C/web/key.pem")"
same "the export recorded, with its version" '1002 certs/web allow 0 key.pem 1' \
	"$(rec 'select(.op=="export" and .uid==1002) | "\(.uid) \(.path) \(.decision) \(.result) \(.detail) \(.version)"')"
same "export alone: key.pem" "$(cat "$C/web/key.pem")" "$(as_sys 1003 read "$C/web/key.pem")"
same "export alone: not cert.pem" "open:EACCES" "$(as_sys 1003 read "$C/web/cert.pem")"
same "export alone: cannot list the folder" "EACCES" "$(as_sys 1003 list "$C/web")"
same "no right: certs/web is not there for one who may list certs/" "open:EACCES" \
	"$(as_sys 1004 read "$C/web/cert.pem")"
same "no right: nor its key" "open:EACCES" "$(as_sys 1004 read "$C/web/key.pem")"
same "no right at all: not there" "open:ENOENT" "$(as_sys 1006 read "$C/web/cert.pem")"
same "the public files' opens recorded" '1001 allow cert.pem' \
	"$(rec 'select(.op=="open" and .path=="certs/web" and .uid==1001) | "\(.uid) \(.decision) \(.detail)"')"
same "a rule on another certificate gives nothing here" "open:EACCES" \
	"$(as_sys 1001 read "$C/self/cert.pem")"

# A non-exportable certificate's key signs in the token as keys/NAME.
head -c 5000 /dev/urandom >"$T/msg"
( exec 3<>"$M/keys/self/sign"; cat "$T/msg" >&3; cat <&3 ) >"$T/sig"
openssl x509 -pubkey -noout -in "$C/self/cert.pem" >"$T/self.pub"
check "keys/self/sign verifies with the certificate's public key" \
	openssl dgst -sha256 -verify "$T/self.pub" -signature "$T/sig" "$T/msg"

# Versions: NAME@N by name, never listed; a renewal makes certs/NAME the new one.
serial() { openssl x509 -in "$1" -noout -serial; }
s1=$(serial "$C/web/cert.pem")
check "renew web" cert renew "$V" web
s2=$(serial "$C/web/cert.pem")
[ "$s1" != "$s2" ] && pass || fail "the renewal served the same serial $s1"
same "web@1 is the old one" "$s1" "$(serial "$C/web@1/cert.pem")"
same "web@2 is the current one" "$s2" "$(serial "$C/web@2/cert.pem")"
same "web@1 keeps its files" "cert.pem chain.pem fullchain.pem key.pem" "$(lsw "$C/web@1")"
same "versions are not listed" "ca ext gone self web" "$(lsw "$C")"
same "no such version" "open:ENOENT" "$(sys_ read "$C/web@9/cert.pem")"
check "the renewed leaf verifies" openssl verify -CAfile "$C/ca/cert.pem" "$C/web/cert.pem"
same "a rule on certs/web covers web@1" "$(cat "$C/web@1/cert.pem")" "$(as_sys 1001 read "$C/web@1/cert.pem")"
same "and keeps its key.pem from read" "open:EACCES" "$(as_sys 1001 read "$C/web@1/key.pem")"
same "the pending version by number" "csr.pem" "$(lsw "$C/ext@1")"
cmp -s "$C/ext/csr.pem" "$C/ext@1/csr.pem" && pass || fail "ext@1/csr.pem differs from ext/csr.pem"

# The outside CA answers; merged, the request is gone and the certificate is served.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/oca.key" \
	-out "$T/oca.pem" -subj "/CN=Outside CA" -days 30 2>/dev/null
openssl x509 -req -in "$C/ext/csr.pem" -CA "$T/oca.pem" -CAkey "$T/oca.key" \
	-CAcreateserial -out "$T/ext.pem" -days 30 2>/dev/null
check "merge the outside CA's answer" cert merge "$V" ext "$T/ext.pem"
same "merged: the certificate's files, no csr.pem" "cert.pem chain.pem fullchain.pem" "$(lsw "$C/ext")"
check "the merged leaf verifies against the outside CA" \
	openssl verify -CAfile "$T/oca.pem" "$C/ext/cert.pem"

# .deleted/certs: a soft-deleted certificate is an empty folder; mv back recovers.
fp=$(openssl x509 -in "$C/gone/cert.pem" -noout -fingerprint)
check "cert delete" cert delete "$V" gone
same "gone from certs/" "ca ext self web" "$(lsw "$C")"
same "in .deleted/certs/" "gone" "$(lsw "$D/certs")"
same "listing .deleted/certs is list on certs" "gone" "$(as_sys 1005 list "$D/certs")"
same "an empty folder" "" "$(lsw "$D/certs/gone")"
[ -d "$D/certs/gone" ] && pass || fail ".deleted/certs/gone is not a folder"
same "no files inside" "open:ENOENT" "$(sys_ read "$D/certs/gone/cert.pem")"
same "recover to another name" "EXDEV" "$(sys_ rename "$D/certs/gone" "$C/other")"
same "recover without the right" "EACCES" "$(as_sys 1004 rename "$D/certs/gone" "$C/gone")"
same "mv back recovers (uid with recover)" "ok" "$(as_sys 1005 rename "$D/certs/gone" "$C/gone")"
same "recovered, the same certificate" "$fp" "$(openssl x509 -in "$C/gone/cert.pem" -noout -fingerprint)"
same "the recovery recorded" '1005 certs/gone allow 0' \
	"$(rec 'select(.op=="recover" and .path=="certs/gone") | "\(.uid) \(.path) \(.decision) \(.result)"')"
same "mv into .deleted without delete" "EACCES" "$(as_sys 1005 rename "$C/gone" "$D/certs/gone")"
check "mv into .deleted soft-deletes" mv "$C/gone" "$D/certs/gone"
same "deleted again" "gone" "$(lsw "$D/certs")"
same "purge needs purge" "EACCES" "$(as_sys 1004 rmdir "$D/certs/gone")"
same "rmdir purges" "ok" "$(as_sys 1005 rmdir "$D/certs/gone")"
same "purged: nowhere" "" "$(lsw "$D/certs")"
same "the purge recorded" '1005 certs/gone allow 0' \
	"$(rec 'select(.op=="purge" and .path=="certs/gone") | "\(.uid) \(.path) \(.decision) \(.result)"')"
refuses "nothing left to recover" '.' cert recover "$V" gone

# .deleted/keys: the same for keys.
check "key delete" "$VAULTFS" key delete "$V" old
same "in .deleted/keys/" "old" "$(lsw "$D/keys")"
same "not in keys/" "open:ENOENT" "$(sys_ read "$M/keys/old/public.pem")"
same "mv back recovers" "ok" "$(as_sys 1005 rename "$D/keys/old" "$M/keys/old")"
check "the recovered key is served" openssl pkey -pubin -in "$M/keys/old/public.pem" -noout
same "mv into .deleted soft-deletes" "ok" "$(as_sys 1005 rename "$M/keys/old" "$D/keys/old")"
same "purge without purge" "EACCES" "$(as_sys 1005 rmdir "$D/keys/old")"
same "a denied purge recorded" '1005 keys/old deny EACCES' \
	"$(rec 'select(.op=="purge" and .path=="keys/old") | "\(.uid) \(.path) \(.decision) \(.result)"')"
check "rm -r purges" rm -r "$D/keys/old"
same "purged" "" "$(lsw "$D/keys")"
same "the key is gone for good" "" "$("$VAULTFS" key list "$V" | awk '$1 == "old"')"
same "rmdir keys/NAME is not a delete" "EPERM" "$(sys_ rmdir "$M/keys/self")"

stop
check "the trail verifies" "$VAULTFS" audit verify "$V"
finish

#!/usr/bin/env bash
# An operator's mistakes with cert create, each refused with one line, exit 1, and nothing
# changed (the vault's database and the token's objects as they were): a --renew-at of
# more days than the validity (or as many), which would make every new version due at
# once and have a mounted vault renew it at every lifetime check, for ever; a certificate
# naming itself, a secret or a plain key as its --issuer; cert merge on a certificate with
# no pending request; key policy on a deleted key. A mounted vault with interval 1 then
# shows that a certificate made with --renew-at just inside its validity is renewed once,
# not at every check.
. "$(dirname "$0")/lib.sh"
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool (opensc) missing: skipped"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 missing: skipped"; exit 77; }
V=$T/v
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
label=$(sed -n 's/^token = //p' "$V/vaultfs.conf")
nobjects() {
	(cd "$V" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
		--token-label "$label" --login --pin "$(cat pin)" --list-objects 2>/dev/null) |
		grep -c 'Object;'
}
cert() { "$VAULTFS" cert "$@"; }
check "a vault CA" cert create "$V" ca --subject /CN=ca --ca
check "a leaf" cert create "$V" leaf --subject /CN=leaf
check "a key" "$VAULTFS" key create "$V" k --type ec-p256
printf 'v' | "$VAULTFS" secret set "$V" sec || fail "secret set"
check "a key to delete" "$VAULTFS" key create "$V" dk --type ec-p256
check "delete it" "$VAULTFS" key delete "$V" dk
objects=$(nobjects)
dump=$(db_dump "$V")

refuses "--renew-at past the validity" '--renew-at 400d is not inside the validity of 365d' \
	cert create "$V" x --subject /CN=x --renew-at 400d
refuses "--renew-at as long as the validity" '--renew-at 10d is not inside the validity of 10d' \
	cert create "$V" x --subject /CN=x --days 10 --renew-at 10d
refuses "--renew-at past a vault CA's leaf validity" '--renew-at 31d is not inside' \
	cert create "$V" x --subject /CN=x --issuer ca --days 30 --renew-at 31d
refuses "--issuer itself" 'no CA "x"' cert create "$V" x --subject /CN=x --issuer x
refuses "--issuer a leaf" '"leaf" is not a CA' cert create "$V" x --subject /CN=x --issuer leaf
refuses "--issuer a secret" 'no CA "sec"' cert create "$V" x --subject /CN=x --issuer sec
refuses "--issuer a plain key" 'CA "k"' cert create "$V" x --subject /CN=x --issuer k
"$VAULTFS" cert get "$V" leaf cert.pem >"$T/leaf.pem"
refuses "merge on a certificate with nothing pending" 'no request of "leaf" waits' \
	cert merge "$V" leaf "$T/leaf.pem"
refuses "key policy on a deleted key" 'no such key' "$VAULTFS" key policy "$V" dk --expires 5
same "no token object made" "$objects" "$(nobjects)"
same "nothing changed in the vault" "$dump" "$(db_dump "$V")"

# Just inside the validity: due at once when made, renewed once by a mounted vault, and
# the new version is not due again.
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || { finish; exit; }
check "--renew-at 1d of 2 days" cert create "$V" short --subject /CN=short --days 2 --renew-at 1d
sed -i 's/^interval = .*/interval = 1/' "$V/vaultfs.conf"
mkdir "$T/m"
"$VAULTFS" mount "$V" "$T/m" -f 2>"$T/daemon.err" &
pid=$!
sleep 4
fusermount3 -u "$T/m" || fail "unmount"
wait "$pid"
same "no renewal of a certificate not yet due" 0 \
	"$(jq -c 'select(.op=="cert-renew" and .rule=="lifetime")' "$V/audit.log" | wc -l)"
finish

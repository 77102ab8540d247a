#!/usr/bin/env bash
# Key lifetimes and soft delete, and the lifetime engine, through the real mount and the
# real SoftHSM2 token: --rotate-every rotates on time (a new keys/NAME@2, recorded under
# the rule "lifetime"); --expires refuses sign, encrypt and wrap with EKEYEXPIRED while
# decrypt and unwrap of earlier output go on; key delete hides keys/NAME and keeps its
# token objects (pkcs11-tool lists them), key recover brings it back and it signs, key
# purge destroys them; expiry warnings of keys and secrets recorded once a day across many
# runs, listed by key list and secret list --expiring, counted in the metrics; bad input
# refused in one line with nothing changed.
. "$(dirname "$0")/lib.sh"
K=$M/keys
A=$V/audit.log
new_vault
key() { "$VAULTFS" key "$@"; }
grep -q '^\[lifetime\]' "$V/vaultfs.conf" && pass || fail "init wrote no [lifetime] section"
same "init spells the defaults out" "interval = 3600 warn_days = 30" \
	"$(sed -n '/^\[lifetime\]/,/^\[/p' "$V/vaultfs.conf" | grep -v '^#' | grep = | tr '\n' ' ' | sed 's/ $//')"
# a run every second, and metrics as often
sed -i '/^\[lifetime\]/,$ s/^interval = 3600$/interval = 1/; /^\[metrics\]/,/^\[/ s/^interval = .*/interval = 1/' "$V/vaultfs.conf"

# A vault from before lifetimes (schema 4, no [lifetime] section) opens, its key live and
# without a lifetime, and runs with the defaults.
U=$T/old
"$VAULTFS" init "$U" >/dev/null || fail "init of the old vault"
check "a key in the old vault" key create "$U" k --type ec-p256
sqlite3 "$U/vault.db" "ALTER TABLE hsm_keys DROP COLUMN deleted; ALTER TABLE hsm_keys DROP COLUMN rotate_every;
	ALTER TABLE hsm_keys DROP COLUMN expires; DROP TABLE lifetime_warned; DROP TABLE cert_versions;
	DROP TABLE certs; UPDATE schema_version SET version = 4"
sed -i '/^\[lifetime\]/,$d' "$U/vaultfs.conf"
same "old vault: key list" "k valid - -" "$(key list "$U" | awk -F'\t' '{ print $1, $6, $7, $8 }')"
same "old vault: migrated" 6 "$(sqlite3 "$U/vault.db" 'SELECT version FROM schema_version')"
check "old vault: key delete" key delete "$U" k
check "old vault: key recover" key recover "$U" k

# Bad input: one line, exit 1, nothing changed.
before=$(db_dump "$V")
refuses "--rotate-every 0" 'rotate-every takes DAYS' key create "$V" x --type ec-p256 --rotate-every 0
refuses "--rotate-every 1.5" 'rotate-every takes DAYS' key create "$V" x --type ec-p256 --rotate-every 1.5
refuses "--expires 3w" 'expires takes DAYS' key create "$V" x --type ec-p256 --expires 3w
refuses "--expires -1" 'expires takes DAYS' key create "$V" x --type ec-p256 --expires -1
refuses "--expires none at create" 'expires takes DAYS' key create "$V" x --type ec-p256 --expires none
refuses "--expires past 100 years" 'expires takes DAYS' key create "$V" x --type ec-p256 --expires 36501
refuses "policy of a missing key" 'no such key' key policy "$V" x --expires 5
refuses "recover a missing key" 'no deleted key' key recover "$V" x
refuses "purge a missing key" 'no such key' key purge "$V" x
same "nothing changed by the refusals" "$before" "$(db_dump "$V")"
same "policy without a setting is a usage error" 2 "$(key policy "$V" x 2>/dev/null; echo $?)"

# The keys and secrets the engine will look at.
check "create with --rotate-every" key create "$V" rot --type ec-p256 --rotate-every 3s
check "create with --expires" key create "$V" exp --type rsa-2048 --expires 9s
t_exp=$(date +%s)
check "create aes with --expires" key create "$V" aexp --type aes-256 --expires 9s
check "create expiring in 10 days" key create "$V" soon --type ec-p256 --expires 10
check "create expiring in 100 days" key create "$V" far --type ec-p256 --expires 100d
check "create without a lifetime" key create "$V" plain --type ec-p256
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/imp.pem" 2>/dev/null
check "import with a lifetime" key import "$V" imp "$T/imp.pem" --rotate-every 30 --expires 400
secret_set() { printf 'v' | "$VAULTFS" secret set "$V" "$1" && "$VAULTFS" secret attr "$V" "$1" expires "$2"; }
check "secret expiring in 5 days" secret_set s-soon "$(date -u -d '+5 days' +%FT%TZ)"
check "secret expiring in 60 days" secret_set s-later "$(date -u -d '+60 days' +%FT%TZ)"
check "secret expired" secret_set app/s-gone "$(date -u -d '-2 days' +%FT%TZ)"
same "key list: imp's lifetime" "imp valid" "$(key list "$V" | awk -F'\t' '$1 == "imp" { print $1, $6 }')"
same "key list: a key without a lifetime" "plain valid - -" \
	"$(key list "$V" | awk -F'\t' '$1 == "plain" { print $1, $6, $7, $8 }')"

start
label=$(sed -n 's/^token = //p' "$V/vaultfs.conf")
objects() { # the token's private and secret key objects of key $1, as pkcs11-tool lists them
	(cd "$V" && SOFTHSM2_CONF=softhsm2.conf pkcs11-tool --module "$SOFTHSM2_MODULE" \
		--token-label "$label" --login --pin "$(cat pin)" --list-objects) 2>/dev/null |
		grep -c -- "label: *vaultfs-[0-9a-f]*-$1@"
}
op() { $SYS_PY keyop "$K/$1/$2" "$3" "$4"; }

# Before the expiry, output that decrypt and unwrap must still open afterwards.
printf 'old data %s' "$RANDOM" >"$T/plain"
head -c 32 /dev/urandom >"$T/material"
same "encrypt before the expiry" ok "$(op exp encrypt "$T/plain" "$T/ct")"
same "wrap before the expiry" ok "$(op exp wrap "$T/material" "$T/wrapped")"
same "aes encrypt before the expiry" ok "$(op aexp encrypt "$T/plain" "$T/act")"
same "aes wrap before the expiry" ok "$(op aexp wrap "$T/material" "$T/awrapped")"
same "key list: exp expiring" "exp expiring" "$(key list "$V" | awk -F'\t' '$1 == "exp" { print $1, $6 }')"

# --rotate-every 3s: the mount rotates rot on time, and records it.
for _ in $(seq 1 100); do [ -d "$K/rot@2" ] && break; sleep 0.1; done
[ -d "$K/rot@2" ] && pass || fail "keys/rot@2 did not appear"
same "the rotation recorded under lifetime" '"key-rotate" "keys/rot" 2 "lifetime" 0' \
	"$(jq -r 'select(.op == "key-rotate" and .path == "keys/rot") | "\"\(.op)\" \"\(.path)\" \(.version) \"\(.rule)\" \(.result)"' "$A" | head -n 1)"
next=$(key list "$V" | awk -F'\t' '$1 == "rot" { print $8 }')
[ "$next" != "-" ] && pass || fail "key list shows no next rotation for rot"
# policy none stops it
check "policy --rotate-every none" key policy "$V" rot --rotate-every none
v_then=$(key list "$V" | awk -F'\t' '$1 == "rot" { print $4 }')
sleep 4
same "no rotation once cleared" "$v_then" "$(key list "$V" | awk -F'\t' '$1 == "rot" { print $4 }')"
same "key list: no next rotation" "-" "$(key list "$V" | awk -F'\t' '$1 == "rot" { print $8 }')"

# --expires: past it, sign, encrypt and wrap refuse with EKEYEXPIRED; decrypt and unwrap
# of what was made before still work.
while [ "$(date +%s)" -le $((t_exp + 10)) ]; do sleep 0.2; done
printf 'msg' >"$T/msg"
same "sign after the expiry" open:EKEYEXPIRED "$(op exp sign "$T/msg" "$T/sig")"
same "encrypt after the expiry" open:EKEYEXPIRED "$(op exp encrypt "$T/plain" "$T/x")"
same "wrap after the expiry" open:EKEYEXPIRED "$(op exp wrap "$T/material" "$T/x")"
same "aes encrypt after the expiry" open:EKEYEXPIRED "$(op aexp encrypt "$T/plain" "$T/x")"
same "aes wrap after the expiry" open:EKEYEXPIRED "$(op aexp wrap "$T/material" "$T/x")"
same "decrypt after the expiry" ok "$(op exp decrypt "$T/ct" "$T/out")"
cmp -s "$T/plain" "$T/out" && pass || fail "decrypt gave other bytes"
same "unwrap after the expiry" ok "$(op exp unwrap "$T/wrapped" "$T/out")"
cmp -s "$T/material" "$T/out" && pass || fail "unwrap gave other bytes"
same "aes decrypt after the expiry" ok "$(op aexp decrypt "$T/act" "$T/out")"
cmp -s "$T/plain" "$T/out" && pass || fail "aes decrypt gave other bytes"
same "aes unwrap after the expiry" ok "$(op aexp unwrap "$T/awrapped" "$T/out")"
cmp -s "$T/material" "$T/out" && pass || fail "aes unwrap gave other bytes"
same "the refusal recorded" EKEYEXPIRED \
	"$(jq -r 'select(.op == "open" and .path == "keys/exp" and .detail == "sign" and .result != 0) | .result' "$A" | head -n 1)"
same "key list: exp expired" "exp expired" "$(key list "$V" | awk -F'\t' '$1 == "exp" { print $1, $6 }')"
same "key list: soon expiring" "soon expiring" "$(key list "$V" | awk -F'\t' '$1 == "soon" { print $1, $6 }')"
same "key list: far valid" "far valid" "$(key list "$V" | awk -F'\t' '$1 == "far" { print $1, $6 }')"
# policy moves the expiry: the key signs again
check "policy --expires 1d" key policy "$V" exp --expires 1d
same "sign once the expiry moved" ok "$(op exp sign "$T/msg" "$T/sig")"

# Expiry warnings: many runs (one a second) in this day, each object warned once.
warned() { jq -r 'select(.op == "expiring" and .rule == "lifetime") | .path' "$A" | sort | uniq -c | awk '{ print $2 ":" $1 }' | tr '\n' ' ' | sed 's/ $//'; }
same "warned once each" "keys/aexp:1 keys/exp:1 keys/soon:1 secrets/app/s-gone:1 secrets/s-soon:1" "$(warned)"
same "the expired secret warned as expired" expired \
	"$(jq -r 'select(.op == "expiring" and .path == "secrets/app/s-gone") | .detail' "$A")"
same "secret list --expiring" "app/s-gone expired s-soon expiring" \
	"$("$VAULTFS" secret list "$V" --expiring | awk -F'\t' '{ print $1, $3 }' | tr '\n' ' ' | sed 's/ $//')"
same "secret list --expiring FOLDER" "app/s-gone" "$("$VAULTFS" secret list "$V" app --expiring | cut -f1)"
refuses_usage() { "$@" >/dev/null 2>&1; echo $?; }
same "--expiring with --deleted is a usage error" 2 "$(refuses_usage "$VAULTFS" secret list "$V" --expiring --deleted)"
sleep 2.5
same "still once each after more runs" "keys/aexp:1 keys/exp:1 keys/soon:1 secrets/app/s-gone:1 secrets/s-soon:1" "$(warned)"
for _ in $(seq 1 50); do
	grep -q '^vaultfs_expiry_warnings_total.* 5$' "$V/metrics.prom" 2>/dev/null && break
	sleep 0.1
done
same "metrics: warnings" "vaultfs_expiry_warnings_total 5" "$(grep '^vaultfs_expiry_warnings_total' "$V/metrics.prom" | sed 's/{[^}]*}//')"
rotations=$(jq -r 'select(.op == "key-rotate" and .rule == "lifetime")' "$A" | jq -s length)
same "metrics: rotations" "vaultfs_lifetime_rotations_total $rotations" \
	"$(grep '^vaultfs_lifetime_rotations_total' "$V/metrics.prom" | sed 's/{[^}]*}//')"

# Soft delete: keys/far leaves the mount, its token objects stay; recover brings it back
# and it signs; purge destroys the objects.
same "far's object in the token" 1 "$(objects far)"
check "delete" key delete "$V" far
for _ in $(seq 1 20); do [ -e "$K/far" ] || break; sleep 0.1; done
same "keys/far gone from the mount" ENOENT "$(sys_ stat "$K/far")"
same "and from the listing" "" "$(sys_ list "$K" | tr ' ' '\n' | grep -x far)"
same "its object kept in the token" 1 "$(objects far)"
same "key list marks it deleted" "far deleted" "$(key list "$V" | awk -F'\t' '$1 == "far" { print $1, $6 }')"
refuses "create over a deleted name" 'deleted until purged' key create "$V" far --type ec-p256
refuses "purge a live key" 'not deleted' key purge "$V" soon
refuses "recover a live key" 'live' key recover "$V" soon
refuses "delete a deleted key" 'no such key' key delete "$V" far
check "recover" key recover "$V" far
same "sign with the recovered key" ok "$(op far sign "$T/msg" "$T/sig")"
openssl dgst -sha256 -verify "$K/far/public.pem" -signature "$T/sig" "$T/msg" >/dev/null 2>&1 &&
	pass || fail "the recovered key's signature does not verify"
check "delete again" key delete "$V" far
check "purge" key purge "$V" far
same "purged: no object left in the token" 0 "$(objects far)"
same "purged: gone from key list" "" "$(key list "$V" | awk -F'\t' '$1 == "far"')"
same "recover after purge" 1 "$(key recover "$V" far 2>/dev/null; echo $?)"
same "lifecycle recorded" "key-delete key-recover key-delete key-purge" \
	"$(jq -r 'select(.path == "keys/far" and .result == 0 and (.op | test("^key-(delete|recover|purge)$"))) | .op' "$A" | head -n 4 | tr '\n' ' ' | sed 's/ $//')"
stop

# With the default interval (an hour), a run at mount rotates what is due at once, and the
# unmount wakes the sleeping engine at once.
sed -i '/^\[lifetime\]/,$ s/^interval = 1$/interval = 3600/' "$V/vaultfs.conf"
check "policy --rotate-every 1s" key policy "$V" soon --rotate-every 1s
sleep 1.1
start
for _ in $(seq 1 50); do [ -d "$K/soon@2" ] && break; sleep 0.1; done
[ -d "$K/soon@2" ] && pass || fail "no rotation at mount"
t0=$(date +%s%N)
stop
elapsed=$((($(date +%s%N) - t0) / 1000000))
[ "$elapsed" -lt 3000 ] && pass || fail "unmount took ${elapsed} ms with the engine asleep"
echo "unmount with the engine asleep: ${elapsed} ms"
out=$("$VAULTFS" audit verify "$V") && pass || fail "trail: $out"
finish

#!/usr/bin/env bash
# vaultfs secret: exact bytes in and out, versions, attributes, folders, soft delete with
# recover and purge, and no plaintext value in vault.db or its WAL.
. "$(dirname "$0")/lib.sh"

V=$T/vault
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
vs() { "$VAULTFS" secret "$@"; }

# Exact bytes: binary, NUL bytes, no trailing newline added or taken.
head -c 3000 /dev/urandom >"$T/bin"
printf 'line\n\0after-nul' >>"$T/bin"
check "set binary" vs set "$V" blob --file "$T/bin"
vs get "$V" blob >"$T/back"
cmp -s "$T/bin" "$T/back" && pass || fail "binary value changed on the way"
printf 'no-newline' | vs set "$V" db-conn
same "no newline added" "no-newlinex" "$(vs get "$V" db-conn; echo x)"
same "byte count" 10 "$(vs get "$V" db-conn | wc -c)"
printf '' | vs set "$V" empty && pass || fail "empty value"
same "empty value" 0 "$(vs get "$V" empty | wc -c)"

# Versions: from 1, identical bytes make none, older ones readable.
printf 'v2' | vs set "$V" db-conn
printf 'v2' | vs set "$V" db-conn
printf 'v3' | vs set "$V" db-conn
same "versions" "1 2 3" "$(vs versions "$V" db-conn | tr '\n' ' ' | sed 's/ $//')"
same "get --version" "v2" "$(vs get "$V" db-conn --version 2)"
same "get NAME@N" "no-newline" "$(vs get "$V" db-conn@1)"
refuses "missing version" 'no such secret or version' vs get "$V" db-conn@9
refuses "--create on existing" 'already exists' sh -c "printf x | '$VAULTFS' secret set '$V' db-conn --create"
printf 'made' | vs set "$V" fresh --create && pass || fail "--create on new"

# Folders are made as needed; list is recursive, by full path.
printf 'k' | vs set "$V" payments/stripe/api-key
printf 'k' | vs set "$V" payments/paypal
same "list folder" "payments/paypal payments/stripe/api-key" "$(vs list "$V" payments | tr '\n' ' ' | sed 's/ $//')"
same "list all" 6 "$(vs list "$V" | wc -l)"
refuses "list missing folder" 'no such folder' vs list "$V" nothere
refuses "secret under a secret" 'a folder in the path is a secret' sh -c "printf x | '$VAULTFS' secret set '$V' db-conn/x"
refuses "secret named like a folder" 'is a folder' sh -c "printf x | '$VAULTFS' secret set '$V' payments"

# Attributes.
vs attr "$V" db-conn >"$T/attrs"
grep -qx 'version=3' "$T/attrs" && pass || fail "attr version: $(cat "$T/attrs")"
grep -qx 'versions=1 2 3' "$T/attrs" && pass || fail "attr versions"
grep -qx 'enabled=1' "$T/attrs" && pass || fail "attr enabled"
grep -qE '^created=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "$T/attrs" && pass || fail "attr created"
check "set content_type" vs attr "$V" db-conn content_type text/plain
same "content_type" text/plain "$(vs attr "$V" db-conn content_type)"
check "set tag" vs attr "$V" db-conn tag.env production
same "tag" production "$(vs attr "$V" db-conn tag.env)"
check "remove tag" vs attr "$V" db-conn --remove tag.env
refuses "removed tag" 'attribute not set' vs attr "$V" db-conn tag.env
refuses "read-only attribute" 'read-only' vs attr "$V" db-conn version 9
refuses "unknown attribute" 'unknown attribute' vs attr "$V" db-conn colour blue
refuses "bad enabled" 'invalid' vs attr "$V" db-conn enabled maybe
for i in $(seq 1 15); do vs attr "$V" db-conn "tag.t$i" v || fail "tag $i"; done
refuses "sixteenth tag" 'at most 15 tags' vs attr "$V" db-conn tag.t16 v
check "disable" vs attr "$V" db-conn enabled 0
refuses "get disabled" 'disabled' vs get "$V" db-conn
check "enable" vs attr "$V" db-conn enabled 1
check "expire" vs attr "$V" db-conn expires 2001-01-01T00:00:00Z
refuses "get expired" 'not_before/expires' vs get "$V" db-conn
check "clear expiry" vs attr "$V" db-conn expires ''
check "not yet" vs attr "$V" db-conn not_before 2999-01-01T00:00:00Z
refuses "get before not_before" 'not_before/expires' vs get "$V" db-conn
check "clear not_before" vs attr "$V" db-conn --remove not_before
same "readable again" v3 "$(vs get "$V" db-conn)"

# Soft delete, recover with history, purge.
check "delete" vs delete "$V" db-conn
refuses "get deleted" 'no such secret' vs get "$V" db-conn
same "list --deleted" db-conn "$(vs list "$V" --deleted)"
same "deleted versions" 3 "$(vs versions "$V" db-conn --deleted | wc -l)"
check "recover" vs recover "$V" db-conn
same "recovered value" v3 "$(vs get "$V" db-conn)"
same "recovered history" "no-newline" "$(vs get "$V" db-conn@1)"
same "recovered attributes" text/plain "$(vs attr "$V" db-conn content_type)"
refuses "recover live" 'no such deleted secret' vs recover "$V" db-conn
refuses "purge live" 'no such deleted secret' vs purge "$V" db-conn
check "delete again" vs delete "$V" db-conn
check "purge" vs purge "$V" db-conn
same "purged" "" "$(vs list "$V" --deleted)"
printf 'new' | vs set "$V" db-conn && pass || fail "name free after purge"
same "history starts over" 1 "$(vs versions "$V" db-conn)"
# Setting a deleted secret brings it back with its history.
check "delete to revive" vs delete "$V" db-conn
printf 'revived' | vs set "$V" db-conn && pass || fail "set on a deleted name"
same "revived with history" "1 2" "$(vs versions "$V" db-conn | tr '\n' ' ' | sed 's/ $//')"
same "revived, not in .deleted" "" "$(vs list "$V" --deleted)"

# The size limit: exactly max is fine, one more is refused and the value stays.
head -c 25600 /dev/zero | tr '\0' 'a' >"$T/max"
check "max size" vs set "$V" big --file "$T/max"
head -c 25601 /dev/zero | tr '\0' 'b' >"$T/over"
refuses "over max" 'larger than max_secret_size \(25600 bytes\)' vs set "$V" big --file "$T/over"
cmp -s "$T/max" <(vs get "$V" big) && pass || fail "value changed by a refused set"
same "no version from a refused set" 1 "$(vs versions "$V" big)"
sed -i 's/^max_secret_size = .*/max_secret_size = 1048576/' "$V/vaultfs.conf"
check "raised limit" vs set "$V" big --file "$T/over"

# No plaintext value anywhere on disk, in vault.db or its WAL.
marker="MARKER-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s' "$marker" | vs set "$V" marked
for f in "$V"/vault.db*; do
	grep -qa "$marker" "$f" && fail "plaintext in $f" || pass
done
grep -qa "v3" "$V/audit.log" && fail "value in audit.log" || pass
same "marked readable" "$marker" "$(vs get "$V" marked)"

finish

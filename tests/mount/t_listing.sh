#!/usr/bin/env bash
# Listing is decided like every other operation: `list` on the folder's own path, deny
# winning, the same answer `vaultfs policy explain` gives, and a record naming the rule
# that decided. A right below a folder lets a caller enter it, never list it: not
# secrets/, keys/, .deleted/secrets/ or the root. Each attack runs as its own uid through
# the real mount; each decision is checked in the audit trail and against explain.
. "$(dirname "$0")/lib.sh"

A=$V/audit.log
new_vault "$(cat <<POLICY
allow     *          **                   uid=0
deny      *          secrets/root/**      *
allow     list,read  secrets/team-a/**    uid=1001
allow     list       secrets/**           uid=1002
allow     read       secrets/db-conn      uid=1003
deny      list       secrets/team-b       *
allow     list,read  secrets/**           uid=1004
allow     sign       keys/k1              uid=1005
allow     list       keys                 uid=1006
POLICY
)"
for s in db-conn team-a/x team-b/y team-b/z root/master; do
	printf 'value-of-%s' "$s" | "$VAULTFS" secret set "$V" "$s"
done
"$VAULTFS" secret delete "$V" team-b/y
"$VAULTFS" key create "$V" k1 --type ec-p256 >/dev/null || fail "key create"
start

last_seq() { tail -n 1 "$A" | jq -r .seq; }
mark=$(last_seq)
# rec UID OP PATH: "decision rule result" of the caller's last such record since mark.
rec() {
	jq -r --argjson m "$mark" --argjson u "$1" --arg op "$2" --arg p "$3" \
		'select(.seq > $m and .uid == $u and .op == $op and .path == $p) |
		"\(.decision) \(.rule) \(.result)"' "$A" | tail -n 1
}
# explain UID OP PATH: what `vaultfs policy explain` says.
explain() { "$VAULTFS" policy explain "$V" --uid "$1" "$2" "$3"; }

# 1001 may list and read below secrets/team-a: that folder lists, nothing on the way does.
same "1001 lists secrets/team-a" x "$(as_sys 1001 list "$S/team-a")"
same "1001 reads its secret" value-of-team-a/x "$(as 1001 cat "$S/team-a/x")"
same "1001 cannot list secrets/" EACCES "$(as_sys 1001 list "$S")"
same "1001 cannot list keys/" EACCES "$(as_sys 1001 list "$M/keys")"
same "1001 cannot list .deleted/secrets/" EACCES "$(as_sys 1001 list "$M/.deleted/secrets")"
same "1001 cannot list .deleted/" EACCES "$(as_sys 1001 list "$M/.deleted")"
same "1001 cannot list the root" EACCES "$(as_sys 1001 list "$M")"
same "ls fails too" "" "$(as 1001 ls "$S" 2>/dev/null)"
# Not listing secrets/, it is not told which other names are there.
same "1001: another secret is not there" ENOENT "$(as_sys 1001 stat "$S/db-conn")"
same "1001: nor is another folder" ENOENT "$(as_sys 1001 stat "$S/team-b")"
# Modes: r is list on the folder itself, x a way in.
same "1001's mode of secrets/ (enter only)" "100 1001 1001 0" "$(as_sys 1001 stat "$S")"
same "1001's mode of secrets/team-a" "500 1001 1001 0" "$(as_sys 1001 stat "$S/team-a")"
same "1001 may not read secrets/" EACCES "$(as_sys 1001 access "$S" r)"
same "1001 may enter secrets/" ok "$(as_sys 1001 access "$S" x)"
same "record: 1001's listing of secrets" "deny default-deny EACCES" "$(rec 1001 readdir secrets)"
same "record: 1001's listing of .deleted/secrets (list on secrets)" "deny default-deny EACCES" \
	"$(jq -r --argjson m "$mark" 'select(.seq > $m and .uid == 1001 and .op == "readdir"
	and .path == "secrets") | "\(.decision) \(.rule) \(.result)"' "$A" | sed -n 2p)"
same "record: 1001's listing of keys" "deny default-deny EACCES" "$(rec 1001 readdir keys)"
same "record: 1001's listing of team-a" "allow policy:3 0" "$(rec 1001 readdir secrets/team-a)"
same "explain agrees on secrets" "deny default-deny" "$(explain 1001 list secrets)"
same "explain agrees on .deleted/secrets" "deny default-deny" "$(explain 1001 list .deleted/secrets)"
same "explain agrees on team-a" "allow policy:3" "$(explain 1001 list secrets/team-a)"

# 1002 may list secrets/**, but the deny on secrets/root/** wins: not even its way in.
same "1002 lists secrets/" "db-conn root team-a team-b" "$(as_sys 1002 list "$S")"
same "1002 cannot list secrets/root" EACCES "$(as_sys 1002 list "$S/root")"
same "ls secrets/root fails" "" "$(as 1002 ls "$S/root" 2>/dev/null)"
same "1002 cannot reach root/master" EACCES "$(as_sys 1002 stat "$S/root/master")"
same "record: 1002's listing of secrets" "allow policy:4 0" "$(rec 1002 readdir secrets)"
same "record: 1002 refused secrets/root by the deny" "deny policy:2 EACCES" \
	"$(rec 1002 lookup secrets/root)"
same "explain agrees on secrets/root" "deny policy:2" "$(explain 1002 list secrets/root)"
# Nor root: the deny names everyone.
same "root cannot list secrets/root" EACCES "$(sys_ list "$S/root")"
same "record: root refused by the deny" "deny policy:2 EACCES" "$(rec 0 lookup secrets/root)"

# 1004 may list and read below secrets/, but not list secrets/team-b: the folder is entered
# (its names can be read) and never listed; the listing's record names the deny.
same "1004 cannot list secrets/team-b" EACCES "$(as_sys 1004 list "$S/team-b")"
same "1004 reads in it" value-of-team-b/z "$(as 1004 cat "$S/team-b/z")"
same "1004's mode of secrets/team-b" "100 1004 1004 0" "$(as_sys 1004 stat "$S/team-b")"
same "record: 1004's listing of team-b" "deny policy:6 EACCES" "$(rec 1004 readdir secrets/team-b)"
same "explain agrees on team-b" "deny policy:6" "$(explain 1004 list secrets/team-b)"
same "1004 lists the trash (list on secrets)" "team-b" "$(as_sys 1004 list "$M/.deleted/secrets")"
same "record: 1004's listing of the trash" "allow policy:7 0" "$(rec 1004 readdir secrets)"
same "1004 cannot list the trash's team-b (list on secrets/team-b)" EACCES \
	"$(as_sys 1004 list "$M/.deleted/secrets/team-b")"
same "record: 1004's listing of the trash's team-b" "deny policy:6 EACCES" \
	"$(rec 1004 readdir secrets/team-b)"

# 1003 reads one secret: reaches it, lists nothing.
same "1003 reads db-conn" value-of-db-conn "$(as 1003 cat "$S/db-conn")"
same "1003 cannot list secrets/" EACCES "$(as_sys 1003 list "$S")"

# keys/: a right on a key lets the caller reach its files; listing its folder is list on
# keys/NAME, listing keys/ is list on keys.
same "1005 stats k1's sign file" "600 1005 1005 0" "$(as_sys 1005 stat "$M/keys/k1/sign")"
same "1005 cannot list keys/k1" EACCES "$(as_sys 1005 list "$M/keys/k1")"
same "1005 cannot list keys/" EACCES "$(as_sys 1005 list "$M/keys")"
same "record: 1005's listing of keys/k1" "deny default-deny EACCES" "$(rec 1005 readdir keys/k1)"
same "1006 lists keys/" k1 "$(as_sys 1006 list "$M/keys")"
same "record: 1006's listing of keys" "allow policy:9 0" "$(rec 1006 readdir keys)"
same "1006 cannot list keys/k1" EACCES "$(as_sys 1006 list "$M/keys/k1")"

# No listing is recorded as allowed under a deny rule or default-deny.
same "no allow citing a deny" "" "$(jq -r --argjson m "$mark" 'select(.seq > $m and
	.op == "readdir" and .decision == "allow" and (.rule == "default-deny" or
	.rule == "policy:2" or .rule == "policy:6")) | .seq' "$A")"
check "audit verify" "$VAULTFS" audit verify "$V"

stop
finish

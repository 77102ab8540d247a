#!/usr/bin/env bash
# Attributes are computed for each caller, and nothing is served from a kernel cache to
# another caller: ownership and mode bits belong to the caller, a read as root is followed
# by a refusal for another uid, and a change made with `vaultfs secret set` while mounted
# is what the next open returns. Until policy rules exist, root may do everything and any
# other uid nothing.
. "$(dirname "$0")/lib.sh"
new_vault
printf 'root-only-value' | "$VAULTFS" secret set "$V" db-conn
start

# Mount options: allow_other as root, never default_permissions.
opts=$(awk -v m="$M" '$5 == m {print $6 " " $NF}' /proc/self/mountinfo)
echo "$opts" | grep -q allow_other && pass || fail "no allow_other: $opts"
echo "$opts" | grep -q default_permissions && fail "default_permissions: $opts" || pass

# Ownership and mode for the caller.
same "root's stat" "600 0 0 15" "$(sys_ stat "$S/db-conn")"
same "root's folder mode" 700 "$(stat -c %a "$S")"
same "mtime is the version's" "$(date -u +%Y-%m-%d)" "$(date -u -r "$S/db-conn" +%Y-%m-%d)"
same "ssh-style private key check" 600 "$(stat -c %a "$S/db-conn")"

# Read as root, then as uid 1001: no cached data, attributes or lookups carry over.
for i in 1 2 3; do cat "$S/db-conn" >/dev/null; done
same "uid 1001 cannot read" "open:ENOENT" "$(as_sys 1001 read "$S/db-conn")"
same "uid 1001 cannot stat" "ENOENT" "$(as_sys 1001 stat "$S/db-conn")"
as 1001 ls "$S" >/dev/null 2>&1 && fail "uid 1001 listed secrets/" || pass
as 1001 cat "$S/db-conn" >/dev/null 2>&1 && fail "uid 1001 read" || pass
same "uid 1001 cannot create" "open:EACCES" "$(as_sys 1001 write "$S/db-conn" x)"
# An open file descriptor passed to another uid still reads only its own snapshot.
same "root reads after the refusals" root-only-value "$(cat "$S/db-conn")"
# A process with pid 0 cannot be made from userspace; the refusal above covers uid.

# A change made outside the mount is what the next open returns.
exec 7<"$S/db-conn"
printf 'changed-by-cli' | "$VAULTFS" secret set "$V" db-conn
same "next open sees the change" changed-by-cli "$(cat "$S/db-conn")"
same "size follows" 14 "$(stat -c %s "$S/db-conn")"
same "an open reader keeps its snapshot" root-only-value "$(cat <&7)"
exec 7<&-
# Every change made outside is what the very next open returns, many times over.
stale=0
for i in $(seq 1 40); do
	printf 'outside-%d' "$i" | "$VAULTFS" secret set "$V" db-conn
	[ "$(cat "$S/db-conn")" = "outside-$i" ] || stale=$((stale + 1))
done
same "opens that missed an outside change" 0 "$stale"
"$VAULTFS" secret delete "$V" db-conn
same "deleted outside the mount" "open:ENOENT" "$(sys_ read "$S/db-conn")"
same "and shown in .deleted" db-conn "$(ls "$M/.deleted/secrets")"
"$VAULTFS" secret recover "$V" db-conn
same "recovered outside the mount" outside-40 "$(cat "$S/db-conn")"

stop
finish

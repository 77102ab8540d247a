#!/usr/bin/env bash
# The policy decides every operation for the live caller: uids, supplementary groups, a
# process in its own cgroup, a container stand-in (own mount namespace and cgroup, reading
# through a bind mount of a vault folder), list semantics and per-caller modes, deny over
# allow, no implicit rights for root, and reloads on change within a second.
. "$(dirname "$0")/lib.sh"
CG_ROOT=/sys/fs/cgroup/unified
[ -d /sys/fs/cgroup/unified ] || CG_ROOT=/sys/fs/cgroup
CG=vaultfs-test-$$
cleanup_cg() { rmdir "$CG_ROOT/$CG" "$CG_ROOT/$CG-ctr" 2>/dev/null; }
at_exit cleanup_cg

new_vault "$(cat <<POLICY
# effect  operations   path                     who
allow     read         secrets/db-conn          uid=1001
allow     read,list    secrets/team/**          group=root
allow     read,list    secrets/team/**          gid=2000
allow     read         secrets/payments/api-key uid=1003
allow     list         secrets                  uid=1004
allow     read,write   secrets/shared/**        uid=1005
deny      *            secrets/shared/locked    uid=1005
allow     read,list    secrets/cg/**            cgroup=/$CG*
allow     *            **                       uid=0
POLICY
)"
for s in db-conn team/x payments/api-key shared/open shared/locked cg/x other; do
	printf 'value-of-%s' "$s" | "$VAULTFS" secret set "$V" "$s"
done
start

# uid 1001: exactly its one secret, read-only, owned by itself in stat.
same "1001 reads its secret" value-of-db-conn "$(as 1001 cat "$S/db-conn")"
same "1001's stat" "400 1001 1001 16" "$(as_sys 1001 stat "$S/db-conn")"
same "1001 cannot write it" "open:EACCES" "$(as_sys 1001 write "$S/db-conn" x notrunc)"
same "1001 does not see another secret" "open:ENOENT" "$(as_sys 1001 read "$S/other")"
as 1001 ls "$S" >/dev/null 2>&1 && fail "1001 listed secrets/ without list" || pass
same "root sees 1001's change of nothing" value-of-db-conn "$(cat "$S/db-conn")"

# Supplementary groups: gid 2000 as a supplementary group of uid 1002.
same "group member reads" value-of-team/x "$(setpriv --reuid 1002 --regid 1002 --groups 2000 cat "$S/team/x")"
same "group member lists" x "$(setpriv --reuid 1002 --regid 1002 --groups 2000 ls "$S/team")"
same "folder mode for a reader" 500 "$(setpriv --reuid 1002 --regid 1002 --groups 2000 stat -c %a "$S/team")"
same "non-member" "open:ENOENT" "$(as_sys 1002 read "$S/team/x")"

# A secret deep in a folder the caller may not list: the way to it is visible.
same "1003 reads payments/api-key" value-of-payments/api-key "$(as 1003 cat "$S/payments/api-key")"
same "1003 cannot list payments" "" "$(as 1003 ls "$S/payments" 2>/dev/null)"

# list on the folder: all names shown; a name without a right is EACCES, not ENOENT.
same "1004 lists secrets" "cg db-conn other payments shared team" "$(as 1004 ls "$S" | tr '\n' ' ' | sed 's/ $//')"
same "1004 may list, not read" "open:EACCES" "$(as_sys 1004 read "$S/db-conn")"

# Deny wins over allow.
same "1005 writes shared/open" ok "$(as_sys 1005 write "$S/shared/open" new)"
same "1005 cannot read shared/locked" "open:ENOENT" "$(as_sys 1005 read "$S/shared/locked")"
same "1005 cannot write shared/locked" "open:EACCES" "$(as_sys 1005 write "$S/shared/locked" new notrunc)"
same "locked untouched" value-of-shared/locked "$(cat "$S/shared/locked")"

# cgroup v2: the same uid is allowed inside its own cgroup and denied outside it.
mkdir "$CG_ROOT/$CG" "$CG_ROOT/$CG-ctr"
same "1006 outside the cgroup" "open:ENOENT" "$(as_sys 1006 read "$S/cg/x")"
same "1006 inside the cgroup" value-of-cg/x "$(sh -c "echo \$\$ >$CG_ROOT/$CG/cgroup.procs && exec setpriv --reuid 1006 --regid 1006 --clear-groups cat $S/cg/x")"

# What a lookup saw is never what an open decides on: a process moved out of the cgroup
# between the two is refused, though its lookup a moment before was allowed.
mkdir -p "$T/mv" && chmod 777 "$T/mv"
sh -c "echo \$\$ >$CG_ROOT/$CG/cgroup.procs && exec setpriv --reuid 1006 --regid 1006 --clear-groups $SYS_PY stat_wait_read $S/cg/x $T/mv/go" >"$T/mv/out" &
mover=$!
for _ in $(seq 1 100); do [ -e "$T/mv/go.ready" ] && break; sleep 0.05; done
echo "$mover" >"$CG_ROOT/cgroup.procs"
touch "$T/mv/go"
wait "$mover"
same "moved out between lookup and open: refused" "open:EACCES" "$(cat "$T/mv/out")"

# A container stand-in: own mount namespace and cgroup, the vault folder bind-mounted in.
mkdir -p "$T/ctr"
ctr() {
	unshare -m --propagation private sh -c "
		echo \$\$ >$CG_ROOT/$CG-ctr/cgroup.procs &&
		mount --bind '$1' '$T/ctr' &&
		exec setpriv --reuid 1007 --regid 1007 --clear-groups cat '$T/ctr/$2'" 2>/dev/null
}
same "container reads through its bind mount" value-of-cg/x "$(ctr "$S/cg" x)"
same "container denied what its rule does not cover" "" "$(ctr "$S" db-conn)"
mountpoint -q "$T/ctr" && fail "the container's bind mount leaked out" || pass

# Root has no implicit rights: a policy without a root rule shuts root out too.
cp "$V/policy" "$T/policy.good"
printf 'allow read secrets/db-conn uid=1001\n' >"$V/policy"
ok=0
for _ in $(seq 1 10); do
	[ "$(sys_ read "$S/other")" = "open:ENOENT" ] && { ok=1; break; }
	sleep 0.1
done
same "edited in place: in force within a second, root shut out" 1 "$ok"
same "1001 still reads" value-of-db-conn "$(as 1001 cat "$S/db-conn")"

# Replaced by rename, as editors and config managers do.
cp "$T/policy.good" "$V/policy.new" && mv "$V/policy.new" "$V/policy"
ok=0
for _ in $(seq 1 10); do
	[ "$(sys_ read "$S/other")" = "value-of-other" ] && { ok=1; break; }
	sleep 0.1
done
same "renamed over: in force within a second" 1 "$ok"

# Deleted, then made again.
rm "$V/policy"
sleep 0.3
same "a deleted file leaves the last good policy" value-of-other "$(cat "$S/other")"
printf 'allow read secrets/other uid=0\n' >"$V/policy"
ok=0
for _ in $(seq 1 10); do
	[ "$(sys_ read "$S/db-conn")" = "open:ENOENT" ] && { ok=1; break; }
	sleep 0.1
done
same "made again: in force within a second" 1 "$ok"
same "and what it allows works" value-of-other "$(cat "$S/other")"

# A file with an error is refused whole; the last good policy stays; the error is logged.
ERR_EXPECTED=1
printf 'allow * ** uid=0\nallow read secrets/x uid=1001 colour=blue\n' >"$V/policy"
sleep 0.5
same "a bad file changes nothing" "open:ENOENT" "$(sys_ read "$S/db-conn")"
grep -q 'policy:2: unknown condition "colour"' "$T/daemon.err" && pass || fail "no error logged: $(cat "$T/daemon.err")"
cp "$T/policy.good" "$V/policy"
sleep 0.5
same "a good file again" value-of-db-conn "$(cat "$S/db-conn")"

stop
finish

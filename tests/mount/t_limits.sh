#!/usr/bin/env bash
# Conditions that cannot be checked fail closed, as an attacker would probe them: a uid
# that nests its own delegated cgroup deeper than the glob engine matches, or runs a program
# from a folder that deep, is still caught by a deny on its cgroup or executable, and gets
# nothing from an allow that needs them. And '*' in exe=/cgroup= covers a name that starts
# with a dot, so a hidden program is no way round a deny.
. "$(dirname "$0")/lib.sh"
CG_ROOT=/sys/fs/cgroup/unified
[ -d /sys/fs/cgroup/unified ] || CG_ROOT=/sys/fs/cgroup
CG=vaultfs-test-$$
DEPTH=70 # past the 64 segments the glob engine splits a path into
cleanup_cg() {
	[ -d "$CG_ROOT/$CG" ] && find "$CG_ROOT/$CG" -depth -type d -exec rmdir {} + 2>/dev/null
}
at_exit cleanup_cg

# eacces DESCRIPTION OUTPUT: a cat's output that says its open was refused with EACCES.
eacces() { case $2 in *": $S/"*": Permission denied") pass ;; *) fail "$1: \"$2\"" ;; esac; }
deep() { local p=$1; for _ in $(seq 1 "$DEPTH"); do p=$p/$2; done; echo "$p"; }

new_vault "$(cat <<POLICY
allow read secrets/**   uid=1001
deny  read secrets/x    exe=$T/deep/**
deny  read secrets/x    cgroup=/$CG/**
allow read secrets/y    uid=1002 exe=$T/deep/**
allow read secrets/z    uid=1002 cgroup=/$CG/**
deny  read secrets/dot  exe=$T/tools/*
allow read secrets/dot2 uid=1002 exe=$T/tools/*
allow list secrets      uid=1001
allow list secrets      uid=1002
allow *    **           uid=0
POLICY
)"
for s in x y z w dot dot2; do printf 'value-of-%s' "$s" | "$VAULTFS" secret set "$V" "$s"; done
start

# Both uids may list secrets/, so a name they may not read is EACCES, not ENOENT.
# A program in a folder deeper than the glob engine's limit: the exe= deny still holds.
mkdir -p "$(deep "$T/deep" d)" "$T/tools"
cp /bin/cat "$T/deep/cat"
DEEP_CAT=$(deep "$T/deep" d)/cat
cp /bin/cat "$DEEP_CAT"
cp /bin/cat "$T/tools/visible"
cp /bin/cat "$T/tools/.hidden"
chmod -R a+rX "$T/deep" "$T/tools"
same "1001 with /bin/cat reads x" value-of-x "$(as 1001 cat "$S/x")"
as 1001 "$T/deep/cat" "$S/x" >/dev/null 2>&1 && fail "the deny on exe= missed a shallow program" || pass
eacces "a program $DEPTH folders deep is denied x" "$(as 1001 "$DEEP_CAT" "$S/x" 2>&1)"
same "and still reads what no deny covers" value-of-w "$(as 1001 "$DEEP_CAT" "$S/w" 2>&1)"
same "an allow on exe= holds for a shallow program" value-of-y "$(as 1002 "$T/deep/cat" "$S/y" 2>&1)"
as 1002 "$DEEP_CAT" "$S/y" >/dev/null 2>&1 && fail "an allow on exe= held for a path it cannot match" || pass
rec=$(grep '"path":"secrets/x"' "$V/audit.log" | grep -F "\"exe\":\"$DEEP_CAT\"" | tail -n 1)
same "the record names the deny" "deny policy:2 EACCES" "$(jq -r '"\(.decision) \(.rule) \(.result)"' <<<"$rec")"

# A cgroup subtree delegated to uid 1001, which nests it past the limit itself.
mkdir "$CG_ROOT/$CG"
chown 1001:1001 "$CG_ROOT/$CG" "$CG_ROOT/$CG/cgroup.procs" "$CG_ROOT/$CG/cgroup.threads" \
	"$CG_ROOT/$CG/cgroup.subtree_control"
in_cg() { # in_cg UID CGROUP-UNDER-$CG COMMAND...: joins $CG as root, then the rest as UID
	local uid=$1 sub=$2; shift 2
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG_ROOT/$CG" \
		setpriv --reuid "$uid" --regid "$uid" --clear-groups -- \
		sh -c 'mkdir -p "$1" && echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh \
		"$CG_ROOT/$CG/$sub" "$@"
}
DEEP_CG=$(deep "" c)
DEEP_CG=${DEEP_CG#/}
same "1001 nests its own cgroup $DEPTH deep" "/$CG/$DEEP_CG" \
	"$(in_cg 1001 "$DEEP_CG" sh -c 'sed -n "s/^0:://p" /proc/$$/cgroup')"
eacces "the deny on cgroup= holds one level down" "$(in_cg 1001 a cat "$S/x" 2>&1)"
eacces "and $DEPTH levels down" "$(in_cg 1001 "$DEEP_CG" cat "$S/x" 2>&1)"
same "the deep cgroup still reads what no deny covers" value-of-w "$(in_cg 1001 "$DEEP_CG" cat "$S/w" 2>&1)"
rec=$(grep '"path":"secrets/x"' "$V/audit.log" | grep -F "\"cgroup\":\"/$CG/$DEEP_CG\"" | tail -n 1)
same "the record names the deny" "deny policy:3 EACCES" "$(jq -r '"\(.decision) \(.rule) \(.result)"' <<<"$rec")"
chown -R 1002:1002 "$CG_ROOT/$CG"
same "an allow on cgroup= holds one level down" value-of-z "$(in_cg 1002 b cat "$S/z" 2>&1)"
in_cg 1002 "$DEEP_CG" cat "$S/z" >/dev/null 2>&1 && fail "an allow on cgroup= held for a cgroup it cannot match" || pass

# '*' covers a leading dot in exe=: a hidden program is denied as a visible one is, and
# an allow on the folder's programs covers it too.
as 1001 "$T/tools/visible" "$S/dot" >/dev/null 2>&1 && fail "deny on $T/tools/* missed a program" || pass
eacces "deny on $T/tools/* covers .hidden" "$(as 1001 "$T/tools/.hidden" "$S/dot" 2>&1)"
same "allow on $T/tools/* covers .hidden" value-of-dot2 "$(as 1002 "$T/tools/.hidden" "$S/dot2" 2>&1)"
same "and a visible one" value-of-dot2 "$(as 1002 "$T/tools/visible" "$S/dot2" 2>&1)"

stop
finish

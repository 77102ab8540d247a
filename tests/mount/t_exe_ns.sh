#!/usr/bin/env bash
# exe= cannot be faked with a private mount namespace: a uid that bind-mounts its own
# program over /usr/bin/head where only it can see the mount (a user namespace of its own,
# or root's private mount namespace) is not /usr/bin/head to the daemon, which matches the
# file's device and inode as it sees that path. An allow on exe= fails for it, a deny on
# exe= holds for it, and the trail says the path was not verified. The real program, run
# normally or from a namespace that shares the host's /usr, still passes.
. "$(dirname "$0")/lib.sh"
TOOL=/usr/bin/head
[ -x "$TOOL" ] || { echo "$TOOL missing: skipped"; exit 77; }
MARK=" (unverified: not the file at this path)"

new_vault "$(cat <<POLICY
allow read secrets/tool   uid=1001 exe=$TOOL
allow read secrets/open   uid=1001
deny  read secrets/open   exe=$TOOL
allow list secrets        uid=1001
allow *    **             uid=0
POLICY
)"
for s in tool open; do printf 'value-of-%s\n' "$s" | "$VAULTFS" secret set "$V" "$s"; done
start

# The attacker's program: any code that reads a file (here a copy of cat).
cp /bin/cat "$T/evil" && chmod 755 "$T/evil"
touch "$T/elsewhere" && chmod 644 "$T/elsewhere"
# eacces DESCRIPTION OUTPUT: the output of a program whose open was refused with EACCES.
eacces() { case $2 in *"$S/"*": Permission denied") pass ;; *) fail "$1: \"$2\"" ;; esac; }
# last_exe PATH: the exe of the last record on PATH.
last_exe() { grep -F "\"path\":\"$1\"" "$V/audit.log" | tail -n 1 | jq -r .exe; }
# as_userns COMMAND: run as uid 1001 inside its own user and mount namespace.
as_userns() { as 1001 unshare -Urm sh -c "$1" 2>&1; }
# as_rootns COMMAND: root's private mount namespace, the command then run as uid 1001.
as_rootns() { unshare -m --propagation private sh -c "$1" 2>&1; }

# The real program, run normally: allowed, and recorded as itself.
same "the real $TOOL reads" value-of-tool "$(as 1001 "$TOOL" "$S/tool")"
same "its record's exe" "$TOOL" "$(last_exe secrets/tool)"
same "in a namespace that shares /usr, the real $TOOL reads" value-of-tool \
	"$(as_userns "mount --bind $T/evil $T/elsewhere && exec $TOOL $S/tool")"
same "another program is refused" "" "$(as 1001 cat "$S/tool" 2>/dev/null)"

# uid 1001's own user namespace: its program bind-mounted over $TOOL.
out=$(as_userns "mount --bind $T/evil $TOOL && exec $TOOL $S/tool")
eacces "a bind mount over $TOOL in 1001's user namespace" "$out"
same "the record says the path is not the file" "$TOOL$MARK" "$(last_exe secrets/tool)"
same "the record is a deny" "deny default-deny EACCES" \
	"$(grep -F '"path":"secrets/tool"' "$V/audit.log" | tail -n 1 | jq -r '"\(.decision) \(.rule) \(.result)"')"

# root's private mount namespace, the program then run as uid 1001.
out=$(as_rootns "mount --bind $T/evil $TOOL && exec setpriv --reuid 1001 --regid 1001 --clear-groups $TOOL $S/tool")
eacces "a bind mount over $TOOL in root's private namespace" "$out"
same "the record says so" "$TOOL$MARK" "$(last_exe secrets/tool)"
mountpoint -q "$TOOL" && fail "the bind mount leaked out" || pass

# A deny on exe=: the faked $TOOL is denied, and so is the real $TOOL shown at another
# path (which the daemon cannot verify either), while other programs read.
same "cat reads what the deny does not cover" value-of-open "$(as 1001 cat "$S/open")"
eacces "the real $TOOL is denied" "$(as 1001 "$TOOL" "$S/open" 2>&1)"
eacces "the faked $TOOL is denied" "$(as_userns "mount --bind $T/evil $TOOL && exec $TOOL $S/open")"
eacces "the real $TOOL bind-mounted elsewhere is denied" \
	"$(as_userns "mount --bind $TOOL $T/elsewhere && exec $T/elsewhere $S/open")"
same "the record says so" "$T/elsewhere$MARK" "$(last_exe secrets/open)"

stop
finish

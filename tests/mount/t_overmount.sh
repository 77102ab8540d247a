#!/usr/bin/env bash
# Nobody mounts another filesystem over the vault (SPEC). On a stock system — /dev/fuse
# 0666, fusermount3 set-user-ID, built here in a private mount namespace — a caller with
# write on a folder or a file is shown as its owner and could mount its own FUSE
# filesystem there, hiding the vault's values from everyone else and root. uid 1001
# tries over its folder and its file with a real FUSE filesystem (floorfs, through
# libfuse and fusermount3) and is refused; what root mounts over a folder, a file, the
# mount's root, stacked, and a FUSE filesystem that never answers, are each detached at
# once. Root and uid 1002 read the vault's real values throughout, the trail records each
# attempt, the vault goes on working, and it unmounts cleanly.
[ -n "${VAULTFS_NS:-}" ] || VAULTFS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
FLOORFS=${FLOORFS:-$(dirname "$VAULTFS")/tests/floorfs}
SILENT="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/fuse_silent.py"
[ -x "$FLOORFS" ] || { echo "floorfs missing: $FLOORFS"; exit 1; }
stock_fuse
new_vault "allow * ** uid=0
allow * secrets/mallory uid=1001
allow * secrets/mallory/** uid=1001
allow list,read secrets/** uid=1002"
printf 'real' | "$VAULTFS" secret set "$V" mallory/x
start

# over_vault: the mounts over the vault, one "mountpoint type" a line.
over_vault() {
	awk -v m="$M" '{ for (i = 7; $i != "-"; i++); t = $(i + 1) }
		index($5, m "/") == 1 || ($5 == m && t != "fuse.vaultfs") { print $5, t }' /proc/self/mountinfo
}
# everyone_sees WHEN: root and uid 1002 read the vault's value, uid 1001 too.
everyone_sees() {
	same "$1: root reads the vault's value" real "$(cat "$S/mallory/x" 2>&1)"
	same "$1: uid 1002 reads it" real "$(as 1002 cat "$S/mallory/x" 2>&1)"
	same "$1: uid 1001 reads it" real "$(as 1001 cat "$S/mallory/x" 2>&1)"
	same "$1: uid 1002 lists the folder" x "$(as 1002 ls "$S/mallory" 2>&1)"
}
# records OP RULE: "decision path result" of each record of OP (and RULE), one a line.
records() { jq -r "select(.op == \"$1\" and (\"$2\" == \"\" or .rule == \"$2\")) | \"\(.decision) \(.path) \(.result)\"" "$V/audit.log"; }

# The attack: uid 1001 mounts a FUSE filesystem of its own over its folder, then its file.
same "uid 1001 may write its folder (access W_OK)" ok "$(as_sys 1001 access "$S/mallory" w)"
for target in "$S/mallory" "$S/mallory/x"; do
	setpriv --reuid 1001 --regid 1001 --clear-groups -- "$FLOORFS" "$target" 1 4 2>"$T/floorfs.err" &
	fpid=$!
	for _ in $(seq 1 40); do
		exited "$fpid" && break
		grep -q ' fuse floorfs ' /proc/self/mountinfo && break
		sleep 0.05
	done
	sleep 0.2
	everyone_sees "after uid 1001 mounted over ${target#"$S/"}"
	same "nothing over the vault" "" "$(over_vault)"
	exited "$fpid" && pass || fail "uid 1001's filesystem is up over ${target#"$S/"}"
	kill "$fpid" 2>/dev/null
	wait "$fpid"
done
same "refusals recorded" "deny secrets/mallory EACCES
deny secrets/mallory/x EACCES" "$(records access mount-helper; records open mount-helper)"

# overs: the trail's records of mounts over the vault, "path result detail" a line.
overs() { jq -r 'select(.op == "mount-over") | "\(.path) \(.result) \(.detail)"' "$V/audit.log"; }

# mount_over WHAT PATH DETAIL COMMAND...: root's COMMAND mounts over PATH (policy's name),
# and the guard detaches it at once: nothing stays over the vault, everyone reads the
# vault's value, and the trail records it with DETAIL (what was mounted) and result 0.
mount_over() {
	local what=$1 path=$2 detail=$3 before t0
	shift 3
	before=$(overs | grep -c "^$path 0 $detail")
	t0=$(date +%s%N)
	"$@" || { fail "$what: $*"; return; }
	for _ in $(seq 1 250); do [ -z "$(over_vault)" ] && break; sleep 0.02; done
	echo "$what: detached within $((($(date +%s%N) - t0) / 1000000)) ms"
	same "$what: nothing over the vault" "" "$(over_vault)"
	everyone_sees "$what"
	same "$what: recorded" $((before + 1)) "$(overs | grep -c "^$path 0 $detail")"
}

# Root mounts over a folder, a file, the mount's root, and twice over a fixed folder.
echo decoy >"$T/decoy"
mount_over "a tmpfs over a folder" secrets/mallory "tmpfs decoy " mount -t tmpfs decoy "$S/mallory"
mount_over "a bind over a file" secrets/mallory/x "ext4 \|tmpfs \|[a-z0-9]* " mount --bind "$T/decoy" "$S/mallory/x"
mount_over "a tmpfs over the root" "" "tmpfs decoy " mount -t tmpfs decoy "$M"
mount_over "two tmpfs over secrets/" secrets "tmpfs decoy " \
	sh -c "mount -t tmpfs decoy '$S' && mount -t tmpfs decoy2 '$M/secrets'"
same "both over secrets/ recorded" 1 "$(overs | grep -c '^secrets 0 tmpfs decoy2 ')"

# A FUSE filesystem that never answers, over a folder and over the root: detached without
# the guard waiting on it.
for target in "$S/mallory" "$M"; do
	$SILENT "$target" >"$T/silent.out" 2>&1 &
	spid=$!
	for _ in $(seq 1 100); do grep -q mounted "$T/silent.out" && break; sleep 0.02; done
	for _ in $(seq 1 100); do [ -z "$(over_vault)" ] && break; sleep 0.02; done
	same "the silent filesystem over ${target#"$M"} is detached" "" "$(over_vault)"
	everyone_sees "after a silent filesystem over ${target#"$M"}"
	kill "$spid"
	wait "$spid" 2>/dev/null
done
same "silent ones recorded" 2 "$(overs | grep -c ' 0 fuse.silent silent ')"

# The vault goes on working for everyone, and the trail is intact.
printf 'new' | as 1001 $SYS_PY write "$S/mallory/x" new >/dev/null
same "uid 1002 reads uid 1001's new value" new "$(as 1002 cat "$S/mallory/x")"
"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify"
ERR_EXPECTED=
stop
grep -q 'detached a filesystem mounted over "secrets/mallory"' "$T/daemon.err" && pass ||
	fail "the daemon's log does not tell: $(cat "$T/daemon.err")"
finish

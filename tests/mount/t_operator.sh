#!/usr/bin/env bash
# An operator's first mistakes with `vaultfs mount`, each one line on the terminal, exit 1,
# nothing mounted, no daemon and nothing made (tests/cli/t_operator.sh has the commands'):
# - a user who cannot open /dev/fuse (0600, as on this machine) is told so, in the
#   background and the foreground, before anything is forked — not "cannot mount" with
#   libfuse's words in the log;
# - with /dev/fuse 0666 (stock Debian, made in this private mount namespace) fusermount3's
#   own refusal (a mount point the user may not write) reaches the terminal in the same
#   line; a mount point of the user's own then mounts;
# - MOUNTPOINT DIR given the wrong way round says what MOUNTPOINT is and the command to
#   run, and leaves no vaultfs.log in it; the mount point of a mounted vault given as DIR
#   names the vault;
# - a policy error at mount names DIR's policy file, not the mount point;
# - a user= name that is no account yet: a warning on the terminal and in the log at
#   start, and the rule holds from the moment the account exists, without a reload;
# - exe= rules under a daemon without CAP_SYS_PTRACE: one warning in the log and on the
#   terminal of a background or foreground start, again at a reload that brings one, and
#   none when the daemon has it; the rule indeed fails for uid 1001 without it.
# its own mount namespace, before lib.sh makes the test directory
[ -n "${VAULTFS_NS:-}" ] || VAULTFS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
chmod 755 "$T"

# gone PATTERN: no process's command line matches PATTERN within 10 s.
gone() {
	for _ in $(seq 1 100); do
		pgrep -f -- "$1" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}
# nothing_left WHAT VAULT: no mount under $T, and no daemon of VAULT.
nothing_left() {
	same "$1: no mount left" "" "$(mounts_below "$T")"
	gone "vaultfs mount $2" && pass || fail "$1: a daemon of $2 is still running"
}
# unmount_bg AS MOUNTPOINT VAULT: unmounts a background daemon's mount and waits for it.
unmount_bg() {
	$1 fusermount3 -u "$2" || fail "fusermount3 -u $2"
	gone "vaultfs mount $3" || fail "the daemon of $3 did not exit"
}
nocap() { setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace -- "$@"; }

# --- 1. A user who cannot open /dev/fuse: 0600, whatever the host has.
U=$T/u
mkdir "$U" && chown 1001:1001 "$U"
as 1001 "$VAULTFS" init "$U/v" >/dev/null || { echo "init as 1001 failed"; exit 1; }
as 1001 mkdir "$U/mnt"
printf 'allow * ** uid=1001\n' | as 1001 tee "$U/v/policy" >/dev/null
mknod -m 600 "$T/fuse0600" c 10 229 && mount --bind "$T/fuse0600" /dev/fuse ||
	{ echo "cannot make /dev/fuse 0600 here"; exit 1; }
for fg in "" -f; do
	refuses "uid 1001, /dev/fuse 0600 ${fg:-(background)}" \
		'^vaultfs: mount: cannot open /dev/fuse: Permission denied \(mount as root, or let users open it: mode 0666, as Debian.s fuse3 sets it\)$' \
		as 1001 "$VAULTFS" mount "$U/v" "$U/mnt" $fg
	nothing_left "/dev/fuse 0600 ${fg:-(background)}" "$U/v"
done
[ ! -e "$U/v/vaultfs.log" ] && pass || fail "a refused start made vaultfs.log: $(cat "$U/v/vaultfs.log")"

# --- 2. /dev/fuse 0666 (stock Debian): fusermount3's words, in the same line.
umount /dev/fuse # the node of mode 0600 goes: a mount over it would keep it busy
stock_fuse       # uid 1001 is "mallory" from here on
mkdir "$T/rootmnt"
trail=$(wc -l <"$U/v/audit.log")
for fg in "" -f; do
	refuses "uid 1001 on root's mount point ${fg:-(background)}" \
		"^vaultfs: mount: cannot mount on \"$T/rootmnt\": fusermount3: user has no write access to mountpoint $T/rootmnt\$" \
		as 1001 "$VAULTFS" mount "$U/v" "$T/rootmnt" $fg
	nothing_left "root's mount point ${fg:-(background)}" "$U/v"
done
grep -q 'fusermount3: user has no write access' "$U/v/vaultfs.log" && pass ||
	fail "the background daemon's log lacks the reason"
same "refused mounts: nothing recorded in the trail" "$trail" "$(wc -l <"$U/v/audit.log")"
printf 'hello' | as 1001 "$VAULTFS" secret set "$U/v" greeting
as 1001 "$VAULTFS" mount "$U/v" "$U/mnt" 2>"$T/user.err"
same "uid 1001 on its own mount point" 0 "$?"
same "uid 1001 reads its mount" hello "$(as 1001 cat "$U/mnt/secrets/greeting" 2>&1)"
unmount_bg "as 1001" "$U/mnt" "$U/v"

# --- 3. MOUNTPOINT DIR the wrong way round.
new_vault "allow * ** uid=0
allow read secrets/greeting user=builder"
printf 'hello' | "$VAULTFS" secret set "$V" greeting
for fg in "" -f; do
	refuses "mount MOUNTPOINT DIR ${fg:-(background)}" \
		"^vaultfs: mount: \"$M\" is an empty directory, not a vault; \"$V\" is a vault directory \\(did you mean: vaultfs mount $V $M${fg:+ -f}\\?\\)\$" \
		"$VAULTFS" mount "$M" "$V" $fg
	nothing_left "MOUNTPOINT DIR ${fg:-(background)}" "$M"
done
same "nothing made in the mount point" "" "$(ls -A "$M")"

# --- 4. A policy that does not load names DIR's policy file, not the mount point.
cp "$V/policy" "$T/policy.good"
printf 'allow * ** uid=0\nalow read secrets/x *\n' >"$V/policy"
for fg in "" -f; do
	refuses "a policy error ${fg:-(background)}" "^vaultfs: mount: $V/policy:2: unknown effect \"alow\" \\(allow or deny\\)\$" \
		"$VAULTFS" mount "$V" "$M" $fg
	nothing_left "a policy error ${fg:-(background)}" "$V"
done
grep -qF "\"$M\"" "$T/.err" && fail "the policy error names the mount point: $(cat "$T/.err")" || pass
cp "$T/policy.good" "$V/policy"

# --- 5. user=builder before the account exists: a warning, then the rule holds once it does.
"$VAULTFS" mount "$V" "$M" 2>"$T/start.err"
same "a warning does not fail the start" 0 "$?"
warning="$V/policy:2: warning: unknown user \"builder\": the rule holds for no caller until the account exists"
same "the warning on the terminal" "vaultfs: mount: $warning" "$(cat "$T/start.err")"
grep -qF "vaultfs: $warning" "$V/vaultfs.log" && pass || fail "the warning is not in vaultfs.log"
same "builder is nobody yet" open:ENOENT "$(as_sys 1002 read "$S/greeting")"
cp /etc/passwd "$T/passwd.builder" && echo "builder:x:1002:1002::/nonexistent:/usr/sbin/nologin" >>"$T/passwd.builder"
chmod 644 "$T/passwd.builder" && mount --bind "$T/passwd.builder" /etc/passwd || fail "bind passwd"
for _ in $(seq 1 40); do
	[ "$(as 1002 cat "$S/greeting" 2>/dev/null)" = hello ] && break
	sleep 0.1
done
same "the account made: builder reads, no reload" hello "$(as 1002 cat "$S/greeting" 2>&1)"
same "by the rule that names it" '"allow" "policy:2"' \
	"$(last_record 'select(.uid == 1002 and .op == "open") | [.decision, .rule]' | tr ',' ' ' | tr -d '[]')"
same "no reload between" 0 "$(grep -c '"op":"policy-reload"' "$V/audit.log")"
unmount_bg "" "$M" "$V"
umount /etc/passwd

# --- 6. exe= and a daemon without CAP_SYS_PTRACE.
printf 'only cat' | "$VAULTFS" secret set "$V" by-cat
printf 'allow * ** uid=0\nallow read secrets/by-cat uid=1001 exe=/usr/bin/cat\n' >"$V/policy"
: >"$V/vaultfs.log"
exe_warning="$V/policy:2: warning: the daemon lacks CAP_SYS_PTRACE, so exe= cannot be checked for callers of other users nor for set-user-ID programs: for them an allow with exe= fails and a deny with exe= holds (1 rule)"
nocap "$VAULTFS" mount "$V" "$M" 2>"$T/start.err"
same "without CAP_SYS_PTRACE: the start succeeds" 0 "$?"
same "without CAP_SYS_PTRACE: one line on the terminal" "vaultfs: mount: $exe_warning" "$(cat "$T/start.err")"
same "without CAP_SYS_PTRACE: one line in the log" 1 "$(grep -cF "$exe_warning" "$V/vaultfs.log")"
same "and indeed the exe= rule cannot hold" open:ENOENT "$(as_sys 1001 read "$S/by-cat")"
same "not even for cat" "" "$(as 1001 cat "$S/by-cat" 2>/dev/null)"
unmount_bg "" "$M" "$V"

# In the foreground: the log is the terminal; a reload that brings exe= rules says it again.
printf 'allow * ** uid=0\n' >"$V/policy"
nocap "$VAULTFS" mount "$V" "$M" -f 2>"$T/daemon.err" &
DAEMON_PID=$!
for _ in $(seq 1 200); do mountpoint -q "$M" && [ -d "$S" ] && break; sleep 0.05; done
same "no exe= rule, no warning" "" "$(grep -c CAP_SYS_PTRACE "$T/daemon.err" | grep -v '^0$')"
set_policy "allow * ** uid=0
deny read secrets/by-cat exe=/usr/bin/tac
allow read secrets/by-cat uid=1001 exe=/usr/bin/cat"
for _ in $(seq 1 50); do grep -q CAP_SYS_PTRACE "$T/daemon.err" && break; sleep 0.1; done
same "a reload with exe= rules: one warning" 1 \
	"$(grep -cF "vaultfs: $V/policy:2: warning: the daemon lacks CAP_SYS_PTRACE" "$T/daemon.err")"
grep -qF "(2 rules)" "$T/daemon.err" && pass || fail "the warning does not count the rules: $(cat "$T/daemon.err")"
stop
nocap "$VAULTFS" mount "$V" "$M" -f 2>"$T/daemon.err" &
DAEMON_PID=$!
for _ in $(seq 1 200); do mountpoint -q "$M" && [ -d "$S" ] && break; sleep 0.05; done
same "foreground start: the warning on stderr" 1 \
	"$(grep -cF "vaultfs: $V/policy:2: warning: the daemon lacks CAP_SYS_PTRACE" "$T/daemon.err")"
stop

# With it, as root normally runs: no warning, and the rule holds.
start
same "with CAP_SYS_PTRACE: no warning" 0 "$(grep -c CAP_SYS_PTRACE "$T/daemon.err")"
same "with CAP_SYS_PTRACE: cat reads" "only cat" "$(as 1001 cat "$S/by-cat" 2>&1)"
# the mount point of a mounted vault, given as DIR, names the vault
refuses "the mount point as DIR" \
	"^vaultfs: secret list: \"$M\" is where the vault \"$V\" is mounted, not a vault directory \\(did you mean: vaultfs secret list $V\\?\\)\$" \
	"$VAULTFS" secret list "$M"
stop

finish

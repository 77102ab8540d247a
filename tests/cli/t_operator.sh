#!/usr/bin/env bash
# An operator's first mistakes, without a mount (tests/mount/t_operator.sh has the mount's):
# - arguments given the wrong way round: the command says what the path it took for DIR
#   is (missing, a file, an empty directory, not a vault) and, when another argument is a
#   vault directory, the command line with the two swapped; before the strict-mode checks,
#   so a shared 0777 directory taken for DIR is not told as an unsafe vault; one line,
#   exit 1, nothing made or changed;
# - `policy check FILE` validates a candidate not yet installed with the mount's parser,
#   every error with its line (FILE:LINE), in order, exit 1; a good one passes; `policy
#   explain FILE` decides on it;
# - examples/policy passes `policy check` on this machine, which has none of its example
#   accounts: each unknown name is a warning with its line, and the rule holds for nobody
#   until the account exists (a private mount namespace adds them: no warning, and explain
#   allows);
# - exe= rules: `policy check` says what the daemon needs, and warns when it runs without
#   CAP_SYS_PTRACE, as a daemon started so would.
# its own mount namespace, before lib.sh makes the test directory
[ -n "${VAULTFS_NS:-}" ] || VAULTFS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
EXAMPLE=$(cd "$(dirname "$0")/../.." && pwd)/examples/policy

cd "$T" || exit 1
"$VAULTFS" init vault >/dev/null || { echo "init failed"; exit 1; }
printf 'allow * ** uid=0\n' >vault/policy
printf 'one' | "$VAULTFS" secret set vault db-conn
mkdir empty
mkdir -m 1777 shared
mkdir notvault && echo x >notvault/file
dump=$(db_dump vault)
trail=$(wc -l <vault/audit.log)

# --- 1. The wrong order, and what the path is.
refuses "secret get NAME DIR" \
	'^vaultfs: secret get: "db-conn": No such file or directory; "vault" is a vault directory \(did you mean: vaultfs secret get vault db-conn\?\)$' \
	"$VAULTFS" secret get db-conn vault
refuses "secret set NAME DIR, value on stdin" \
	'"db-conn": No such file or directory; "vault" is a vault directory \(did you mean: vaultfs secret set vault db-conn --create\?\)$' \
	sh -c "printf two | '$VAULTFS' secret set db-conn vault --create"
refuses "an absolute DIR in NAME's place" \
	"did you mean: vaultfs secret versions $T/vault db-conn\\?" \
	"$VAULTFS" secret versions db-conn "$T/vault"
refuses "key create NAME DIR" \
	'^vaultfs: key: "k1": No such file or directory; "vault" is a vault directory \(did you mean: vaultfs key create vault k1 --type ec-p256\?\)$' \
	"$VAULTFS" key create k1 vault --type ec-p256
refuses "backup DEST DIR" \
	'"copy": No such file or directory; "vault" is a vault directory \(did you mean: vaultfs backup vault copy\?\)$' \
	"$VAULTFS" backup copy vault
[ ! -e copy ] && pass || fail "backup DEST DIR made \"copy\""
refuses "an empty directory" '^vaultfs: audit verify: "empty" is an empty directory, not a vault$' \
	"$VAULTFS" audit verify empty
refuses "a file" '^vaultfs: audit tail: "vault/policy" is a file, not a vault directory$' \
	"$VAULTFS" audit tail vault/policy
refuses "a device" '"/dev/null" is a device, FIFO or socket, not a vault directory$' \
	"$VAULTFS" secret list /dev/null
refuses "a directory that is not a vault" '^vaultfs: secret list: "notvault" is not a vault \(no vaultfs.conf\)$' \
	"$VAULTFS" secret list notvault
# a shared directory taken for DIR is not a vault, before it is an unsafe one
refuses "a sticky 1777 directory" '^vaultfs: secret list: "shared" is an empty directory, not a vault$' \
	"$VAULTFS" secret list shared
refuses "policy check on an empty directory" '^vaultfs: policy check: "empty" is an empty directory, not a vault$' \
	"$VAULTFS" policy check empty
# a vault this user may not look into is told as such, not as no vault
chmod 755 "$T"
refuses "root's vault, as uid 1001" "^vaultfs: secret list: \"$T/vault\": Permission denied\$" \
	setpriv --reuid 1001 --regid 1001 --clear-groups -- "$VAULTFS" secret list "$T/vault"
chmod 700 "$T"
same "nothing changed in the vault" "$dump" "$(db_dump vault)"
same "nothing recorded" "$trail" "$(wc -l <vault/audit.log)"
same "nothing made in the empty directories" "" "$(ls -A empty; ls -A shared)"
"$VAULTFS" backup vault backup >/dev/null || fail "backup"
refuses "restore DIR BACKUP" \
	'^vaultfs: restore: "restored": No such file or directory; "backup" is a vault directory \(did you mean: vaultfs restore backup restored\?\)$' \
	"$VAULTFS" restore restored backup
[ ! -e restored ] && pass || fail "restore DIR BACKUP made \"restored\""
# the right order still works
same "secret get DIR NAME" one "$("$VAULTFS" secret get vault db-conn)"

# --- 2. policy check FILE: a candidate, every error with its line.
cat >candidate <<'POLICY'
# a candidate with three errors and a warning
alow      read       secrets/a     uid=1001
allow     read       secrets/b     user=no-such-account-here
allow     reed       secrets/c     uid=1001
allow     read       secrets/d     exe=relative/path
allow     *          **            uid=0
POLICY
"$VAULTFS" policy check candidate >"$T/out" 2>"$T/err"
same "candidate with errors: exit 1" 1 "$?"
same "candidate with errors: stdout" "" "$(cat "$T/out")"
same "every error, with its line, in order" \
'vaultfs: policy check: candidate:2: unknown effect "alow" (allow or deny)
vaultfs: policy check: candidate:3: warning: unknown user "no-such-account-here": the rule holds for no caller until the account exists
vaultfs: policy check: candidate:4: bad operations "reed" (comma-separated list read write delete recover purge sign encrypt decrypt wrap unwrap export, or *)
vaultfs: policy check: candidate:5: bad exe glob "relative/path" (an absolute path)' "$(cat "$T/err")"
sed -i -e 's/^alow /allow/' -e 's/reed/read/' -e 's|relative/path|/usr/bin/cat|' candidate
ln -s candidate candidate.link
same "a good candidate" "candidate.link: 5 rules, no errors, 1 warning" \
	"$("$VAULTFS" policy check candidate.link 2>/dev/null | head -n 1)"
same "explain on a candidate" "allow candidate:2" "$("$VAULTFS" policy explain candidate --uid 1001 read secrets/a 2>/dev/null)"
same "the installed policy is not the candidate" "deny default-deny" \
	"$("$VAULTFS" policy explain vault --uid 1001 read secrets/a)"
same "candidates change nothing" "$dump" "$(db_dump vault)"
refuses "a missing candidate" '"missing": No such file or directory' "$VAULTFS" policy check missing

# --- 3. examples/policy on a machine without its accounts.
if getent group secops >/dev/null || getent passwd builder >/dev/null; then
	echo "this machine has the example's accounts: the warnings are not checked"
else
	"$VAULTFS" policy check "$EXAMPLE" >"$T/out" 2>"$T/err"
	same "examples/policy passes" 0 "$?"
	same "examples/policy: rules and warnings" "$EXAMPLE: 8 rules, no errors, 3 warnings" "$(head -n 1 "$T/out")"
	same "one warning a line, with its line number" \
"vaultfs: policy check: $EXAMPLE:11: warning: unknown group \"secops\": the rule holds for no caller until the group exists
vaultfs: policy check: $EXAMPLE:12: warning: unknown group \"secops\": the rule holds for no caller until the group exists
vaultfs: policy check: $EXAMPLE:14: warning: unknown user \"builder\": the rule holds for no caller until the account exists" \
		"$(cat "$T/err")"
	cp "$EXAMPLE" vault/policy
	same "installed as DIR/policy" "policy: 8 rules, no errors, 3 warnings" \
		"$("$VAULTFS" policy check vault 2>/dev/null | head -n 1)"
	same "builder is nobody yet" "deny default-deny" \
		"$("$VAULTFS" policy explain vault --uid 1001 --exe /usr/bin/release-tool sign keys/release 2>"$T/err")"
	grep -q 'policy explain: policy:14: warning: unknown user "builder"' "$T/err" && pass ||
		fail "explain does not warn: $(cat "$T/err")"
	# The accounts made: in this mount namespace only, over the system's files.
	cp /etc/passwd passwd && echo "builder:x:1001:1001::/nonexistent:/usr/sbin/nologin" >>passwd
	cp /etc/group group && echo "secops:x:1002:" >>group
	chmod 644 passwd group
	mount --bind passwd /etc/passwd && mount --bind group /etc/group || { echo "cannot bind"; exit 1; }
	same "with the accounts, no warning" "policy: 8 rules, no errors" \
		"$("$VAULTFS" policy check vault 2>"$T/err" | head -n 1)"
	same "with the accounts, nothing on stderr" "" "$(cat "$T/err")"
	same "builder signs" "allow policy:14" \
		"$("$VAULTFS" policy explain vault --uid 1001 --exe /usr/bin/release-tool sign keys/release)"
	same "secops writes" "allow policy:11" \
		"$("$VAULTFS" policy explain vault --uid 1003 --gid 1002 write secrets/x)"
	umount /etc/passwd /etc/group
fi

# --- 4. exe= and CAP_SYS_PTRACE.
printf 'allow * ** uid=0\nallow read secrets/x uid=1001 exe=/usr/bin/cat\n' >vault/policy
same "with CAP_SYS_PTRACE: what the daemon needs" "policy: 2 rules, no errors
policy:2: note: exe= is checked only by a daemon that holds CAP_SYS_PTRACE, as this command does" \
	"$("$VAULTFS" policy check vault 2>"$T/err")"
same "with CAP_SYS_PTRACE: no warning" "" "$(cat "$T/err")"
nocap() { setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace -- "$@"; }
same "without: a warning, and exit 0" "policy: 2 rules, no errors, 1 warning" \
	"$(nocap "$VAULTFS" policy check vault 2>"$T/err")"
same "without: the warning names the line and the capability" \
	"vaultfs: policy check: policy:2: warning: a daemon started with this command's capabilities lacks CAP_SYS_PTRACE, so exe= cannot be checked for callers of other users nor for set-user-ID programs: for them an allow with exe= fails and a deny with exe= holds (1 rule)" \
	"$(cat "$T/err")"
printf 'allow * ** uid=0\n' >vault/policy
same "no exe= rule, no word of it" "policy: 1 rule, no errors" "$(nocap "$VAULTFS" policy check vault 2>&1)"

finish

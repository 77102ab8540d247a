#!/usr/bin/env bash
# vaultfs policy check and explain: the mount's own parser and evaluator from the shell.
. "$(dirname "$0")/lib.sh"

V=$T/vault
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
same "init's policy" "policy: 0 rules, no errors" "$("$VAULTFS" policy check "$V")"
same "deny-all by default" "deny default-deny" "$("$VAULTFS" policy explain "$V" --uid 0 read secrets/x)"

cat >"$V/policy" <<'POLICY'
allow read         secrets/db-conn          uid=1001
allow read,list    secrets/payments/**      cgroup=/system.slice/payments.service
allow write        secrets/**               group=root
allow sign         keys/release             user=root exe=/usr/bin/release-tool
deny  *            secrets/root/**          *
POLICY
same "check" "policy: 5 rules, no errors
policy:4: note: exe= is checked only by a daemon that holds CAP_SYS_PTRACE, as this command does" \
	"$("$VAULTFS" policy check "$V")"
explain() { "$VAULTFS" policy explain "$V" "$@"; echo "exit $?"; }
same "allowed, with its rule" "allow policy:1 exit 0" "$(explain --uid 1001 read secrets/db-conn | tr '\n' ' ' | sed 's/ $//')"
same "denied by default" "deny default-deny exit 3" "$(explain --uid 1002 read secrets/db-conn | tr '\n' ' ' | sed 's/ $//')"
same "cgroup condition" "allow policy:2 exit 0" "$(explain --uid 1002 --cgroup /system.slice/payments.service read secrets/payments/k | tr '\n' ' ' | sed 's/ $//')"
same "without the cgroup" "deny default-deny exit 3" "$(explain --uid 1002 list secrets/payments | tr '\n' ' ' | sed 's/ $//')"
same "group from NSS" "allow policy:3 exit 0" "$(explain --uid 0 write secrets/x | tr '\n' ' ' | sed 's/ $//')"
same "deny wins" "deny policy:5 exit 3" "$(explain --uid 0 write secrets/root/x | tr '\n' ' ' | sed 's/ $//')"
same "exe condition" "allow policy:4 exit 0" "$(explain --uid 0 --exe /usr/bin/release-tool sign keys/release | tr '\n' ' ' | sed 's/ $//')"
same "another exe" "deny default-deny exit 3" "$(explain --uid 0 --exe /usr/bin/python3 sign keys/release | tr '\n' ' ' | sed 's/ $//')"
# A soft-deleted name keeps its path: .deleted/P is decided as P.
same "listing the trash is list on secrets" "allow policy:2 exit 0" "$(explain --uid 1002 --cgroup /system.slice/payments.service list .deleted/secrets/payments | tr '\n' ' ' | sed 's/ $//')"
same "purge in the trash" "deny policy:5 exit 3" "$(explain --uid 0 purge .deleted/secrets/root/x | tr '\n' ' ' | sed 's/ $//')"

# Errors: one line, the file's line number, exit 1; usage errors exit 2.
printf 'allow read secrets/x uid=1001\nalow read secrets/y *\n' >"$V/policy"
refuses "typo" '^vaultfs: policy check: policy:2: unknown effect "alow"' "$VAULTFS" policy check "$V"
refuses "explain on a bad file" 'policy:2: unknown effect' "$VAULTFS" policy explain "$V" --uid 1 read secrets/x
# A group that is not there yet is a warning (t_operator.sh has the rest).
printf 'allow read secrets/x group=no-such-group-anywhere\n' >"$V/policy"
same "unknown group" "policy: 1 rule, no errors, 1 warning" "$("$VAULTFS" policy check "$V" 2>"$T/warn")"
grep -q 'policy:1: warning: unknown group "no-such-group-anywhere"' "$T/warn" && pass || fail "no warning: $(cat "$T/warn")"
printf 'allow read secrets/x uid=1\0\n' >"$V/policy"
refuses "NUL byte" 'policy:1: NUL byte' "$VAULTFS" policy check "$V"
rm "$V/policy"
refuses "no policy file" 'no policy file' "$VAULTFS" policy check "$V"
"$VAULTFS" policy explain "$V" read secrets/x 2>/dev/null; same "explain without --uid" 2 "$?"
"$VAULTFS" policy explain "$V" --uid 1 frob secrets/x 2>/dev/null; same "unknown operation" 2 "$?"
"$VAULTFS" policy --help | grep -q 'explain DIR|FILE --uid N' && pass || fail "policy --help"

finish

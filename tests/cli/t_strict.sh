#!/usr/bin/env bash
# StrictModes: a vault directory that another user could write — or a trusted file in it,
# or a directory above it — is refused by every command with one line naming it, and
# nothing in the vault changes. uid 1001 is the other user; a sticky directory above the
# vault (as /tmp) is accepted, a symbolic link in place of a vault file is not.
. "$(dirname "$0")/lib.sh"
V=$T/vault
M=$T/mnt
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
printf 'allow * ** uid=0\n' >"$V/policy"
printf 'one' | "$VAULTFS" secret set "$V" a >/dev/null
printf 'gone' | "$VAULTFS" secret set "$V" d >/dev/null
"$VAULTFS" secret delete "$V" d >/dev/null
"$VAULTFS" key create "$V" k --type ec-p256 >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k.pem" 2>/dev/null
mkdir "$M"
chmod 755 "$T"

# What a refused command must leave as it was: the database, the trail, the policy, and
# the names, owners, modes and sizes of everything in DIR.
state() {
	db_dump "$V"
	sha256sum <"$V/audit.log"
	sha256sum <"$V/policy"
	(cd "$V" && find . -printf '%p %U %m %s\n' | sort)
}

# every_command_refuses WHAT PATTERN: each command exits 1 with one line matching PATTERN
# (which names the path at fault), and the vault is as it was.
every_command_refuses() {
	local what=$1 pattern=$2 before
	before=$(state)
	refuses "$what: init" "$pattern" "$VAULTFS" init "$V"
	refuses "$what: mount" "$pattern" "$VAULTFS" mount "$V" "$M"
	refuses "$what: mount -f" "$pattern" "$VAULTFS" mount "$V" "$M" -f
	refuses "$what: secret set" "$pattern" sh -c 'printf new | "$0" secret set "$1" a' "$VAULTFS" "$V"
	refuses "$what: secret get" "$pattern" "$VAULTFS" secret get "$V" a
	refuses "$what: secret list" "$pattern" "$VAULTFS" secret list "$V"
	refuses "$what: secret versions" "$pattern" "$VAULTFS" secret versions "$V" a
	refuses "$what: secret delete" "$pattern" "$VAULTFS" secret delete "$V" a
	refuses "$what: secret recover" "$pattern" "$VAULTFS" secret recover "$V" d
	refuses "$what: secret purge" "$pattern" "$VAULTFS" secret purge "$V" d
	refuses "$what: secret attr" "$pattern" "$VAULTFS" secret attr "$V" a user.vault.content_type text/plain
	refuses "$what: policy check" "$pattern" "$VAULTFS" policy check "$V"
	refuses "$what: policy explain" "$pattern" "$VAULTFS" policy explain "$V" --uid 0 read secrets/a
	refuses "$what: key create" "$pattern" "$VAULTFS" key create "$V" k2 --type ec-p256
	refuses "$what: key import" "$pattern" "$VAULTFS" key import "$V" k3 "$T/k.pem"
	refuses "$what: key rotate" "$pattern" "$VAULTFS" key rotate "$V" k
	refuses "$what: key list" "$pattern" "$VAULTFS" key list "$V"
	refuses "$what: key delete" "$pattern" "$VAULTFS" key delete "$V" k
	refuses "$what: audit verify" "$pattern" "$VAULTFS" audit verify "$V"
	refuses "$what: audit tail" "$pattern" "$VAULTFS" audit tail "$V"
	same "$what: nothing changed" "$before" "$(state)"
	mountpoint -q "$M" && { fail "$what: mounted"; fusermount3 -u "$M"; } || pass
}

# The vault is in order: commands work.
works() {
	check "$1: secret get works" "$VAULTFS" secret get "$V" a
	same "$1: the value" one "$(cat "$T/.out")"
	check "$1: policy check works" "$VAULTFS" policy check "$V"
}
works "to begin with"

# DIR writable by its group, by others, or owned by another user.
chmod g+w "$V"
every_command_refuses "DIR g+w" "\"$V\" is writable by its group \\(mode 0720\\)"
chmod 700 "$V"
chmod o+w "$V"
every_command_refuses "DIR o+w" "\"$V\" is writable by others \\(mode 0702\\)"
chmod 700 "$V"
chown 1001 "$V"
every_command_refuses "DIR owned by 1001" "\"$V\" is owned by uid 1001, not by root"
chown 0 "$V"
works "DIR restored"

# The attack: in a world-writable DIR, uid 1001 puts its own policy in place.
chmod 777 "$V"
printf 'allow * ** *\n' >"$T/evil"
chmod 644 "$T/evil"
as1001() { setpriv --reuid 1001 --regid 1001 --clear-groups -- "$@"; }
as1001 sh -c "cp '$T/evil' '$V/policy.new' && mv -f '$V/policy.new' '$V/policy'" && pass ||
	fail "uid 1001 could not replace the policy in a mode 0777 DIR"
same "the policy is now 1001's" 1001 "$(stat -c %u "$V/policy")"
every_command_refuses "1001's policy in a 0777 DIR" "\"$V\" is writable by its group and others \\(mode 0777\\)"
chmod 700 "$V"
every_command_refuses "1001's policy" "\"$V/policy\" is owned by uid 1001"
printf 'allow * ** uid=0\n' >"$T/good"
mv -f "$T/good" "$V/policy"
works "policy restored"

# Each trusted file: writable by others, or another user's.
for f in vaultfs.conf vault.db audit.log policy softhsm2.conf; do
	chmod o+w "$V/$f"
	every_command_refuses "$f o+w" "\"$V/$f\" is writable by others"
	chmod o-w "$V/$f"
done
chown 1001 "$V/pin"
every_command_refuses "pin owned by 1001" "\"$V/pin\" is owned by uid 1001"
chown 0 "$V/pin"
tok=$(find "$V/tokens" -name token.object | head -n 1)
chmod g+w "$tok"
every_command_refuses "a token file g+w" "\"$tok\" is writable by its group"
chmod g-w "$tok"
chmod g+w "$V/tokens"
every_command_refuses "tokens/ g+w" "\"$V/tokens\" is writable by its group"
chmod g-w "$V/tokens"
works "files restored"

# A policy that is a symbolic link, even to a file of root's.
mv "$V/policy" "$T/policy.elsewhere"
ln -s "$T/policy.elsewhere" "$V/policy"
every_command_refuses "policy a symlink" "\"$V/policy\" is a symbolic link"
rm "$V/policy"
mv "$T/policy.elsewhere" "$V/policy"

# The directories above: another user's, or writable without the sticky bit, is refused;
# a sticky one (as /tmp) is not.
chmod 777 "$T"
every_command_refuses "parent 0777" "\"$T\" is writable by its group and others \\(mode 0777\\)"
chmod 1777 "$T"
works "sticky parent"
chmod 755 "$T"
chown 1001 "$T"
every_command_refuses "parent owned by 1001" "\"$T\" is owned by uid 1001"
chown 0 "$T"
works "parent restored"

# init into an unsafe directory makes nothing there, and leaves no DIR it made; the sticky
# bit excuses a directory above the vault, never the vault directory itself.
mkdir -m 777 "$T/open"
refuses "init in a 0777 DIR" "\"$T/open\" is writable" "$VAULTFS" init "$T/open"
chmod 1777 "$T/open"
refuses "init in a 1777 DIR" "\"$T/open\" is writable" "$VAULTFS" init "$T/open"
same "nothing made in it" "" "$(ls -A "$T/open")"
chmod 777 "$T/open"
refuses "init below a 0777 directory" "\"$T/open\" is writable" "$VAULTFS" init "$T/open/v"
same "no DIR left behind" "" "$(ls -A "$T/open")"
chmod 1777 "$T/open"
check "init below a sticky directory" "$VAULTFS" init "$T/open/v"

# Another user's own vault is theirs: uid 1001 runs vaultfs on a vault it owns.
mkdir "$T/u" && chown 1001:1001 "$T/u"
as1001 "$VAULTFS" init "$T/u/v" >/dev/null && pass || fail "init as uid 1001"
check "1001 uses its vault" as1001 "$VAULTFS" secret list "$T/u/v"
refuses "root refuses a vault below 1001's directory" "\"$T/u\" is owned by uid 1001, not by root" "$VAULTFS" secret list "$T/u/v"

finish

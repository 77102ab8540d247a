#!/usr/bin/env bash
# Every action needs the rights it amounts to, as uid 1001 holding all of them but one: a
# rename reads and removes its source and writes its target; writing, creating or renaming
# onto a soft-deleted name brings its history back, so it is recover too. Each refusal
# changes nothing and is recorded as a denial naming the deny rule. A rename never destroys
# history. The editors' idioms work for a caller with the full set. RENAME_NOREPLACE and
# XATTR_CREATE hold when the command line changes the same secret meanwhile.
. "$(dirname "$0")/lib.sh"
RACE_PY="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/race.py"
FULL="allow * ** uid=0
allow list,read,write,delete,recover secrets/** uid=1001"
new_vault "$FULL"
start

# secrets NAME...: each name's live and deleted versions and current value, as the
# command line sees them: what a refused operation must leave as it was.
secrets() {
	local n
	for n in "$@"; do
		printf '%s live[%s] deleted[%s] value[%s]\n' "$n" \
			"$("$VAULTFS" secret versions "$V" "$n" 2>/dev/null | tr '\n' ' ')" \
			"$("$VAULTFS" secret versions "$V" "$n" --deleted 2>/dev/null | tr '\n' ' ')" \
			"$("$VAULTFS" secret get "$V" "$n" 2>/dev/null)"
	done
}
# with_two NAME: a secret with two versions.
with_two() { printf '%s-1' "$1" | "$VAULTFS" secret set "$V" "$1" && printf '%s-2' "$1" | "$VAULTFS" secret set "$V" "$1"; }
# all_but OP PATH: the full set of rights, less OP on PATH.
all_but() { set_policy "$FULL
deny $1 $2 uid=1001"; }
# denied WHAT OP PATH: the newest record of WHAT is a denial of PATH under the deny rule.
denied() {
	same "$1 of $3 without $2 recorded" "deny secrets/$3 policy:3 EACCES" \
		"$(last_record "select(.op == \"$1\") | \"\(.decision) \(.path) \(.rule) \(.result)\"" | tr -d '"')"
}

# A rename over a secret, and a rename to a new name, each without one of its rights.
i=0
for target in existing new; do
	for missing in "read src" "delete src" "write dst"; do
		i=$((i + 1))
		set -- $missing
		src=src$i dst=dst$i
		with_two $src
		[ $target = existing ] && with_two $dst
		[ "$2" = src ] && all_but "$1" "secrets/$src" || all_but "$1" "secrets/$dst"
		before=$(secrets $src $dst)
		same "rename to $target without $1 on $2" EACCES "$(as_sys 1001 rename "$S/$src" "$S/$dst")"
		same "rename to $target without $1 on $2 changed nothing" "$before" "$(secrets $src $dst)"
		[ "$2" = src ] && denied rename "$1" $src || denied rename "$1" $dst
	done
done

# The attack: write alone moves no secret into a folder the caller can read.
with_two victim
set_policy "allow * ** uid=0
allow write secrets/** uid=1001
allow read secrets/mine/** uid=1001"
mkdir "$S/mine"
before=$(secrets victim mine/victim)
same "write alone renames nothing" EACCES "$(as_sys 1001 rename "$S/victim" "$S/mine/victim")"
same "nor reads its history" "open:ENOENT" "$(as_sys 1001 read "$S/mine/victim@1")"
same "the victim is where it was" "$before" "$(secrets victim mine/victim)"
# Nor does it destroy another secret's history by renaming over it.
with_two other
same "write alone renames nothing over" EACCES "$(as_sys 1001 rename "$S/victim" "$S/other")"
same "the other keeps its history" "1 2" "$("$VAULTFS" secret versions "$V" other | tr '\n' ' ' | sed 's/ $//')"

# With every right, a rename over a secret keeps both histories: the target gets the
# source's value as a new version, the source's older versions go to .deleted/.
set_policy "$FULL"
same "rename over with every right" ok "$(as_sys 1001 rename "$S/victim" "$S/other")"
same "the target's history" "other-1 other-2 victim-2" \
	"$(for n in 1 2 3; do cat "$S/other@$n"; echo; done | tr '\n' ' ' | sed 's/ $//')"
same "the source's history is in .deleted" "victim live[] deleted[1 2 ] value[]" "$(secrets victim)"
same "and shows there" victim "$(ls "$M/.deleted/secrets" | grep -x victim)"
# A value that may not be read now does not move over another secret either.
printf 'off' | "$VAULTFS" secret set "$V" off
"$VAULTFS" secret attr "$V" off enabled 0
same "rename over from a disabled secret" EACCES "$(as_sys 1001 rename "$S/off" "$S/other")"
"$VAULTFS" secret attr "$V" off enabled 1
"$VAULTFS" secret attr "$V" off expires 2020-01-01T00:00:00Z
same "rename over from an expired secret" EKEYEXPIRED "$(as_sys 1001 rename "$S/off" "$S/other")"
same "the target is unchanged" "other-1 other-2 victim-2" \
	"$(for n in 1 2 3; do cat "$S/other@$n"; echo; done | tr '\n' ' ' | sed 's/ $//')"
# A one-version temporary leaves nothing anywhere.
printf 'tmp' >"$S/t.tmp"
same "temporary renamed over" ok "$(as_sys 1001 rename "$S/t.tmp" "$S/other")"
same "no temporary left" "t.tmp live[] deleted[] value[]" "$(secrets t.tmp)"

# Onto a soft-deleted name: rename, create and write each need recover.
for how in rename create write excl; do
	i=$((i + 1))
	dead=dead$i
	with_two $dead
	rm "$S/$dead"
	printf 'new' | "$VAULTFS" secret set "$V" src$i
	all_but recover "secrets/$dead"
	before=$(secrets src$i $dead)
	case $how in
	rename) got=$(as_sys 1001 rename "$S/src$i" "$S/$dead"); want=EACCES ;;
	create) got=$(as_sys 1001 write "$S/$dead" new); want=open:EACCES ;;
	write) got=$(as_sys 1001 write "$S/$dead" new notrunc); want=open:EACCES ;;
	excl) got=$(as_sys 1001 write "$S/$dead" new excl); want=open:EACCES ;;
	esac
	same "$how onto a deleted name without recover" "$want" "$got"
	same "$how onto a deleted name without recover changed nothing" "$before" "$(secrets src$i $dead)"
	[ $how = rename ] && denied rename recover $dead || denied create recover $dead
	set_policy "$FULL"
	case $how in
	rename) got=$(as_sys 1001 rename "$S/src$i" "$S/$dead") ;;
	*) got=$(as_sys 1001 write "$S/$dead" new) ;;
	esac
	same "$how onto a deleted name with recover" ok "$got"
	same "$how brought the history back" "$dead live[1 2 3 ] deleted[] value[new]" "$(secrets $dead)"
done

# A writer whose secret is deleted before it closes: without recover its commit is refused
# (close() says so), recorded, and the deleted secret stays as it was.
i=$((i + 1))
with_two late$i
all_but recover "secrets/late$i"
mkdir -m 777 "$T/flags"
as_sys 1001 write_wait "$S/late$i" mine "$T/flags/go" existing >"$T/late.out" &
writer=$!
for _ in $(seq 1 200); do [ -e "$T/flags/go.ready" ] && break; sleep 0.05; done
"$VAULTFS" secret delete "$V" late$i
touch "$T/flags/go"
wait $writer
same "commit onto a name deleted meanwhile" "close:EACCES" "$(cat "$T/late.out")"
same "the deleted secret is unchanged" "late$i live[] deleted[1 2 ] value[]" "$(secrets late$i)"
denied write recover late$i
set_policy "$FULL"

# Editors, as a caller with the full set: one new version each, no temporary left.
printf 'host=db\nport=5432\n' >"$S/conf"
as 1001 sed -i 's/5432/6432/' "$S/conf" && pass || fail "sed -i as 1001"
same "sed -i as 1001" "host=db port=6432" "$(tr '\n' ' ' <"$S/conf" | sed 's/ $//')"
as 1001 env HOME="$T" vim -u NONE -i NONE -n -N -es -c '%s/6432/7432/' -c 'wq' "$S/conf" &&
	pass || fail "vim as 1001"
same "vim as 1001" "host=db port=7432" "$(tr '\n' ' ' <"$S/conf" | sed 's/ $//')"
printf 'installed' >"$T/src"
chmod 644 "$T/src"
as 1001 install -m 0600 "$T/src" "$S/conf" && pass || fail "install as 1001"
same "install as 1001" installed "$(cat "$S/conf")"
same "each made one version" "1 2 3 4" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/conf")"
same "no temporary left" "" "$(find "$S" "$M/.deleted/secrets" -name '*conf?*' -o -name 'sed*' -o -name '*.swp' -o -name '*~')"

# The mount's check-and-change raced against the command line: never both, and the
# winner's value stays.
mkdir "$S/race"
for kind in noreplace xattr_create; do
	out=$($RACE_PY $kind "$VAULTFS" "$V" "$M" race 120)
	same "$kind race" "120 rounds, 0 violations" "$(head -1 <<<"$out")"
	[ "$(head -1 <<<"$out")" = "120 rounds, 0 violations" ] || echo "$out" >&2
done

# Every refusal is recorded before the reply, policy's or the tree's.
printf 'v' | "$VAULTFS" secret set "$V" kept
printf 'w' | "$VAULTFS" secret set "$V" kept
rm "$S/kept"
# refused WHAT PATH RULE ERRNO -- COMMAND...: COMMAND prints ERRNO, and the newest record of
# WHAT is its denial.
refused() {
	local what=$1 path=$2 rule=$3 err=$4
	shift 5
	same "$what $path refused" "$err" "$("$@" 2>&1 | tail -n 1)"
	same "$what $path recorded" "deny $path $rule ${err#*:}" \
		"$(last_record "select(.op == \"$what\") | \"\(.decision) \(.path) \(.rule) \(.result)\"" | tr -d '"')"
}
refused open secrets/kept deleted open:EACCES -- sys_ read "$M/.deleted/secrets/kept"
refused open secrets/conf history open:EACCES -- sys_ write "$S/conf@1" x notrunc
refused delete secrets/conf history EPERM -- sys_ unlink "$S/conf@1"
refused setxattr secrets/kept deleted EPERM -- sys_ setxattr "$M/.deleted/secrets/kept" user.vault.tag.a 1
refused mkdir keys/x tree EPERM -- sys_ mkdir "$M/keys/x"
refused getxattr secrets default-deny EACCES -- as_sys 1002 getxattr "$S" user.vault.version
refused access secrets default-deny EACCES -- as_sys 1002 access "$S" r
refused link secrets/conf-link tree EPERM -- sys_ link "$S/conf" "$S/conf-link"
refused symlink secrets/conf-sym tree EPERM -- sys_ symlink conf "$S/conf-sym"
refused mknod secrets/fifo tree EPERM -- sys_ mkfifo "$S/fifo"
refused access secrets/conf modes EACCES -- sys_ access "$S/conf" x
refused access secrets/conf history EACCES -- sys_ access "$S/conf@1" w
as 1002 getfattr -d "$S" >/dev/null 2>&1
same "listxattr recorded" "1002 deny secrets default-deny EACCES" \
	"$(last_record 'select(.op == "listxattr") | "\(.uid) \(.decision) \(.path) \(.rule) \(.result)"' | tr -d '"')"

"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify"
stop
finish

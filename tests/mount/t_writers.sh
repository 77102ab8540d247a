#!/usr/bin/env bash
# A value becomes a version when its writer closes it, never when the writer dies: a
# writer killed by SIGKILL or SIGINT halfway, an interrupted `cat >`, a writer that exits
# with a failure leave the secret as it was (and the trail says what was dropped); one
# that exits with status 0 without closing has its value committed. A commit that failed
# at close() is not made later behind the writer's back.
. "$(dirname "$0")/lib.sh"
WRITER="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/writer.py"
new_vault "allow * ** uid=0
allow read,write secrets/** uid=1001"
for s in a b c d e f; do printf 'old-%s' $s | "$VAULTFS" secret set "$V" $s; done
start
mkdir -m 777 "$T/flags"
versions() { getfattr --absolute-names --only-values -n user.vault.versions "$S/$1"; }
# discarded NAME WHY: the newest write record of NAME is a drop for WHY.
discarded() {
	local got
	for _ in $(seq 1 100); do # the kernel sends the release of a dead writer's file later
		got=$(last_record "select(.op == \"write\" and .path == \"secrets/$1\") | \"\(.result) \(.detail)\"" | tr -d '"')
		[ -n "$got" ] && break
		sleep 0.05
	done
	same "drop of $1 recorded" "ECANCELED $2" "$got"
	[ -n "$got" ] || tail -n 3 "$V/audit.log" >&2
}

# Killed halfway, by SIGKILL and by a Ctrl-C, as another uid too.
for sig in KILL INT; do
	name=a; [ $sig = INT ] && name=b
	setpriv --reuid 1001 --regid 1001 --clear-groups -- $WRITER half "$S/$name" half-value "$T/flags/$name" &
	w=$!
	for _ in $(seq 1 200); do [ -e "$T/flags/$name" ] && break; sleep 0.05; done
	kill -$sig $w
	wait $w 2>/dev/null
	same "SIG$sig'd writer: value kept" "old-$name" "$(cat "$S/$name")"
	same "SIG$sig'd writer: no version" 1 "$(versions $name)"
	discarded $name "the writer was killed before it closed"
done

# An interrupted cat: its input stops halfway and it is killed.
mkfifo "$T/fifo"
env --default-signal=INT cat "$T/fifo" >"$S/c" &
w=$!
exec 7>"$T/fifo"
printf 'half-of-a-new-' >&7
sleep 0.3
kill -INT $w
wait $w 2>/dev/null
exec 7>&-
same "interrupted cat: value kept" old-c "$(cat "$S/c")"
same "interrupted cat: no version" 1 "$(versions c)"

# Exiting without a close: with a failure, nothing; with status 0, the value.
$WRITER exit "$S/d" failed-value 3
same "writer exiting 3: value kept" old-d "$(cat "$S/d")"
discarded d "the writer failed before it closed"
$WRITER exit "$S/e" finished-value 0
same "writer exiting 0: value committed" finished-value "$(cat "$S/e")"
same "writer exiting 0: one version" "1 2" "$(versions e)"

# close() reports a failed commit (the trail cannot be written); the descriptor lives on
# in a child, and its exit must not commit the value after all.
$WRITER failclose "$S/f" never-acknowledged "$T/flags/f" >"$T/f.out" &
w=$!
for _ in $(seq 1 200); do [ -e "$T/flags/f.1" ] && break; sleep 0.05; done
chattr +i "$V/audit.log"
touch "$T/flags/f.go1"
for _ in $(seq 1 200); do [ -e "$T/flags/f.2" ] && break; sleep 0.05; done
chattr -i "$V/audit.log"
touch "$T/flags/f.go2"
wait $w
same "close() reported the failed commit" "close:EIO done" "$(tr '\n' ' ' <"$T/f.out" | sed 's/ $//')"
same "the value was not committed later" old-f "$(cat "$S/f")"
same "no version" 1 "$(versions f)"

# A plain writer still commits at close.
printf 'plain' >"$S/a"
same "plain write" plain "$(cat "$S/a")"
ERR_EXPECTED=1 # the failed commit is logged
stop
finish

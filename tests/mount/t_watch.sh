#!/usr/bin/env bash
# `vaultfs watch` as a program that reloads on change uses it: started in the background
# on a mounted vault, it prints one line within a second for a new version written
# through the mount, a `secret set` from another process, a key rotation, a deletion (rm)
# and a recover (mv back), each with the right op, path and version, and never a byte of
# a value. PATH filters by segment. A logrotate move + SIGHUP and a copytruncate while a
# writer keeps making versions lose no line and print none twice. Idle, with the vault
# mounted, neither the daemon nor the watcher spends CPU time: both are sampled from
# /proc/PID/stat over 60 seconds and printed. Without a mount it works the same, and a
# DIR that is missing or not a vault is one line and exit 1.
. "$(dirname "$0")/lib.sh"
command -v logrotate >/dev/null || { echo "logrotate missing (scripts/deps.sh): skipped"; exit 77; }

new_vault "allow * ** uid=0"
"$VAULTFS" key create "$V" signer --type ec-p256 >/dev/null || fail "key create"
start
W_PIDS=()
stop_watchers() { for p in "${W_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; }
at_exit stop_watchers

# watch OUT [PATH...]: starts a watcher writing to OUT; WPID is its pid. Waits until it
# has its inotify watch in place (its fd table shows it).
watch_bg() {
	local out=$1; shift
	env --default-signal=INT "$VAULTFS" watch "$V" "$@" >"$out" 2>"$out.err" &
	WPID=$!
	W_PIDS+=("$WPID")
	for _ in $(seq 1 100); do
		ls -l "/proc/$WPID/fd" 2>/dev/null | grep -q inotify && return 0
		sleep 0.02
	done
	fail "watcher did not start: $(cat "$out.err")"
}

# expect OUT DESC JQ: the next line of OUT (after the ones already checked, counted in
# SEEN_<OUT>) appears within a second of now and matches the jq condition JQ.
declare -A SEEN
expect() {
	local out=$1 what=$2 cond=$3 n=${SEEN[$1]:-0} line t0 t1
	t0=$(date +%s%N)
	for _ in $(seq 1 100); do
		[ "$(wc -l <"$out")" -gt "$n" ] && break
		sleep 0.01
	done
	t1=$(date +%s%N)
	line=$(sed -n "$((n + 1))p" "$out")
	if [ -z "$line" ]; then
		fail "$what: no line within a second"
		return
	fi
	SEEN[$out]=$((n + 1))
	echo "$what: $(((t1 - t0) / 1000000)) ms: $line"
	[ $(((t1 - t0) / 1000000)) -lt 1000 ] && pass || fail "$what: $(((t1 - t0) / 1000000)) ms"
	jq -e "$cond" <<<"$line" >/dev/null && pass || fail "$what: $line does not match $cond"
}

# value TAG: prints a new value, and keeps it in $T/values (subshells and pipelines too).
value() { local v="val-$RANDOM$RANDOM-$1"; echo "$v" >>"$T/values"; printf '%s' "$v"; }

# 1. Each kind of change, each within a second.
watch_bg "$T/all"
ALL_PID=$WPID
watch_bg "$T/app" secrets/app
APP_PID=$WPID
value mount1 >"$S/db-conn"
expect "$T/all" "write through the mount" '.op == "write" and .path == "secrets/db-conn" and .version == 1 and (.time | test("^[0-9-]+T[0-9:.]+Z$"))'
value cli2 | "$VAULTFS" secret set "$V" db-conn
expect "$T/all" "secret set from another process" '.op == "secret-set" and .path == "secrets/db-conn" and .version == 2'
"$VAULTFS" key rotate "$V" signer >/dev/null
expect "$T/all" "key rotate" '.op == "key-rotate" and .path == "keys/signer" and .version == 2'
rm "$S/db-conn"
expect "$T/all" "rm" '.op == "delete" and .path == "secrets/db-conn" and .version == null'
mv "$M/.deleted/secrets/db-conn" "$S/db-conn"
expect "$T/all" "recover by mv" '.op == "recover" and .path == "secrets/db-conn"'
# what changes nothing prints nothing: reads, listings, a refused write, inspections
cat "$S/db-conn" >/dev/null; ls "$S" "$M/keys/signer" >/dev/null
"$VAULTFS" secret get "$V" db-conn >/dev/null; "$VAULTFS" status "$V" >/dev/null
"$VAULTFS" secret attr "$V" db-conn >/dev/null
{ echo x >"$M/keys/signer/new"; } 2>/dev/null
"$VAULTFS" secret attr "$V" db-conn content_type text/plain
expect "$T/all" "an attribute set (after reads that print nothing)" '.op == "secret-attr-set" and .path == "secrets/db-conn"'

# 2. PATH: secrets/app matches itself, below it and its versions; not secrets/apple.
mkdir "$S/app"
value a >"$S/apple"
value b >"$S/app/key"
mv "$S/app/key" "$S/moved"
value c >"$S/elsewhere"
mv "$S/elsewhere" "$S/app/in"
expect "$T/app" "PATH: mkdir secrets/app" '.op == "mkdir" and .path == "secrets/app"'
expect "$T/app" "PATH: a write below" '.op == "write" and .path == "secrets/app/key" and .version == 1'
expect "$T/app" "PATH: renamed away" '.op == "rename" and .path == "secrets/app/key" and .to == "secrets/moved"'
expect "$T/app" "PATH: renamed in" '.op == "rename" and .path == "secrets/elsewhere" and .to == "secrets/app/in"'
sleep 0.3
same "PATH: nothing else (secrets/apple is not secrets/app)" 4 "$(wc -l <"$T/app")"
for _ in 1 2 3 4 5 6; do expect "$T/all" "the same changes, unfiltered" '.op != null'; done

# 3. Rotation: logrotate's move + create + SIGHUP twice while a writer keeps making
# versions (through the mount and with secret set), then copytruncate between writes
# (a record written between its copy and its truncate is in neither file: README). Every
# version of "rot" is printed once, none lost.
cat >"$T/move.conf" <<EOF
$V/audit.log {
	rotate 100
	create 0600 root root
	postrotate
		kill -HUP $DAEMON_PID
	endscript
}
EOF
cat >"$T/copy.conf" <<EOF
$V/audit.log {
	rotate 100
	copytruncate
}
EOF
writes() {
	for i in $(seq "$1" "$2"); do
		value "rot$i" >"$S/rot"
		[ $((i % 2)) -eq 0 ] && value "rc$i" | "$VAULTFS" secret set "$V" rot
	done
}
writes 1 40 &
wpid=$!
for _ in 1 2; do
	sleep 0.3
	logrotate -f -s "$T/lr.state" "$T/move.conf" 2>"$T/lr.err" || fail "logrotate move: $(cat "$T/lr.err")"
done
wait "$wpid"
sleep 0.5
logrotate -f -s "$T/lr.state" "$T/copy.conf" 2>"$T/lr.err" || fail "logrotate copytruncate: $(cat "$T/lr.err")"
writes 41 44
sleep 0.5
versions=$(jq -r 'select(.path == "secrets/rot") | .version' "$T/all" | sort -n)
same "rotation: every version of rot printed once" "$(seq 1 66)" "$versions"
[ "$(ls "$V"/audit.log.* | wc -l)" -ge 3 ] && pass || fail "logrotate did not rotate: $(ls "$V")"
out=$("$VAULTFS" audit verify "$V" 2>&1) && pass || fail "verify after the rotations: $out"

# 4. No value, ever, in what the watchers printed.
while read -r v; do
	if grep -qF "$v" "$T/all" "$T/app" "$T/all.err" "$T/app.err"; then fail "a value is printed: $v"; fi
done <"$T/values"
[ "$(wc -l <"$T/values")" -gt 70 ] && pass || fail "only $(wc -l <"$T/values") values written"
! grep -qF 'val-' "$T/all" "$T/app" && pass || fail "a value is printed"

# 5. Idle: the daemon and a watcher over 60 seconds of nothing happening.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
sleep 2
d0=$(ticks "$DAEMON_PID"); w0=$(ticks "$ALL_PID")
sleep 60
d1=$(ticks "$DAEMON_PID"); w1=$(ticks "$ALL_PID")
echo "idle 60 s: daemon $((d1 - d0)) ticks, watcher $((w1 - w0)) ticks (of $(getconf CLK_TCK)/s)"
[ $((d1 - d0)) -lt 10 ] && pass || fail "daemon idle: $((d1 - d0)) ticks in 60 s"
[ $((w1 - w0)) -lt 10 ] && pass || fail "watcher idle: $((w1 - w0)) ticks in 60 s"
same "watcher state while idle (sleeping)" S "$(sed 's/.*) //' "/proc/$ALL_PID/stat" | cut -d' ' -f1)"

# 6. SIGINT ends a watcher with 0; a reader that goes away ends one quietly, idle or not.
kill -INT "$ALL_PID"; wait_exit "$ALL_PID" 5 && pass || fail "SIGINT did not end the watcher"
wait "$ALL_PID"; same "exit status after SIGINT" 0 "$?"
kill -TERM "$APP_PID"; wait "$APP_PID"; same "exit status after SIGTERM" 0 "$?"
[ -s "$T/all.err" ] && fail "watcher stderr: $(cat "$T/all.err")" || pass
# the reader leaves while nothing happens
( "$VAULTFS" watch "$V" 2>"$T/pipe.err"; echo "rc=$?" >"$T/pipe.rc" ) | (sleep 0.5; exit 0) &
hp=$!
wait_exit "$hp" 5 && pass || fail "the watch outlived its reader"
wait "$hp"
same "a closed pipe while idle" "rc=0" "$(cat "$T/pipe.rc" 2>/dev/null)"
rm -f "$T/pipe.rc"
# the reader takes one line and leaves
( "$VAULTFS" watch "$V" 2>>"$T/pipe.err"; echo "rc=$?" >"$T/pipe.rc" ) | head -n 1 >"$T/first" &
hp=$!
sleep 0.5
value p1 >"$S/p1"; value p2 >"$S/p2"
wait_exit "$hp" 5 && pass || fail "head -n 1 pipeline did not end"
wait "$hp"
same "a closed pipe after a line" "rc=0" "$(cat "$T/pipe.rc" 2>/dev/null)"
[ -s "$T/pipe.err" ] && fail "stderr on a closed pipe: $(cat "$T/pipe.err")" || pass
stop

# 7. Unmounted: the same, for a command's change.
watch_bg "$T/off"
value off | "$VAULTFS" secret set "$V" offline
expect "$T/off" "no mount: secret set" '.op == "secret-set" and .path == "secrets/offline" and .version == 1'
"$VAULTFS" secret delete "$V" offline
expect "$T/off" "no mount: secret delete" '.op == "secret-delete" and .path == "secrets/offline"'
kill -INT "$WPID"; wait "$WPID"; same "exit status unmounted" 0 "$?"

# 8. Errors: one line, exit 1.
refuses "no such DIR" "\"$T/nope\": No such file or directory" "$VAULTFS" watch "$T/nope"
mkdir "$T/plain"; touch "$T/plain/x"
refuses "not a vault" "is not a vault" "$VAULTFS" watch "$T/plain"
refuses "the mount point" "is an empty directory, not a vault" "$VAULTFS" watch "$M"
"$VAULTFS" watch >/dev/null 2>&1; same "no DIR: usage" 2 "$?"
finish

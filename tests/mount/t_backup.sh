#!/usr/bin/env bash
# Backup and restore under load. Writers commit unique values through the mount
# (crash_writer.py) and the command line (`secret set`) while `vaultfs backup` copies the
# vault; the backup is restored into a new directory, which mounts; every value
# acknowledged before the backup began is there, byte for byte, as a version of its
# secret, no version holds bytes nobody wrote (crash_check.py), `audit verify` passes on
# both vaults, and each trail records the command (backup, restore). The restored vault
# never touches the original's token. Errors: a DEST or DIR that exists, a directory that
# is no backup, a backup whose trail or database was damaged: each refused in one line,
# and a failed restore leaves nothing behind.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
names=a,b,c,d
new_vault
# a trail that rotates while the writers run: the backup takes rotated files too
sed -i 's/^rotate_size = .*/rotate_size = 65536/' "$V/vaultfs.conf"
start

pids=()
for w in 1 2; do
	/usr/bin/python3 "$here/crash_writer.py" "$S" "w$w" "$names" "$T/writer$w.log" "$T/stop" &
	pids+=($!)
done
cli_writer "$T/stop" "$T/cli.log" &
pids+=($!)
sleep 1.5
# what was acknowledged before the backup began
cat "$T"/writer*.log "$T/cli.log" | grep '^ack' >"$T/acked_before"
B=$T/backup
"$VAULTFS" backup "$V" "$B" 2>"$T/backup.err" && pass || fail "backup under load: $(cat "$T/backup.err")"
sleep 0.5
touch "$T/stop"
wait "${pids[@]}"
grep -h '^error' "$T"/writer*.log && fail "a writer's close failed"
stop
"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify of the original"
ls "$B"/audit.log-* >/dev/null 2>&1 && pass || fail "the backup holds the rotated trail files"
rec=$(cat "$V"/audit.log-* "$V/audit.log" | jq -c 'select(.op == "backup")')
same "the backup's record" "0 $B" "$(jq -r '"\(.result) \(.detail)"' <<<"$rec")"
[ "$(wc -l <"$T/acked_before")" -gt 10 ] && pass || fail "too few writes before the backup: $(wc -l <"$T/acked_before")"

ORIG=$V
tokens_sum() { (cd "$ORIG/tokens" && find . -type f ! -name .vaultfs.lock -print0 | sort -z | xargs -0 sha256sum); }
before=$(tokens_sum)
R=$T/restored
"$VAULTFS" restore "$B" "$R" 2>"$T/restore.err" && pass || fail "restore: $(cat "$T/restore.err")"
"$VAULTFS" audit verify "$R" >/dev/null && pass || fail "audit verify of the restored vault"
same "the restore's record" "0 from $B" "$(cat "$R"/audit.log-* "$R/audit.log" | jq -r 'select(.op == "restore") | "\(.result) \(.detail)"')"

# the restored vault mounts, and holds every value acknowledged before the backup
V=$R
start
{ cat "$T"/writer*.log "$T/cli.log" | grep '^attempt'; cat "$T/acked_before"; } >"$T/check.log"
if out=$(/usr/bin/python3 "$here/crash_check.py" "$S" "$T/state.json" --full "$T/check.log" 2>&1); then
	pass
else
	fail "the restored vault: $out"
fi
printf 'after' >"$T/v"
"$VAULTFS" secret set "$R" a --file "$T/v" && pass || fail "a write to the restored vault"
stop
same "the original's token is untouched by the restored vault" "$before" "$(tokens_sum)"
V=$T/vault

# errors: one line each, nothing made or changed
refuses "backup to a directory that exists" 'already exists' "$VAULTFS" backup "$V" "$B"
refuses "restore into a directory that exists" 'already exists' "$VAULTFS" restore "$B" "$R"
mkdir "$T/empty"
refuses "restore of a directory that is no backup" 'is not a vault backup' \
	"$VAULTFS" restore "$T/empty" "$T/r2"
[ ! -e "$T/r2" ] && pass || fail "a refused restore made its directory"
cp -a "$B" "$T/bad-trail"
sed -i '2s/"result":0/"result":1/' "$T/bad-trail/audit.log"
refuses "restore of a backup whose trail was changed" 'audit trail' \
	"$VAULTFS" restore "$T/bad-trail" "$T/r3"
[ ! -e "$T/r3" ] && pass || fail "a failed restore left its directory"
cp -a "$B" "$T/bad-db"
truncate -s 8192 "$T/bad-db/vault.db"
refuses "restore of a backup whose database was cut" 'restore' \
	"$VAULTFS" restore "$T/bad-db" "$T/r4"
[ ! -e "$T/r4" ] && pass || fail "a failed restore left its directory"
finish

#!/usr/bin/env bash
# Every error is one line on stderr with a non-zero exit, and changes nothing: unknown
# vault, bad name, value too large, wrong PIN, missing token, locked or corrupted
# database, bad settings. The PIN appears in no message.
. "$(dirname "$0")/lib.sh"

V=$T/vault
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
printf 'original' | "$VAULTFS" secret set "$V" app/key
PIN=$(cat "$V/pin")
dump=$(db_dump "$V")

refuses "not a vault" 'is not a vault \(no vaultfs.conf\)' "$VAULTFS" secret get "$T" app/key
refuses "no such directory" 'No such file or directory' "$VAULTFS" secret get "$T/none" app/key
refuses "bad name" 'invalid name' "$VAULTFS" secret get "$V" '../etc/passwd'
refuses "bad name on set" 'invalid name' sh -c "printf x | '$VAULTFS' secret set '$V' 'a b'"
refuses "dot name" 'invalid name' sh -c "printf x | '$VAULTFS' secret set '$V' .hidden"
head -c 30000 /dev/zero >"$T/big"
refuses "too large" 'larger than max_secret_size' "$VAULTFS" secret set "$V" app/key --file "$T/big"
same "nothing changed" "$dump" "$(db_dump "$V")"

# Usage errors exit 2.
"$VAULTFS" secret frobnicate "$V" 2>/dev/null; same "unknown subcommand exit" 2 "$?"
"$VAULTFS" secret get "$V" 2>/dev/null; same "missing name exit" 2 "$?"
"$VAULTFS" nonsense 2>/dev/null; same "unknown command exit" 2 "$?"
"$VAULTFS" --help >/dev/null; same "--help exit" 0 "$?"
"$VAULTFS" secret --help | grep -q 'recover DIR NAME' && pass || fail "secret --help"

# Wrong PIN.
chmod 600 "$V/pin"; printf 'wrong-pin-0000' >"$V/pin"; chmod 400 "$V/pin"
refuses "wrong PIN" 'wrong PIN' "$VAULTFS" secret get "$V" app/key
grep -q "$PIN" "$T/.err" && fail "PIN in a message" || pass
grep -q "wrong-pin-0000" "$T/.err" && fail "wrong PIN echoed" || pass
chmod 600 "$V/pin"; printf '%s' "$PIN" >"$V/pin"; chmod 400 "$V/pin"
# A PIN file others can read is refused, as ssh refuses such a key.
chmod 444 "$V/pin"
refuses "pin open to others" 'open to others \(mode 0444\)' "$VAULTFS" secret get "$V" app/key
chmod 400 "$V/pin"
mv "$V/pin" "$T/pin.away"
refuses "missing pin file" 'cannot open PIN file' "$VAULTFS" secret get "$V" app/key
mv "$T/pin.away" "$V/pin"

# Missing token: the token directory emptied, then a token label that does not exist.
cp "$V/vaultfs.conf" "$T/conf.orig"
mv "$V/tokens" "$T/tokens.away"; mkdir -m 700 "$V/tokens"
refuses "missing token" 'no token with that label' "$VAULTFS" secret get "$V" app/key
rm -r "$V/tokens"; mv "$T/tokens.away" "$V/tokens"
sed -i 's/^token = .*/token = no-such-token/' "$V/vaultfs.conf"
refuses "unknown token label" 'token "no-such-token".*no token with that label' "$VAULTFS" secret get "$V" app/key
# Another vault's token: it logs in, but does not hold this vault's key.
"$VAULTFS" init "$T/other" >/dev/null
sed -e "s|^softhsm2_conf = .*|softhsm2_conf = $T/other/softhsm2.conf|" \
    -e "s|^pin_file = .*|pin_file = $T/other/pin|" \
    -e "s|^token = .*|$(grep '^token = ' "$T/other/vaultfs.conf")|" "$T/conf.orig" >"$V/vaultfs.conf"
refuses "a token without this vault's key" "does not hold this vault's key-encryption key" "$VAULTFS" secret get "$V" app/key
cp "$T/conf.orig" "$V/vaultfs.conf"
same "restored vault works" original "$("$VAULTFS" secret get "$V" app/key)"

# Bad settings name their line.
cp "$V/vaultfs.conf" "$T/conf.good"
sed -i 's/^retention_days = 90/retention_days = ninety/' "$V/vaultfs.conf"
refuses "bad setting" 'vaultfs.conf:[0-9]+: out of range \(1 to 36500\): "retention_days"' "$VAULTFS" secret get "$V" app/key
printf '\ntypo_setting = 1\n' >>"$T/conf.good.typo"; cat "$T/conf.good" "$T/conf.good.typo" >"$V/vaultfs.conf"
refuses "unknown setting" 'unknown setting "typo_setting"' "$VAULTFS" secret get "$V" app/key
cp "$T/conf.good" "$V/vaultfs.conf"

# Locked database: another writer holds it; set waits busy_timeout_ms, then fails.
sed -i 's/^busy_timeout_ms = .*/busy_timeout_ms = 300/' "$V/vaultfs.conf"
dump=$(db_dump "$V")
mkfifo "$T/hold"
(sqlite3 "$V/vault.db" <"$T/hold" >/dev/null 2>&1) &
holder=$!
exec 9>"$T/hold"
echo 'BEGIN EXCLUSIVE; SELECT 1;' >&9
sleep 0.5
refuses "locked database" 'locked by another process' sh -c "printf changed | '$VAULTFS' secret set '$V' app/key"
echo 'ROLLBACK;' >&9
exec 9>&-
wait "$holder"
same "locked: nothing changed" "$dump" "$(db_dump "$V")"
same "value kept" original "$("$VAULTFS" secret get "$V" app/key)"

# Corrupted database: garbage over the header, then over the data pages.
cp "$V/vault.db" "$T/db.good"
rm -f "$V/vault.db-wal" "$V/vault.db-shm"
printf 'this is not an sqlite header at all' | dd of="$V/vault.db" conv=notrunc status=none
refuses "corrupt header" 'corrupt, or not a vault database' "$VAULTFS" secret get "$V" app/key
cp "$T/db.good" "$V/vault.db"
size=$(stat -c %s "$V/vault.db")
head -c $((size - 4096)) /dev/urandom | dd of="$V/vault.db" bs=1 seek=4096 conv=notrunc status=none
"$VAULTFS" secret get "$V" app/key >"$T/.out" 2>"$T/.err"; rc=$?
[ "$rc" -ne 0 ] && pass || fail "corrupt pages accepted"
same "corrupt pages: one line" 1 "$(wc -l <"$T/.err")"
grep -qE 'corrupt|integrity' "$T/.err" && pass || fail "corrupt pages message: $(cat "$T/.err")"
cp "$T/db.good" "$V/vault.db"
same "restored database works" original "$("$VAULTFS" secret get "$V" app/key)"

# A record torn by a writer that died mid-line: the next command cuts it off, says so once
# on its stderr (the trail tells, the command logs), and goes on; the chain holds.
printf '{"seq":99,"ti' >>"$V/audit.log"
"$VAULTFS" secret get "$V" app/key >"$T/.out" 2>"$T/.err" && pass || fail "after a torn record: $(cat "$T/.err")"
same "torn record: the value" original "$(cat "$T/.out")"
same "torn record: one line" 1 "$(wc -l <"$T/.err")"
grep -qE '^vaultfs: Cutting a torn record \(13 bytes\) off the end of ".*/audit\.log"$' "$T/.err" && pass ||
	fail "torn record message: $(cat "$T/.err")"
out=$("$VAULTFS" audit verify "$V" 2>&1) && pass || fail "verify after the cut: $out"

# The PIN never shows up, even with debug logging on.
VAULTFS_DEBUG=1 "$VAULTFS" secret get "$V" app/key >/dev/null 2>"$T/debug"
grep -q "$PIN" "$T/debug" && fail "PIN in the debug log" || pass

finish

#!/usr/bin/env bash
# The embedded token against what kills it: SIGKILL and SIGINT at random moments of
# commands and of daemon starts, and commands run by several processes at once (the
# campaign of tests/soak/token_kill.py, bounded here; tests/soak/token.sh runs it long).
# Then the error paths: a damaged token.object without its copy, a garbage copy, and the
# lock held by another process, waited for and then given up on after 30 s.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "python3 missing: skipped"; exit 77; }
command -v flock >/dev/null || { echo "flock missing: skipped"; exit 77; }

if [ "${VAULTFS_SANITIZED:-0}" = 1 ]; then
	args=(--kill 40 --int 40 --mount 10 --loops 15)
else
	args=(--kill 150 --int 150 --mount 30 --loops 100)
fi
mkdir "$T/campaign"
if python3 "$(dirname "$0")/../soak/token_kill.py" "$VAULTFS" "$T/campaign" "${args[@]}" \
	>"$T/campaign.out" 2>"$T/campaign.err"; then
	pass
else
	fail "campaign: $(cat "$T/campaign.out") $(head -n 20 "$T/campaign.err")"
fi
cat "$T/campaign.out"

new_vault
vs() { "$VAULTFS" secret "$@"; }
printf 'kept' | vs set "$V" s
tokdir=$(dirname "$(ls "$V"/tokens/*/token.object)")

# The copy is made by the first login, and names no object: SoftHSM2 never lists it.
[ -f "$tokdir/token.object.good" ] && pass || fail "no known-good copy after init"
[ -f "$V/tokens/.vaultfs.lock" ] && pass || fail "no lock file"
check "vault is safe with the guard's files" vs list "$V"

# An emptied token.object (what a kill during C_Login leaves) is put back, with a warning.
: >"$tokdir/token.object"
same "emptied token.object: the value" kept "$(vs get "$V" s 2>"$T/warn")"
grep -q 'put back from its known-good copy' "$T/warn" && pass || fail "no warning: $(cat "$T/warn")"
cmp -s <(tail -c +9 "$tokdir/token.object") <(tail -c +9 "$tokdir/token.object.good") &&
	pass || fail "token.object and its copy differ"
# Cut in the middle of an attribute, and missing altogether: the same.
head -c 100 "$tokdir/token.object.good" >"$tokdir/token.object"
same "cut token.object" kept "$(vs get "$V" s 2>/dev/null)"
rm "$tokdir/token.object"
same "missing token.object" kept "$(vs get "$V" s 2>/dev/null)"

# A mount started on an emptied token.object serves, and its start refreshes nothing wrong.
: >"$tokdir/token.object"
ERR_EXPECTED=1
start
same "read through a mount started on an emptied token.object" kept "$(cat "$S/s")"
stop
ERR_EXPECTED=

# Damaged with no intact copy: refused with one line, and nothing is written over.
cp "$tokdir/token.object.good" "$T/good"
: >"$tokdir/token.object"
rm "$tokdir/token.object.good"
refuses "no copy" 'token.object is damaged and has no intact known-good copy' vs get "$V" s
head -c 50 /dev/urandom >"$tokdir/token.object.good"
refuses "garbage copy" 'token.object is damaged and has no intact known-good copy' vs get "$V" s
same "garbage copy left as it was" 50 "$(wc -c <"$tokdir/token.object.good")"
cp "$T/good" "$tokdir/token.object.good"
same "copy put back by hand" kept "$(vs get "$V" s 2>/dev/null)"

# Another process holding the lock: a command waits for it, then gives up after 30 s.
flock "$V/tokens/.vaultfs.lock" sleep 2 &
sleep 0.3
t0=$(date +%s)
same "waits for a short holder" kept "$(vs get "$V" s)"
[ $(($(date +%s) - t0)) -ge 1 ] && pass || fail "did not wait for the lock"
wait
flock -o "$V/tokens/.vaultfs.lock" sleep 40 &
holder=$!
sleep 0.3
t0=$(date +%s)
refuses "lock held for 30 s" 'another vaultfs process kept it locked for 30 s' vs get "$V" s
el=$(($(date +%s) - t0))
[ "$el" -ge 29 ] && [ "$el" -le 38 ] && pass || fail "gave up after ${el}s, not 30"
pkill -P "$holder"
wait
same "after the holder" kept "$(vs get "$V" s)"

finish

#!/usr/bin/env bash
# A request whose process the daemon cannot see — here the daemon runs in its own pid
# namespace, so FUSE reports pid 0 for every caller outside it — gets nothing that
# depends on identity: a uid rule does not hold for it, a '*' rule still does.
. "$(dirname "$0")/lib.sh"
command -v unshare >/dev/null || { echo "unshare missing: skipped"; exit 77; }
new_vault "$(printf 'allow read secrets/by-uid uid=0\nallow read secrets/for-all *\n')"
printf 'u' | "$VAULTFS" secret set "$V" by-uid
printf 'a' | "$VAULTFS" secret set "$V" for-all

unshare --pid --fork "$VAULTFS" mount "$V" "$M" -f 2>"$T/daemon.err" &
DAEMON_PID=$!
for _ in $(seq 1 200); do mountpoint -q "$M" && [ -d "$S" ] && break; sleep 0.05; done
mountpoint -q "$M" || { echo "mount in a pid namespace failed: $(cat "$T/daemon.err")"; exit 1; }

same "a uid rule does not hold for an unseen caller" "open:ENOENT" "$(sys_ read "$S/by-uid")"
same "a rule for everyone does" a "$(cat "$S/for-all")"

fusermount3 -u "$M" && pass || fail "unmount"
wait "$DAEMON_PID"; same "daemon exit status" 0 "$?"
DAEMON_PID=
finish

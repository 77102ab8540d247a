#!/usr/bin/env bash
# Nothing put at the policy's path freezes the daemon: a FIFO is refused as a policy error
# (the last good policy stays), a later deny-all is applied within a second, and the
# daemon still unmounts. A FIFO as vaultfs.conf or the PIN file is an error, not a hang.
. "$(dirname "$0")/lib.sh"
new_vault "allow * ** uid=0
allow read secrets/s uid=1001"
printf 'v' | "$VAULTFS" secret set "$V" s
start
reloads() { grep -c '"op":"policy-reload"' "$V/audit.log"; }

before=$(reloads)
mkfifo "$T/fifo" && mv "$T/fifo" "$V/policy"
for _ in $(seq 1 100); do [ "$(reloads)" -gt "$before" ] && break; sleep 0.05; done
same "a FIFO policy is refused" EINVAL \
	"$(last_record 'select(.op == "policy-reload") | .result' | tr -d '"')"
same "the last good policy stays" v "$(as 1001 cat "$S/s")"
rm "$V/policy"
set_policy "allow * ** uid=0"
same "a later deny-all is applied" "open:ENOENT" "$(as_sys 1001 read "$S/s")"
ERR_EXPECTED=1 # the refused policy is logged
stop

# The command line: each of these is one line of error, at once.
mv "$V/vaultfs.conf" "$T/conf" && mkfifo -m 600 "$V/vaultfs.conf"
refuses "a FIFO as vaultfs.conf" "not a regular file" timeout 10 "$VAULTFS" secret get "$V" s
rm "$V/vaultfs.conf" && mv "$T/conf" "$V/vaultfs.conf"
mv "$V/pin" "$T/pin" && mkfifo -m 400 "$V/pin"
refuses "a FIFO as the PIN file" "not a regular file" timeout 10 "$VAULTFS" secret get "$V" s
rm "$V/pin" && mv "$T/pin" "$V/pin"
same "the vault works again" v "$("$VAULTFS" secret get "$V" s)"
finish

#!/usr/bin/env bash
# A change rolled back after its record is in the trail is never printed by `vaultfs
# watch`, even when the watcher looks only after a later change has committed (and the
# head stored in vault.db has moved past the rolled-back record). The token breaks at the
# instant a `secret set` tags the trail's new head (tests/shim/p11shim.c fails the head
# key's HMAC with CKR_DEVICE_ERROR), after the change's record was written; the watcher is
# stopped meanwhile, as a loaded machine or a slow reader holds it; a write through the
# mount then commits. Once the watcher runs again it prints the write and not the set;
# the set's value and version are nowhere to be seen, the trail says which record the
# failure undoes, and `audit verify` passes.
. "$(dirname "$0")/lib.sh"
[ -n "${P11SHIM:-}" ] && [ -f "$P11SHIM" ] || { echo "P11SHIM (the shim module) not built: skipped"; exit 77; }
export P11SHIM_CTL=$T/shim.ctl
A=$V/audit.log

new_vault
sed -i "s|^module = .*|module = $P11SHIM|" "$V/vaultfs.conf"
printf 'value-1' | "$VAULTFS" secret set "$V" db || fail "secret set"
start
same "reads through the shim" "value-1" "$(cat "$S/db")"

env --default-signal=INT "$VAULTFS" watch "$V" >"$T/out" 2>"$T/out.err" &
WPID=$!
stop_watcher() { kill -TERM "$WPID" 2>/dev/null; }
at_exit stop_watcher
for _ in $(seq 1 100); do
	ls -l "/proc/$WPID/fd" 2>/dev/null | grep -q inotify && break
	sleep 0.02
done
kill -STOP "$WPID"

# the change fails after its record: the token refuses to tag the head
echo "hmac-head fail" >"$P11SHIM_CTL"
printf 'value-2' | "$VAULTFS" secret set "$V" db 2>"$T/set.err"
rc=$?
: >"$P11SHIM_CTL"
[ "$rc" -ne 0 ] && pass || fail "secret set succeeded while the token failed"
same "one line of error" 1 "$(wc -l <"$T/set.err")"
N=$(jq -c 'select(.op == "secret-set" and .path == "secrets/db" and .version == 2 and .result == 0) | .seq' "$A" | tail -n 1)
[ -n "$N" ] && pass || fail "no record of the set that was rolled back"
echo "the rolled-back set is record $N; its failure: $(jq -c "select(.seq > $N and .op == \"secret-set\")" "$A")"
same "the failure names the record it undoes" 1 \
	"$(jq -c "select(.op == \"secret-set\" and .result != 0 and .undoes == $N)" "$A" | wc -l)"
"$VAULTFS" audit tail "$V" -n 200 | grep -qE " secret-set +secrets/db@2 .* result=[A-Z]+ undoes=#$N\$" &&
	pass || fail "audit tail does not show which record the failure undoes: $("$VAULTFS" audit tail "$V" -n 200 | grep undoes)"

# a later change commits before the watcher looks: the stored head passes N
printf 'value-3' >"$S/other" || fail "write through the mount"
kill -CONT "$WPID"
for _ in $(seq 1 100); do
	grep -q '"secrets/other"' "$T/out" && break
	sleep 0.05
done
sleep 0.5 # what it would print of the set comes before the write: give it time anyway
kill -INT "$WPID"; wait "$WPID"; same "watch exit status" 0 "$?"
cat "$T/out"
same "the write is printed" 1 "$(jq -c 'select(.op == "write" and .path == "secrets/other" and .version == 1)' "$T/out" | wc -l)"
same "the rolled-back set is not printed" 0 "$(grep -c '"secrets/db"' "$T/out")"
same "nothing on the watcher's stderr" "" "$(cat "$T/out.err")"

same "the value read through the mount" "value-1" "$(cat "$S/db")"
same "the value read by secret get" "value-1" "$("$VAULTFS" secret get "$V" db)"
[ -e "$S/db@2" ] && fail "version 2 is served" || pass
"$VAULTFS" secret get "$V" db --version 2 >/dev/null 2>&1 && fail "secret get serves version 2" || pass

# 2. The same through the mount: a write whose head tag fails is undone by the daemon,
# and a `secret set` from another process commits before the stopped watcher looks.
env --default-signal=INT "$VAULTFS" watch "$V" >"$T/out2" 2>"$T/out2.err" &
WPID=$!
for _ in $(seq 1 100); do
	ls -l "/proc/$WPID/fd" 2>/dev/null | grep -q inotify && break
	sleep 0.02
done
kill -STOP "$WPID"
ERR_EXPECTED=1 # the daemon logs the token's failure
echo "hmac-head fail" >"$P11SHIM_CTL"
# (python, not the shell: the new version is made at close, whose error bash ignores)
python3 -c 'import sys; f = open(sys.argv[1], "w"); f.write("value-4"); f.close()' "$S/db" \
	2>"$T/write.err" && fail "a write succeeded while the token failed" || pass
grep -q "Input/output error" "$T/write.err" && pass || fail "the write's error: $(cat "$T/write.err")"
: >"$P11SHIM_CTL"
N2=$(jq -c 'select(.op == "write" and .path == "secrets/db" and .result == 0) | .seq' "$A" | tail -n 1)
[ -n "$N2" ] && pass || fail "no record of the write that was rolled back"
same "the write's failure names the record it undoes" 1 \
	"$(jq -c "select(.op == \"write\" and .result != 0 and .undoes == $N2)" "$A" | wc -l)"
printf 'value-5' | "$VAULTFS" secret set "$V" third || fail "secret set after the token is back"
kill -CONT "$WPID"
for _ in $(seq 1 100); do
	grep -q '"secrets/third"' "$T/out2" && break
	sleep 0.05
done
sleep 0.5
kill -INT "$WPID"; wait "$WPID"; same "watch exit status" 0 "$?"
cat "$T/out2"
same "the set is printed" 1 "$(jq -c 'select(.op == "secret-set" and .path == "secrets/third")' "$T/out2" | wc -l)"
same "the rolled-back write is not printed" 0 "$(grep -c '"secrets/db"' "$T/out2")"
same "the value is still the first" "value-1" "$(cat "$S/db")"

stop
check "the trail verifies" "$VAULTFS" audit verify "$V"
finish

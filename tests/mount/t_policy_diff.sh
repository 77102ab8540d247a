#!/usr/bin/env bash
# The mount decides as `vaultfs policy explain` does: random policies over a small tree,
# several callers, and each operation (list, read, write, delete, recover, purge and the
# five key operations) made through real system calls
# compared with explain's decision and rule, and with the rule its audit record names
# (tests/mount/policy_diff.py). POLICY_DIFF_SEED and POLICY_DIFF_ROUNDS change the run.
. "$(dirname "$0")/lib.sh"

new_vault "allow * ** uid=0"
for s in top a/x a/y a/c/z b/x b/w gone a/old; do
	printf 'value-of-%s' "$s" | "$VAULTFS" secret set "$V" "$s"
done
"$VAULTFS" secret delete "$V" gone
"$VAULTFS" secret delete "$V" a/old
"$VAULTFS" key create "$V" ec --type ec-p256 >/dev/null
"$VAULTFS" key create "$V" rsa --type rsa-2048 >/dev/null
start
/usr/bin/python3 "$(dirname "$0")/policy_diff.py" "$VAULTFS" "$V" "$M" \
	"${POLICY_DIFF_SEED:-1}" "${POLICY_DIFF_ROUNDS:-20}"
same "the mount and explain agree" 0 "$?"
check "audit verify" "$VAULTFS" audit verify "$V"
stop
finish

#!/usr/bin/env bash
# A full disk: what shows no secret value still works, and is noted in the system log
# (LOG_AUTHPRIV) since the trail cannot take its record — audit verify, secret list and
# versions, attributes, key list; each says so in one line on stderr. What shows a value
# (secret get) or changes the vault (secret set) still fails closed, whole, and nothing
# changes. Once space is freed, everything is recorded again and the trail verifies.
# The old code failed every command, verify included, at the store's open or its record.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (a small tmpfs): skipped"; exit 77; }
command -v unshare >/dev/null || { echo "unshare missing: skipped"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)

# Everything runs in a private mount namespace: a 4 MiB tmpfs holds the vault, and /dev
# is a copy with a /dev/log socket of our own, so the system log can be read.
cat >"$T/inner.sh" <<'INNER'
set -u
T=$1 VAULTFS=$2 HERE=$3
mkdir -p "$T/fs" "$T/dev"
mount -t tmpfs -o size=4m tmpfs "$T/fs"
mount -t tmpfs tmpfs "$T/dev"
for n in null zero random urandom full; do cp -a "/dev/$n" "$T/dev/$n"; done
mount --bind "$T/dev" /dev
/usr/bin/python3 "$HERE/syslog_catch.py" /dev/log "$T/syslog" &
catcher=$!
for _ in $(seq 1 100); do [ -e "$T/syslog.ready" ] && break; sleep 0.05; done
V=$T/fs/v
"$VAULTFS" init "$V" >/dev/null || { echo "init failed"; exit 1; }
printf 'one' | "$VAULTFS" secret set "$V" a
"$VAULTFS" secret attr "$V" a content_type text/plain
"$VAULTFS" key create "$V" k --type ec-p256 >/dev/null
dd if=/dev/zero of="$T/fs/fill" bs=64k 2>/dev/null
# the trail's last page may still take a few records: read until it cannot
for _ in $(seq 1 200); do "$VAULTFS" secret get "$V" a >/dev/null 2>"$T/fill.err" || break; done
sqlite3 "$V/vault.db" 'SELECT count(*) FROM versions' >"$T/versions.before" 2>/dev/null
sha256sum <"$V/audit.log" >"$T/trail.before"
run() { local name=$1; shift; "$@" >"$T/$name.out" 2>"$T/$name.err"; echo $? >"$T/$name.rc"; }
run verify "$VAULTFS" audit verify "$V"
run list "$VAULTFS" secret list "$V"
run versions "$VAULTFS" secret versions "$V" a
run attr "$VAULTFS" secret attr "$V" a
run keys "$VAULTFS" key list "$V"
run get "$VAULTFS" secret get "$V" a
printf 'two' >"$T/two"
run set "$VAULTFS" secret set "$V" a --file "$T/two"
sha256sum <"$V/audit.log" >"$T/trail.after"
rm -f "$T/fs/fill"
run get2 "$VAULTFS" secret get "$V" a
run verify2 "$VAULTFS" audit verify "$V"
sleep 0.2
kill "$catcher"
wait "$catcher" # it holds /dev/log open: /dev is busy until it has gone
umount /dev "$T/fs" "$T/dev"
INNER
unshare -m --propagation private bash "$T/inner.sh" "$T" "$VAULTFS" "$HERE" || fail "the inner script"

grep -q 'cannot write the audit trail' "$T/fill.err" && pass || fail "the trail filled up: $(cat "$T/fill.err")"
full='the disk is full: this inspection is noted in the system log, not in the audit trail'
for c in verify list versions attr keys; do
	same "$c on a full disk: exit" 0 "$(cat "$T/$c.rc")"
	grep -qF "$full" "$T/$c.err" && pass || fail "$c says it is not recorded: $(cat "$T/$c.err")"
	same "$c: one line on stderr" 1 "$(wc -l <"$T/$c.err")"
done
grep -qE '^[0-9]+ records intact' "$T/verify.out" && pass || fail "verify's count: $(cat "$T/verify.out")"
same "list" "a" "$(cat "$T/list.out")"
same "versions" "1" "$(cat "$T/versions.out")"
grep -q '^content_type=text/plain$' "$T/attr.out" && pass || fail "attributes: $(cat "$T/attr.out")"
grep -q '^k' "$T/keys.out" && pass || fail "key list: $(cat "$T/keys.out")"
n=$(grep -c 'not recorded in its audit trail: No space left on device' "$T/syslog")
same "inspections in the system log" 5 "$n"
grep -q 'audit-verify of vault ".*/fs/v" by uid 0' "$T/syslog" && pass || fail "the system log names the command, vault and uid: $(head -n 1 "$T/syslog")"
# <84>: LOG_AUTHPRIV (10 << 3) | LOG_WARNING (4)
grep -q '^<84>' "$T/syslog" && pass || fail "the system log's facility: $(head -n 1 "$T/syslog")"

same "secret get on a full disk: exit" 1 "$(cat "$T/get.rc")"
same "secret get prints no value" "" "$(cat "$T/get.out")"
refused_line='^vaultfs: secret get: "a": cannot write the audit trail: nothing done$'
grep -q "$refused_line" "$T/get.err" && pass || fail "secret get: $(cat "$T/get.err")"
same "secret get: one line on stderr" 1 "$(wc -l <"$T/get.err")"
same "secret set on a full disk: exit" 1 "$(cat "$T/set.rc")"
same "the trail is as it was" "$(cat "$T/trail.before")" "$(cat "$T/trail.after")"

same "secret get once space is back" "0 one" "$(cat "$T/get2.rc") $(cat "$T/get2.out")"
same "audit verify once space is back" 0 "$(cat "$T/verify2.rc")"
same "and it is quiet" "" "$(cat "$T/verify2.err")"
finish

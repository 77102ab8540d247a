#!/usr/bin/env bash
# The audit trail through a real mount: a record for each caller with its uid, cgroup,
# decision and rule; no secret value in it ever; fail closed when the record cannot be
# written (immutable file, full filesystem) and back once it can; admin commands and
# policy reloads recorded; verify finds every kind of tampering and names the first bad
# seq; rotation by size and by logrotate's move-and-SIGHUP keeps the chain verifiable;
# after kill -9 every result that was returned has its record.
. "$(dirname "$0")/lib.sh"
CG_ROOT=/sys/fs/cgroup/unified
[ -d /sys/fs/cgroup/unified ] || CG_ROOT=/sys/fs/cgroup
CG=vaultfs-audit-$$
SMALL=$T/small
cleanup_audit() {
	rmdir "$CG_ROOT/$CG" 2>/dev/null
	chattr -i "$V/audit.log" 2>/dev/null
	mountpoint -q "$SMALL/mnt" 2>/dev/null && fusermount3 -uz "$SMALL/mnt"
	mountpoint -q "$SMALL" 2>/dev/null && umount -l "$SMALL"
}
at_exit cleanup_audit

A=$V/audit.log
new_vault "$(cat <<POLICY
allow     *      **                 uid=0
allow     read   secrets/db-conn    uid=1001
allow     read   secrets/db-conn    uid=1002 cgroup=/$CG
POLICY
)"
mkdir "$CG_ROOT/$CG"
VALUES=()
secret() { # secret NAME VALUE: stored through the CLI, remembered for the grep below
	VALUES+=("$2")
	printf '%s' "$2" | "$VAULTFS" secret set "$V" "$1"
}
secret db-conn "postgres://app:Zq8-$RANDOM-pw@db/app"
secret other "other-$RANDOM-$RANDOM-value"
start

# Records after this point.
last_seq() { tail -n 1 "$A" | jq -r .seq; }
mark=$(last_seq)
since() { jq -c --argjson m "$mark" "select(.seq > \$m) | $1" "$A"; }

# 1. One secret read as three identities: 1001, 1002 in its own cgroup, 1002 outside it.
own_cg=$(sed -n 's/^0:://p' /proc/self/cgroup)
same "1001 reads" "${VALUES[0]}" "$(as 1001 cat "$S/db-conn")"
same "1002 in its cgroup reads" "${VALUES[0]}" \
	"$(sh -c "echo \$\$ >$CG_ROOT/$CG/cgroup.procs && exec setpriv --reuid 1002 --regid 1002 --clear-groups cat $S/db-conn")"
same "1002 outside is refused" "open:ENOENT" "$(as_sys 1002 read "$S/db-conn")"
r1=$(since 'select(.uid == 1001 and .op == "open")')
same "1001's record" "allow policy:2 0 secrets/db-conn 1 read $own_cg /usr/bin/cat" \
	"$(jq -r '"\(.decision) \(.rule) \(.result) \(.path) \(.version) \(.detail) \(.cgroup) \(.exe)"' <<<"$r1")"
r2=$(since 'select(.uid == 1002 and .op == "open")')
same "1002-in-cgroup's record" "allow policy:3 0 /$CG 1002" \
	"$(jq -r '"\(.decision) \(.rule) \(.result) \(.cgroup) \(.gid)"' <<<"$r2")"
r3=$(since 'select(.uid == 1002 and .decision == "deny")' | head -n 1)
same "1002-outside's record" "deny default-deny ENOENT $own_cg secrets/db-conn" \
	"$(jq -r '"\(.decision) \(.rule) \(.result) \(.cgroup) \(.path)"' <<<"$r3")"
pid=$(jq -r .pid <<<"$r1")
[ "$pid" -gt 0 ] && pass || fail "1001's record has no pid: $r1"
# Every record carries SPEC's fields, with an RFC 3339 time to the microsecond.
same "fields" "" "$(jq -r 'select((has("seq") and has("time") and has("uid") and has("gid")
	and has("pid") and has("exe") and has("cgroup") and has("op") and has("path")
	and has("version") and has("decision") and has("rule") and has("result")) | not) | .seq' "$A")"
same "time format" "" "$(jq -r 'select(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$") | not) | .seq' "$A")"

# Every kind of operation through the mount leaves its record.
mark=$(last_seq)
ls "$S" >/dev/null
printf 'v2-%s' "$RANDOM-$RANDOM" >"$S/db-conn"; VALUES+=("$(cat "$S/db-conn")")
printf 'new-%s' "$RANDOM-$RANDOM" >"$S/made"; VALUES+=("$(cat "$S/made")")
setfattr -n user.vault.tag.env -v prod "$S/made"
setfattr -x user.vault.tag.env "$S/made"
mkdir "$S/dir" && rmdir "$S/dir"
rm "$S/made" && mv "$T/mnt/.deleted/secrets/made" "$S/made" && rm "$S/made" && rm "$T/mnt/.deleted/secrets/made"
mv "$S/other" "$S/other2"
same "ops recorded" "readdir open write create write setxattr removexattr mkdir rmdir delete recover delete purge rename" \
	"$(since '.op' | tr -d '"' | grep -v '^open$' | tr '\n' ' ' | sed 's/ $//; s/^readdir /readdir open /')"
same "new version numbered" 2 "$(since 'select(.op == "write" and .path == "secrets/db-conn") | .version')"
same "rename names its target" '"secrets/other2"' "$(since 'select(.op == "rename") | .detail')"

# Admin commands are recorded with the admin's uid; so is a policy reload and its refusal.
"$VAULTFS" secret get "$V" db-conn >/dev/null
same "admin get recorded" "0 allow admin secrets/db-conn 2" \
	"$(tail -n 1 "$A" | jq -r '"\(.uid) \(.decision) \(.rule) \(.path) \(.version)"')"
mark=$(last_seq)
printf 'allow * ** uid=0\nallow read secrets/db-conn uid=1001\nallow bogus x *\n' >"$V/policy"
for _ in $(seq 1 40); do [ -n "$(since 'select(.op == "policy-reload")')" ] && break; sleep 0.05; done
same "refused policy recorded" 'EINVAL' "$(since 'select(.op == "policy-reload") | .result' | tr -d '"')"
since 'select(.op == "policy-reload") | .detail' | grep -q 'policy:3: ' && pass ||
	fail "refusal lacks the error: $(since 'select(.op == "policy-reload")')"
ERR_EXPECTED=1

# A good file's reload is recorded with its rule count; tail -f shows records as they come.
"$VAULTFS" audit tail "$V" -n 0 -f >"$T/follow" &
follower=$!
mark=$(last_seq)
printf 'allow * ** uid=0\nallow read secrets/db-conn uid=1001\n' >"$V/policy"
for _ in $(seq 1 40); do [ -n "$(since 'select(.op == "policy-reload")')" ] && break; sleep 0.05; done
same "reload recorded" "0 2 rules" "$(since 'select(.op == "policy-reload") | "\(.result) \(.detail)"' | tr -d '"')"
for _ in $(seq 1 40); do grep -q policy-reload "$T/follow" && break; sleep 0.05; done
grep -q ' allow policy-reload ' "$T/follow" && pass || fail "tail -f: $(cat "$T/follow")"
kill "$follower"; wait "$follower" 2>/dev/null

# 2. No secret value, ever, in any trail file.
for value in "${VALUES[@]}"; do
	if grep -rqF -- "$value" "$V"/audit.log*; then fail "a secret value is in the trail: $value"; else pass; fi
done

# 3. Fail closed: an immutable trail fails reads and writes with EIO and serves nothing;
# once it can be written again, so do they.
size=$(stat -c %s "$A")
chattr +i "$A"
same "read while immutable" "open:EIO" "$(sys_ read "$S/db-conn")"
same "write while immutable" "EIO" "$(sys_ write "$S/db-conn" changed 2>&1 | sed 's/.*://')"
same "denied while immutable" "open:EIO" "$(as_sys 1002 read "$S/db-conn")"
same "no byte added" "$size" "$(stat -c %s "$A")"
refuses "admin command while immutable" 'audit trail.*Operation not permitted' "$VAULTFS" secret get "$V" db-conn
same "nothing printed" "" "$(cat "$T/.out")"
chattr -i "$A"
same "no version made" "1 2" "$("$VAULTFS" secret versions "$V" db-conn | tr '\n' ' ' | sed 's/ $//')"
same "read once writable" "${VALUES[2]}" "$(cat "$S/db-conn")"

stop
same "verify after the session" 0 "$("$VAULTFS" audit verify "$V" >/dev/null 2>&1; echo $?)"

# A full filesystem: the vault on a small tmpfs, filled up.
mkdir -p "$SMALL" && mount -t tmpfs -o size=6m tmpfs "$SMALL"
"$VAULTFS" init "$SMALL/v" >/dev/null
printf 'allow * ** uid=0\n' >"$SMALL/v/policy"
printf 'small-%s' "$RANDOM" | "$VAULTFS" secret set "$SMALL/v" s
mkdir "$SMALL/mnt"
"$VAULTFS" mount "$SMALL/v" "$SMALL/mnt" 2>"$T/small.err"
dd if=/dev/zero of="$SMALL/fill" bs=4k 2>/dev/null
# The trail's last page may still hold a few records; then every read fails.
results=$(for _ in $(seq 1 40); do sys_ read "$SMALL/mnt/secrets/s" | cut -c1-6; done | uniq | tr '\n' ' ')
same "reads on a full disk: served, then EIO" "small- open:E " "$results"
before=$(stat -c %s "$SMALL/v/audit.log")
same "still EIO" "open:EIO" "$(sys_ read "$SMALL/mnt/secrets/s")"
same "no partial record on a full disk" "$before" "$(stat -c %s "$SMALL/v/audit.log")"
same "last line whole" "}" "$(tail -c 2 "$SMALL/v/audit.log" | head -c 1)"
rm "$SMALL/fill"
same "read once there is room" "small-" "$(head -c 6 "$SMALL/mnt/secrets/s")"
fusermount3 -u "$SMALL/mnt"
for _ in $(seq 1 100); do mountpoint -q "$SMALL/mnt" || break; sleep 0.05; done
out=$("$VAULTFS" audit verify "$SMALL/v" 2>&1) && pass || fail "verify after a full disk: $out"

# 4. Tampering, each on a copy of the vault: verify exits non-zero naming the first bad seq.
n=$(wc -l <"$A")
out=$("$VAULTFS" audit verify "$V") && pass || fail "intact trail: $out"
[[ "$out" =~ ^$((n))\ records\ intact\ \(seq\ 1\.\.$n\)$ ]] && pass || fail "count: \"$out\" for $n lines"
flip_mac_digit() { # flip_mac_digit K: another first hex digit in record K's mac
	/usr/bin/python3 - "$1" <<'PY'
import sys
k = int(sys.argv[1])
lines = open("audit.log").read().split("\n")
i = lines[k - 1].index('"mac":"') + 7
c = "1" if lines[k - 1][i] == "0" else "0"
lines[k - 1] = lines[k - 1][:i] + c + lines[k - 1][i + 1:]
open("audit.log", "w").write("\n".join(lines))
PY
}
tamper() { # tamper WHAT EXPECTED-SEQ EDIT: EDIT is run on the copy's audit.log
	local what=$1 seq=$2 edit=$3 c=$T/copy
	rm -rf "$c" && cp -a "$V" "$c"
	(cd "$c" && eval "$edit")
	"$VAULTFS" audit verify "$c" >"$T/.out" 2>"$T/.err"
	local rc=$?
	if [ "$rc" -ne 0 ] && grep -q "seq $seq:" "$T/.err"; then pass; else
		fail "$what: exit $rc, \"$(cat "$T/.err")\", expected seq $seq"; fi
}
k=5
tamper "a byte changed" $k "sed -i '${k}s/\"op\":\"/\"op\":\"x/' audit.log"
tamper "a digit of the mac changed" $k "flip_mac_digit $k"
tamper "a record removed" $k "sed -i '${k}d' audit.log"
tamper "a record inserted" $((k + 1)) "sed -i '${k}p' audit.log"
tamper "a forged record inserted" $((k + 1)) "sed -n '${k}p' audit.log | sed 's/\"op\":\"[a-z-]*\"/\"op\":\"read\"/; s/\"seq\":$k,/\"seq\":$((k + 1)),/' >x && sed -i '${k}r x' audit.log && rm x"
tamper "two records swapped" $k "sed -i -n '${k}{h;n;p;x};p' audit.log"
tamper "the tail cut" $((n - 1)) "head -n $((n - 2)) audit.log >x && cat x >audit.log && rm x"
tamper "the whole trail emptied" 1 ": >audit.log"
tamper "the first record removed" 1 "sed -i 1d audit.log"

# 5. Rotation by size: a small rotate_size makes several files; verify reads them all in
# order, and still does once the oldest is gone (the next file starts with a rotation
# record that carries the chain on).
sed -i 's/^rotate_size = .*/rotate_size = 65536/' "$V/vaultfs.conf"
start
for _ in $(seq 1 400); do cat "$S/db-conn" >/dev/null; done
rotated=$(ls "$V" | grep -c '^audit\.log-')
[ "$rotated" -ge 1 ] && pass || fail "no rotated file after 400 reads"
[ "$(head -n 1 "$A" | jq -r .op)" = audit-rotate ] && pass || fail "new file's first record: $(head -n 1 "$A")"
# logrotate's way: move the file, then SIGHUP (which must not unmount).
mv "$A" "$V/audit.log.1"
kill -HUP "$DAEMON_PID"
sleep 0.3
cat "$S/db-conn" >/dev/null
mountpoint -q "$M" && pass || fail "SIGHUP unmounted"
[ "$(head -n 1 "$A" | jq -r .op)" = audit-rotate ] && pass || fail "after SIGHUP: $(head -n 1 "$A")"
stop
total=$(cat "$V"/audit.log* | wc -l)
out=$("$VAULTFS" audit verify "$V") && pass || fail "rotated trail: $out"
[[ "$out" =~ ^$total\ records ]] && pass || fail "rotated count: \"$out\", $total lines"
oldest=$(ls "$V" | grep '^audit\.log-' | sort | head -n 1)
rm "$V/$oldest"
out=$("$VAULTFS" audit verify "$V") && pass || fail "without the oldest file: $out"
[[ "$out" =~ \(seq\ [0-9]+\.\. ]] && [[ ! "$out" =~ \(seq\ 1\.\. ]] && pass || fail "range: $out"

# 6. Durability: kill -9 in the middle of reads; every read that returned has its record.
sed -i 's/^rotate_size = .*/rotate_size = 0/' "$V/vaultfs.conf"
start
mark=$(last_seq)
: >"$T/ok"
( while cat "$S/db-conn" >/dev/null 2>&1; do echo x >>"$T/ok"; done ) &
reader=$!
sleep 1
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
wait "$reader" 2>/dev/null
DAEMON_PID=
fusermount3 -uz "$M"
ok=$(wc -l <"$T/ok")
recorded=$(since 'select(.op == "open" and .result == 0 and .path == "secrets/db-conn")' | wc -l)
[ "$ok" -gt 10 ] && pass || fail "only $ok reads before the kill"
[ "$recorded" -ge "$ok" ] && pass || fail "$ok reads returned, $recorded recorded"
out=$("$VAULTFS" audit verify "$V") && pass || fail "verify after kill -9: $out"

# tail for people, and as JSON for jq.
"$VAULTFS" audit tail "$V" -n 3 >"$T/tail"
same "tail -n 3" 3 "$(wc -l <"$T/tail")"
grep -q ' allow audit-verify ' "$T/tail" && pass || fail "tail: $(cat "$T/tail")"
same "tail --json" "$(tail -n 2 "$A")" "$("$VAULTFS" audit tail "$V" -n 2 --json)"
finish

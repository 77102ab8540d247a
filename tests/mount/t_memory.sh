#!/usr/bin/env bash
# Bounded memory, as an attacker tries it. uid 1002 may read one 25 KiB secret and encrypt
# with an AES key; it holds thousands of descriptors on the secret, then buffers 1 MiB
# into each of 200 encrypt files, against the daemon running in its own memory cgroup with
# 128 MiB more than it uses at the start. Under [limits] as init writes them it gets
# EMFILE and ENOSPC, each run of refusals is in the trail without a record per attempt,
# uid 1001 reads its own secret all along, the daemon is never killed, and once the
# attacker closes everything the daemon's memory is back near where it started. Then,
# with lower caps: two uids exhaust the open files in all (ENFILE for everyone, recorded
# per uid, until they close), and a secret's write past a uid's bytes is ENOSPC with
# nothing committed.
. "$(dirname "$0")/lib.sh"
HOG="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/hog.py"
SANITIZED=${VAULTFS_SANITIZED:-0}

# The memory cgroup: v2 where its memory controller is available, else v1.
CG=
CG_V=
CG_ENABLED=
cg_make() {
	local v2=/sys/fs/cgroup/unified name=vaultfs-memory-$$
	[ -d "$v2" ] || v2=/sys/fs/cgroup
	if grep -qw memory "$v2/cgroup.controllers" 2>/dev/null; then
		if ! grep -qw memory "$v2/cgroup.subtree_control"; then
			echo +memory >"$v2/cgroup.subtree_control" 2>/dev/null && CG_ENABLED=$v2
		fi
		if mkdir "$v2/$name" 2>/dev/null && [ -e "$v2/$name/memory.max" ]; then
			CG=$v2/$name CG_V=2
			return
		fi
		rmdir "$v2/$name" 2>/dev/null
	fi
	if [ -d /sys/fs/cgroup/memory ] && mkdir "/sys/fs/cgroup/memory/$name" 2>/dev/null; then
		CG=/sys/fs/cgroup/memory/$name CG_V=1
		return
	fi
	echo "no memory cgroup controller: skipped"
	exit 77
}
cg_file() { if [ "$CG_V" = 2 ]; then echo "$CG/$1"; else echo "$CG/$2"; fi; }
cg_usage() { cat "$(cg_file memory.current memory.usage_in_bytes)"; }
cg_ooms() { awk '$1 == "oom_kill" {print $2}' "$(cg_file memory.events memory.oom_control)"; }
cg_remove() {
	[ -n "$CG" ] && [ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	[ -n "$CG_ENABLED" ] && echo -memory >"$CG_ENABLED/cgroup.subtree_control" 2>/dev/null
	return 0
}
trap 'cleanup_mount; sleep 0.3; cg_remove' EXIT

# With the sanitizers, the daemon's allocator keeps 16 MB of what it frees, not 256, so
# that memory given back shows; use-after-free is still caught in that window.
[ "$SANITIZED" = 1 ] &&
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16:allocator_release_to_os_interval_ms=100
# start_in_cg: the daemon in the foreground, inside the cgroup from its first instruction.
start_in_cg() {
	(echo "$BASHPID" >"$CG/cgroup.procs" && exec "$VAULTFS" mount "$V" "$M" -f) \
		2>"$T/daemon.err" &
	DAEMON_PID=$!
	for _ in $(seq 1 200); do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			echo "daemon died at start: $(cat "$T/daemon.err")" >&2
			exit 1
		fi
		mountpoint -q "$M" && [ -d "$S" ] && return 0
		sleep 0.05
	done
	echo "mount not ready after 10s" >&2
	exit 1
}
# The daemon's memory in kB: what is locked in RAM (resident pages of locked mappings;
# VmLck counts address space merely reserved, such as a heap arena's 64 MiB), and RSS.
locked_kb() { awk '/^Locked:/ {print $2}' "/proc/$DAEMON_PID/smaps_rollup" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0; }
memory() { echo "locked $(locked_kb) kB, rss $(rss_kb) kB, cgroup $(($(cg_usage) / 1024)) kB"; }
# limits_records JQ_FILTER: the count of the trail's [limits] refusals the filter selects.
limits_records() { jq -c "select(.rule == \"limits\") | select($1)" "$V/audit.log" | wc -l; }
# Where the hogs, as other uids, say they are ready and are told to go on.
F=$T/flags
mkdir -m 1777 "$F"
# wait_file PATH: waits up to 60 s for a hog to say it is ready.
wait_file() {
	for _ in $(seq 1 1200); do [ -e "$1" ] && return 0; sleep 0.05; done
	fail "no $1 after 60 s"
}
# finish_hog PID NAME: lets a holding hog close everything and end.
finish_hog() { touch "$F/$2.go"; wait "$1"; }
# set_limit NAME VALUE: in vaultfs.conf, for the next start.
set_limit() { sed -i "s/^$1 = .*/$1 = $2/" "$V/vaultfs.conf"; }

cg_make
new_vault "$(cat <<POLICY
allow read secrets/big uid=1002
allow read secrets/big uid=1003
allow read,write secrets/scratch uid=1002
allow encrypt keys/aes uid=1002
allow read secrets/mine uid=1001
allow * ** uid=0
POLICY
)"
head -c 25600 /dev/urandom | base64 -w 0 | head -c 25600 >"$T/big"
"$VAULTFS" secret set "$V" big --file "$T/big"
printf 'mine-value' | "$VAULTFS" secret set "$V" mine
printf 'scratch-1' | "$VAULTFS" secret set "$V" scratch
"$VAULTFS" key create "$V" aes --type aes-256 >/dev/null
# init wrote every cap with its default
for kv in "open_files_per_uid = 1024" "open_files = 8192" \
	"buffered_bytes_per_uid = 67108864" "buffered_bytes = 268435456"; do
	grep -qx "$kv" "$V/vaultfs.conf" && pass || fail "vaultfs.conf lacks \"$kv\""
done
# a cap out of range is refused by every command, naming the line
cp "$V/vaultfs.conf" "$T/conf.good"
set_limit open_files 0
refuses "open_files = 0" 'vaultfs.conf:[0-9]+: out of range \(1 to 65536\): "open_files"' \
	"$VAULTFS" secret list "$V"
cp "$T/conf.good" "$V/vaultfs.conf"

start_in_cg
# Warm up as callers would, every worker at once, so that the start is the daemon at work.
printf 'plain' >"$T/plain"
as_sys 1002 keyop "$M/keys/aes/encrypt" "$T/plain" "$T/sealed" >/dev/null
warm=()
for _ in 1 2 3 4 5 6 7 8; do
	(for _ in $(seq 1 40); do cat "$S/big" "$S/mine" >/dev/null; done) &
	warm+=($!)
done
wait "${warm[@]}"
: >"$T/reads"
chmod 666 "$T/reads"
as 1001 $HOG read "$S/mine" mine-value "$T/stop" "$T/reads" &
READER=$!
sleep 1
start_locked=$(locked_kb) start_rss=$(rss_kb) start_cg=$(cg_usage)
echo "start: $(memory)"
echo $((start_cg + (128 << 20))) >"$(cg_file memory.max memory.limit_in_bytes)" ||
	fail "cannot set the cgroup's limit"
# near_start WHEN: the daemon's memory came back near where it started. Locked memory is
# what the attacker took; RSS is checked too (with the sanitizers, only RSS: they make
# mlock a no-op, and their allocator keeps what it frees for a while).
near_start() {
	local locked rss
	locked=$(locked_kb) rss=$(rss_kb)
	echo "$1: $(memory)"
	if [ "$SANITIZED" = 1 ]; then
		[ "$rss" -le $((start_rss + 24 * 1024)) ] && pass ||
			fail "$1: RSS $rss kB, $start_rss at the start"
	else
		[ "$locked" -le $((start_locked + 8 * 1024)) ] && pass ||
			fail "$1: locked $locked kB, $start_locked at the start"
		[ "$rss" -le $((start_rss + 8 * 1024)) ] && pass ||
			fail "$1: RSS $rss kB, $start_rss at the start"
	fi
}

# 1. Descriptors on a readable secret: EMFILE at 1024, one record for the run, the
# further refusals counted in one record at the next close.
rm -f "$F/open.ready" "$F/open.go"
prlimit --nofile=20000:20000 setpriv --reuid 1002 --regid 1002 --clear-groups -- \
	$HOG open "$S/big" 3000 50 "$F/open.ready" "$F/open.go" >"$T/open.out" &
hog=$!
wait_file "$F/open.ready"
same "the attacker's opens stop at its cap" "opened 1024 EMFILE" "$(sed -n 1p "$T/open.out")"
same "and every one past it" "extra EMFILE:50" "$(sed -n 2p "$T/open.out")"
echo "1024 descriptors held: $(memory)"
[ "$(rss_kb)" -ge $((start_rss + 24 * 1024)) ] && pass || fail "the descriptors hold nothing?"
same "one record for the run of refusals" 1 \
	"$(limits_records '.uid == 1002 and .op == "open" and .result == "EMFILE" and
		.path == "secrets/big" and .decision == "deny" and .detail == "open_files_per_uid=1024"')"
same "uid 1001 still reads" "mine-value" "$(as 1001 cat "$S/mine")"
finish_hog "$hog" open
same "the 50 others recorded as one at the close" 1 \
	"$(limits_records '.uid == 1002 and .op == "limits" and .result == "EMFILE" and
		(.detail | startswith("50 more opens refused past open_files_per_uid=1024 from "))')"
sleep 0.5
near_start "after the descriptors closed"

# 2. 1 MiB of input into each of 200 encrypt files: ENOSPC once 64 MiB are held, recorded
# once per file; later writes to a refused file are ENOSPC too, unrecorded.
rm -f "$F/buffer.ready" "$F/buffer.go"
setpriv --reuid 1002 --regid 1002 --clear-groups -- \
	$HOG buffer "$M/keys/aes/encrypt" 200 1048576 "$F/buffer.ready" "$F/buffer.go" \
	>"$T/buffer.out" &
hog=$!
wait_file "$F/buffer.ready"
cat "$T/buffer.out"
same "200 encrypt files open" "opened 200 none" "$(sed -n 1p "$T/buffer.out")"
written=$(sed -n 's/^written \([0-9]*\) .*/\1/p' "$T/buffer.out")
refused=$(sed -n 's/^written [0-9]* refused ENOSPC:\([0-9]*\)$/\1/p' "$T/buffer.out")
[ "${written:-0}" -ge 60 ] && [ "${written:-0}" -le 64 ] && pass ||
	fail "files that took 1 MiB under a 64 MiB cap: ${written:-none}"
same "the others refused with ENOSPC" 200 "$((${written:-0} + ${refused:-0}))"
same "and stay refused" "again ENOSPC:${refused:-}" "$(sed -n 3p "$T/buffer.out")"
same "one record per refused file" "${refused:-}" \
	"$(limits_records '.uid == 1002 and .op == "write" and .result == "ENOSPC" and
		.path == "keys/aes" and .detail == "buffered_bytes_per_uid=67108864"')"
echo "64 MiB buffered: $(memory)"
[ "$(rss_kb)" -le $((start_rss + 100 * 1024)) ] && pass || fail "RSS past the cap: $(rss_kb) kB"
same "uid 1001 still reads" "mine-value" "$(as 1001 cat "$S/mine")"
finish_hog "$hog" buffer
sleep 0.5
near_start "after the encrypt files closed"

# Many callers of one uid, each with one file open at a time, never meet its cap: their
# closes reach the daemon in turn rather than pile up behind their opens.
spin=()
for i in $(seq 1 48); do
	as 1002 $HOG spin "$S/big" 8 >"$T/spin-$i" &
	spin+=($!)
done
wait "${spin[@]}"
same "48 busy readers of one uid: no refusal" 48 "$(cat "$T"/spin-* | grep -c '^ok:[0-9]*$')"

touch "$T/stop"
wait "$READER"
kill -0 "$DAEMON_PID" 2>/dev/null && pass || fail "the daemon died"
same "the daemon was never killed for memory" 0 "$(cg_ooms)"
reads=$(wc -l <"$T/reads")
[ "$reads" -ge 20 ] && pass || fail "uid 1001 read only $reads times"
same "every read of uid 1001 returned its secret" "$reads ok" "$(sort "$T/reads" | uniq -c |
	awk '{printf "%s %s", $1, $2}')"
stop

# 3. A cap in all lower than two uids' own: ENFILE for everyone, the first recorded, the
# others counted per uid and recorded at the close that ends the run.
set_limit open_files 1500
start_in_cg
rm -f "$F/a.ready" "$F/a.go" "$F/b.ready" "$F/b.go"
prlimit --nofile=4000:4000 setpriv --reuid 1002 --regid 1002 --clear-groups -- \
	$HOG open "$S/big" 3000 0 "$F/a.ready" "$F/a.go" >"$T/a.out" &
hog_a=$!
wait_file "$F/a.ready"
prlimit --nofile=4000:4000 setpriv --reuid 1003 --regid 1003 --clear-groups -- \
	$HOG open "$S/big" 3000 20 "$F/b.ready" "$F/b.go" >"$T/b.out" &
hog_b=$!
wait_file "$F/b.ready"
same "uid 1002 stops at its own cap" "opened 1024 EMFILE" "$(sed -n 1p "$T/a.out")"
same "uid 1003 at the cap in all" "opened 476 ENFILE" "$(sed -n 1p "$T/b.out")"
same "and every one past it" "extra ENFILE:20" "$(sed -n 2p "$T/b.out")"
same "uid 1001 too, while it lasts" "open:ENFILE" "$(as_sys 1001 read "$S/mine")"
same "the first refusal recorded" 1 \
	"$(limits_records '.uid == 1003 and .result == "ENFILE" and .detail == "open_files=1500"')"
same "the others not yet" 0 "$(limits_records '.op == "limits" and .result == "ENFILE"')"
finish_hog "$hog_b" b
same "uid 1003's 20 recorded as one at the close" 1 \
	"$(limits_records '.uid == 1003 and .op == "limits" and .result == "ENFILE" and
		(.detail | startswith("20 more opens refused past open_files=1500 "))')"
same "uid 1001's one as well" 1 \
	"$(limits_records '.uid == 1001 and .op == "limits" and .result == "ENFILE" and
		(.detail | startswith("1 more opens refused past open_files=1500 "))')"
same "uid 1001 reads again" "mine-value" "$(as 1001 cat "$S/mine")"
finish_hog "$hog_a" a
stop

# 4. A secret's new value past its writer's bytes: ENOSPC at write(), nothing committed,
# close() says so too; opens past the bytes are EMFILE.
cp "$T/conf.good" "$V/vaultfs.conf"
set_limit buffered_bytes_per_uid 2097152
sed -i 's/^max_secret_size = .*/max_secret_size = 1048576/' "$V/vaultfs.conf"
start_in_cg
rm -f "$F/c.ready" "$F/c.go"
setpriv --reuid 1002 --regid 1002 --clear-groups -- \
	$HOG open "$S/big" 40 0 "$F/c.ready" "$F/c.go" >"$T/c.out" &
hog=$!
wait_file "$F/c.ready"
same "40 descriptors of 32 KiB" "opened 40 none" "$(sed -n 1p "$T/c.out")"
same "a 1 MB value on top is refused" "write:ENOSPC" "$(as_sys 1002 writen "$S/scratch" 1000000)"
same "nothing committed" "scratch-1" "$("$VAULTFS" secret get "$V" scratch | head -c 40)"
same "recorded" 1 "$(limits_records '.uid == 1002 and .op == "write" and .result == "ENOSPC" and
	.path == "secrets/scratch" and .detail == "buffered_bytes_per_uid=2097152"')"
same "a small value still fits" ok "$(as_sys 1002 write "$S/scratch" scratch-2)"
same "and is committed" "scratch-2" "$("$VAULTFS" secret get "$V" scratch | head -c 40)"
rm -f "$F/d.ready" "$F/d.go"
setpriv --reuid 1002 --regid 1002 --clear-groups -- \
	$HOG open "$S/big" 100 0 "$F/d.ready" "$F/d.go" >"$T/d.out" &
hog_d=$!
wait_file "$F/d.ready"
opened=$(sed -n 's/^opened \([0-9]*\) EMFILE$/\1/p' "$T/d.out")
[ "${opened:-0}" -ge 20 ] && [ "${opened:-0}" -le 24 ] && pass ||
	fail "opens under the bytes left: $(cat "$T/d.out")"
same "refused on the bytes" 1 \
	"$(limits_records '.uid == 1002 and .op == "open" and .detail == "buffered_bytes_per_uid=2097152"')"
finish_hog "$hog_d" d
finish_hog "$hog" c
stop
"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify"
finish

#!/usr/bin/env bash
# No stalled party hangs every caller: while another process holds the lock on audit.log,
# while an admin command is stopped inside its record, while the token stalls the audit
# trail's epoch-key HMAC, and while five key operations stall in the token with four
# workers, every other caller's open, read and listing answers within a bound (it may fail
# closed with EIO, or EBUSY for a key operation, never wait past it), the stall is
# recorded once the trail answers again, and everything works as soon as it is over.
# The token is the embedded SoftHSM2 one reached through tests/shim/p11shim.c, which
# delays the calls its control file names. Each phase prints its callers' latencies.
. "$(dirname "$0")/lib.sh"
[ -n "${P11SHIM:-}" ] && [ -f "$P11SHIM" ] || { echo "P11SHIM (the shim module) not built: skipped"; exit 77; }
command -v strace >/dev/null || { echo "strace missing: skipped"; exit 77; }
LAT_PY="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/lat.py"
A=$V/audit.log
export P11SHIM_CTL=$T/shim.ctl
TIMEOUT_MS=1500 # [audit] timeout_ms
BUSY_MS=1000 # [hsm] busy_timeout_ms
BOUND_MS=3000 # what no caller may wait past: the timeout and a margin for a slow build

new_vault
sed -i "s|^module = .*|module = $P11SHIM|; s/^timeout_ms = .*/timeout_ms = $TIMEOUT_MS/;
	s/^busy_timeout_ms = .*/busy_timeout_ms = $BUSY_MS/" "$V/vaultfs.conf"
printf 'value-1' | "$VAULTFS" secret set "$V" db || fail "secret set"
check "key create" "$VAULTFS" key create "$V" k --type ec-p256
ERR_EXPECTED=1 # the daemon logs each stall as an error
start -o threads=4
same "reads through the shim" "value-1" "$(cat "$S/db")"

# lat SECONDS ALLOWED_ERRORS: times readers of a secret and listers of the root and of
# secrets/ for SECONDS; each call must end within BOUND_MS, with success or one of the
# errors in ALLOWED_ERRORS (a regex); prints the figures.
lat() {
	local secs=$1 allowed=$2 line max errs
	$LAT_PY "$secs" read="read:$S/db" ls-root="ls:$M" ls-secrets="ls:$S" >"$T/lat.out"
	sed 's/^/  /' "$T/lat.out"
	while read -r line; do
		max=$(sed -E 's/.*max_ms=([0-9.]+).*/\1/' <<<"$line")
		errs=$(sed -E 's/.*errors=(.*)/\1/' <<<"$line")
		if awk -v m="$max" -v b="$BOUND_MS" 'BEGIN { exit !(m > b) }'; then
			fail "a caller waited ${max} ms, past ${BOUND_MS} ms: $line"
		else
			pass
		fi
		if [ "$errs" != "-" ] && grep -qvE "^($allowed):[0-9]+$" <(tr , '\n' <<<"$errs"); then
			fail "unexpected errors: $line"
		else
			pass
		fi
	done <"$T/lat.out"
}
stalls() { grep -c '"op":"audit-stall"' "$A"; }
# after SECONDS COMMAND...: ends the stall in the background once a lat run is over, so that
# a build whose callers hang past the bound fails the test rather than hanging it.
after() { local secs=$1; shift; (sleep "$secs"; "$@") & }
unstall() { : >"$P11SHIM_CTL"; }

# 1. Another process holds flock(audit.log) for 10 s.
echo "1. a process holds the lock on audit.log for 10 s"
before=$(stalls)
flock "$A" sleep 10 &
holder=$!
sleep 0.3
lat 8 EIO
wait "$holder"
same "read after the lock is free" "value-1" "$(cat "$S/db")"
same "the stall is recorded" $((before + 1)) "$(stalls)"
grep '"op":"audit-stall"' "$A" | tail -n 1 | grep -q '"result":"ETIMEDOUT".*records refused (EIO).*held by pid' &&
	pass || fail "audit-stall record: $(grep '"op":"audit-stall"' "$A" | tail -n 1)"
grep -q 'The lock on .*audit.log" is held by pid' "$T/daemon.err" && pass ||
	fail "no stall in the daemon's log: $(cat "$T/daemon.err")"

# 2. An admin command stopped inside its record: it holds the lock (strace stops it on
# entering its first write to audit.log, which it makes under the lock) for 6 s.
echo "2. an admin command stopped inside its record"
printf 'value-2' >"$T/v2"
# (LeakSanitizer cannot run under ptrace: the sanitizer build's leak check is left off here)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	strace -f -qq -o "$T/strace.out" -P "$A" -e trace=write -e inject=write:signal=SIGSTOP:when=1 \
	"$VAULTFS" secret set "$V" db --file "$T/v2" 2>"$T/admin.err" &
tracer=$!
admin=
for _ in $(seq 1 400); do # up to 20 s: the sanitizer build starts slowly under strace
	admin=$(pgrep -P "$tracer" -x vaultfs || true)
	# stopped by the injected signal (strace says so; a traced process is 't' at every
	# system call, and it also holds the lock for a moment when it opens the trail)
	[ -n "$admin" ] && grep -q -- '--- stopped by SIGSTOP ---' "$T/strace.out" 2>/dev/null &&
		break
	sleep 0.05
done
grep -qE "FLOCK +ADVISORY +WRITE +$admin " /proc/locks && pass ||
	fail "the admin command does not hold the lock while stopped"
after 6.3 kill -CONT "$admin"
lat 6 EIO
wait "$tracer"
rc=$?
same "the stopped admin command succeeds once continued" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/admin.err" >&2
same "its value is read after it" "value-2" "$(cat "$S/db")"

# 3. The token stalls the epoch-key HMAC (the next epoch's key is derived ahead, outside
# every lock, by the daemon's own thread): the current key serves up to timeout_ms past
# its second, then records fail closed until the token answers.
echo "3. the token stalls the audit trail's epoch-key HMAC"
before=$(stalls)
echo "hmac 60000" >"$P11SHIM_CTL"
after 7.3 unstall
lat 7 EIO
sleep 0.5
same "read after the token answers" "value-2" "$(cat "$S/db")"
same "the stall is recorded" $((before + 1)) "$(stalls)"

# 4. Five key operations stall in the token; the mount has four workers. At most three go
# in; the others get EBUSY (recorded), and a worker stays free for everything else.
echo "4. five key operations stall in the token, four workers"
printf 'message' >"$T/msg"
echo "sign 60000" >"$P11SHIM_CTL"
for i in 1 2 3 4 5; do
	(exec 3<>"$M/keys/k/sign" && printf 'message' >&3 && cat <&3 >"$T/sig.$i") 2>"$T/sign.$i.err" &
	eval "signer$i=\$!"
done
sleep 0.3
after 6.3 unstall
lat 6 "^$"
ok=0 busy=0
for i in 1 2 3 4 5; do
	eval "wait \$signer$i" && ok=$((ok + 1))
	grep -q "busy" "$T/sign.$i.err" && busy=$((busy + 1))
done
same "three signers ran in the token" 3 "$ok"
same "two were refused with EBUSY" 2 "$busy"
same "the refusals are recorded" 2 "$(grep -c '"op":"sign".*"result":"EBUSY"' "$A")"
"$VAULTFS" key list "$V" >/dev/null
cat "$M/keys/k/public.pem" >"$T/pub.pem"
for i in 1 2 3 4 5; do
	[ -s "$T/sig.$i" ] && { openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig.$i" "$T/msg" >/dev/null && pass || fail "signature $i"; }
done
(exec 3<>"$M/keys/k/sign" && printf 'message' >&3 && cat <&3 >"$T/sig.after") &&
	openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig.after" "$T/msg" >/dev/null &&
	pass || fail "a signature once the token answers"

stop
check "the trail verifies" "$VAULTFS" audit verify "$V"
finish

#!/usr/bin/env bash
# No byte from a kernel cache: private mappings of a secret or of a key file's result are
# never filled from pages another opener caused. uid 1001 maps a secret while it may read
# it, loses the right, the secret is rotated and root maps the new value; 1001's mapping
# must not show it. Two openers of one key file each map their result; neither sees the
# other's. Every refused fill is recorded.
. "$(dirname "$0")/lib.sh"
MAPS="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/maps.py"
BASE="allow * ** uid=0"
new_vault "$BASE
allow read secrets/s uid=1001"
printf 'value-one-AAAAAA' | "$VAULTFS" secret set "$V" s
"$VAULTFS" key create "$V" k --type ec-p256 >/dev/null
start
mkdir -m 777 "$T/flags"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
# outcome STATUS OUTPUT: what a mapping gave: its bytes, or SIGBUS.
outcome() { if [ "$1" -eq 135 ]; then echo SIGBUS; else echo "$2"; fi; }

# A secret across a revocation and a rotation.
as 1001 $MAPS "$S/s" 16 --hold "$T/flags/a" >"$T/a.out" 2>/dev/null &
a=$!
for _ in $(seq 1 200); do [ -e "$T/flags/a.ready" ] && break; sleep 0.05; done
set_policy "$BASE"
same "1001's right is gone" "open:ENOENT" "$(as_sys 1001 read "$S/s")"
printf 'value-two-BBBBBB' | "$VAULTFS" secret set "$V" s
b_out=$($MAPS "$S/s" 16 2>/dev/null); b=$?
same "an allowed reader's mapping is refused" SIGBUS "$(outcome $b "$b_out")"
touch "$T/flags/a"
wait $a; a_rc=$?
a_out=$(cat "$T/a.out")
[ "$a_out" != "$(hex value-two-BBBBBB)" ] && pass || fail "the revoked caller read the new value through the page cache"
same "the revoked caller's mapping is refused" SIGBUS "$(outcome $a_rc "$a_out")"
same "cat still reads" value-two-BBBBBB "$(cat "$S/s")"
same "refusals recorded" "1001 0" "$(jq -r 'select(.rule == "page-cache" and .path == "secrets/s") | .uid' "$V/audit.log" | sort -u -r | tr '\n' ' ' | sed 's/ $//')"

# A key file's result: two openers, each mapping its own.
$MAPS "$M/keys/k/sign" 64 --input first-message --hold "$T/flags/k" >"$T/k1.out" 2>/dev/null &
k1=$!
for _ in $(seq 1 200); do [ -e "$T/flags/k.ready" ] && break; sleep 0.05; done
k2_out=$($MAPS "$M/keys/k/sign" 64 --input second-message 2>/dev/null); k2=$?
touch "$T/flags/k"
wait $k1; k1_rc=$?
k1_out=$(cat "$T/k1.out")
[ -z "$k1_out" ] || [ "$k1_out" != "$k2_out" ] && pass || fail "one opener's mapping showed the other's signature"
same "a key file's mapping is refused" "SIGBUS SIGBUS" "$(outcome $k1_rc "$k1_out") $(outcome $k2 "$k2_out")"
n=$(jq -c 'select(.rule == "page-cache" and .path == "keys/k" and .decision == "deny")' "$V/audit.log" | wc -l)
[ "$n" -ge 2 ] && pass || fail "key file refusals recorded: $n"

# A fault the kernel retries without end (MAP_POPULATE) is one record per open file, not
# one per retry: no caller floods the trail.
refusals() { jq -c 'select(.rule == "page-cache" and .path == "secrets/s")' "$V/audit.log" | wc -l; }
before=$(refusals)
timeout -s KILL 3 $MAPS "$S/s" 16 --populate >/dev/null 2>&1
same "retried faults are recorded once" 1 "$(($(refusals) - before))"

# What cannot be mapped is still copied: sendfile falls back to read (python's shutil).
same "shutil.copyfile" value-two-BBBBBB "$(/usr/bin/python3 -c 'import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])' "$S/s" "$T/copy" && cat "$T/copy")"
same "cp" value-two-BBBBBB "$(cp "$S/s" "$T/copy2" && cat "$T/copy2")"
# and copied inside the vault, where the kernel would otherwise go through the page cache
cp "$S/s" "$S/s-copy" && pass || fail "cp inside the vault"
same "cp inside the vault" value-two-BBBBBB "$(cat "$S/s-copy")"
install "$S/s" "$S/s-installed" && pass || fail "install inside the vault"
same "install inside the vault" value-two-BBBBBB "$(cat "$S/s-installed")"
same "copy_file_range" value-two-BBBBBB "$(/usr/bin/python3 -c '
import os, sys
a = os.open(sys.argv[1], os.O_RDONLY)
b = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
n = os.copy_file_range(a, b, 1 << 20)
os.close(b)
os.close(a)
' "$S/s" "$S/s-cfr" && cat "$S/s-cfr")"
same "a key file is not copied that way" EINVAL "$(/usr/bin/python3 -c '
import errno, os, sys
a = os.open(sys.argv[1], os.O_RDONLY)
b = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
try:
    os.copy_file_range(a, b, 4096)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
' "$M/keys/k/public.pem" "$S/pem-copy")"
stop
finish

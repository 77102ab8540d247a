#!/usr/bin/env bash
# `audit tail` cannot be made to lie. A caller with no rights at all runs a copy of cat
# from a folder whose name holds a newline, a carriage return, a whole forged record,
# escape sequences (erase line, cursor up, window title), C1 controls (as UTF-8 and as raw
# bytes), invalid UTF-8, U+2028 and a bidi override. Its read is denied and recorded;
# what tail prints for people then holds no control byte, no invalid UTF-8, no bidi or
# separator character, and exactly one line per record, the attacker's own with its own
# uid. --json still prints JSON Lines; the file itself holds no raw control either.
. "$(dirname "$0")/lib.sh"

new_vault "allow * ** uid=0"
printf 'postgres://app:pw-%s@db/app' "$RANDOM" | "$VAULTFS" secret set "$V" db-conn
start

# The forged record: what a line of tail looks like, claiming uid 0 read the secret (a
# name holds no "/": U+2215, which looks the same, stands for it).
FORGED='2026-11-25T11:48:52.807714Z #1 allow open           secrets∕db-conn@1 uid=0 gid=0 pid=1 exe=∕usr∕bin∕cat cgroup=∕ rule=policy:1 result=0'
mkdir "$T/evil" && chown 1001:1001 "$T/evil"
# The folder, made by uid 1001 itself; its name is the bytes below (python prints it).
evil_dir=$(as 1001 /usr/bin/python3 - "$T/evil" "$FORGED" <<'PY'
import os, sys
base, forged = sys.argv[1], sys.argv[2]
name = ("x\r\x1b[2K\x1b[1A\n" + forged + "\n\x1b]0;owned\x07").encode() \
    + b"\xc2\x9b" + b"31m" + b"\x9b" + b"32m" + b"\xff\xfe" \
    + "\u2028\u202e\u2066".encode() + b"\x7f\x01"
d = os.path.join(base.encode(), name)
os.mkdir(d)
os.system(b"cp /bin/cat " + b"'" + d + b"/cat'")
sys.stdout.buffer.write(d.hex().encode())
PY
)
[ -n "$evil_dir" ] && pass || fail "no folder made"
prog=$(/usr/bin/python3 -c 'import sys; sys.stdout.write(bytes.fromhex(sys.argv[1]).decode("utf-8", "surrogateescape") + "/cat")' "$evil_dir")
[ -x "$prog" ] && pass || fail "no program copied"
mark=$(tail -n 1 "$V/audit.log" | jq -r .seq)
# Denied: it may see nothing.
out=$(as 1001 "$prog" "$S/db-conn" 2>&1) && fail "1001 read the secret: $out" || pass
stop
n=$(jq -c --argjson m "$mark" 'select(.seq > $m)' "$V/audit.log" | wc -l)
[ "$n" -ge 2 ] && pass || fail "only $n records after the attack"  # its own and the unmount
attack=$(jq -c --argjson m "$mark" 'select(.seq > $m and .uid == 1001)' "$V/audit.log" | wc -l)
[ "$attack" -ge 1 ] && pass || fail "no record of uid 1001's denied read"

"$VAULTFS" audit tail "$V" -n "$n" >"$T/tail" 2>"$T/tail.err" && pass || fail "tail: $(cat "$T/tail.err")"
"$VAULTFS" audit tail "$V" -n "$n" --json >"$T/json" && pass || fail "tail --json"
# The bytes tail printed, checked one by one.
/usr/bin/python3 - "$T/tail" "$T/json" "$n" "$FORGED" <<'PY' && pass || fail "tail's output: $(cat -v "$T/tail")"
import json, re, sys, unicodedata
raw = open(sys.argv[1], "rb").read()
n, forged = int(sys.argv[3]), sys.argv[4]
bad = []
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    bad.append("not UTF-8: %s" % e)
    text = raw.decode("utf-8", "replace")
for c in set(text):
    if c != "\n" and (unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs")):
        bad.append("U+%04X in the output" % ord(c))
lines = text.split("\n")
if lines[-1] != "":
    bad.append("no newline at the end")
lines = lines[:-1]
if len(lines) != n:
    bad.append("%d lines for %d records" % (len(lines), n))
record = re.compile(r"^\d{4}-\d\d-\d\dT[0-9:.]+Z #\d+ (allow|deny) ")
for l in lines:
    if not record.match(l):
        bad.append("a line that is not a record: %r" % l)
    if l.startswith(forged[:40]):
        bad.append("the forged record stands as a line: %r" % l)
evil = [l for l in lines if "uid=1001" in l and "exe=" in l and "x\\r\\x1b[2K" in l]
if not evil:
    bad.append("no line shows uid 1001's program escaped")
for l in evil:
    # what the attacker put in the name, shown escaped, in the exe field of its own line
    for want in ("\\n" + forged[:20], "\\x1b]0;owned\\x07", "\\u009b31m", "\\\\x9b32m",
                 "\\\\xff\\\\xfe", "\\u2028\\u202e\\u2066\\x7f\\x01/cat"):
        if want not in l.split(" exe=", 1)[1]:
            bad.append("%r not in %r" % (want, l))
    if not re.search(r" #\d+ deny ", l) or " uid=1001 " not in l:
        bad.append("the attacker's record is not its own: %r" % l)
js = open(sys.argv[2], "rb").read().decode("utf-8").split("\n")[:-1]
if len(js) != n:
    bad.append("--json: %d lines for %d records" % (len(js), n))
for l in js:
    o = json.loads(l)
    if not isinstance(o, dict) or "seq" not in o:
        bad.append("--json: not a record: %r" % l)
if not any(o.get("uid") == 1001 and "\r" in (o.get("exe") or "") and "\u2028" in o["exe"]
           for o in map(json.loads, js)):
    bad.append("--json lacks the attacker's exe as it was")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
PY
# The file itself holds no control or bidi character either: the writer escapes them.
/usr/bin/python3 - "$V/audit.log" <<'PY' && pass || fail "audit.log holds raw controls"
import sys
t = open(sys.argv[1], "rb").read().decode("utf-8")
sys.exit(any((ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029\u202e\u2066" for c in t))
PY
out=$("$VAULTFS" audit verify "$V") && pass || fail "verify: $out"
finish

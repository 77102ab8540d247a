#!/usr/bin/python3
"""Checks a remounted vault against the crash campaign's logs (t_crash.sh): every
acknowledged value is present, byte for byte, as some version of its secret; versions
run 1..current with none missing (each read by name); no version holds bytes nobody attempted to write.

Versions never change once made, so a version checked in an earlier cycle is only
checked again with --full (the last cycle). STATE keeps what has been checked.

usage: crash_check.py SECRETS_DIR STATE [--full] LOG...
Prints one line: "versions V (new N), acknowledged A, lost L, invented I, gaps G".
Exits 1 if anything is lost or invented or a version is unreadable.
"""
import hashlib
import json
import os
import sys

secrets, state_path = sys.argv[1:3]
args = sys.argv[3:]
full = bool(args) and args[0] == "--full"
logs = args[1:] if full else args

attempted, acked = {}, {}
for path in logs:
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3 or parts[0] not in ("attempt", "ack"):
                continue
            (attempted if parts[0] == "attempt" else acked).setdefault(parts[1], set()).add(parts[2])

try:
    with open(state_path) as f:
        state = json.load(f)
except FileNotFoundError:
    state = {}

problems = []
new = 0
for name in sorted(set(attempted) | set(acked)):
    path = os.path.join(secrets, name)
    # the current version, and every one below it read by name: user.vault.versions lists
    # them too, but past about 12,000 versions its text outgrows the kernel's 64 KiB
    # limit on an attribute (E2BIG)
    try:
        current = int(os.getxattr(path, "user.vault.version"))
    except FileNotFoundError:
        current = 0
    versions = [str(i) for i in range(1, current + 1)]
    known = state.get(name, [])
    if len(versions) < len(known):
        problems.append(f"lost: {name} had {len(known)} versions, now {len(versions)}")
    start = 0 if full else len(known)
    digests = known[:start]
    for v in versions[start:]:
        try:
            with open(f"{path}@{v}", "rb") as f:
                d = hashlib.sha256(f.read()).hexdigest()
        except OSError as e:
            problems.append(f"gap: {name}@{v} cannot be read: {e.strerror}")
            d = "unreadable"
        new += 1
        if int(v) <= len(known) and known[int(v) - 1] != d:
            problems.append(f"changed: {name}@{v}")
        digests.append(d)
    state[name] = digests
    have = set(digests)
    for d in acked.get(name, ()):
        if d not in have:
            problems.append(f"lost: {name} acknowledged {d[:16]}… is no version")
    for v, d in enumerate(digests, 1):
        if d != "unreadable" and d not in attempted.get(name, ()):
            problems.append(f"invented: {name}@{v} {d[:16]}… was never written")

with open(state_path + ".tmp", "w") as f:
    json.dump(state, f)
os.replace(state_path + ".tmp", state_path)
lost = sum(p.startswith("lost") for p in problems)
invented = sum(p.startswith("invented") for p in problems)
gaps = sum(p.startswith("gap") for p in problems)
print(f"versions {sum(len(v) for v in state.values())} (read {new}), "
      f"acknowledged {sum(len(v) for v in acked.values())}, lost {lost}, "
      f"invented {invented}, gaps {gaps}")
for p in problems[:20]:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)

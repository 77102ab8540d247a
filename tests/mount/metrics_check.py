#!/usr/bin/python3
"""Checks a mount's metrics file against its audit trail, count for count.

usage: metrics_check.py METRICS AUDIT_LOG PID

PID is the daemon's: its first record (the mount) starts the window. Every record the
trail holds from there that an admin command did not write (rule "admin") is one of the
daemon's; each that is not the daemon's own doing (mount, policy reloads, ...) is a
request its callers made, and vaultfs_requests_total must hold exactly as many of each
(op, decision, result). A "limits" record stands for the refused opens it counts, which
the metrics count one by one as they happen. vaultfs_audit_records_total must be the
number of the daemon's records. Prints what differs and exits 1, or a summary and 0.
"""
import collections
import json
import re
import sys

OWN = {"mount", "unmount", "policy-reload", "mount-over", "token-reopen", "limits",
       "audit-stall", "audit-rotate"}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metrics(path):
    out = collections.defaultdict(dict)
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            sys.exit(f"not a sample: {line!r}")
        labels = dict(LABEL.findall(m.group(2) or ""))
        labels.pop("vault", None)
        out[m.group(1)][tuple(sorted(labels.items()))] = float(m.group(3))
    return out


def main():
    mpath, apath, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    m = metrics(mpath)
    got = collections.Counter()
    for labels, v in m["vaultfs_requests_total"].items():
        d = dict(labels)
        got[(d["op"], d["decision"], d["result"])] += int(v)
    want = collections.Counter()
    records = 0
    started = False
    for line in open(apath, encoding="utf-8"):
        r = json.loads(line)
        if not started:
            started = r.get("pid") == pid and r.get("op") == "mount"
        if not started or r.get("rule") == "admin":
            continue
        records += 1
        op, decision, result = r["op"], r["decision"], str(r["result"])
        if op == "limits":
            n = re.match(r"(\d+) more opens refused", r.get("detail") or "")
            want[("open", "deny", result)] += int(n.group(1)) if n else 0
        elif op not in OWN:
            want[(op, decision, result)] += 1
    bad = 0
    for key in sorted(set(got) | set(want)):
        if got[key] != want[key]:
            print(f"requests {key}: metrics {got[key]}, trail {want[key]}")
            bad += 1
    total = m["vaultfs_audit_records_total"].get((), -1)
    if total != records:
        print(f"audit records: metrics {total:.0f}, trail {records}")
        bad += 1
    if not started:
        print(f"no mount record of pid {pid} in the trail")
        bad += 1
    if bad:
        sys.exit(1)
    print(f"{sum(want.values())} requests in {len(want)} kinds and {records} records agree")


main()

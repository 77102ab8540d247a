#!/usr/bin/env python3
"""Latency of callers while something stalls: each OP runs in a loop in its own thread for
SECONDS, every call timed. A call still blocked GRACE seconds (env LAT_GRACE, default 4)
after the end counts with the time it has waited so far, as HUNG, so a hang shows as a
figure rather than hanging the test.

usage: lat.py SECONDS LABEL=KIND:PATH ...   KIND: read (open, read, close), ls (listdir)
prints one line per LABEL: "LAT label n=N ok=N max_ms=F p99_ms=F errors=NAME:N,..."
"""
import errno
import os
import sys
import threading
import time


def call(kind, path):
    if kind == "read":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.read(fd, 65536)
        finally:
            os.close(fd)
    elif kind == "ls":
        os.listdir(path)
    else:
        raise SystemExit("unknown kind " + kind)


def main():
    seconds = float(sys.argv[1])
    ops = []
    for spec in sys.argv[2:]:
        label, rest = spec.split("=", 1)
        kind, path = rest.split(":", 1)
        ops.append({"label": label, "kind": kind, "path": path, "lat": [], "err": {},
                    "ok": 0, "since": None})
    end = time.monotonic() + seconds

    def loop(o):
        while time.monotonic() < end:
            o["since"] = t = time.monotonic()
            try:
                call(o["kind"], o["path"])
                o["ok"] += 1
            except OSError as e:
                name = errno.errorcode.get(e.errno, str(e.errno))
                o["err"][name] = o["err"].get(name, 0) + 1
            o["lat"].append(time.monotonic() - t)
            o["since"] = None
            time.sleep(0.01)

    threads = [threading.Thread(target=loop, args=(o,), daemon=True) for o in ops]
    for t in threads:
        t.start()
    # Wait out the run and, for a call that began just before its end, the grace.
    grace = float(os.environ.get("LAT_GRACE", "4"))
    for t in threads:
        t.join(max(0.0, end + grace - time.monotonic()))
    now = time.monotonic()
    for o in ops:
        lat = list(o["lat"])
        if o["since"] is not None:  # still blocked: it has waited this long already
            lat.append(now - o["since"])
            o["err"]["HUNG"] = 1
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0
        errs = ",".join("%s:%d" % kv for kv in sorted(o["err"].items())) or "-"
        print("LAT %s n=%d ok=%d max_ms=%.1f p99_ms=%.1f errors=%s" %
              (o["label"], len(lat), o["ok"], (lat[-1] if lat else 0) * 1000, p99 * 1000, errs),
              flush=True)
    os._exit(0)


main()

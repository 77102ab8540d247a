#!/usr/bin/python3
"""Writes unique random values to secrets through the mount until STOP exists, for the
crash campaign (t_crash.sh). Before each write it logs the value's SHA-256 as attempted;
after close() returns 0 — the point at which SPEC says the version is committed — it logs
it as acknowledged. Every value carries the writer's id and a counter, so no two writes
are the same bytes and each version names the one write that made it.

usage: crash_writer.py SECRETS_DIR WRITER_ID NAMES(comma-separated) LOG STOP
"""
import errno
import hashlib
import os
import random
import sys
import time

secrets, wid, names, log_path, stop = sys.argv[1:6]
names = names.split(",")
rng = random.Random()
n = 0
with open(log_path, "a", buffering=1) as log:
    while not os.path.exists(stop):
        name = rng.choice(names)
        n += 1
        value = (f"{wid}-{n}-".encode() + os.urandom(rng.randrange(0, 2048)))
        digest = hashlib.sha256(value).hexdigest()
        log.write(f"attempt {name} {digest}\n")
        try:
            fd = os.open(os.path.join(secrets, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError:
            time.sleep(0.01)  # the daemon is gone: nothing to do until the stop
            continue
        try:
            view = memoryview(value)
            while view:
                view = view[os.write(fd, view[:rng.choice((7, 512, 4096))]):]
        except OSError:
            try:
                os.close(fd)
            except OSError:
                pass
            continue
        try:
            os.close(fd)
        except OSError as e:
            if e.errno not in (errno.ENOTCONN, errno.EIO, errno.ECONNABORTED):
                log.write(f"error {name} {e.errno}\n")
            continue
        log.write(f"ack {name} {digest}\n")
        # a pause of up to 10 ms keeps a 1,000-cycle soak's history (and its check) in bounds
        time.sleep(rng.random() / 100)

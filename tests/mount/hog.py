"""Callers that try to take the daemon's memory, and one that only reads, for t_memory.sh.

  hog.py open PATH MAX EXTRA READY GO
      opens PATH read-only until MAX descriptors or the first failure, then EXTRA more
      times; prints "opened N FIRST_ERROR" and "extra ERRNO:COUNT ..."; creates READY,
      waits for GO to exist, and closes every descriptor
  hog.py buffer PATH COUNT BYTES READY GO
      opens PATH read-write COUNT times (until the first failure), then writes BYTES into
      each descriptor in turn, in 128 KiB writes, stopping at a descriptor's first failure;
      then writes once more to each refused descriptor; prints "opened N FIRST_ERROR",
      "written N refused ERRNO:COUNT ..." and "again ERRNO:COUNT ..."; creates READY,
      waits for GO, and closes every descriptor
  hog.py spin PATH SECONDS
      open+read+close of PATH as fast as it can for SECONDS; prints "ERRNO:COUNT ..."
      with "ok" for the reads that worked
  hog.py read PATH EXPECTED STOP LOG
      reads PATH every 20 ms until STOP exists; appends one line to LOG for each read:
      "ok", "wrong" or the errno name
"""
import collections
import errno
import os
import sys
import time


def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def wait_for(ready, go):
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.05)


def counts(c):
    return " ".join("%s:%d" % kv for kv in sorted(c.items())) or "none"


def open_many(path, flags, limit):
    fds, first = [], "none"
    for _ in range(limit):
        try:
            fds.append(os.open(path, flags))
        except OSError as e:
            first = name(e)
            break
    return fds, first


def main(argv):
    op = argv[1]
    if op == "open":
        path, limit, extra, ready, go = argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6]
        fds, first = open_many(path, os.O_RDONLY, limit)
        print("opened %d %s" % (len(fds), first), flush=True)
        errs = collections.Counter()
        for _ in range(extra):
            try:
                fds.append(os.open(path, os.O_RDONLY))
                errs["ok"] += 1
            except OSError as e:
                errs[name(e)] += 1
        print("extra " + counts(errs), flush=True)
        wait_for(ready, go)
        for fd in fds:
            os.close(fd)
    elif op == "buffer":
        path, count, size, ready, go = argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6]
        fds, first = open_many(path, os.O_RDWR, count)
        print("opened %d %s" % (len(fds), first), flush=True)
        chunk = b"p" * (128 * 1024)
        written, refused, errs = 0, [], collections.Counter()
        for fd in fds:
            try:
                left = size
                while left > 0:
                    left -= os.write(fd, chunk[:min(left, len(chunk))])
                written += 1
            except OSError as e:
                errs[name(e)] += 1
                refused.append(fd)
        print("written %d refused %s" % (written, counts(errs)), flush=True)
        again = collections.Counter()
        for fd in refused:
            try:
                os.write(fd, b"x")
                again["ok"] += 1
            except OSError as e:
                again[name(e)] += 1
        print("again " + counts(again), flush=True)
        wait_for(ready, go)
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass  # a key file's close reports nothing; a refused one nothing more
    elif op == "spin":
        path, end = argv[2], time.monotonic() + float(argv[3])
        errs = collections.Counter()
        while time.monotonic() < end:
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.read(fd, 65536)
                finally:
                    os.close(fd)
                errs["ok"] += 1
            except OSError as e:
                errs[name(e)] += 1
        print(counts(errs), flush=True)
    elif op == "read":
        path, expected, stop, log = argv[2], argv[3].encode(), argv[4], argv[5]
        with open(log, "a") as out:
            while not os.path.exists(stop):
                try:
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        data = os.read(fd, 65536)
                    finally:
                        os.close(fd)
                    out.write("ok\n" if data == expected else "wrong\n")
                except OSError as e:
                    out.write(name(e) + "\n")
                out.flush()
                time.sleep(0.02)
    else:
        sys.exit("unknown operation " + op)


if __name__ == "__main__":
    main(sys.argv)

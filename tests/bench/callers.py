"""Callers for tests/bench/memory.sh: one process each, a loop until a stop file exists.

  callers.py read DIR COUNT STOP       open+read+close of DIR/s-0 .. DIR/s-(COUNT-1), in turn
  callers.py write PATH STOP           new versions of PATH: 1 to 4 KiB of random bytes
  callers.py sign PATH STOP            write 100 bytes to a key's sign file, read the result
  callers.py fill DIR FROM TO          makes DIR/f-N/s-N (1,000 to a folder) for N in
                                       FROM..TO-1, 64 bytes each, through the mount
  callers.py readall DIR FROM TO       reads each of those once

Each loop prints "OP ops=N errors=E" when it stops. A measurement aid: it asserts nothing.
"""
import collections
import errno
import os
import random
import sys
import time


ERRORS = collections.Counter()


def loop(stop, step):
    ops = errors = 0
    while not os.path.exists(stop):
        for _ in range(50):
            try:
                step()
                ops += 1
            except OSError as e:
                errors += 1
                ERRORS[errno.errorcode.get(e.errno, str(e.errno))] += 1
                time.sleep(0.01)
    return ops, errors


def main(argv):
    op = argv[1]
    if op == "read":
        d, count, stop = argv[2], int(argv[3]), argv[4]
        names = ["%s/s-%d" % (d, i) for i in range(count)]
        state = {"i": random.randrange(count)}

        def step():
            state["i"] = (state["i"] + 1) % count
            fd = os.open(names[state["i"]], os.O_RDONLY)
            try:
                os.read(fd, 65536)
            finally:
                os.close(fd)
        ops, errors = loop(stop, step)
    elif op == "write":
        path, stop = argv[2], argv[3]

        def step():
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, os.urandom(random.randint(1024, 4096)))
            finally:
                os.close(fd)
        ops, errors = loop(stop, step)
    elif op == "sign":
        path, stop = argv[2], argv[3]
        msg = b"m" * 100

        def step():
            fd = os.open(path, os.O_RDWR)
            try:
                os.write(fd, msg)
                os.read(fd, 4096)
            finally:
                os.close(fd)
        ops, errors = loop(stop, step)
    elif op in ("fill", "readall"):
        d, first, last = argv[2], int(argv[3]), int(argv[4])
        ops = errors = 0
        for i in range(first, last):
            folder = "%s/f-%d" % (d, i // 1000)
            try:
                if op == "fill":
                    if i % 1000 == 0 or i == first:
                        os.makedirs(folder, exist_ok=True)
                    fd = os.open("%s/s-%d" % (folder, i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                    try:
                        os.write(fd, b"%064d" % i)
                    finally:
                        os.close(fd)
                else:
                    fd = os.open("%s/s-%d" % (folder, i), os.O_RDONLY)
                    try:
                        os.read(fd, 4096)
                    finally:
                        os.close(fd)
                ops += 1
            except OSError as e:
                errors += 1
                ERRORS[errno.errorcode.get(e.errno, str(e.errno))] += 1
    else:
        sys.exit("unknown operation " + op)
    # one write(2), so that the lines of many callers appending to one file stay whole
    os.write(1, ("%s ops=%d errors=%d%s\n" % (op, ops, errors, "".join(
        " %s:%d" % kv for kv in sorted(ERRORS.items())))).encode())


if __name__ == "__main__":
    main(sys.argv)

"""Reads a file of the mount through a private mapping, as an attacker reading the page
cache would, with raw mmap(2) (no fstat that would refresh the size first).

  maps.py PATH LEN [--input DATA] [--hold FLAG] [--populate]
      opens PATH (read-write with --input, which is written first, as to a key file),
      maps LEN bytes MAP_PRIVATE, and with --hold creates FLAG.ready and waits for FLAG
      before touching the mapping; then prints what the mapping holds, as hex. With
      --populate the mapping is made MAP_POPULATE: the kernel faults it in at once, and
      retries a fault that fails for as long as the process lives.

A refused fill of the mapping is a SIGBUS: the process dies of it (exit status 135).
"""
import ctypes
import os
import sys
import time

PROT_READ, MAP_PRIVATE, MAP_POPULATE = 1, 2, 0x8000


def main(argv):
    path, length = argv[1], int(argv[2])
    data = hold = None
    flags = MAP_PRIVATE
    i = 3
    while i < len(argv):
        if argv[i] == "--populate":
            flags |= MAP_POPULATE
            i += 1
            continue
        if argv[i] == "--input":
            data = argv[i + 1].encode()
        elif argv[i] == "--hold":
            hold = argv[i + 1]
        i += 2
    fd = os.open(path, os.O_RDWR if data is not None else os.O_RDONLY)
    if data is not None:
        os.write(fd, data)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    addr = libc.mmap(None, length, PROT_READ, flags, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        print("mmap:" + os.strerror(ctypes.get_errno()))
        return
    if hold:
        open(hold + ".ready", "w").close()
        for _ in range(600):
            if os.path.exists(hold):
                break
            time.sleep(0.05)
    sys.stdout.write(ctypes.string_at(addr, length).hex() + "\n")
    sys.stdout.flush()
    os.close(fd)


if __name__ == "__main__":
    main(sys.argv)

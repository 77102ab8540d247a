"""Exact system calls for the mounted tests, reporting the errno name of any failure.

  sys.py write PATH DATA [FLAGS]   open (O_WRONLY|O_CREAT|O_TRUNC, or FLAGS: excl, append,
                                   notrunc), write DATA, close: reports the first failure
                                   as "open:E", "write:E" or "close:E"
  sys.py writen PATH N             as write, with N bytes of 'x'
  sys.py write_wait PATH DATA FLAG [existing]
                                   open O_WRONLY|O_CREAT|O_EXCL (with "existing":
                                   O_WRONLY|O_TRUNC), write DATA, create FLAG.ready,
                                   wait for FLAG to exist, then close: reports as write
                                   does. (No fork while the file is open: a child's exec
                                   would close it, and that close is a flush.)
  sys.py stat_wait_read PATH FLAG  stat PATH, create FLAG.ready, wait for FLAG, then read
                                   PATH: one process (one pid) for both
  sys.py read PATH                 prints the content, or "open:E"/"read:E"
  sys.py keyop PATH INPUT OUTPUT   a key operation file: write INPUT, read the result into
                                   OUTPUT; prints "ok", "open:E" or the errno name
  sys.py keyop_wait PATH INPUT OUTPUT FLAG
                                   as keyop, but between the open and the write creates
                                   FLAG.ready and waits for FLAG to exist
  sys.py keytwice PATH             write, read, write again on one open: the errno name
  sys.py rename A B [noreplace]    rename(2), or renameat2 with RENAME_NOREPLACE
  sys.py mkdir PATH / rmdir PATH / unlink PATH / mkfifo PATH
  sys.py link A B / symlink TARGET B
  sys.py setxattr PATH NAME VALUE [create|replace] / removexattr PATH NAME
  sys.py getxattr PATH NAME [SIZE] prints the value, or the errno name
  sys.py list PATH                 opendir and readdir: the names, sorted, space-separated
  sys.py stat PATH                 prints "mode uid gid size"
  sys.py chmod PATH MODE           chmod(2), MODE in octal
  sys.py access PATH MODE          access(2), MODE of r, w, x
"""
import errno
import os
import sys


def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def read_all(fd):
    """Reads @fd to its end, as cat would: read(2) until it returns nothing."""
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def main(argv):
    op = argv[1]
    if op in ("write", "writen"):
        path = argv[2]
        data = argv[3].encode() if op == "write" else b"x" * int(argv[3])
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        for f in (argv[4].split(",") if len(argv) > 4 else []):
            if f == "excl":
                flags |= os.O_EXCL
            elif f == "append":
                flags = (flags & ~os.O_TRUNC) | os.O_APPEND
            elif f == "notrunc":
                flags &= ~os.O_TRUNC
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as e:
            return "open:" + name(e)
        result = "ok"
        try:
            os.write(fd, data)
        except OSError as e:
            result = "write:" + name(e)
        try:
            os.close(fd)
        except OSError as e:
            if result == "ok":
                result = "close:" + name(e)
        return result
    if op == "write_wait":
        import time
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            if len(argv) > 5 and argv[5] == "existing":
                flags = os.O_WRONLY | os.O_TRUNC
            elif len(argv) > 5 and argv[5] == "create":
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            fd = os.open(argv[2], flags, 0o600)
        except OSError as e:
            return "open:" + name(e)
        try:
            os.write(fd, argv[3].encode())
        except OSError as e:
            os.close(fd)
            return "write:" + name(e)
        open(argv[4] + ".ready", "w").close()
        for _ in range(600):
            if os.path.exists(argv[4]):
                break
            time.sleep(0.05)
        try:
            os.close(fd)
        except OSError as e:
            return "close:" + name(e)
        return "ok"
    if op == "stat_wait_read":
        import time
        try:
            os.stat(argv[2])
        except OSError as e:
            return "stat:" + name(e)
        open(argv[3] + ".ready", "w").close()
        for _ in range(600):
            if os.path.exists(argv[3]):
                break
            time.sleep(0.05)
        argv = [argv[0], "read", argv[2]]
        op = "read"
    if op in ("keyop", "keyop_wait"):
        # A key operation file: open read-write, write INPUT, read the result to OUTPUT.
        try:
            fd = os.open(argv[2], os.O_RDWR)
        except OSError as e:
            return "open:" + name(e)
        if op == "keyop_wait":
            import time
            open(argv[5] + ".ready", "w").close()
            for _ in range(600):
                if os.path.exists(argv[5]):
                    break
                time.sleep(0.05)
        try:
            with open(argv[3], "rb") as f:
                data = f.read()
            for i in range(0, len(data), 65536):
                os.write(fd, data[i:i + 65536])
            with open(argv[4], "wb") as f:
                f.write(read_all(fd))
            return "ok"
        except OSError as e:
            return name(e)
        finally:
            os.close(fd)
    if op == "keytwice":
        # An input written after the result was read: the second operation is refused.
        fd = os.open(argv[2], os.O_RDWR)
        try:
            os.write(fd, b"first")
            os.read(fd, 65536)
            os.write(fd, b"second")
            return "ok"
        except OSError as e:
            return name(e)
        finally:
            os.close(fd)
    if op == "read":
        try:
            fd = os.open(argv[2], os.O_RDONLY)
        except OSError as e:
            return "open:" + name(e)
        try:
            sys.stdout.buffer.write(read_all(fd))
            return None
        except OSError as e:
            return "read:" + name(e)
        finally:
            os.close(fd)
    try:
        if op == "rename" and len(argv) > 4:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.renameat2(-100, argv[2].encode(), -100, argv[3].encode(), 1) != 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        elif op == "rename":
            os.rename(argv[2], argv[3])
        elif op == "mkdir":
            os.mkdir(argv[2])
        elif op == "link":
            os.link(argv[2], argv[3])
        elif op == "symlink":
            os.symlink(argv[2], argv[3])
        elif op == "mkfifo":
            os.mkfifo(argv[2])
        elif op == "rmdir":
            os.rmdir(argv[2])
        elif op == "unlink":
            os.unlink(argv[2])
        elif op == "setxattr":
            flags = {"create": os.XATTR_CREATE, "replace": os.XATTR_REPLACE}.get(
                argv[5] if len(argv) > 5 else "", 0)
            os.setxattr(argv[2], argv[3], argv[4].encode(), flags)
        elif op == "removexattr":
            os.removexattr(argv[2], argv[3])
        elif op == "getxattr":
            v = os.getxattr(argv[2], argv[3])
            return v.decode()
        elif op == "list":
            return " ".join(sorted(os.listdir(argv[2])))
        elif op == "stat":
            st = os.stat(argv[2])
            return "%o %d %d %d" % (st.st_mode & 0o7777, st.st_uid, st.st_gid, st.st_size)
        elif op == "chmod":
            os.chmod(argv[2], int(argv[3], 8))
        elif op == "access":
            mode = 0
            for c in argv[3]:
                mode |= {"r": os.R_OK, "w": os.W_OK, "x": os.X_OK}[c]
            if not os.access(argv[2], mode):
                return "EACCES"
        else:
            return "usage"
    except OSError as e:
        return name(e)
    return "ok"


if __name__ == "__main__":
    out = main(sys.argv)
    if out is not None:
        print(out)

"""Writers that do not end with a plain close(2), for the mounted tests.

  writer.py half PATH DATA FLAG   opens PATH O_WRONLY|O_TRUNC, writes DATA, creates FLAG
                                  and waits to be killed
  writer.py exit PATH DATA CODE   opens PATH O_WRONLY|O_TRUNC, writes DATA and exits with
                                  status CODE without closing it (the kernel closes it)
  writer.py failclose PATH DATA FLAG
                                  opens PATH O_WRONLY|O_TRUNC, writes DATA, forks a child
                                  that holds the descriptor; creates FLAG.1 and waits for
                                  FLAG.go1, closes (printing "close:ok" or "close:ERRNO"),
                                  creates FLAG.2 and waits for FLAG.go2; then the child
                                  exits and the parent prints "done"
"""
import errno
import os
import signal
import sys
import time


def wait_for(path):
    for _ in range(600):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + path)


def main(argv):
    # a background job of a script ignores SIGINT; a writer at a terminal would not
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    op, path, data = argv[1], argv[2], argv[3].encode()
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, data)
    if op == "half":
        open(argv[4], "w").close()
        while True:
            time.sleep(1)
    if op == "exit":
        os._exit(int(argv[4]))
    if op == "failclose":
        flag = argv[4]
        child = os.fork()
        if child == 0:
            wait_for(flag + ".go2")
            os._exit(0)
        open(flag + ".1", "w").close()
        wait_for(flag + ".go1")
        try:
            os.close(fd)
            print("close:ok", flush=True)
        except OSError as e:
            print("close:" + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
        open(flag + ".2", "w").close()
        wait_for(flag + ".go2")
        os.waitpid(child, 0)
        print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv)

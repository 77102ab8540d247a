"""Listens as the system log at PATH (a datagram socket, as /dev/log is) and appends
every message it receives, one a line, to OUT, until killed."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    open(out + ".ready", "w").close()
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")

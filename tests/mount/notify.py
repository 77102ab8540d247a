#!/usr/bin/env python3
"""The service manager's end of sd_notify(3), for t_systemd.sh.

notify.py SOCKET LOG [--hold MOUNTPOINT PIDFILE]

Binds a datagram socket at SOCKET (the NOTIFY_SOCKET given to the daemon) and writes each
message it receives to LOG as one line, "msg" followed by its fields joined by "|"
(READY=1|STATUS=...), flushed at once. It runs until it is sent SIGTERM.

--hold proves when READY=1 is sent, whatever the timing. Before the daemon starts, the
socket's receive queue is filled with placeholder datagrams, so the daemon's first
sd_notify() blocks inside sendmsg(2) until this end reads. Once the daemon (its pid read
from PIDFILE) has a thread blocked there, and while it stays blocked, this end checks that
MOUNTPOINT is a fuse.vaultfs mount in the mount table and that a stat(1) of it is answered
within 10 s, and writes "held mounted=0|1 answered=0|1" to LOG; only then does it read,
placeholders first. A daemon that sent READY=1 before its workers serve would be held with
the stat waiting for a worker that never comes: answered=0.
"""
import os
import platform
import signal
import socket
import subprocess
import sys
import time

FILL = b"PLACEHOLDER=1"
# sendmsg(2) and sendto(2), by architecture
SEND_CALLS = {"x86_64": {"46", "44"}, "aarch64": {"211", "206"}}


def out(log, line):
    log.write(line + "\n")
    log.flush()


def blocked_in_send(pid):
    calls = SEND_CALLS.get(platform.machine(), {"46", "44"})
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                if f.read().split(" ", 1)[0] in calls:
                    return True
        except OSError:
            pass
    return False


def mounted(mountpoint):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == mountpoint and fields[sep + 1] == "fuse.vaultfs":
                return True
    return False


def hold(log, mountpoint, pidfile):
    deadline = time.monotonic() + 60
    pid = None
    while time.monotonic() < deadline:
        if pid is None and os.path.exists(pidfile):
            with open(pidfile) as f:
                text = f.read().strip()
            pid = int(text) if text else None
        if pid is not None:
            state = blocked_in_send(pid)
            if state is None:
                out(log, "held daemon-gone")
                return
            if state:
                break
        time.sleep(0.01)
    else:
        out(log, "held timeout")
        return
    is_mounted = mounted(mountpoint)
    try:
        answered = subprocess.run(["stat", mountpoint], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        answered = False
    # still the same send: nothing was read, so the daemon could not have gone on
    still = blocked_in_send(pid)
    out(log, f"held mounted={int(is_mounted)} answered={int(answered)} still={int(bool(still))}")


def main():
    path, logpath = sys.argv[1], sys.argv[2]
    held = len(sys.argv) == 6 and sys.argv[3] == "--hold"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    log = open(logpath, "a")
    if held:
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        n = 0
        while True:
            try:
                filler.sendto(FILL, socket.MSG_DONTWAIT, path)
                n += 1
            except BlockingIOError:
                break
        filler.close()
        out(log, f"filled {n}")
        hold(log, sys.argv[4], sys.argv[5])
    while True:
        data = sock.recv(65536)
        if data == FILL:
            continue
        out(log, "msg " + data.decode(errors="replace").strip("\n").replace("\n", "|"))


if __name__ == "__main__":
    main()

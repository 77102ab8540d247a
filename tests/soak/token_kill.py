#!/usr/bin/env python3
"""The embedded token against kills and concurrency, through the real vaultfs binary.

Makes VAULTS vaults, then:
  1. sends SIGKILL (--kill N) and SIGINT (--int N) at random moments of `vaultfs secret
     get` and `vaultfs secret set`, and after each one checks that the vault still opens
     and reads its secret back;
  2. kills the foreground daemon of `vaultfs mount -f` (--mount N) at random moments of its
     start, SIGKILL and SIGINT in turn, and checks the same;
  3. runs PROCS processes of `secret get` in loops of LOOPS on one vault at once, with one
     `secret set` loop and a mount serving reads of the same vault beside them, and counts
     every failure.
A vault that no longer opens is counted as lost and revived from a copy of its token.object
taken at init (what an operator would have to do), so that the campaign goes on.

Prints one summary line and exits 1 if any vault was lost or any command failed.
"""
import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def mounted(path):
    """Whether @path is a mount point, dead FUSE mounts ("not connected") included."""
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def token_object(vault):
    tokens = os.path.join(vault, "tokens")
    for d in os.listdir(tokens):
        p = os.path.join(tokens, d, "token.object")
        if os.path.isfile(p):
            return p
    raise RuntimeError("no token.object in " + tokens)


class Campaign:
    def __init__(self, a):
        self.a = a
        self.vfs = a.vaultfs
        self.lost = 0
        self.restored = 0
        self.lost_msgs = []
        self.vaults = []
        self.rng = random.Random(a.seed)

    def make_vaults(self):
        for i in range(self.a.vaults):
            v = os.path.join(self.a.work, "v%d" % i)
            r = run([self.vfs, "init", v])
            if r.returncode != 0:
                sys.exit("init failed: " + r.stderr.decode())
            with open(os.path.join(v, "policy"), "w") as f:
                f.write("allow * ** uid=0\n")
            r = run([self.vfs, "secret", "set", v, "s0"], input=b"value-%d" % i)
            if r.returncode != 0:
                sys.exit("set failed: " + r.stderr.decode())
            shutil.copy(token_object(v), os.path.join(self.a.work, "v%d.token.object" % i))
            self.vaults.append(v)

    def check(self, i, what):
        """The vault opens and reads its secret back; else it is counted lost and revived."""
        v = self.vaults[i]
        r = run([self.vfs, "secret", "get", v, "s0"])
        self.restored += b"put back from its known-good copy" in r.stderr
        if r.returncode == 0 and r.stdout == b"value-%d" % i:
            return
        self.lost += 1
        msg = "%s: vault %d lost: %s" % (what, i, r.stderr.decode().strip())
        self.lost_msgs.append(msg)
        print(msg, file=sys.stderr)
        shutil.copy(os.path.join(self.a.work, "v%d.token.object" % i), token_object(v))
        r = run([self.vfs, "secret", "get", v, "s0"])
        if r.returncode != 0:
            sys.exit("vault %d cannot be revived: %s" % (i, r.stderr.decode()))

    def median_runtime(self, cmd, n=5):
        times = []
        for _ in range(n):
            t = time.monotonic()
            run(cmd)
            times.append(time.monotonic() - t)
        return statistics.median(times)

    def kill_commands(self):
        span = max(self.a.max_delay_ms / 1000.0,
                   1.2 * self.median_runtime([self.vfs, "secret", "get", self.vaults[0], "s0"]))
        sigs = [signal.SIGKILL] * self.a.kill + [signal.SIGINT] * self.a.int
        self.rng.shuffle(sigs)
        landed = 0
        for n, sig in enumerate(sigs):
            i = self.rng.randrange(len(self.vaults))
            v = self.vaults[i]
            if self.rng.random() < 0.5:
                cmd, data = [self.vfs, "secret", "get", v, "s0"], None
            else:
                cmd, data = [self.vfs, "secret", "set", v, "s1"], b"try-%d" % n
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            if data is not None:
                p.stdin.write(data)
            p.stdin.close()
            time.sleep(self.rng.uniform(0, span))
            p.send_signal(sig)
            p.wait()
            landed += p.returncode < 0
            self.check(i, "%s of %s" % (sig.name, cmd[2]))
        return landed

    def kill_mounts(self):
        mnt = os.path.join(self.a.work, "mnt")
        os.makedirs(mnt, exist_ok=True)
        span = self.a.mount_span_ms / 1000.0
        if not span:  # the time a start takes to serve, and a little more
            t = time.monotonic()
            d = subprocess.Popen([self.vfs, "mount", self.vaults[0], mnt, "-f"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while not mounted(mnt) and d.poll() is None and time.monotonic() - t < 30:
                time.sleep(0.002)
            span = 1.5 * (time.monotonic() - t)
            run(["fusermount3", "-u", mnt])
            d.wait()
        landed = 0
        for n in range(self.a.mount):
            i = self.rng.randrange(len(self.vaults))
            sig = signal.SIGKILL if n % 2 == 0 else signal.SIGINT
            p = subprocess.Popen([self.vfs, "mount", self.vaults[i], mnt, "-f"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(self.rng.uniform(0, self.a.mount_span_ms / 1000.0))
            p.send_signal(sig)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            landed += p.returncode < 0
            if mounted(mnt):
                run(["fusermount3", "-uz", mnt])
            self.check(i, "%s of mount" % sig.name)
        return landed

    def concurrent(self):
        v, i = self.vaults[0], 0
        mnt = os.path.join(self.a.work, "mnt")
        os.makedirs(mnt, exist_ok=True)
        daemon = subprocess.Popen([self.vfs, "mount", v, mnt, "-f"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(400):
            if mounted(mnt) and os.path.isdir(os.path.join(mnt, "secrets")):
                break
            if daemon.poll() is not None:
                sys.exit("daemon died: " + daemon.stderr.read().decode())
            time.sleep(0.05)
        fails, ops = [], [0]
        lock = threading.Lock()
        stop = threading.Event()

        def note(what, r):
            with lock:
                ops[0] += 1
                if r is not None:
                    fails.append("%s: %s" % (what, r))

        def getter():
            for _ in range(self.a.loops):
                r = run([self.vfs, "secret", "get", v, "s0"])
                ok = r.returncode == 0 and r.stdout == b"value-%d" % i
                note("secret get", None if ok else r.stderr.decode().strip() or r.stdout)

        def setter():
            n = 0
            while not stop.is_set():
                n += 1
                r = run([self.vfs, "secret", "set", v, "s2"], input=b"w-%d" % n)
                note("secret set", None if r.returncode == 0 else r.stderr.decode().strip())

        def reader():
            while not stop.is_set():
                try:
                    with open(os.path.join(mnt, "secrets", "s0"), "rb") as f:
                        ok = f.read() == b"value-%d" % i
                    note("read through the mount", None if ok else "wrong value")
                except OSError as e:
                    note("read through the mount", str(e))

        workers = [threading.Thread(target=getter) for _ in range(self.a.procs)]
        side = [threading.Thread(target=setter), threading.Thread(target=reader)]
        for t in workers + side:
            t.start()
        for t in workers:
            t.join()
        stop.set()
        for t in side:
            t.join()
        r = run(["fusermount3", "-u", mnt])
        if r.returncode != 0:
            run(["fusermount3", "-uz", mnt])
            fails.append("unmount: " + r.stderr.decode().strip())
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        if daemon.returncode != 0:
            fails.append("daemon exit %d: %s" % (daemon.returncode, daemon.stderr.read().decode()))
        for f in fails[:10]:
            print("concurrent: " + f, file=sys.stderr)
        return ops[0], fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("vaultfs")
    ap.add_argument("work")
    ap.add_argument("--vaults", type=int, default=4)
    ap.add_argument("--kill", type=int, default=150)
    ap.add_argument("--int", type=int, default=150)
    ap.add_argument("--mount", type=int, default=30)
    ap.add_argument("--mount-span-ms", type=int, default=0)  # 0: 1.5 x a start
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--loops", type=int, default=100)
    ap.add_argument("--max-delay-ms", type=int, default=30)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    c = Campaign(a)
    t0 = time.monotonic()
    try:
        c.make_vaults()
        landed = c.kill_commands()
        lost_cmd = c.lost
        mlanded = c.kill_mounts()
        lost_mount = c.lost - lost_cmd
        ops, fails = c.concurrent()
    finally:
        mnt = os.path.join(a.work, "mnt")
        if os.path.exists(a.work) and mounted(mnt):
            run(["fusermount3", "-uz", mnt])
            print("a mount was left behind: unmounted", file=sys.stderr)
    print("token campaign: %d SIGKILL + %d SIGINT into commands (%d ended by the signal): "
          "%d vaults lost; %d kills of mount starts (%d ended by the signal): %d vaults lost; "
          "%d concurrent operations (%d secret get processes x %d): %d failed; "
          "token.object put back from its copy %d times; %.0f s"
          % (a.kill, a.int, landed, lost_cmd, a.mount, mlanded, lost_mount, ops, a.procs,
             a.loops, len(fails), c.restored, time.monotonic() - t0))
    sys.exit(1 if c.lost or fails else 0)


if __name__ == "__main__":
    main()

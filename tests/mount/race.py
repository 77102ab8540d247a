"""A check-and-change through the mount raced against the command line changing the same
secret from another process, round after round.

  race.py noreplace VAULTFS VAULT MOUNT FOLDER ROUNDS
      the mount: renameat2(RENAME_NOREPLACE) of a new secret onto FOLDER/tI; the command
      line: `vaultfs secret set --create` of FOLDER/tI. Exactly one may succeed, and the
      value there is the winner's.
  race.py xattr_create VAULTFS VAULT MOUNT FOLDER ROUNDS
      the mount: setxattr(XATTR_CREATE) of user.vault.tag.race on FOLDER/xI; the command
      line: `vaultfs secret attr` of the same tag. If the mount's call succeeded, the
      command line's value must not have been there before it: the value left is then the
      command line's.

The kernel serialises renames and attribute changes made through one mount, so the other
party is the command line, whose change commits while the daemon decides. The mount's
call is fired at a random moment of the command's run, most often near its commit. Prints
"N rounds, N violations" and a line per violation.
"""
import ctypes
import errno
import os
import random
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)


def renameat2_noreplace(a, b):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), 1) != 0:
        return ctypes.get_errno()
    return 0


def setxattr_create(path, value):
    try:
        os.setxattr(path, "user.vault.tag.race", value, os.XATTR_CREATE)
        return 0
    except OSError as e:
        return e.errno


def main(argv):
    kind, vaultfs, vault, mnt, folder, rounds = argv[1:6] + [int(argv[6])]
    rng = random.Random(1234)
    here = os.path.join(mnt, "secrets", folder)

    def cli(i):
        if kind == "noreplace":
            cmd = [vaultfs, "secret", "set", vault, "%s/t%d" % (folder, i), "--create"]
            return subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        cmd = [vaultfs, "secret", "attr", vault, "%s/x%d" % (folder, i), "tag.race", "cli"]
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def prepare(i):
        name = "s%d" % i if kind == "noreplace" else "x%d" % i
        with open(os.path.join(here, name), "w") as f:
            f.write("mount")

    # How long the command takes here: the mount's call is timed against it.
    prepare(rounds)
    start = time.monotonic()
    p = cli(rounds)
    p.communicate(b"cli")
    took = time.monotonic() - start

    bad = []
    for i in range(rounds):
        prepare(i)
        p = cli(i)
        if kind == "noreplace":
            p.stdin.write(b"cli")
            p.stdin.close()
        time.sleep(took * rng.uniform(0.3, 1.2))
        if kind == "noreplace":
            mine = renameat2_noreplace(os.path.join(here, "s%d" % i), os.path.join(here, "t%d" % i))
        else:
            mine = setxattr_create(os.path.join(here, "x%d" % i), b"mount")
        theirs = p.wait()
        if kind == "noreplace":
            with open(os.path.join(here, "t%d" % i)) as f:
                there = f.read()
            ok = (mine == 0) != (theirs == 0) and mine in (0, errno.EEXIST) and \
                there == ("mount" if mine == 0 else "cli")
        else:
            there = os.getxattr(os.path.join(here, "x%d" % i), "user.vault.tag.race").decode()
            ok = theirs == 0 and mine in (0, errno.EEXIST) and not (mine == 0 and there == "mount")
        if not ok:
            bad.append("round %d: mount %s, command line exit %d, value %r" %
                       (i, errno.errorcode.get(mine, mine), theirs, there))
    print("%d rounds, %d violations" % (rounds, len(bad)))
    for line in bad[:10]:
        print(line)


if __name__ == "__main__":
    main(sys.argv)

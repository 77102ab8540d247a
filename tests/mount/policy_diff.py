"""The mount and `vaultfs policy explain` decide alike: a differential test.

  policy_diff.py VAULTFS DIR MOUNTPOINT SEED ROUNDS
      Writes ROUNDS random policies (a PRNG seeded with SEED) to DIR/policy, each waited
      for through its policy-reload record; for each, callers (uid, gid) make real system
      calls through MOUNTPOINT — list: opendir and readdir; read: open O_RDONLY; write:
      open O_WRONLY; delete: unlink; recover: rename from .deleted/secrets back; purge:
      unlink under .deleted/secrets; sign, encrypt, decrypt, wrap, unwrap: open the key's
      file O_RDWR — and every outcome is compared with what explain
      prints for the same caller, operation and path: the decision, and the rule, which
      the audit record of the operation must name too. A caller refused at the lookup of
      a name on the way (its record is the lookup's) is compared on the decision. Prints
      the number of decisions compared and "N passed, N failed"; exits 1 on any mismatch.
  policy_diff.py worker
      Run as a caller (setpriv): prints its pid, then for each line "OP PATH" on standard
      input does that system call and prints "ok" or the errno name.

Soft-deleted secrets are recovered with `vaultfs secret recover` after each round, and
what a round recovers or purges is deleted or made again, so every round starts from the
same tree. The vault holds an EC key `ec` and an RSA key `rsa` (t_policy_diff.sh).
"""
import errno
import json
import os
import random
import subprocess
import sys

SECRETS = ["top", "a/x", "a/y", "a/c/z", "b/x", "b/w"]
# Soft-deleted at the start, for recover and purge.
TRASH = ["gone", "a/old"]
KEY_FILES = ["keys/ec/sign", "keys/rsa/sign", "keys/rsa/encrypt", "keys/rsa/decrypt",
             "keys/rsa/wrap", "keys/rsa/unwrap"]
# Folders as the mount shows them; explain is asked about the same path.
FOLDERS = ["", "keys", ".deleted", ".deleted/secrets", "secrets", "secrets/a",
           "secrets/a/c", "secrets/b"]
GLOBS = ["**", "secrets", "secrets/**", "secrets/*", "secrets/a", "secrets/a/**",
         "secrets/a/*", "secrets/*/x", "secrets/a/c", "secrets/a/c/**", "secrets/b/**",
         "secrets/top", "secrets/**/x", "secrets/?", "keys", "keys/**", "keys/ec",
         "keys/rsa", "keys/*", "secrets/gone", "secrets/a/old"]
OPS = ["list", "read", "write", "delete", "recover", "purge", "sign", "encrypt", "decrypt",
       "wrap", "unwrap"]
# (uid, gid): no passwd entry and no supplementary groups, so that explain, which takes
# supplementary groups from NSS, sees the caller the mount sees.
CALLERS = [(1001, 1001), (1002, 2000), (1003, 2000), (1004, 0)]
WHO = ["uid=1001", "uid=1002", "uid=1003", "uid=1004", "gid=2000", "gid=1001",
       "group=root", "uid=1003 gid=2000", "uid=1001 gid=2000"]


def worker():
    print(os.getpid(), flush=True)
    for line in sys.stdin:
        op, path = line.rstrip("\n").split(" ", 1)
        try:
            if op == "list":
                os.listdir(path)
            elif op == "recover":
                src, dst = path.split(" ")
                os.rename(src, dst)
            elif op == "key":
                os.close(os.open(path, os.O_RDWR))
            elif op in ("read", "write"):
                fd = os.open(path, os.O_RDONLY if op == "read" else os.O_WRONLY)
                try:
                    if op == "read":
                        os.read(fd, 65536)
                finally:
                    os.close(fd)
            elif op in ("delete", "purge"):
                os.unlink(path)
            out = "ok"
        except OSError as e:
            out = errno.errorcode.get(e.errno, str(e.errno))
        print(out, flush=True)


def random_policy(rng):
    rules = []
    for _ in range(rng.randint(2, 7)):
        effect = "deny" if rng.random() < 0.3 else "allow"
        ops = "*" if rng.random() < 0.15 else ",".join(
            sorted(rng.sample(OPS, rng.randint(1, 4)), key=OPS.index))
        who = "*" if rng.random() < 0.2 else rng.choice(WHO)
        rules.append("%s %s %s %s" % (effect, ops, rng.choice(GLOBS), who))
    return rules


class Trail:
    """The records appended to the audit trail since the last look."""

    def __init__(self, path):
        self.f = open(path, "r")
        self.f.seek(0, os.SEEK_END)

    def new(self):
        return [json.loads(line) for line in self.f.readlines() if line.strip()]


def wait_reload(trail):
    import time
    for _ in range(100):
        for rec in trail.new():
            if rec.get("op") == "policy-reload":
                return rec
        time.sleep(0.05)
    return None


def driver(vaultfs, vault, mnt, seed, rounds):
    rng = random.Random(seed)
    here = os.path.abspath(__file__)
    workers = {}
    for uid, gid in CALLERS:
        p = subprocess.Popen(["setpriv", "--reuid", str(uid), "--regid", str(gid),
                              "--clear-groups", "/usr/bin/python3", here, "worker"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        workers[uid] = (p, int(p.stdout.readline()))
    trail = Trail(os.path.join(vault, "audit.log"))
    compared = rules_compared = failed = 0
    tally = {}  # op: [refused, allowed]

    def explain(uid, gid, op, path):
        r = subprocess.run([vaultfs, "policy", "explain", vault, "--uid", str(uid),
                            "--gid", str(gid), op, path], capture_output=True, text=True)
        words = r.stdout.split()
        if r.returncode not in (0, 3) or len(words) != 2:
            raise SystemExit("explain failed (%d): %s" % (r.returncode, r.stderr))
        return words[0], words[1]

    def check(policy, uid, gid, op, path):
        nonlocal compared, rules_compared, failed
        p, pid = workers[uid]
        trail.new()
        full = os.path.join(mnt, path) if path else mnt
        if op == "recover":
            request = "recover %s %s" % (
                full.replace("/secrets/", "/.deleted/secrets/", 1), full)
        elif op == "purge":
            request = "purge " + full.replace("/secrets/", "/.deleted/secrets/", 1)
        elif op in ("sign", "encrypt", "decrypt", "wrap", "unwrap"):
            request = "key " + full
            path = path.rsplit("/", 1)[0]  # policy speaks of the key: keys/NAME
        else:
            request = "%s %s" % (op, full)
        p.stdin.write(request + "\n")
        p.stdin.flush()
        got = p.stdout.readline().strip()
        want, rule = explain(uid, gid, op, path)
        recs = [r for r in trail.new() if r.get("pid") == pid and
                r.get("op") in ("readdir", "open", "delete", "lookup", "recover", "purge")]
        final = [r for r in recs if r["op"] != "lookup"]
        rec = final[0] if final else (recs[-1] if recs else None)
        problems = []
        if got not in ("ok", "EACCES", "ENOENT"):
            problems.append("the mount answered %s" % got)
        elif (got == "ok") != (want == "allow"):
            problems.append("the mount answered %s, explain %s %s" % (got, want, rule))
        if rec is None:
            problems.append("no record")
        elif rec["decision"] != want:
            problems.append("record %s %s %s" % (rec["op"], rec["decision"], rec["rule"]))
        elif rec["op"] != "lookup":
            rules_compared += 1
            if rec["rule"] != rule:
                problems.append("record %s cites %s, explain %s" % (rec["op"], rec["rule"],
                                                                    rule))
        compared += 1
        tally.setdefault(op, [0, 0])[got == "ok"] += 1
        if problems:
            failed += 1
            print("FAIL: uid %d gid %d %s %r: %s\n  policy:\n    %s" %
                  (uid, gid, op, path, "; ".join(problems), "\n    ".join(policy)),
                  file=sys.stderr)
        return got

    for rnd in range(rounds):
        policy = random_policy(rng)
        tmp = os.path.join(vault, "policy.new")
        with open(tmp, "w") as f:
            f.write("\n".join(policy) + "\n")
        trail.new()
        os.rename(tmp, os.path.join(vault, "policy"))
        rec = wait_reload(trail)
        if rec is None or rec.get("result") != 0:
            raise SystemExit("round %d: policy not reloaded: %r" % (rnd, rec))
        checks = [(op, path) for op in ("read", "write") for path in
                  ("secrets/" + s for s in SECRETS)] + [("list", f) for f in FOLDERS] + \
                 [(k.rsplit("/", 1)[1], k) for k in KEY_FILES]
        for uid, gid in CALLERS:
            for op, path in rng.sample(checks, 14):
                check(policy, uid, gid, op, path)
        # Recover and purge, each deleted name once; what one brings back or removes is
        # deleted or made and deleted again.
        for name in TRASH:
            uid, gid = rng.choice(CALLERS)
            op = rng.choice(["recover", "purge"])
            if check(policy, uid, gid, op, "secrets/" + name) != "ok":
                continue
            if op == "purge":
                r = subprocess.run([vaultfs, "secret", "set", vault, name],
                                   input="value-of-" + name, capture_output=True, text=True)
                if r.returncode != 0:
                    raise SystemExit("set %s: %s" % (name, r.stderr))
            r = subprocess.run([vaultfs, "secret", "delete", vault, name],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit("delete %s: %s" % (name, r.stderr))
        # Deletes last, each name once; what one removes comes back for the next round.
        for name in rng.sample(SECRETS, 3):
            uid, gid = rng.choice(CALLERS)
            if check(policy, uid, gid, "delete", "secrets/" + name) != "ok":
                continue
            r = subprocess.run([vaultfs, "secret", "recover", vault, name],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit("recover %s: %s" % (name, r.stderr))
    for p, _ in workers.values():
        p.stdin.close()
        p.wait()
    print("%d decisions compared with explain (%d rules also against the audit record), "
          "%d policies, seed %d" % (compared, rules_compared, rounds, seed))
    print("by operation (allowed/refused): " + ", ".join(
        "%s %d/%d" % (op, t[1], t[0]) for op, t in sorted(tally.items())))
    print("%d passed, %d failed" % (compared - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker()
    else:
        sys.exit(driver(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]),
                        int(sys.argv[5])))

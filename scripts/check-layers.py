#!/usr/bin/env python3
"""Checks the layering of vaultfs from the built objects, not from the includes.

Every object file of the product (under BUILD/CMakeFiles/vaultfs*.dir) is mapped back to
its source file; the source's folder is its layer (src/base, src/hsm, ..., fs, policy).
An edge A -> B is drawn when A uses a symbol that B defines (nm: undefined in A, defined
in B). The check fails, naming each offence, on:
  - a source file in no layer of scripts/layers.txt;
  - an edge to a layer that its own layer may not use (upward, or sideways where the
    table does not allow it);
  - a cycle of files (two or more files that need each other, directly or not), even
    inside one layer;
  - a use of a guarded symbol (a line "only SYMBOL...: USERS..." in the layers file) by a
    file that is not one of USERS nor in a layer or folder named there: the functions that
    change a vault are called only by the recorded operations.
  - a call into a foreign library from outside the room that owns it (ROOMS: SQLite's
    sqlite3_* only from src/store, libfuse's fuse_* only from fs and src/cli).
Usage: check-layers.py BUILD_DIR [LAYERS_FILE]
"""
import os
import re
import subprocess
import sys


TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each concern stays in its room (STYLE): the prefix of a library's symbols, and the only
# layers whose files may use them. PKCS#11 is reached through its function list, with no
# symbol to find: src/hsm keeps it by exporting no CK_* type, which the compiler checks.
ROOMS = {"sqlite3_": {"src/store"}, "fuse_": {"fs", "src/cli"}}


GUARDED = {}  # symbol -> the files or folders that may use it ("only" lines)


def read_layers(path):
    """layers.txt: 'LAYER: USES...' a line, '#' comments. Returns {layer: set(uses)}."""
    layers = {}
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, uses = line.partition(":")
            if name.startswith("only "):
                for sym in name.split()[1:]:
                    GUARDED[sym] = set(uses.split())
                continue
            layers[name.strip()] = set(uses.split())
    for name, uses in layers.items():
        for u in uses:
            if u not in layers:
                sys.exit(f"{path}: layer {name} uses unknown layer {u}")
    return layers


def objects(build):
    """(source path relative to the tree, object path) of every product object."""
    out = []
    top = os.path.join(build, "CMakeFiles")
    for d in sorted(os.listdir(top)):
        if not (d.startswith("vaultfs") and d.endswith(".dir")):
            continue
        base = os.path.join(top, d)
        for root, _, files in os.walk(base):
            for fn in files:
                if fn.endswith(".c.o"):
                    obj = os.path.join(root, fn)
                    src = os.path.relpath(obj, base)[: -len(".o")]
                    # an object left from a source since moved or removed is no file
                    if os.path.exists(os.path.join(TREE, src)):
                        out.append((src, obj))
    return out


def symbols(obj):
    """(defined global symbols, undefined symbols) of one object."""
    res = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True)
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRCGSVW" and kind.isupper():
            defined.add(name)
    return defined, undefined


def layer_of(src, layers):
    """The longest layer name that is a folder prefix of @src."""
    best = None
    for name in layers:
        if os.path.dirname(src) == name:
            best = name
    return best


def cycles(nodes, edges):
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    build = argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    layers = read_layers(argv[2] if len(argv) > 2 else os.path.join(here, "layers.txt"))
    objs = objects(build)
    if not objs:
        sys.exit(f"no product objects under {build}/CMakeFiles: build first")
    defined_by, uses = {}, {}
    for src, obj in objs:
        d, u = symbols(obj)
        uses[src] = u
        for s in d:
            defined_by.setdefault(s, set()).add(src)
    edges = {src: set() for src, _ in objs}
    for src, u in uses.items():
        for s in u:
            for other in defined_by.get(s, ()):
                if other != src:
                    edges[src].add((other, s))
    problems = []
    for src in sorted(edges):
        if layer_of(src, layers) is None:
            problems.append(f"{src}: in no layer of layers.txt")
    for src in sorted(edges):
        la = layer_of(src, layers)
        if la is None:
            continue
        for other, sym in sorted(edges[src]):
            lb = layer_of(other, layers)
            if lb is None or lb == la:
                continue
            if lb not in layers[la]:
                problems.append(f"{src} -> {other} ({sym}): {la} may not use {lb}")
    for sym, users in sorted(GUARDED.items()):
        if sym not in defined_by:
            problems.append(f"{sym}: guarded in layers.txt but defined nowhere")
    for src in sorted(edges):
        for other, sym in sorted(edges[src]):
            users = GUARDED.get(sym)
            if users is not None and src not in users and os.path.dirname(src) not in users:
                problems.append(f"{src} -> {other} ({sym}): only {' '.join(sorted(users))}")
    for src in sorted(uses):
        la = layer_of(src, layers)
        for sym in sorted(uses[src]):
            for prefix, rooms in ROOMS.items():
                if sym.startswith(prefix) and la not in rooms:
                    problems.append(f"{src} uses {sym}: only {' and '.join(sorted(rooms))} may")
    graph = {src: {o for o, _ in e} for src, e in edges.items()}
    for comp in cycles(sorted(graph), graph):
        problems.append("cycle: " + " <-> ".join(comp))
    for p in problems:
        print(p)
    files = len(edges)
    n_edges = sum(len(v) for v in graph.values())
    if problems:
        print(f"check-layers: {len(problems)} problems in {files} files, {n_edges} edges")
        return 1
    print(f"check-layers: {files} files, {n_edges} edges, no cycle, no upward edge")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

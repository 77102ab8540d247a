#!/usr/bin/env bash
# The tools operators deploy files with work into the mount, under `set -e`: install (its
# default mode and any -m, -D), cp -p, cp -a of a folder, tar, chmod and chown (accepted
# and ignored: access comes from policy), and rsync -a --inplace. Each value lands as the
# secret's exact bytes, and a second run makes new versions. Plain `rsync -a` cannot: its
# temporary files are dot-named (".a.XXXXXX"), which no secret may be (SPEC's names), and
# it says so per file; the README gives --inplace as the recipe.
. "$(dirname "$0")/lib.sh"
new_vault
start
src=$T/src
mkdir -p "$src/sub"
printf 'alpha' >"$src/a"
printf 'beta' >"$src/sub/b"
chmod 640 "$src/a"

deploy() {
	set -e
	install "$src/a" "$S/inst"
	install -m 0400 "$src/a" "$S/inst400"
	install -m 0755 -o root -g root "$src/a" "$S/inst755"
	install -D -m 0600 "$src/a" "$S/deep/er/inst"
	cp -p "$src/a" "$S/cpp"
	cp -a "$src/sub" "$S/cpa"
	tar -C "$src" -cf - . | tar -C "$S" --no-same-owner -xf -
	mkdir "$S/tar-p"
	tar -C "$src" -cf - . | tar -C "$S/tar-p" -xpf -
	chmod 600 "$S/inst"
	chown root:root "$S/inst"
	touch -d '2020-01-01' "$S/inst"
	rsync -a --inplace "$src/" "$S/rs/"
}
(deploy) 2>"$T/deploy.err" && pass || fail "a deployment under set -e: $(cat "$T/deploy.err")"

for f in inst inst400 inst755 deep/er/inst cpp a tar-p/a rs/a; do
	same "$f" alpha "$("$VAULTFS" secret get "$V" "$f" 2>&1)"
done
for f in cpa/b sub/b tar-p/sub/b rs/sub/b; do
	same "$f" beta "$("$VAULTFS" secret get "$V" "$f" 2>&1)"
done

# a second deployment of changed files: new versions, the old ones kept
printf 'alpha2' >"$src/a"
(set -e; install -m 0400 "$src/a" "$S/inst400"; cp -p "$src/a" "$S/cpp"
	rsync -a --inplace "$src/" "$S/rs/") 2>"$T/again.err" && pass || fail "again: $(cat "$T/again.err")"
for f in inst400 cpp rs/a; do
	same "$f after the second run" alpha2 "$("$VAULTFS" secret get "$V" "$f" 2>&1)"
	same "$f keeps version 1" alpha "$("$VAULTFS" secret get "$V" "$f" --version 1 2>&1)"
done

# plain rsync: refused per file, clearly, and nothing half-made
rsync -a "$src/" "$S/plain/" 2>"$T/rsync.err"; rc=$?
same "plain rsync -a exits 23 (some files not transferred)" 23 "$rc"
grep -q 'mkstemp ".*/\.a\.[A-Za-z0-9]*" failed: Invalid argument' "$T/rsync.err" && pass ||
	fail "rsync names its temporary file and EINVAL: $(cat "$T/rsync.err")"
same "no value under plain/" "" "$("$VAULTFS" secret list "$V" plain 2>/dev/null)"
stop
"$VAULTFS" audit verify "$V" >/dev/null && pass || fail "audit verify"
finish

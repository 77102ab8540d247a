#!/usr/bin/env bash
# The secrets tree through real system calls: cat, cp, ls, stat, getfattr/setfattr,
# mkdir/rmdir, rm, mv; versions; commit at close; O_EXCL; EFBIG; bad names; editors'
# write-temporary-then-rename; soft delete, recover, purge; chmod.
. "$(dirname "$0")/lib.sh"
new_vault
printf 'one' | "$VAULTFS" secret set "$V" db-conn
start

# Read and list.
same "cat" one "$(cat "$S/db-conn")"
same "ls" "db-conn" "$(ls "$S")"
same "ls of the root" ".deleted certs keys secrets" "$(ls -A "$M" | tr '\n' ' ' | sed 's/ $//')"

# A write becomes a version at close; the shell's "> file" makes exactly one.
echo -n two >"$S/db-conn"
same "after write" two "$(cat "$S/db-conn")"
same "versions after one write" "1 2" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/db-conn")"
same "old version by name" one "$(cat "$S/db-conn@1")"
same "versions are not listed" "db-conn" "$(ls "$S")"
same "missing version" "open:ENOENT" "$(sys_ read "$S/db-conn@7")"
same "writing a version" "open:EACCES" "$(sys_ write "$S/db-conn@1" x notrunc)"
same "renaming a version" "EINVAL" "$(sys_ rename "$S/db-conn@1" "$S/x")"
rm "$S/db-conn@1" 2>/dev/null && fail "rm of a version succeeded" || pass
# Identical bytes make no version.
echo -n two >"$S/db-conn"
same "identical bytes" "1 2" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/db-conn")"
# O_APPEND and a write without O_TRUNC start from the current value.
same "append" ok "$(sys_ write "$S/db-conn" -more append)"
same "appended" two-more "$(cat "$S/db-conn")"
same "overwrite in place" ok "$(sys_ write "$S/db-conn" TW notrunc)"
same "overwritten start" TWo-more "$(cat "$S/db-conn")"

# Create, O_EXCL, empty files.
echo -n fresh >"$S/new"
same "created" fresh "$(cat "$S/new")"
same "created with one version" 1 "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/new")"
same "O_EXCL on existing" "open:EEXIST" "$(sys_ write "$S/new" x excl)"
same "O_EXCL on new" ok "$(sys_ write "$S/excl-new" x excl)"
touch "$S/empty"
same "touch makes an empty secret" "0" "$(stat -c %s "$S/empty")"

# close() returns the commit's error: a secret made meanwhile by someone else is not
# overwritten by an O_EXCL create, and its value stays.
sys_ write_wait "$S/raced" mine "$T/go" >"$T/raced.out" &
holder=$!
for _ in $(seq 1 200); do [ -e "$T/go.ready" ] && break; sleep 0.05; done
printf theirs | "$VAULTFS" secret set "$V" raced
touch "$T/go"
wait "$holder"
same "commit error at close" "close:EEXIST" "$(cat "$T/raced.out")"
same "the other writer's value stays" theirs "$(cat "$S/raced")"
rm "$S/raced" && rm "$M/.deleted/secrets/raced"
# Without O_EXCL a create is open-or-create, as for any file: a secret made meanwhile by
# someone else gets the writer's value as its next version, and close() succeeds (the
# crash campaign's writers met EEXIST here).
sys_ write_wait "$S/raced2" mine "$T/go2" create >"$T/raced2.out" &
holder=$!
for _ in $(seq 1 200); do [ -e "$T/go2.ready" ] && break; sleep 0.05; done
printf theirs | "$VAULTFS" secret set "$V" raced2
touch "$T/go2"
wait "$holder"
same "O_CREAT without O_EXCL on a secret made meanwhile" ok "$(cat "$T/raced2.out")"
same "both values kept, the writer's on top" "1 2 mine theirs" \
	"$(getfattr --only-values -n user.vault.versions "$S/raced2") $(cat "$S/raced2") $(cat "$S/raced2@1")"
rm "$S/raced2" && rm "$M/.deleted/secrets/raced2"

# The size limit: EFBIG at write, nothing committed, the current version kept.
same "over the limit" "write:EFBIG" "$(sys_ writen "$S/db-conn" 25601)"
same "value kept" TWo-more "$(cat "$S/db-conn")"
same "no version from EFBIG" "1 2 3 4" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/db-conn")"
same "new file over the limit" "write:EFBIG" "$(sys_ writen "$S/toobig" 30000)"
[ ! -e "$S/toobig" ] && pass || fail "a refused new file was created"
same "exactly the limit" ok "$(sys_ writen "$S/max" 25600)"
same "limit size" 25600 "$(stat -c %s "$S/max")"

# Bad names: EINVAL, nothing created.
for bad in '.hidden' 'a b' 'semi;colon' "$(printf 'x%.0s' $(seq 1 128))"; do
	same "bad name '$bad'" "open:EINVAL" "$(sys_ write "$S/$bad" x)"
done
mkdir "$S/.dir" 2>/dev/null && fail "mkdir of a bad name" || pass
same "nothing was created" "db-conn empty excl-new max new" "$(ls "$S" | tr '\n' ' ' | sed 's/ $//')"

# Folders.
mkdir "$S/app" && pass || fail "mkdir"
echo -n v >"$S/app/token"
same "nested" v "$(cat "$S/app/token")"
rmdir "$S/app" 2>/dev/null && fail "rmdir of a non-empty folder" || pass
mkdir -p "$S/a/b/c" && pass || fail "mkdir -p"
rmdir "$S/a/b/c" "$S/a/b" "$S/a" && pass || fail "rmdir"
same "vaultfs sees the nested secret" v "$("$VAULTFS" secret get "$V" app/token)"

# Editors: sed -i, cp over, write-temporary-then-rename: one new version, no temporary.
printf 'host=db\nport=5432\n' >"$S/conf"
sed -i 's/5432/6432/' "$S/conf" && pass || fail "sed -i"
same "sed -i result" "host=db port=6432" "$(tr '\n' ' ' <"$S/conf" | sed 's/ $//')"
same "sed -i made one version" "1 2" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/conf")"
printf 'copied' >"$T/src"
cp "$T/src" "$S/conf" && pass || fail "cp over"
same "cp made one version" "1 2 3" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/conf")"
echo -n edited >"$S/conf.tmp123" && mv "$S/conf.tmp123" "$S/conf"
same "rename over" edited "$(cat "$S/conf")"
same "rename made one version" "1 2 3 4" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/conf")"
same "no temporary left" "" "$(find "$S" "$M/.deleted/secrets" -name '*tmp*' -o -name 'sed*')"
install -m 0600 "$T/src" "$S/conf" && pass || fail "install"
same "install made one version" "1 2 3 4 5" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/conf")"
# mv to a new name keeps the history.
mv "$S/conf" "$S/conf2"
same "moved history" "1 2 3 4 5" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/conf2")"
same "moved old version" "host=db port=5432" "$(tr '\n' ' ' <"$S/conf2@1" | sed 's/ $//')"

# Soft delete, recover with history, purge.
rm "$S/conf2"
[ ! -e "$S/conf2" ] && pass || fail "rm left the secret"
same "in .deleted" conf2 "$(ls "$M/.deleted/secrets")"
mv "$M/.deleted/secrets/conf2" "$S/" && pass || fail "mv back"
same "recovered history" "1 2 3 4 5" "$(getfattr --absolute-names --only-values -n user.vault.versions "$S/conf2")"
rm "$S/conf2" "$S/app/token"
same "nested in .deleted" "app/token conf2" "$(cd "$M/.deleted/secrets" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"
rm "$M/.deleted/secrets/conf2" && pass || fail "purge"
same "purged" "app" "$(ls "$M/.deleted/secrets")"
same "purged for good" 1 "$("$VAULTFS" secret get "$V" conf2 >/dev/null 2>&1; echo $?)"
same "deleted values are not served" "open:EACCES" "$(sys_ read "$M/.deleted/secrets/app/token")"

# Attributes.
setfattr -n user.vault.content_type -v text/plain "$S/db-conn" && pass || fail "setfattr"
same "getfattr" text/plain "$(getfattr --absolute-names --only-values -n user.vault.content_type "$S/db-conn")"
setfattr -n user.vault.tag.env -v prod "$S/db-conn"
getfattr --absolute-names -d "$S/db-conn" >"$T/attrs"
grep -q '^user.vault.tag.env="prod"' "$T/attrs" && pass || fail "tag in getfattr --absolute-names -d"
grep -q '^user.vault.version="4"' "$T/attrs" && pass || fail "version in getfattr --absolute-names -d"
setfattr -n user.vault.version -v 9 "$S/db-conn" 2>/dev/null && fail "set read-only attr" || pass
setfattr -n user.other -v 1 "$S/db-conn" 2>/dev/null && fail "foreign attr" || pass
setfattr -n user.vault.enabled -v 0 "$S/db-conn"
same "disabled" "open:EACCES" "$(sys_ read "$S/db-conn")"
setfattr -n user.vault.enabled -v 1 "$S/db-conn"
setfattr -n user.vault.expires -v 2001-01-01T00:00:00Z "$S/db-conn"
same "expired" "open:EKEYEXPIRED" "$(sys_ read "$S/db-conn")"
setfattr -x user.vault.expires "$S/db-conn"
same "readable again" TWo-more "$(cat "$S/db-conn")"

# chmod, chown and utimes: accepted, and stat goes on showing what the caller may do.
same "chmod" ok "$(sys_ chmod "$S/db-conn" 644)"
chown 1001:1001 "$S/db-conn" && pass || fail "chown"
same "stat after chmod and chown" "600 0 0" "$(stat -c '%a %u %g' "$S/db-conn")"
install -m 0644 "$T/src" "$S/installed-644" && pass || fail "install -m 0644"
cp -p "$T/src" "$S/copied-p" && pass || fail "cp -p"
touch -d '2001-01-01' "$S/db-conn" && pass || fail "utimes"

stop
finish

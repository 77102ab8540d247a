#!/usr/bin/env bash
# Error paths through the mount, each with the errno a careful Linux user expects and
# nothing changed: the fixed folders, history and .deleted/ are not writable places;
# renames that vaultfs cannot do in one step; extended attributes' flags and bad names.
. "$(dirname "$0")/lib.sh"
new_vault
printf 'one' | "$VAULTFS" secret set "$V" a
printf 'two' | "$VAULTFS" secret set "$V" b
printf 'v' | "$VAULTFS" secret set "$V" dir/x
printf 'g' | "$VAULTFS" secret set "$V" gone
"$VAULTFS" secret delete "$V" gone
start
dump=$(db_dump "$V")

# The fixed tree.
same "mkdir at the root" EPERM "$(sys_ mkdir "$M/extra")"
same "file at the root" "open:EACCES" "$(sys_ write "$M/extra" x)"
same "rmdir secrets/" EBUSY "$(sys_ rmdir "$M/secrets")"
same "mkdir in .deleted" EPERM "$(sys_ mkdir "$M/.deleted/secrets/d")"
same "file in .deleted" "open:EPERM" "$(sys_ write "$M/.deleted/secrets/new" x)"
same "mkdir in keys" EPERM "$(sys_ mkdir "$M/keys/k")"
same "unlink a folder" EISDIR "$(sys_ unlink "$S/dir")"
same "rmdir a secret" ENOTDIR "$(sys_ rmdir "$S/a")"
same "rmdir a missing folder" ENOENT "$(sys_ rmdir "$S/none")"
same "mkdir over a secret" EEXIST "$(sys_ mkdir "$S/a")"
same "secret under a secret" "open:ENOTDIR" "$(sys_ write "$S/a/b" x)"
same "unlink a missing secret" ENOENT "$(sys_ unlink "$S/none")"
same "purge a missing deleted secret" ENOENT "$(sys_ unlink "$M/.deleted/secrets/none")"

# Renames.
same "rename onto a folder" EISDIR "$(sys_ rename "$S/a" "$S/dir")"
same "rename a folder" EXDEV "$(sys_ rename "$S/dir" "$S/dir2")"
same "no-replace over a secret" EEXIST "$(sys_ rename "$S/a" "$S/b" noreplace)"
same "rename to a bad name" EINVAL "$(sys_ rename "$S/a" "$S/.a")"
same "rename into the root" EPERM "$(sys_ rename "$S/a" "$M/a")"
same "delete by rename to another name" EXDEV "$(sys_ rename "$S/a" "$M/.deleted/secrets/z")"
same "rename of a missing secret" ENOENT "$(sys_ rename "$S/none" "$S/c")"

# Extended attributes.
same "create an existing attribute" EEXIST "$(sys_ setxattr "$S/a" user.vault.enabled 1 create)"
same "replace a missing one" ENODATA "$(sys_ setxattr "$S/a" user.vault.tag.none v replace)"
same "a foreign namespace" ENOTSUP "$(sys_ setxattr "$S/a" user.other v)"
same "a read-only attribute" EPERM "$(sys_ setxattr "$S/a" user.vault.version 5)"
same "an unknown vault attribute" ENOTSUP "$(sys_ setxattr "$S/a" user.vault.colour blue)"
same "a bad value" EINVAL "$(sys_ setxattr "$S/a" user.vault.enabled maybe)"
same "a bad time" EINVAL "$(sys_ setxattr "$S/a" user.vault.expires tomorrow)"
same "a tag value too long" ERANGE "$(sys_ setxattr "$S/a" user.vault.tag.t "$(head -c 257 /dev/zero | tr '\0' v)")"
same "an attribute of a version" EPERM "$(sys_ setxattr "$S/a@1" user.vault.enabled 0)"
same "an attribute of a deleted secret" EPERM "$(sys_ setxattr "$M/.deleted/secrets/gone" user.vault.enabled 0)"
same "a deleted secret's attribute reads" 1 "$(sys_ getxattr "$M/.deleted/secrets/gone" user.vault.version)"
same "remove a missing attribute" ENODATA "$(sys_ removexattr "$S/a" user.vault.tag.none)"
same "remove enabled" EPERM "$(sys_ removexattr "$S/a" user.vault.enabled)"
same "get a missing attribute" ENODATA "$(sys_ getxattr "$S/a" user.vault.content_type)"
same "get a foreign attribute" ENODATA "$(sys_ getxattr "$S/a" user.other)"
same "a folder has no vault attributes" ENODATA "$(sys_ getxattr "$S/dir" user.vault.version)"

same "nothing changed in the vault" "$dump" "$(db_dump "$V")"
stop
finish

/*
 * vfsutil: what the unit tests of fs/ share — a real vault made by vault_init in a
 * temporary directory (its own embedded SoftHSM2 token), opened, and a mount's state on it
 * (vfs_new) under a policy given as text, with no FUSE session: the FUSE-free logic of
 * fs/ runs as the daemon runs it, and what it records lands in the vault's real trail,
 * which the tests read back.
 */
#ifndef VAULTFS_VFSUTIL_H
#define VAULTFS_VFSUTIL_H

#include "testutil.h"

#include "config.h"
#include "vault.h"
#include "vfs_internal.h"

struct test_vfs {
	char dir[PATH_MAX]; /* temporary directory; the vault is dir/v */
	char vault_dir[PATH_MAX + 8];
	struct vault *vault;
	struct vfs *vfs;
};

/*
 * Makes and opens the vault, @tune (if not NULL) changing its vaultfs.conf first, and the
 * mount's state under @policy. Asserts on failure; exits 77 (skipped) without SoftHSM2.
 */
void test_vfs_setup(struct test_vfs *t, const char *policy, void (*tune)(struct vault_config *cfg));

/* Frees the mount's state and the vault, and removes the directory. */
void test_vfs_teardown(struct test_vfs *t);

/*
 * The number of records in the vault's trail whose fields are as given: each non-NULL
 * string must equal the field, or start it when it ends with '*' (@result is the errno's
 * name, "0" for success; @decision "allow" or "deny"), and @uid, unless -1, the record's.
 */
int test_vfs_records(const struct test_vfs *t, long uid, const char *op, const char *path,
		     const char *decision, const char *rule, const char *result,
		     const char *detail);

/* The number of records whose field @name is @value, matched as test_vfs_records does. */
int test_vfs_records_with(const struct test_vfs *t, const char *name, const char *value);

#endif

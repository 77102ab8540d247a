/*
 * storeutil: what the unit tests of the store share — a store created and opened in a
 * fresh SoftHSM2 token's directory for each test, and writing and reading a secret with
 * the result asserted. Never anything the store does not offer through store.h.
 */
#ifndef VAULTFS_STOREUTIL_H
#define VAULTFS_STOREUTIL_H

#include "testutil.h"

#include "store.h"

struct fixture {
	struct test_token tok;
	char db[PATH_MAX + 16];
	struct store *s;
	struct store_options opt;
};

/* cmocka setup and teardown of a struct fixture in *@state: a token of its own, and
 * vault.db in its directory, created and opened (25600-byte values, 90 days' retention,
 * a 100 ms busy timeout). The setup exits 77 (skipped) where SoftHSM2 is missing. */
int test_store_setup(void **state);
int test_store_teardown(void **state);

/* Writes @value to @path (STORE_PUT_MKDIRS, now) and asserts that store_secret_put
 * returned @expect and, when @expect >= 0, that the current version is @expect_version. */
void test_store_put(struct store *s, const char *path, const char *value, int expect,
		    uint64_t expect_version);

/* Asserts that @path's @version (0: the current one) reads as @value now. */
void test_store_check_value(struct store *s, const char *path, uint64_t version, const char *value);

#endif

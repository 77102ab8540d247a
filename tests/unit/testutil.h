/*
 * testutil: what every unit test shares — a fresh SoftHSM2 token of its own in a temporary
 * directory (its own softhsm2.conf, made with softhsm2-util --init-token --free, as
 * OpenSSH's regress does), and temporary directories that are removed afterwards.
 */
#ifndef VAULTFS_TESTUTIL_H
#define VAULTFS_TESTUTIL_H

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hsm.h"
#include "secbuf.h"

#define TEST_PIN "1234-test-pin"
#define TEST_SO_PIN "5678-test-so"

struct test_token {
	char dir[PATH_MAX]; /* temporary directory holding softhsm2.conf and tokens/ */
	char label[HSM_TOKEN_LABEL_MAX + 1];
	struct secbuf *pin;
	struct hsm *hsm; /* logged in */
};

/* Makes a token and opens it; exits 77 (skipped) if SoftHSM2 is missing. Asserts on failure. */
void test_token_setup(struct test_token *t);

/* Closes the token and removes its directory. */
void test_token_teardown(struct test_token *t);

/* mkdtemp under TMPDIR; asserts on failure. @buf must hold PATH_MAX bytes. */
void test_tmpdir(char *buf);

/* rm -rf @path. */
void test_rmtree(const char *path);

/* Returns 1 if the file @path contains the byte string @needle. */
int test_file_contains(const char *path, const void *needle, size_t len);

struct vault;
struct vault_act;

/* A fresh vault of its own (vault_init with the defaults: an embedded SoftHSM2 token),
 * opened, in a temporary directory; its trail's path. */
struct test_vault {
	char dir[PATH_MAX];
	struct vault *v;
	char trail[PATH_MAX + 16];
};

/* cmocka setup and teardown of a struct test_vault in *@state; the setup exits 77
 * (skipped) where SoftHSM2 is missing. */
int test_vault_setup(void **state);
int test_vault_teardown(void **state);

/* Starts @a as the vault owner's allowed action @op on @path, under the rule "admin". */
void test_admin_act(struct vault_act *a, const char *op, const char *path);

#endif

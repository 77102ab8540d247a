/*
 * hsmutil: what the unit tests of the PKCS#11 layer share — a SoftHSM2 token of its own
 * for each test, opened and logged in, and the calling thread's session on it.
 */
#ifndef VAULTFS_HSMUTIL_H
#define VAULTFS_HSMUTIL_H

#include "testutil.h"

/* An address no call may write: outputs set to it must be left so on failure. */
#define POISON ((void *)0x5a5a)

/* cmocka setup and teardown of a struct test_token in *@state (test_token_setup); the
 * setup exits 77 (skipped) where SoftHSM2 is missing. */
int test_hsm_setup(void **state);
int test_hsm_teardown(void **state);

/* The calling thread's session on @h (hsm_session), asserted. */
CK_SESSION_HANDLE test_hsm_session_of(struct hsm *h);

#endif

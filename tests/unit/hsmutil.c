/*
 * hsmutil: a token of its own and the thread's session on it, for the unit tests of the
 * PKCS#11 layer.
 */
#include "hsmutil.h"

int test_hsm_setup(void **state)
{
	struct test_token *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	test_token_setup(t);
	*state = t;
	return 0;
}

int test_hsm_teardown(void **state)
{
	struct test_token *t = *state;

	test_token_teardown(t);
	free(t);
	return 0;
}

CK_SESSION_HANDLE test_hsm_session_of(struct hsm *h)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

	assert_int_equal(hsm_session(h, &s), 0);
	return s;
}

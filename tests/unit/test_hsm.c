/*
 * Unit tests for the PKCS#11 layer, each on a real SoftHSM2 token made for it: login and
 * its failures, the key-encryption key's attributes read back through PKCS#11, data-key
 * wrap and unwrap, damaged blobs, token creation, and per-thread sessions.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hsm.h"

static struct test_token tok;

static int setup(void **state)
{
	(void)state;
	test_token_setup(&tok);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_token_teardown(&tok);
	return 0;
}

static void test_login_errors(void **state)
{
	struct secbuf *wrong = NULL;
	struct hsm *h = NULL;

	(void)state;
	/* one module instance at a time: close the fixture's own handle first */
	hsm_free(tok.hsm);
	tok.hsm = NULL;
	assert_int_equal(secbuf_from("not-the-pin", 11, &wrong), 0);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, tok.label, wrong, &h), -EACCES);
	assert_null(h);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, "no-such-token", tok.pin, &h), -ENODEV);
	assert_int_equal(hsm_open("/nonexistent/libnothing.so", tok.label, tok.pin, &h), -ELIBACC);
	assert_int_equal(
		hsm_open("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", tok.label, tok.pin, &h),
		-ELIBACC);
	assert_null(h);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, tok.label, tok.pin, &tok.hsm), 0);
	secbuf_free(wrong);
}

static CK_BBOOL get_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(tok.hsm);
	CK_BBOOL v = 2;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };
	CK_SESSION_HANDLE s;

	assert_int_equal(hsm_session(tok.hsm, &s), 0);
	assert_int_equal(p11->C_GetAttributeValue(s, obj, &a, 1), CKR_OK);
	return v;
}

static void test_kek_attributes(void **state)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(tok.hsm);
	CK_OBJECT_HANDLE kek, found, other;
	uint8_t value[64];
	CK_ATTRIBUTE a = { CKA_VALUE, value, sizeof(value) };
	CK_SESSION_HANDLE s;

	(void)state;
	assert_int_equal(hsm_key_find(tok.hsm, "kek", &found), -ENOKEY);
	assert_int_equal(hsm_kek_create(tok.hsm, "kek", &kek), 0);
	assert_int_equal(hsm_kek_create(tok.hsm, "kek", &other), -EEXIST);
	assert_int_equal(hsm_key_find(tok.hsm, "kek", &found), 0);
	assert_int_equal(found, kek);
	assert_int_equal(get_bool(kek, CKA_SENSITIVE), CK_TRUE);
	assert_int_equal(get_bool(kek, CKA_EXTRACTABLE), CK_FALSE);
	assert_int_equal(get_bool(kek, CKA_TOKEN), CK_TRUE);
	assert_int_equal(get_bool(kek, CKA_PRIVATE), CK_TRUE);
	assert_int_equal(get_bool(kek, CKA_ENCRYPT), CK_FALSE);
	assert_int_equal(get_bool(kek, CKA_WRAP), CK_TRUE);
	/* the key itself never comes out */
	assert_int_equal(hsm_session(tok.hsm, &s), 0);
	assert_int_equal(p11->C_GetAttributeValue(s, kek, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
}

static void test_kek_persists(void **state)
{
	CK_OBJECT_HANDLE kek, found;

	(void)state;
	assert_int_equal(hsm_kek_create(tok.hsm, "persistent", &kek), 0);
	hsm_free(tok.hsm);
	tok.hsm = NULL;
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, tok.label, tok.pin, &tok.hsm), 0);
	assert_int_equal(hsm_key_find(tok.hsm, "persistent", &found), 0);
}

static void test_datakey_roundtrip(void **state)
{
	struct secbuf *k1 = NULL, *k2 = NULL, *back = NULL;
	uint8_t *w1 = NULL, *w2 = NULL;
	size_t l1, l2;
	CK_OBJECT_HANDLE kek;

	(void)state;
	assert_int_equal(hsm_kek_create(tok.hsm, "kek", &kek), 0);
	assert_int_equal(hsm_datakey_new(tok.hsm, kek, &k1, &w1, &l1), 0);
	assert_int_equal(k1->len, 32);
	assert_int_equal(l1, 40); /* RFC 5649: 32 bytes + 8 */
	assert_null(memmem(w1, l1, k1->data, 8));
	assert_int_equal(hsm_datakey_unwrap(tok.hsm, kek, w1, l1, &back), 0);
	assert_true(secbuf_equal(k1, back));
	assert_int_equal(hsm_datakey_new(tok.hsm, kek, &k2, &w2, &l2), 0);
	assert_false(secbuf_equal(k1, k2));
	secbuf_free(k1);
	secbuf_free(k2);
	secbuf_free(back);
	free(w1);
	free(w2);
}

static void test_datakey_damaged(void **state)
{
	struct secbuf *k = NULL, *back = NULL;
	CK_OBJECT_HANDLE kek, kek2;
	uint8_t *w = NULL;
	size_t l;

	(void)state;
	assert_int_equal(hsm_kek_create(tok.hsm, "kek", &kek), 0);
	assert_int_equal(hsm_kek_create(tok.hsm, "kek2", &kek2), 0);
	assert_int_equal(hsm_datakey_new(tok.hsm, kek, &k, &w, &l), 0);
	for (size_t i = 0; i < l; i += 7) {
		w[i] ^= 0x01;
		assert_int_equal(hsm_datakey_unwrap(tok.hsm, kek, w, l, &back), -EBADMSG);
		w[i] ^= 0x01;
	}
	assert_int_equal(hsm_datakey_unwrap(tok.hsm, kek, w, l - 8, &back), -EBADMSG);
	assert_int_equal(hsm_datakey_unwrap(tok.hsm, kek, w, 3, &back), -EBADMSG);
	assert_int_equal(hsm_datakey_unwrap(tok.hsm, kek2, w, l, &back), -EBADMSG);
	assert_null(back);
	assert_int_equal(hsm_datakey_unwrap(tok.hsm, kek, w, l, &back), 0);
	secbuf_free(back);
	secbuf_free(k);
	free(w);
}

/* A fresh SoftHSM2 token directory: hsm_token_create initialises the free slot. */
static void test_token_create(void **state)
{
	char dir[PATH_MAX], conf[PATH_MAX + 32], tokens[PATH_MAX + 32];
	struct secbuf *so = NULL, *user = NULL, *wrong = NULL;
	struct hsm *h = NULL;
	FILE *f;

	(void)state;
	hsm_free(tok.hsm);
	tok.hsm = NULL;
	test_tmpdir(dir);
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	assert_int_equal(mkdir(tokens, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\n", tokens);
	fclose(f);
	assert_int_equal(setenv("SOFTHSM2_CONF", conf, 1), 0);
	assert_int_equal(secbuf_from("so-pin-1234", 11, &so), 0);
	assert_int_equal(secbuf_from("user-pin-5678", 13, &user), 0);
	assert_int_equal(secbuf_from("user-pin-0000", 13, &wrong), 0);
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, "", so, user), -EINVAL);
	assert_int_equal(
		hsm_token_create(SOFTHSM2_MODULE, "a-label-that-is-far-longer-than-32", so, user),
		-EINVAL);
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, "fresh", so, user), 0);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, "fresh", wrong, &h), -EACCES);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, "fresh", user, &h), 0);
	hsm_free(h);
	secbuf_free(so);
	secbuf_free(user);
	secbuf_free(wrong);
	test_rmtree(dir);
	/* back to the fixture's token for teardown */
	{
		char fixture_conf[PATH_MAX + 32];

		snprintf(fixture_conf, sizeof(fixture_conf), "%s/softhsm2.conf", tok.dir);
		assert_int_equal(setenv("SOFTHSM2_CONF", fixture_conf, 1), 0);
	}
}

struct thread_result {
	CK_SESSION_HANDLE session;
	int random_ok;
};

static void *session_thread(void *arg)
{
	struct thread_result *res = arg;
	CK_FUNCTION_LIST *p11 = hsm_functions(tok.hsm);
	CK_BYTE buf[16];

	if (hsm_session(tok.hsm, &res->session) == 0)
		res->random_ok = p11->C_GenerateRandom(res->session, buf, sizeof(buf)) == CKR_OK;
	return NULL;
}

static void test_thread_sessions(void **state)
{
	struct thread_result a = { 0 }, b = { 0 };
	CK_SESSION_HANDLE mine, again;
	pthread_t ta, tb;

	(void)state;
	assert_int_equal(hsm_session(tok.hsm, &mine), 0);
	assert_int_equal(hsm_session(tok.hsm, &again), 0);
	assert_int_equal(mine, again);
	assert_int_equal(pthread_create(&ta, NULL, session_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, session_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_true(a.random_ok);
	assert_true(b.random_ok);
	assert_int_not_equal(a.session, b.session);
	assert_int_not_equal(a.session, mine);
}

static void test_errno_map(void **state)
{
	(void)state;
	assert_int_equal(hsm_errno(CKR_OK), 0);
	assert_int_equal(hsm_errno(CKR_PIN_INCORRECT), -EACCES);
	assert_int_equal(hsm_errno(CKR_PIN_LOCKED), -EPERM);
	assert_int_equal(hsm_errno(CKR_TOKEN_NOT_PRESENT), -ENODEV);
	assert_int_equal(hsm_errno(CKR_WRAPPED_KEY_INVALID), -EBADMSG);
	assert_int_equal(hsm_errno(CKR_DEVICE_ERROR), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kek_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kek_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datakey_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datakey_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_sessions, setup, teardown),
		cmocka_unit_test(test_errno_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for the PKCS#11 layer's module, tokens and sessions, each on a real SoftHSM2
 * token of its own: login and its failures, token creation in an empty token directory,
 * per-thread sessions, handles that share one module, key object handles found again after
 * the module was finalised and loaded anew, and the errno of each PKCS#11 code. The
 * key-encryption key, data-key wrap and key material are in test_hsm_wrap.c.
 */
#include "hsmutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hsm.h"
#include "hsm_keys.h"

static struct secbuf *pin_of(const char *s)
{
	struct secbuf *b = NULL;

	assert_int_equal(secbuf_from(s, strlen(s), &b), 0);
	return b;
}

static void test_open(void **state)
{
	struct test_token *t = *state;
	CK_FUNCTION_LIST *p11 = hsm_functions(t->hsm);
	CK_SESSION_INFO info;
	CK_BYTE buf[16];
	CK_SESSION_HANDLE s = test_hsm_session_of(t->hsm);

	assert_non_null(p11);
	assert_int_equal(p11->C_GenerateRandom(s, buf, sizeof(buf)), CKR_OK);
	assert_int_equal(p11->C_GetSessionInfo(s, &info), CKR_OK);
	assert_int_equal(info.state, CKS_RW_USER_FUNCTIONS);
	hsm_free(NULL);
}

static void test_open_wrong_pin(void **state)
{
	struct test_token *t = *state;
	struct secbuf *wrong = pin_of("not-the-pin");
	struct secbuf *empty = pin_of("");
	struct hsm *h = POISON;

	/*
	 * Login is per token and process, and SoftHSM2 answers CKR_USER_ALREADY_LOGGED_IN
	 * without looking at the PIN: close the fixture's handle so that the PIN is checked.
	 */
	hsm_free(t->hsm);
	t->hsm = NULL;
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, t->label, wrong, &h), -EACCES);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, t->label, empty, &h), -EACCES);
	assert_ptr_equal(h, POISON);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, t->label, t->pin, &t->hsm), 0);
	secbuf_free(wrong);
	secbuf_free(empty);
}

static void test_open_unknown_label(void **state)
{
	struct test_token *t = *state;
	struct hsm *h = POISON;
	char longer[HSM_TOKEN_LABEL_MAX + 8];

	assert_int_equal(hsm_open(SOFTHSM2_MODULE, "no-such-token", t->pin, &h), -ENODEV);
	/* a label that starts like the token's own is still another label */
	snprintf(longer, sizeof(longer), "%s-x", t->label);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, longer, t->pin, &h), -ENODEV);
	snprintf(longer, sizeof(longer), "%s%*s", t->label,
		 (int)(sizeof(longer) - 1 - strlen(t->label)), "x");
	assert_int_equal(strlen(longer), sizeof(longer) - 1);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, longer, t->pin, &h), -ENODEV);
	assert_ptr_equal(h, POISON);
}

static void test_open_bad_module(void **state)
{
	struct test_token *t = *state;
	struct hsm *h = POISON;

	assert_int_equal(hsm_open("/nonexistent/libnothing.so", t->label, t->pin, &h), -ELIBACC);
	/* a library that loads but is no PKCS#11 module */
	assert_int_equal(hsm_open("libc.so.6", t->label, t->pin, &h), -ELIBACC);
	assert_ptr_equal(h, POISON);
}

static void write_conf(const char *dir, char *conf, size_t conf_len)
{
	char tokens[PATH_MAX + 32];
	FILE *f;

	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	assert_int_equal(mkdir(tokens, 0700), 0);
	snprintf(conf, conf_len, "%s/softhsm2.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
		tokens);
	assert_int_equal(fclose(f), 0);
}

/* A SoftHSM2 token directory with no token yet: hsm_token_create initialises the free slot. */
static void test_token_create(void **state)
{
	char dir[PATH_MAX], conf[PATH_MAX + 32];
	struct secbuf *so = pin_of("so-pin-1234");
	struct secbuf *user = pin_of("user-pin-5678");
	struct secbuf *wrong = pin_of("user-pin-0000");
	struct secbuf *tiny = pin_of("12");
	const char *label32 = "a-label-of-exactly-32-bytes-long";
	const char *label33 = "a-label-of-exactly-32-bytes-long!";
	struct hsm *h = POISON;
	CK_OBJECT_HANDLE kek;
	char *saved = getenv("SOFTHSM2_CONF");

	(void)state;
	saved = saved ? strdup(saved) : NULL;
	test_tmpdir(dir);
	write_conf(dir, conf, sizeof(conf));
	assert_int_equal(setenv("SOFTHSM2_CONF", conf, 1), 0);
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, "", so, user), -EINVAL);
	/* exactly 32 bytes fits, 33 do not */
	assert_int_equal(strlen(label32), HSM_TOKEN_LABEL_MAX);
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, label32, so, user), 0);
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, label33, so, user), -EINVAL);
	assert_int_equal(hsm_token_create("/nonexistent/libnothing.so", "fresh", so, user),
			 -ELIBACC);
	/* SoftHSM2 wants PINs of at least 4 bytes */
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, "tiny", tiny, user), -EINVAL);
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, "fresh", so, user), 0);
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, "fresh", so, user), -EEXIST);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, "fresh", wrong, &h), -EACCES);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, "fresh", so, &h), -EACCES);
	assert_ptr_equal(h, POISON);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, "fresh", user, &h), 0);
	assert_int_equal(hsm_kek_create(h, "kek", &kek), 0);
	hsm_free(h);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, label32, user, &h), 0);
	assert_int_equal(hsm_key_find(h, "kek", &kek), -ENOKEY); /* another token */
	hsm_free(h);
	secbuf_free(so);
	secbuf_free(user);
	secbuf_free(wrong);
	secbuf_free(tiny);
	test_rmtree(dir);
	if (saved)
		setenv("SOFTHSM2_CONF", saved, 1);
	else
		unsetenv("SOFTHSM2_CONF");
	free(saved);
}

/* A module that cannot start (SoftHSM2 without a usable token directory) does not load. */
static void test_token_create_bad_conf(void **state)
{
	char dir[PATH_MAX], conf[PATH_MAX + 32];
	struct secbuf *so = pin_of("so-pin-1234");
	struct secbuf *user = pin_of("user-pin-5678");
	char *saved = getenv("SOFTHSM2_CONF");
	struct hsm *h = POISON;
	FILE *f;

	(void)state;
	saved = saved ? strdup(saved) : NULL;
	test_tmpdir(dir);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "directories.tokendir = %s/missing\nobjectstore.backend = file\n", dir);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(setenv("SOFTHSM2_CONF", conf, 1), 0);
	assert_int_equal(hsm_token_create(SOFTHSM2_MODULE, "fresh", so, user), -ELIBACC);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, "fresh", user, &h), -ELIBACC);
	assert_ptr_equal(h, POISON);
	secbuf_free(so);
	secbuf_free(user);
	test_rmtree(dir);
	if (saved)
		setenv("SOFTHSM2_CONF", saved, 1);
	else
		unsetenv("SOFTHSM2_CONF");
	free(saved);
}

struct thread_result {
	struct hsm *h;
	CK_SESSION_HANDLE session;
	CK_SESSION_HANDLE again;
	CK_RV random;
	CK_RV find;
	pthread_barrier_t *both;
};

static void *session_thread(void *arg)
{
	struct thread_result *res = arg;
	CK_FUNCTION_LIST *p11 = hsm_functions(res->h);
	CK_OBJECT_HANDLE kek;
	CK_BYTE buf[16];

	if (hsm_session(res->h, &res->session) == 0 && hsm_session(res->h, &res->again) == 0) {
		res->random = p11->C_GenerateRandom(res->session, buf, sizeof(buf));
		/* the token's private objects are there: the session shares the login */
		res->find = hsm_key_find(res->h, "kek", &kek) == 0 ? CKR_OK : CKR_GENERAL_ERROR;
	}
	/* both threads hold their sessions at once */
	pthread_barrier_wait(res->both);
	return NULL;
}

static void test_thread_sessions(void **state)
{
	struct test_token *t = *state;
	CK_FUNCTION_LIST *p11 = hsm_functions(t->hsm);
	pthread_barrier_t both;
	struct thread_result a = { 0 }, b = { 0 };
	CK_SESSION_HANDLE mine, again;
	CK_SESSION_INFO info;
	CK_OBJECT_HANDLE kek;
	pthread_t ta, tb;

	assert_int_equal(hsm_kek_create(t->hsm, "kek", &kek), 0);
	assert_int_equal(pthread_barrier_init(&both, NULL, 2), 0);
	a.h = b.h = t->hsm;
	a.random = b.random = a.find = b.find = CKR_GENERAL_ERROR;
	a.both = b.both = &both;
	assert_int_equal(hsm_session(t->hsm, &mine), 0);
	assert_int_equal(hsm_session(t->hsm, &again), 0);
	assert_int_equal(mine, again);
	assert_int_equal(pthread_create(&ta, NULL, session_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, session_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&both);
	assert_int_equal(a.random, CKR_OK);
	assert_int_equal(b.random, CKR_OK);
	assert_int_equal(a.find, CKR_OK);
	assert_int_equal(b.find, CKR_OK);
	assert_int_equal(a.session, a.again);
	assert_int_equal(b.session, b.again);
	assert_int_not_equal(a.session, b.session);
	assert_int_not_equal(a.session, mine);
	assert_int_not_equal(b.session, mine);
	/* a thread's session ends with it; ours goes on */
	assert_int_equal(p11->C_GetSessionInfo(a.session, &info), CKR_SESSION_HANDLE_INVALID);
	assert_int_equal(p11->C_GetSessionInfo(b.session, &info), CKR_SESSION_HANDLE_INVALID);
	assert_int_equal(p11->C_GetSessionInfo(mine, &info), CKR_OK);
	assert_int_equal(info.state, CKS_RW_USER_FUNCTIONS);
}

/* Two handles on one module and token: freeing one neither finalises nor logs out the other. */
static void test_shared_module(void **state)
{
	struct test_token *t = *state;
	struct hsm *h2 = NULL;
	CK_OBJECT_HANDLE kek, found;
	struct secbuf *k = NULL, *back = NULL;
	uint8_t *w = NULL;
	size_t l = 0;

	assert_int_equal(hsm_kek_create(t->hsm, "kek", &kek), 0);
	assert_int_equal(hsm_datakey_new(t->hsm, kek, &k, &w, &l), 0);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, t->label, t->pin, &h2), 0);
	hsm_free(t->hsm);
	t->hsm = h2;
	assert_int_equal(hsm_key_find(h2, "kek", &found), 0);
	assert_int_equal(hsm_datakey_unwrap(h2, found, w, l, &back), 0);
	assert_true(secbuf_equal(k, back));
	secbuf_free(k);
	secbuf_free(back);
	free(w);
}

/* The CKA_ID of a key object, which must be @id. */
static void assert_object_id(struct hsm *h, CK_OBJECT_HANDLE o, const uint8_t id[HSM_KEY_ID_LEN])
{
	uint8_t got[HSM_KEY_ID_LEN * 2];
	CK_ATTRIBUTE a = { CKA_ID, got, sizeof(got) };

	assert_int_equal(hsm_functions(h)->C_GetAttributeValue(test_hsm_session_of(h), o, &a, 1),
			 CKR_OK);
	assert_int_equal(a.ulValueLen, HSM_KEY_ID_LEN);
	assert_memory_equal(got, id, HSM_KEY_ID_LEN);
}

/*
 * A handle found through one struct hsm is not used through a later one: once the last
 * handle is freed the module is finalised, and a new one may number the token's objects
 * differently — while malloc may give the new struct hsm the old one's address.
 */
static void test_key_handles_after_reopen(void **state)
{
	struct test_token *t = *state;
	struct hsm_key_spec a = {
		.kind = HSM_KEY_AES, .bits = 256, .usage = HSM_USE_ENCRYPT, .label = "a"
	};
	struct hsm_key_spec b = a;
	CK_OBJECT_HANDLE oa, ob, oa2, ob2;

	b.label = "b";
	memset(a.id, 0xa1, sizeof(a.id));
	memset(b.id, 0xb2, sizeof(b.id));
	assert_int_equal(hsm_key_generate(t->hsm, &a, NULL), 0);
	assert_int_equal(hsm_key_generate(t->hsm, &b, NULL), 0);
	for (int round = 0; round < 4; round++) {
		/* found in one order, then the other, through a fresh handle each time */
		const int a_first = round % 2 == 0;

		hsm_free(t->hsm);
		t->hsm = NULL;
		assert_int_equal(hsm_open(SOFTHSM2_MODULE, t->label, t->pin, &t->hsm), 0);
		if (a_first)
			assert_int_equal(hsm_key_object(t->hsm, HSM_KEY_AES, a.id, &oa), 0);
		assert_int_equal(hsm_key_object(t->hsm, HSM_KEY_AES, b.id, &ob), 0);
		if (!a_first)
			assert_int_equal(hsm_key_object(t->hsm, HSM_KEY_AES, a.id, &oa), 0);
		assert_object_id(t->hsm, oa, a.id);
		assert_object_id(t->hsm, ob, b.id);
		/* and a second lookup through the same handle gives the same objects */
		assert_int_equal(hsm_key_object(t->hsm, HSM_KEY_AES, a.id, &oa2), 0);
		assert_int_equal(hsm_key_object(t->hsm, HSM_KEY_AES, b.id, &ob2), 0);
		assert_int_equal(oa2, oa);
		assert_int_equal(ob2, ob);
	}
}

static void test_errno_map(void **state)
{
	(void)state;
	assert_int_equal(hsm_errno(CKR_OK), 0);
	assert_int_equal(hsm_errno(CKR_PIN_INCORRECT), -EACCES);
	assert_int_equal(hsm_errno(CKR_PIN_LEN_RANGE), -EACCES);
	assert_int_equal(hsm_errno(CKR_PIN_LOCKED), -EPERM);
	assert_int_equal(hsm_errno(CKR_TOKEN_NOT_PRESENT), -ENODEV);
	assert_int_equal(hsm_errno(CKR_SLOT_ID_INVALID), -ENODEV);
	assert_int_equal(hsm_errno(CKR_TOKEN_NOT_RECOGNIZED), -ENODEV);
	assert_int_equal(hsm_errno(CKR_HOST_MEMORY), -ENOMEM);
	assert_int_equal(hsm_errno(CKR_DEVICE_MEMORY), -ENOMEM);
	assert_int_equal(hsm_errno(CKR_KEY_HANDLE_INVALID), -ENOKEY);
	assert_int_equal(hsm_errno(CKR_OBJECT_HANDLE_INVALID), -ENOKEY);
	assert_int_equal(hsm_errno(CKR_MECHANISM_INVALID), -EOPNOTSUPP);
	assert_int_equal(hsm_errno(CKR_WRAPPED_KEY_INVALID), -EBADMSG);
	assert_int_equal(hsm_errno(CKR_WRAPPED_KEY_LEN_RANGE), -EBADMSG);
	assert_int_equal(hsm_errno(CKR_ENCRYPTED_DATA_INVALID), -EBADMSG);
	assert_int_equal(hsm_errno(CKR_ENCRYPTED_DATA_LEN_RANGE), -EBADMSG);
	assert_int_equal(hsm_errno(CKR_GENERAL_ERROR), -EIO);
	assert_int_equal(hsm_errno(CKR_DEVICE_ERROR), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open, test_hsm_setup, test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_open_wrong_pin, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_open_unknown_label, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_open_bad_module, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test(test_token_create),
		cmocka_unit_test(test_token_create_bad_conf),
		cmocka_unit_test_setup_teardown(test_thread_sessions, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_shared_module, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_key_handles_after_reopen, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test(test_errno_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

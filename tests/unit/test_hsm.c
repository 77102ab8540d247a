/*
 * Unit tests for the PKCS#11 layer, each on a real SoftHSM2 token of its own: login and its
 * failures, the key-encryption key's attributes read back through PKCS#11, data-key wrap
 * and unwrap, damaged and foreign blobs, token creation in an empty token directory,
 * per-thread sessions, handles that share one module, and key object handles found again
 * after the module was finalised and loaded anew.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hsm.h"
#include "hsm_keys.h"

#define POISON ((void *)0x5a5a)

static int setup(void **state)
{
	struct test_token *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	test_token_setup(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct test_token *t = *state;

	test_token_teardown(t);
	free(t);
	return 0;
}

static struct secbuf *pin_of(const char *s)
{
	struct secbuf *b = NULL;

	assert_int_equal(secbuf_from(s, strlen(s), &b), 0);
	return b;
}

static CK_SESSION_HANDLE session_of(struct hsm *h)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

	assert_int_equal(hsm_session(h, &s), 0);
	return s;
}

/* The number of session (not token) secret keys the calling thread's session can see. */
static CK_ULONG count_session_keys(struct hsm *h)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &no, sizeof(no) },
	};
	CK_SESSION_HANDLE s = session_of(h);
	CK_OBJECT_HANDLE objs[16];
	CK_ULONG n = 0;

	assert_int_equal(p11->C_FindObjectsInit(s, tmpl, 2), CKR_OK);
	assert_int_equal(p11->C_FindObjects(s, objs, 16, &n), CKR_OK);
	assert_int_equal(p11->C_FindObjectsFinal(s), CKR_OK);
	return n;
}

static void test_open(void **state)
{
	struct test_token *t = *state;
	CK_FUNCTION_LIST *p11 = hsm_functions(t->hsm);
	CK_SESSION_INFO info;
	CK_BYTE buf[16];
	CK_SESSION_HANDLE s = session_of(t->hsm);

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

static CK_BBOOL get_bool(struct hsm *h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_BBOOL v = 2;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	assert_int_equal(p11->C_GetAttributeValue(session_of(h), obj, &a, 1), CKR_OK);
	assert_int_equal(a.ulValueLen, sizeof(v));
	return v;
}

static void test_kek_attributes(void **state)
{
	struct test_token *t = *state;
	CK_FUNCTION_LIST *p11 = hsm_functions(t->hsm);
	CK_OBJECT_HANDLE kek;
	CK_ULONG value_len = 0;
	CK_BYTE value[64], id[64];
	CK_ATTRIBUTE a = { CKA_VALUE, value, sizeof(value) };
	CK_ATTRIBUTE meta[] = {
		{ CKA_VALUE_LEN, &value_len, sizeof(value_len) },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE loosen = { CKA_ENCRYPT, &yes, sizeof(yes) };
	CK_SESSION_HANDLE s = session_of(t->hsm);

	assert_int_equal(hsm_kek_create(t->hsm, HSM_KEK_LABEL "-test", &kek), 0);
	kek = hsm_key_handle(t->hsm, kek); /* the module's own handle, for raw calls */
	assert_int_not_equal(kek, CK_INVALID_HANDLE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_TOKEN), CK_TRUE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_PRIVATE), CK_TRUE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_SENSITIVE), CK_TRUE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_EXTRACTABLE), CK_FALSE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_WRAP), CK_TRUE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_UNWRAP), CK_TRUE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_ENCRYPT), CK_FALSE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_DECRYPT), CK_FALSE);
	assert_int_equal(get_bool(t->hsm, kek, CKA_NEVER_EXTRACTABLE), CK_TRUE);
	assert_int_equal(p11->C_GetAttributeValue(s, kek, meta, 2), CKR_OK);
	assert_int_equal(value_len, 32);
	assert_int_equal(meta[1].ulValueLen, 16);
	/* the key itself never comes out, and cannot be made to encrypt */
	assert_int_equal(p11->C_GetAttributeValue(s, kek, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_not_equal(p11->C_SetAttributeValue(s, kek, &loosen, 1), CKR_OK);
	assert_int_equal(get_bool(t->hsm, kek, CKA_ENCRYPT), CK_FALSE);
}

static void test_kek_exists(void **state)
{
	struct test_token *t = *state;
	CK_OBJECT_HANDLE kek, found = 4242, other = 4242;

	assert_int_equal(hsm_key_find(t->hsm, "kek", &found), -ENOKEY);
	assert_int_equal(found, 4242);
	assert_int_equal(hsm_kek_create(t->hsm, "kek", &kek), 0);
	assert_int_equal(hsm_kek_create(t->hsm, "kek", &other), -EEXIST);
	assert_int_equal(other, 4242);
	assert_int_equal(hsm_key_find(t->hsm, "kek", &found), 0);
	assert_int_equal(found, kek);
	/* a label is matched whole */
	assert_int_equal(hsm_key_find(t->hsm, "ke", &found), -ENOKEY);
	assert_int_equal(hsm_key_find(t->hsm, "kek2", &found), -ENOKEY);
	assert_int_equal(hsm_kek_create(t->hsm, "kek2", &other), 0);
	assert_int_not_equal(other, kek);
	assert_int_equal(count_session_keys(t->hsm), 0);
}

static void test_kek_persists(void **state)
{
	struct test_token *t = *state;
	CK_OBJECT_HANDLE kek, found;
	struct secbuf *k = NULL, *back = NULL;
	uint8_t *w = NULL;
	size_t l = 0;

	assert_int_equal(hsm_kek_create(t->hsm, "persistent", &kek), 0);
	assert_int_equal(hsm_datakey_new(t->hsm, kek, &k, &w, &l), 0);
	hsm_free(t->hsm);
	t->hsm = NULL;
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, t->label, t->pin, &t->hsm), 0);
	assert_int_equal(hsm_key_find(t->hsm, "persistent", &found), 0);
	assert_int_equal(hsm_datakey_unwrap(t->hsm, found, w, l, &back), 0);
	assert_true(secbuf_equal(k, back));
	secbuf_free(k);
	secbuf_free(back);
	free(w);
}

static void test_datakey_roundtrip(void **state)
{
	struct test_token *t = *state;
	struct secbuf *k1 = NULL, *k2 = NULL, *back = NULL;
	uint8_t *w1 = NULL, *w2 = NULL;
	size_t l1 = 0, l2 = 0;
	CK_OBJECT_HANDLE kek;

	assert_int_equal(hsm_kek_create(t->hsm, "kek", &kek), 0);
	assert_int_equal(hsm_datakey_new(t->hsm, kek, &k1, &w1, &l1), 0);
	assert_int_equal(secbuf_len(k1), 32);
	assert_int_equal(l1, 40); /* RFC 5649: 32 bytes and an 8-byte integrity block */
	assert_null(memmem(w1, l1, secbuf_data(k1), 8));
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w1, l1, &back), 0);
	assert_int_equal(secbuf_len(back), 32);
	assert_true(secbuf_equal(k1, back));
	assert_int_equal(hsm_datakey_new(t->hsm, kek, &k2, &w2, &l2), 0);
	assert_false(secbuf_equal(k1, k2));
	assert_int_equal(l2, 40);
	assert_memory_not_equal(w1, w2, 40);
	/* the temporary objects are gone */
	assert_int_equal(count_session_keys(t->hsm), 0);
	secbuf_free(k1);
	secbuf_free(k2);
	secbuf_free(back);
	free(w1);
	free(w2);
}

static void test_datakey_damaged(void **state)
{
	struct test_token *t = *state;
	struct secbuf *k = NULL, *back = POISON;
	CK_OBJECT_HANDLE kek, kek2;
	uint8_t *w = NULL;
	size_t l = 0;

	assert_int_equal(hsm_kek_create(t->hsm, "kek", &kek), 0);
	assert_int_equal(hsm_kek_create(t->hsm, "kek2", &kek2), 0);
	assert_int_equal(hsm_datakey_new(t->hsm, kek, &k, &w, &l), 0);
	/* one flipped bit anywhere */
	for (size_t i = 0; i < l; i++) {
		w[i] ^= 0x01;
		assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, l, &back), -EBADMSG);
		w[i] ^= 0x01;
	}
	/* truncated: to a multiple of 8 (the integrity check fails), or not */
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, l - 8, &back), -EBADMSG);
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, l - 1, &back), -EBADMSG);
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, 3, &back), -EBADMSG);
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, 0, &back), -EBADMSG);
	/* another vault's key */
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek2, w, l, &back), -EBADMSG);
	/* not a key at all: that is no damaged blob */
	assert_int_equal(hsm_datakey_unwrap(t->hsm, 0xdead, w, l, &back), -ENOKEY);
	assert_ptr_equal(back, POISON);
	assert_int_equal(count_session_keys(t->hsm), 0);
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, l, &back), 0);
	assert_true(secbuf_equal(k, back));
	secbuf_free(back);
	secbuf_free(k);
	free(w);
}

/* Wraps, under @kek, a fresh session key made with @mech of @len bytes. */
static uint8_t *wrap_other(struct hsm *h, CK_OBJECT_HANDLE kek, CK_MECHANISM_TYPE mech,
			   CK_ULONG len, size_t *ret_len)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_MECHANISM gen = { mech, NULL, 0 };
	CK_MECHANISM wrap = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	CK_SESSION_HANDLE s = session_of(h);
	CK_OBJECT_HANDLE key;
	CK_ULONG wlen = 64;
	uint8_t *w = malloc(wlen);

	assert_non_null(w);
	assert_int_equal(p11->C_GenerateKey(s, &gen, tmpl, 3, &key), CKR_OK);
	assert_int_equal(p11->C_WrapKey(s, &wrap, hsm_key_handle(h, kek), key, w, &wlen), CKR_OK);
	assert_int_equal(p11->C_DestroyObject(s, key), CKR_OK);
	*ret_len = wlen;
	return w;
}

/* Intact blobs under the right key that do not hold a 32-byte AES key. */
static void test_datakey_foreign(void **state)
{
	struct test_token *t = *state;
	struct secbuf *back = POISON;
	CK_OBJECT_HANDLE kek;
	uint8_t *w;
	size_t l;

	assert_int_equal(hsm_kek_create(t->hsm, "kek", &kek), 0);
	w = wrap_other(t->hsm, kek, CKM_AES_KEY_GEN, 16, &l);
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, l, &back), -EBADMSG);
	free(w);
	w = wrap_other(t->hsm, kek, CKM_GENERIC_SECRET_KEY_GEN, 20, &l);
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, l, &back), -EBADMSG);
	free(w);
	w = wrap_other(t->hsm, kek, CKM_GENERIC_SECRET_KEY_GEN, 48, &l);
	assert_int_equal(hsm_datakey_unwrap(t->hsm, kek, w, l, &back), -EBADMSG);
	free(w);
	assert_ptr_equal(back, POISON);
	assert_int_equal(count_session_keys(t->hsm), 0);
}

/* A failure after the temporary key was made leaves neither output nor object behind. */
static void test_datakey_new_fails_clean(void **state)
{
	struct test_token *t = *state;
	struct secbuf *k = POISON;
	uint8_t *w = POISON;
	size_t l = 4242;
	CK_OBJECT_HANDLE kek;

	assert_int_equal(hsm_datakey_new(t->hsm, 0xdead, &k, &w, &l), -ENOKEY);
	/* a key that may not wrap */
	assert_int_equal(hsm_kek_create(t->hsm, "kek", &kek), 0);
	{
		CK_FUNCTION_LIST *p11 = hsm_functions(t->hsm);
		CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
		CK_ULONG len = 32;
		CK_BBOOL no = CK_FALSE;
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_VALUE_LEN, &len, sizeof(len) },
			{ CKA_TOKEN, &no, sizeof(no) },
			{ CKA_WRAP, &no, sizeof(no) },
			{ CKA_LABEL, (void *)"nowrap", 6 },
		};
		CK_OBJECT_HANDLE raw;

		assert_int_equal(p11->C_GenerateKey(session_of(t->hsm), &gen, tmpl, 4, &raw),
				 CKR_OK);
		assert_int_equal(hsm_key_find(t->hsm, "nowrap", &kek), 0);
		assert_int_equal(hsm_datakey_new(t->hsm, kek, &k, &w, &l), -EPERM);
		assert_int_equal(p11->C_DestroyObject(session_of(t->hsm), raw), CKR_OK);
	}
	assert_ptr_equal(k, POISON);
	assert_ptr_equal(w, POISON);
	assert_int_equal(l, 4242);
	assert_int_equal(count_session_keys(t->hsm), 0);
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

/* A session secret key holding @len bytes in the clear, as key material passing through. */
static CK_OBJECT_HANDLE material_in(struct hsm *h, CK_ULONG len)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
	uint8_t value[64] = { 0x42 };
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },	{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &no, sizeof(no) },		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) }, { CKA_VALUE, value, len },
	};
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;

	assert_true(len <= sizeof(value));
	assert_int_equal(hsm_functions(h)->C_CreateObject(session_of(h), tmpl, 6, &o), CKR_OK);
	return o;
}

/*
 * Material is destroyed; when the token refuses to destroy it, the session holding it is
 * closed instead, which takes every session object and any operation left active in it.
 */
static void test_material_destroy(void **state)
{
	struct test_token *t = *state;
	CK_FUNCTION_LIST *p11 = hsm_functions(t->hsm);
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
	CK_SESSION_HANDLE before, after;
	CK_SESSION_INFO info;
	CK_OBJECT_HANDLE o;

	o = material_in(t->hsm, 32);
	assert_int_equal(count_session_keys(t->hsm), 1);
	hsm_material_destroy(t->hsm, session_of(t->hsm), o);
	assert_int_equal(count_session_keys(t->hsm), 0);
	hsm_material_destroy(t->hsm, session_of(t->hsm), CK_INVALID_HANDLE); /* nothing */

	/* a destroy the token refuses: a handle it never gave */
	o = material_in(t->hsm, 32);
	before = session_of(t->hsm);
	hsm_material_destroy(t->hsm, before, o + 1000);
	assert_int_equal(p11->C_GetSessionInfo(before, &info), CKR_SESSION_HANDLE_INVALID);
	after = session_of(t->hsm);
	assert_int_equal(p11->C_GetSessionInfo(after, &info), CKR_OK);
	assert_int_equal(info.state, CKS_RW_USER_FUNCTIONS); /* still logged in */
	assert_int_equal(count_session_keys(t->hsm), 0);

	/* an operation left active ends with the session */
	o = material_in(t->hsm, 16);
	assert_int_equal(p11->C_DigestInit(session_of(t->hsm), &sha), CKR_OK);
	assert_int_equal(p11->C_DigestInit(session_of(t->hsm), &sha), CKR_OPERATION_ACTIVE);
	hsm_session_reset(t->hsm);
	assert_int_equal(p11->C_DigestInit(session_of(t->hsm), &sha), CKR_OK);
	hsm_session_reset(t->hsm);
	assert_int_equal(count_session_keys(t->hsm), 0);
	hsm_session_reset(t->hsm);
	hsm_session_reset(t->hsm); /* without a session: nothing */
	(void)o;
}

/* The CKA_ID of a key object, which must be @id. */
static void assert_object_id(struct hsm *h, CK_OBJECT_HANDLE o, const uint8_t id[HSM_KEY_ID_LEN])
{
	uint8_t got[HSM_KEY_ID_LEN * 2];
	CK_ATTRIBUTE a = { CKA_ID, got, sizeof(got) };

	assert_int_equal(hsm_functions(h)->C_GetAttributeValue(session_of(h), o, &a, 1), CKR_OK);
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
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_wrong_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_unknown_label, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_bad_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kek_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kek_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kek_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datakey_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datakey_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datakey_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datakey_new_fails_clean, setup, teardown),
		cmocka_unit_test(test_token_create),
		cmocka_unit_test(test_token_create_bad_conf),
		cmocka_unit_test_setup_teardown(test_thread_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_handles_after_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_material_destroy, setup, teardown),
		cmocka_unit_test(test_errno_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

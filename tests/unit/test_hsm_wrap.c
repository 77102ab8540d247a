/*
 * Unit tests for the PKCS#11 layer's keys, each on a real SoftHSM2 token of its own: the
 * key-encryption key's attributes read back through PKCS#11, data-key wrap and unwrap,
 * damaged and foreign blobs, failures that leave nothing behind, and key material
 * destroyed or its session closed.
 */
#include "hsmutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hsm.h"

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
	CK_SESSION_HANDLE s = test_hsm_session_of(h);
	CK_OBJECT_HANDLE objs[16];
	CK_ULONG n = 0;

	assert_int_equal(p11->C_FindObjectsInit(s, tmpl, 2), CKR_OK);
	assert_int_equal(p11->C_FindObjects(s, objs, 16, &n), CKR_OK);
	assert_int_equal(p11->C_FindObjectsFinal(s), CKR_OK);
	return n;
}

static CK_BBOOL get_bool(struct hsm *h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_BBOOL v = 2;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	assert_int_equal(p11->C_GetAttributeValue(test_hsm_session_of(h), obj, &a, 1), CKR_OK);
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
	CK_SESSION_HANDLE s = test_hsm_session_of(t->hsm);

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
	CK_SESSION_HANDLE s = test_hsm_session_of(h);
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

		assert_int_equal(
			p11->C_GenerateKey(test_hsm_session_of(t->hsm), &gen, tmpl, 4, &raw),
			CKR_OK);
		assert_int_equal(hsm_key_find(t->hsm, "nowrap", &kek), 0);
		assert_int_equal(hsm_datakey_new(t->hsm, kek, &k, &w, &l), -EPERM);
		assert_int_equal(p11->C_DestroyObject(test_hsm_session_of(t->hsm), raw), CKR_OK);
	}
	assert_ptr_equal(k, POISON);
	assert_ptr_equal(w, POISON);
	assert_int_equal(l, 4242);
	assert_int_equal(count_session_keys(t->hsm), 0);
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
	assert_int_equal(hsm_functions(h)->C_CreateObject(test_hsm_session_of(h), tmpl, 6, &o),
			 CKR_OK);
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
	hsm_material_destroy(t->hsm, test_hsm_session_of(t->hsm), o);
	assert_int_equal(count_session_keys(t->hsm), 0);
	hsm_material_destroy(t->hsm, test_hsm_session_of(t->hsm), CK_INVALID_HANDLE); /* nothing */

	/* a destroy the token refuses: a handle it never gave */
	o = material_in(t->hsm, 32);
	before = test_hsm_session_of(t->hsm);
	hsm_material_destroy(t->hsm, before, o + 1000);
	assert_int_equal(p11->C_GetSessionInfo(before, &info), CKR_SESSION_HANDLE_INVALID);
	after = test_hsm_session_of(t->hsm);
	assert_int_equal(p11->C_GetSessionInfo(after, &info), CKR_OK);
	assert_int_equal(info.state, CKS_RW_USER_FUNCTIONS); /* still logged in */
	assert_int_equal(count_session_keys(t->hsm), 0);

	/* an operation left active ends with the session */
	o = material_in(t->hsm, 16);
	assert_int_equal(p11->C_DigestInit(test_hsm_session_of(t->hsm), &sha), CKR_OK);
	assert_int_equal(p11->C_DigestInit(test_hsm_session_of(t->hsm), &sha),
			 CKR_OPERATION_ACTIVE);
	hsm_session_reset(t->hsm);
	assert_int_equal(p11->C_DigestInit(test_hsm_session_of(t->hsm), &sha), CKR_OK);
	hsm_session_reset(t->hsm);
	assert_int_equal(count_session_keys(t->hsm), 0);
	hsm_session_reset(t->hsm);
	hsm_session_reset(t->hsm); /* without a session: nothing */
	(void)o;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kek_attributes, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_kek_exists, test_hsm_setup, test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_kek_persists, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_datakey_roundtrip, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_datakey_damaged, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_datakey_foreign, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_datakey_new_fails_clean, test_hsm_setup,
						test_hsm_teardown),
		cmocka_unit_test_setup_teardown(test_material_destroy, test_hsm_setup,
						test_hsm_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * hsm: a handle on a token — opened by loading the module (hsm_module.c) and logging in
 * (hsm_session.c), freed with its sessions — and what the vault asks of its token: a
 * key-encryption key that never leaves it, data keys made and wrapped or unwrapped under
 * it, and the trail's HMAC keys. Named keys are found by label (hsm_use.c).
 *
 * This file must never log or copy a PIN or a key byte: PINs go from their secbuf to the
 * module, key values from the module straight into a secbuf.
 */
#include "hsm.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_internal.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define KEY_LEN 32 /* AES-256, for the KEK and for data keys */
#define KEK_ID_LEN 16

int hsm_open(const char *module, const char *label, const struct secbuf *pin, struct hsm **ret)
{
	pthread_rwlockattr_t attr;
	struct hsm *h;
	int r;

	if (strlen(label) > HSM_TOKEN_LABEL_MAX)
		return -ENODEV; /* no token can carry it */
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	hsm_pad_label(label, h->padded);
	pthread_mutex_init(&h->lock, NULL);
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&h->use, &attr);
	pthread_rwlockattr_destroy(&attr);
	h->anchor = CK_INVALID_HANDLE;
	h->serial = hsm_serial_next();
	r = secbuf_from(secbuf_data(pin), secbuf_len(pin), &h->pin);
	if (r < 0)
		goto out;
	r = hsm_lib_load(module, &h->lib);
	if (r < 0)
		goto out;
	r = hsm_find_token(h->lib.p11, h->padded, &h->slot);
	if (r < 0)
		goto out;
	r = hsm_login(h);
	if (r < 0)
		goto out;
	r = -pthread_key_create(&h->key, hsm_thread_session_close);
	if (r < 0)
		goto out;
	h->key_made = 1;
	*ret = h;
	h = NULL;
	r = 0;
out:
	hsm_free(h);
	return r;
}

/*
 * Threads that still hold a session (the caller's, or ones not yet exited) have it closed
 * here. A thread must not be exiting, or using @h, while it is freed.
 */
void hsm_free(struct hsm *h)
{
	struct thread_session *ts;

	if (!h)
		return;
	if (h->key_made)
		pthread_key_delete(h->key);
	pthread_mutex_lock(&h->lock);
	while ((ts = h->sessions)) {
		h->sessions = ts->next;
		(void)hsm_ck(h->lib.p11->C_CloseSession(ts->session), "C_CloseSession");
		free(ts);
	}
	pthread_mutex_unlock(&h->lock);
	/* Closing the token's last session logs it out; a session of another handle on the
	 * same token keeps the login that handle relies on. */
	if (h->anchor != CK_INVALID_HANDLE)
		(void)hsm_ck(h->lib.p11->C_CloseSession(h->anchor), "C_CloseSession");
	hsm_lib_unload(&h->lib);
	secbuf_free(h->pin);
	pthread_rwlock_destroy(&h->use);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int hsm_key_find(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret)
{
	CK_OBJECT_HANDLE o;
	int r;

	hsm_enter(h);
	r = hsm_find_label(h, label, &o);
	if (r == 0)
		r = hsm_named_add(h, label, o, ret);
	hsm_leave(h);
	return r;
}

/*
 * Generates a token-resident secret key of KEY_LEN bytes labelled @label that is good for
 * one pair of uses only (@wrap: wrap and unwrap; else sign and verify). CKA_MODIFIABLE
 * false keeps it so; it is sensitive and never extractable.
 */
static int secret_key_create(struct hsm *h, const char *label, int wrap, CK_OBJECT_HANDLE *ret)
{
	CK_MECHANISM mech = { wrap ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
	CK_KEY_TYPE type = wrap ? CKK_AES : CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BBOOL for_wrap = wrap ? CK_TRUE : CK_FALSE, for_mac = wrap ? CK_FALSE : CK_TRUE;
	CK_ULONG len = KEY_LEN;
	CK_BYTE id[KEK_ID_LEN];
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_MODIFIABLE, &no, sizeof(no) },
		{ CKA_WRAP, &for_wrap, sizeof(for_wrap) },
		{ CKA_UNWRAP, &for_wrap, sizeof(for_wrap) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_SIGN, &for_mac, sizeof(for_mac) },
		{ CKA_VERIFY, &for_mac, sizeof(for_mac) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_OBJECT_HANDLE key, existing;
	CK_SESSION_HANDLE s;
	int r;

	r = hsm_find_label(h, label, &existing);
	if (r == 0 || r == -ENOTUNIQ)
		return -EEXIST;
	if (r != -ENOKEY)
		return r;
	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = hsm_ck(h->lib.p11->C_GenerateRandom(s, id, sizeof(id)), "C_GenerateRandom");
	if (r < 0)
		return r;
	r = hsm_ck(h->lib.p11->C_GenerateKey(s, &mech, tmpl, ARRAY_SIZE(tmpl), &key),
		   "C_GenerateKey");
	if (r < 0)
		return r;
	return hsm_named_add(h, label, key, ret);
}

int hsm_kek_create(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret)
{
	int r;

	hsm_enter(h);
	r = secret_key_create(h, label, 1, ret);
	hsm_leave(h);
	return r;
}

int hsm_mac_key_create(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret)
{
	int r;

	hsm_enter(h);
	r = secret_key_create(h, label, 0, ret);
	hsm_leave(h);
	return r;
}

static int mac(struct hsm *h, CK_OBJECT_HANDLE named, const void *data, size_t len,
	       uint8_t out[HSM_MAC_LEN])
{
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	CK_ULONG out_len = HSM_MAC_LEN;
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE s;
	int r;

	r = hsm_named_object(h, named, &key);
	if (r < 0)
		return r;
	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = hsm_named_ck(h->lib.p11->C_SignInit(s, &mech, key), "C_SignInit");
	if (r < 0)
		return r;
	/* C_Sign ends the operation whatever it returns, except for a short buffer, which
	 * HSM_MAC_LEN never is. */
	r = hsm_ck(h->lib.p11->C_Sign(s, (CK_BYTE_PTR)data, len, out, &out_len), "C_Sign");
	if (r < 0)
		return r;
	if (out_len != HSM_MAC_LEN)
		return -EIO;
	return 0;
}

int hsm_mac(struct hsm *h, CK_OBJECT_HANDLE key, const void *data, size_t len,
	    uint8_t out[HSM_MAC_LEN])
{
	int r;

	hsm_enter(h);
	r = mac(h, key, data, len, out);
	hsm_leave(h);
	return r;
}

/* Reads a session key's value straight into a new secbuf: -EBADMSG unless it is KEY_LEN. */
static int read_value(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
		      struct secbuf **ret)
{
	CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
	struct secbuf *b = NULL;
	int r;

	r = secbuf_new(KEY_LEN, &b);
	if (r < 0)
		return r;
	a.pValue = secbuf_mutable_data(b);
	a.ulValueLen = secbuf_cap(b);
	r = hsm_ck(p11->C_GetAttributeValue(s, key, &a, 1), "C_GetAttributeValue");
	if (r < 0)
		goto out;
	if (a.ulValueLen != KEY_LEN) {
		r = -EBADMSG;
		goto out;
	}
	r = secbuf_set_len(b, KEY_LEN);
	if (r < 0)
		goto out;
	*ret = b;
	b = NULL;
	r = 0;
out:
	secbuf_free(b);
	return r;
}

static int wrap(struct hsm *h, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, uint8_t **ret,
		size_t *ret_len)
{
	CK_MECHANISM m = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_FUNCTION_LIST *p11 = h->lib.p11;
	CK_SESSION_HANDLE s;
	CK_ULONG len = 0;
	uint8_t *out;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = hsm_ck(p11->C_WrapKey(s, &m, wrapping, key, NULL, &len), "C_WrapKey");
	if (r < 0)
		return r;
	out = malloc(len ? len : 1);
	if (!out)
		return -ENOMEM;
	r = hsm_ck(p11->C_WrapKey(s, &m, wrapping, key, out, &len), "C_WrapKey");
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	*ret_len = len;
	return 0;
}

int hsm_wrap(struct hsm *h, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, uint8_t **ret,
	     size_t *ret_len)
{
	int r;

	hsm_enter(h);
	r = wrap(h, wrapping, key, ret, ret_len);
	hsm_leave(h);
	return r;
}

static int datakey_new(struct hsm *h, CK_OBJECT_HANDLE named, struct secbuf **ret_key,
		       uint8_t **ret_wrapped, size_t *ret_wrapped_len)
{
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len = KEY_LEN;
	size_t wlen = 0;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	CK_FUNCTION_LIST *p11 = h->lib.p11;
	CK_OBJECT_HANDLE kek, key = CK_INVALID_HANDLE;
	struct secbuf *value = NULL;
	uint8_t *wrapped = NULL;
	CK_SESSION_HANDLE s;
	int r;

	r = hsm_named_object(h, named, &kek);
	if (r < 0)
		return r;
	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = hsm_ck(p11->C_GenerateKey(s, &gen, tmpl, ARRAY_SIZE(tmpl), &key), "C_GenerateKey");
	if (r < 0)
		goto out;
	r = read_value(p11, s, key, &value);
	if (r < 0) {
		r = r == -EBADMSG ? -EIO : r; /* the token made a key of the wrong size */
		goto out;
	}
	r = wrap(h, kek, key, &wrapped, &wlen);
	if (r == -ENOKEY)
		hsm_note_gone(); /* the token does not know the vault's own key: it was reloaded */
	if (r < 0)
		goto out;
	*ret_key = value;
	*ret_wrapped = wrapped;
	*ret_wrapped_len = wlen;
	value = NULL;
	wrapped = NULL;
	r = 0;
out:
	hsm_material_destroy(h, s, key);
	secbuf_free(value);
	free(wrapped);
	return r;
}

int hsm_datakey_new(struct hsm *h, CK_OBJECT_HANDLE kek, struct secbuf **ret_key,
		    uint8_t **ret_wrapped, size_t *ret_wrapped_len)
{
	int r;

	hsm_enter(h);
	r = datakey_new(h, kek, ret_key, ret_wrapped, ret_wrapped_len);
	hsm_leave(h);
	return r;
}

/*
 * C_UnwrapKey's answer to a blob that is not intact or not ours. SoftHSM2 2.6 reports a
 * failed RFC 5649 integrity check (a flipped bit, a blob cut to a multiple of 8 bytes, the
 * wrong KEK) as CKR_GENERAL_ERROR, and a length that cannot be a blob as
 * CKR_WRAPPED_KEY_LEN_RANGE. It takes a value of any length as CKK_AES, which is why the
 * length is checked afterwards; other modules refuse it through the template.
 */
static int unwrap_errno(CK_RV rv)
{
	switch (rv) {
	case CKR_GENERAL_ERROR:
	case CKR_ATTRIBUTE_VALUE_INVALID:
	case CKR_TEMPLATE_INCONSISTENT:
		return -EBADMSG;
	default:
		return hsm_errno(rv);
	}
}

static int datakey_unwrap(struct hsm *h, CK_OBJECT_HANDLE named, const uint8_t *wrapped,
			  size_t wrapped_len, struct secbuf **ret_key)
{
	CK_MECHANISM mech = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },	{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &no, sizeof(no) },		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	CK_FUNCTION_LIST *p11 = h->lib.p11;
	CK_OBJECT_HANDLE kek, key = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	r = hsm_named_object(h, named, &kek);
	if (r < 0)
		return r;
	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	rv = hsm_logged(p11->C_UnwrapKey(s, &mech, kek, (CK_BYTE_PTR)wrapped, wrapped_len, tmpl,
					 ARRAY_SIZE(tmpl), &key),
			"C_UnwrapKey");
	if (rv != CKR_OK) {
		hsm_named_refused(rv);
		r = unwrap_errno(rv);
		goto out;
	}
	r = read_value(p11, s, key, ret_key);
	if (r < 0)
		goto out;
	r = 0;
out:
	hsm_material_destroy(h, s, key);
	return r;
}

int hsm_datakey_unwrap(struct hsm *h, CK_OBJECT_HANDLE kek, const uint8_t *wrapped,
		       size_t wrapped_len, struct secbuf **ret_key)
{
	int r;

	hsm_enter(h);
	r = datakey_unwrap(h, kek, wrapped, wrapped_len, ret_key);
	hsm_leave(h);
	return r;
}

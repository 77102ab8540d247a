/*
 * hsm: PKCS#11 through the module's function list, loaded with dlopen.
 *
 * The module is initialised with CKF_OS_LOCKING_OK (without it SoftHSM2 turns its own
 * locking off), one "anchor" session stays open for the handle's life (closing the last
 * session would log the token out), and each thread gets its own session on first use.
 * CK_RV codes become errno here and go to the debug log; PINs and key bytes go nowhere
 * but the module and secbufs.
 */
#include "hsm.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

struct hsm {
	void *dl;
	CK_FUNCTION_LIST *p11;
	int finalize; /* we initialised the module, so we finalise it */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE anchor;
	pthread_key_t key;
	int key_made;
	pthread_mutex_t lock;
	struct thread_session *sessions; /* protected by lock: every per-thread session */
};

struct thread_session {
	struct hsm *h;
	CK_SESSION_HANDLE session;
	struct thread_session *next; /* protected by h->lock */
};

static int check(CK_RV rv, const char *fn)
{
	if (rv == CKR_OK)
		return 0;
	log_debug("pkcs11: %s: CKR 0x%08lx", fn, (unsigned long)rv);
	return hsm_errno(rv);
}

int hsm_errno(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_INVALID:
		return -EACCES;
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
		return -EPERM;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_SLOT_ID_INVALID:
	case CKR_DEVICE_REMOVED:
		return -ENODEV;
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return -ENOMEM;
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_WRAPPING_KEY_HANDLE_INVALID:
	case CKR_UNWRAPPING_KEY_HANDLE_INVALID:
		return -ENOKEY;
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_FUNCTION_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case CKR_WRAPPED_KEY_INVALID:
	case CKR_WRAPPED_KEY_LEN_RANGE:
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_SIGNATURE_INVALID:
	case CKR_SIGNATURE_LEN_RANGE:
		return -EBADMSG;
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_NOT_WRAPPABLE:
	case CKR_KEY_UNEXTRACTABLE:
	case CKR_ATTRIBUTE_SENSITIVE:
		return -EPERM;
	case CKR_USER_NOT_LOGGED_IN:
		return -EACCES;
	default:
		return -EIO;
	}
}

static int load(const char *module, struct hsm *h)
{
	CK_C_GetFunctionList get_list;
	CK_C_INITIALIZE_ARGS init;
	CK_RV rv;

	h->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!h->dl) {
		log_debug("pkcs11: dlopen \"%s\": %s", module, dlerror());
		return -ELIBACC;
	}
	get_list = (CK_C_GetFunctionList)dlsym(h->dl, "C_GetFunctionList");
	if (!get_list || get_list(&h->p11) != CKR_OK || !h->p11)
		return -ELIBACC;
	memset(&init, 0, sizeof(init));
	init.flags = CKF_OS_LOCKING_OK;
	rv = h->p11->C_Initialize(&init);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return 0;
	if (rv != CKR_OK)
		return check(rv, "C_Initialize") == -EIO ? -ELIBACC : hsm_errno(rv);
	h->finalize = 1;
	return 0;
}

static void unload(struct hsm *h)
{
	if (h->p11 && h->finalize)
		h->p11->C_Finalize(NULL);
	if (h->dl)
		dlclose(h->dl);
	h->p11 = NULL;
	h->dl = NULL;
}

static void pad_label(const char *label, CK_UTF8CHAR out[32])
{
	size_t len = strlen(label);

	memset(out, ' ', 32);
	memcpy(out, label, len > 32 ? 32 : len);
}

/* The slot whose token is labelled @label. */
static int find_slot(struct hsm *h, const char *label, CK_SLOT_ID *ret)
{
	CK_UTF8CHAR want[32];
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	int r;

	pad_label(label, want);
	r = check(h->p11->C_GetSlotList(CK_TRUE, NULL, &n), "C_GetSlotList");
	if (r < 0)
		return r;
	slots = calloc(n ? n : 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	r = check(h->p11->C_GetSlotList(CK_TRUE, slots, &n), "C_GetSlotList");
	if (r < 0)
		goto out;
	r = -ENODEV;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;

		if (h->p11->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		if ((info.flags & CKF_TOKEN_INITIALIZED) && memcmp(info.label, want, 32) == 0) {
			*ret = slots[i];
			r = 0;
			break;
		}
	}
out:
	free(slots);
	return r;
}

int hsm_token_create(const char *module, const char *label, const struct secbuf *so_pin,
		     const struct secbuf *user_pin)
{
	struct hsm h = { 0 };
	CK_SLOT_ID *slots = NULL, slot = 0;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_UTF8CHAR padded[32];
	CK_ULONG n = 0;
	int r, found = 0;

	if (!*label || strlen(label) > HSM_TOKEN_LABEL_MAX)
		return -EINVAL;
	r = load(module, &h);
	if (r < 0)
		goto out;
	r = check(h.p11->C_GetSlotList(CK_FALSE, NULL, &n), "C_GetSlotList");
	if (r < 0)
		goto out;
	slots = calloc(n ? n : 1, sizeof(*slots));
	if (!slots) {
		r = -ENOMEM;
		goto out;
	}
	r = check(h.p11->C_GetSlotList(CK_FALSE, slots, &n), "C_GetSlotList");
	if (r < 0)
		goto out;
	for (CK_ULONG i = 0; i < n && !found; i++) {
		CK_TOKEN_INFO info;

		if (h.p11->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
		    !(info.flags & CKF_TOKEN_INITIALIZED)) {
			slot = slots[i];
			found = 1;
		}
	}
	if (!found) {
		r = -ENODEV;
		goto out;
	}
	pad_label(label, padded);
	r = check(h.p11->C_InitToken(slot, so_pin->data, so_pin->len, padded), "C_InitToken");
	if (r < 0)
		goto out;
	/* SoftHSM2 gives an initialised token a new slot id: find it again by label. */
	r = find_slot(&h, label, &slot);
	if (r < 0)
		goto out;
	r = check(h.p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
		  "C_OpenSession");
	if (r < 0)
		goto out;
	r = check(h.p11->C_Login(s, CKU_SO, so_pin->data, so_pin->len), "C_Login(SO)");
	if (r < 0)
		goto out;
	r = check(h.p11->C_InitPIN(s, user_pin->data, user_pin->len), "C_InitPIN");
	h.p11->C_Logout(s);
	if (r < 0)
		goto out;
	r = 0;
out:
	if (s != CK_INVALID_HANDLE)
		h.p11->C_CloseSession(s);
	free(slots);
	unload(&h);
	return r;
}

static void close_thread_session(void *p)
{
	struct thread_session *ts = p;
	struct hsm *h = ts->h;

	pthread_mutex_lock(&h->lock);
	for (struct thread_session **pp = &h->sessions; *pp; pp = &(*pp)->next)
		if (*pp == ts) {
			*pp = ts->next;
			break;
		}
	pthread_mutex_unlock(&h->lock);
	h->p11->C_CloseSession(ts->session);
	free(ts);
}

int hsm_open(const char *module, const char *label, const struct secbuf *pin, struct hsm **ret)
{
	struct hsm *h;
	CK_RV rv;
	int r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->anchor = CK_INVALID_HANDLE;
	pthread_mutex_init(&h->lock, NULL);
	r = load(module, h);
	if (r < 0)
		goto fail;
	r = find_slot(h, label, &h->slot);
	if (r < 0)
		goto fail;
	r = check(h->p11->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
					&h->anchor),
		  "C_OpenSession");
	if (r < 0)
		goto fail;
	rv = h->p11->C_Login(h->anchor, CKU_USER, pin->data, pin->len);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		r = check(rv, "C_Login");
		goto fail;
	}
	if (pthread_key_create(&h->key, close_thread_session) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	h->key_made = 1;
	*ret = h;
	return 0;
fail:
	hsm_free(h);
	return r;
}

void hsm_free(struct hsm *h)
{
	if (!h)
		return;
	if (h->key_made) {
		/* Threads still alive keep no session past this: close them all here. */
		struct thread_session *ts = pthread_getspecific(h->key);

		pthread_setspecific(h->key, NULL);
		(void)ts;
		pthread_key_delete(h->key);
		pthread_mutex_lock(&h->lock);
		while (h->sessions) {
			struct thread_session *next = h->sessions->next;

			h->p11->C_CloseSession(h->sessions->session);
			free(h->sessions);
			h->sessions = next;
		}
		pthread_mutex_unlock(&h->lock);
	}
	if (h->p11 && h->anchor != CK_INVALID_HANDLE) {
		h->p11->C_Logout(h->anchor);
		h->p11->C_CloseSession(h->anchor);
	}
	unload(h);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

CK_FUNCTION_LIST *hsm_functions(struct hsm *h)
{
	return h->p11;
}

int hsm_session(struct hsm *h, CK_SESSION_HANDLE *ret)
{
	struct thread_session *ts = pthread_getspecific(h->key);
	int r;

	if (ts) {
		*ret = ts->session;
		return 0;
	}
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	ts->h = h;
	r = check(h->p11->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
					&ts->session),
		  "C_OpenSession");
	if (r < 0) {
		free(ts);
		return r;
	}
	if (pthread_setspecific(h->key, ts) != 0) {
		h->p11->C_CloseSession(ts->session);
		free(ts);
		return -ENOMEM;
	}
	pthread_mutex_lock(&h->lock);
	ts->next = h->sessions;
	h->sessions = ts;
	pthread_mutex_unlock(&h->lock);
	*ret = ts->session;
	return 0;
}

int hsm_key_find(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE found[2];
	CK_SESSION_HANDLE s;
	CK_ULONG n = 0;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = check(h->p11->C_FindObjectsInit(s, tmpl, 2), "C_FindObjectsInit");
	if (r < 0)
		return r;
	r = check(h->p11->C_FindObjects(s, found, 2, &n), "C_FindObjects");
	h->p11->C_FindObjectsFinal(s);
	if (r < 0)
		return r;
	if (n == 0)
		return -ENOKEY;
	if (n > 1)
		return -ENOTUNIQ;
	*ret = found[0];
	return 0;
}

int hsm_kek_create(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret)
{
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len = 32;
	CK_OBJECT_HANDLE key, existing;
	uint8_t id[16];
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },   { CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) }, { CKA_WRAP, &yes, sizeof(yes) },
		{ CKA_UNWRAP, &yes, sizeof(yes) },    { CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_DECRYPT, &no, sizeof(no) },     { CKA_SIGN, &no, sizeof(no) },
		{ CKA_VERIFY, &no, sizeof(no) },      { CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_SESSION_HANDLE s;
	int r;

	r = hsm_key_find(h, label, &existing);
	if (r == 0 || r == -ENOTUNIQ)
		return -EEXIST;
	if (r != -ENOKEY)
		return r;
	r = crypto_random(id, sizeof(id));
	if (r < 0)
		return r;
	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = check(h->p11->C_GenerateKey(s, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &key),
		  "C_GenerateKey(KEK)");
	if (r < 0)
		return r;
	*ret = key;
	return 0;
}

/* Reads a session key's CKA_VALUE straight into a new secbuf. */
static int read_value(struct hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, struct secbuf **ret)
{
	CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
	struct secbuf *b = NULL;
	int r;

	r = check(h->p11->C_GetAttributeValue(s, key, &a, 1), "C_GetAttributeValue");
	if (r < 0)
		return r;
	if (a.ulValueLen != CRYPTO_KEY_LEN)
		return -EBADMSG;
	r = secbuf_new(a.ulValueLen, &b);
	if (r < 0)
		return r;
	a.pValue = b->data;
	r = check(h->p11->C_GetAttributeValue(s, key, &a, 1), "C_GetAttributeValue");
	if (r < 0) {
		secbuf_free(b);
		return r;
	}
	b->len = a.ulValueLen;
	*ret = b;
	return 0;
}

int hsm_datakey_new(struct hsm *h, CK_OBJECT_HANDLE kek, struct secbuf **ret_key,
		    uint8_t **ret_wrapped, size_t *ret_wrapped_len)
{
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_MECHANISM wrap = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len = CRYPTO_KEY_LEN, wlen = 0;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	struct secbuf *value = NULL;
	uint8_t *wrapped = NULL;
	CK_SESSION_HANDLE s;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = check(h->p11->C_GenerateKey(s, &gen, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &key),
		  "C_GenerateKey(data key)");
	if (r < 0)
		return r;
	r = read_value(h, s, key, &value);
	if (r < 0)
		goto out;
	r = check(h->p11->C_WrapKey(s, &wrap, kek, key, NULL, &wlen), "C_WrapKey");
	if (r < 0)
		goto out;
	wrapped = malloc(wlen);
	if (!wrapped) {
		r = -ENOMEM;
		goto out;
	}
	r = check(h->p11->C_WrapKey(s, &wrap, kek, key, wrapped, &wlen), "C_WrapKey");
	if (r < 0)
		goto out;
	*ret_key = value;
	*ret_wrapped = wrapped;
	*ret_wrapped_len = wlen;
	value = NULL;
	wrapped = NULL;
	r = 0;
out:
	h->p11->C_DestroyObject(s, key);
	secbuf_free(value);
	free(wrapped);
	return r;
}

int hsm_datakey_unwrap(struct hsm *h, CK_OBJECT_HANDLE kek, const uint8_t *wrapped,
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
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	rv = h->p11->C_UnwrapKey(s, &mech, kek, (CK_BYTE_PTR)wrapped, wrapped_len, tmpl,
				 sizeof(tmpl) / sizeof(tmpl[0]), &key);
	if (rv != CKR_OK) {
		r = check(rv, "C_UnwrapKey");
		/* A blob that fails RFC 5649's integrity check is a damaged blob, whatever
		 * code the module gives it. */
		return r == -EIO || r == -EINVAL ? -EBADMSG : r;
	}
	r = read_value(h, s, key, ret_key);
	h->p11->C_DestroyObject(s, key);
	return r;
}

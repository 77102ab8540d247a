/*
 * hsm: PKCS#11 through a module loaded with dlopen; no other file speaks it.
 *
 * The module is initialised with CKF_OS_LOCKING_OK (SoftHSM2 does no locking of its own
 * without it). C_Initialize and C_Finalize are process-wide, so every handle on one module
 * shares a reference, and the last one to go finalises — and only if we initialised it.
 * An "anchor" session holds the user login for a handle's life (closing a token's last
 * session logs it out), and each thread works in a session of its own.
 *
 * This file must never log or copy a PIN or a key byte: PINs go from their secbuf to the
 * module, key values from the module straight into a secbuf. Every CK_RV that is not CKR_OK
 * goes to the debug log once, with the function's name, and leaves as an errno.
 */
#include "hsm.h"

#include <dlfcn.h>
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

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct module *modules; /* protected by modules_lock */

static atomic_uint_fast64_t serials;

/* Return values after which the token or our sessions on it are gone, not the call's own
 * arguments: the next hsm_reopen starts the module again. */
static int token_gone(CK_RV rv)
{
	switch (rv) {
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_ERROR:
	case CKR_SLOT_ID_INVALID:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return 1;
	default:
		return 0;
	}
}

CK_RV hsm_logged(CK_RV rv, const char *fn)
{
	if (rv != CKR_OK)
		log_debug("PKCS#11 %s: CKR 0x%08lx", fn, (unsigned long)rv);
	if (token_gone(rv))
		hsm_note_gone();
	return rv;
}

int hsm_ck(CK_RV rv, const char *fn)
{
	return hsm_errno(hsm_logged(rv, fn));
}

int hsm_errno(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_USER_NOT_LOGGED_IN:
		return -EACCES;
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
	case CKR_ATTRIBUTE_SENSITIVE:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_NOT_WRAPPABLE:
	case CKR_KEY_UNEXTRACTABLE:
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
		return -EBADMSG;
	case CKR_ARGUMENTS_BAD:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* Takes a reference on @p11's process-wide initialisation, initialising it if we are first. */
static int module_get(CK_FUNCTION_LIST *p11, struct module **ret)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	struct module *m;
	CK_RV rv;
	int r;

	pthread_mutex_lock(&modules_lock);
	for (m = modules; m; m = m->next)
		if (m->p11 == p11)
			break;
	if (m) {
		m->users++;
		*ret = m;
		r = 0;
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	rv = hsm_logged(p11->C_Initialize(&args), "C_Initialize");
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		/* a module that cannot start is as good as one that did not load */
		free(m);
		r = rv == CKR_HOST_MEMORY ? -ENOMEM : -ELIBACC;
		goto out;
	}
	/* Someone else in the process initialised it: theirs to finalise, not ours. */
	m->finalize = rv == CKR_OK;
	m->p11 = p11;
	m->users = 1;
	m->next = modules;
	modules = m;
	*ret = m;
	r = 0;
out:
	pthread_mutex_unlock(&modules_lock);
	return r;
}

static void module_put(struct module *m)
{
	struct module **pp;

	pthread_mutex_lock(&modules_lock);
	if (--m->users == 0) {
		for (pp = &modules; *pp != m; pp = &(*pp)->next)
			if (!*pp)
				abort();
		*pp = m->next;
		if (m->finalize)
			(void)hsm_ck(m->p11->C_Finalize(NULL), "C_Finalize");
		free(m);
	}
	pthread_mutex_unlock(&modules_lock);
}

int hsm_module_restart(struct lib *l)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_RV rv;
	int r;

	pthread_mutex_lock(&modules_lock);
	/* Finalising would pull the module from under another handle, or from under whoever
	 * initialised it before us. */
	if (l->mod->users != 1 || (!l->mod->finalize && !l->mod->down)) {
		r = -EBUSY;
		goto out;
	}
	if (!l->mod->down)
		(void)hsm_ck(l->p11->C_Finalize(NULL), "C_Finalize");
	rv = hsm_logged(l->p11->C_Initialize(&args), "C_Initialize");
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		/* not initialised now: nobody may finalise it, and a later restart retries */
		l->mod->finalize = 0;
		l->mod->down = 1;
		r = -ELIBACC;
		goto out;
	}
	l->mod->down = 0;
	l->mod->finalize = 1;
	r = 0;
out:
	pthread_mutex_unlock(&modules_lock);
	return r;
}

static int lib_load(const char *path, struct lib *ret)
{
	struct lib l = { 0 };
	CK_C_GetFunctionList get_list;
	CK_RV rv;
	int r;

	l.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!l.dl) {
		log_debug("PKCS#11 module \"%s\": %s", path, dlerror());
		return -ELIBACC;
	}
	get_list = (CK_C_GetFunctionList)dlsym(l.dl, "C_GetFunctionList");
	if (!get_list) {
		log_debug("PKCS#11 module \"%s\" has no C_GetFunctionList", path);
		r = -ELIBACC;
		goto out;
	}
	rv = hsm_logged(get_list(&l.p11), "C_GetFunctionList");
	if (rv != CKR_OK || !l.p11 || !l.p11->C_Initialize) {
		r = rv == CKR_HOST_MEMORY ? -ENOMEM : -ELIBACC;
		goto out;
	}
	r = module_get(l.p11, &l.mod);
	if (r < 0)
		goto out;
	*ret = l;
	l.dl = NULL;
	r = 0;
out:
	if (l.dl)
		dlclose(l.dl);
	return r;
}

static void lib_unload(struct lib *l)
{
	if (l->mod)
		module_put(l->mod);
	if (l->dl)
		dlclose(l->dl);
	memset(l, 0, sizeof(*l));
}

/* @label must be at most HSM_TOKEN_LABEL_MAX bytes. */
static void pad_label(const char *label, CK_UTF8CHAR out[HSM_TOKEN_LABEL_MAX])
{
	memset(out, ' ', HSM_TOKEN_LABEL_MAX);
	memcpy(out, label, strlen(label));
}

/* The slots (with a token present, if @present), calloc'ed. */
static int slot_list(CK_FUNCTION_LIST *p11, CK_BBOOL present, CK_SLOT_ID **ret, CK_ULONG *ret_n)
{
	CK_SLOT_ID *slots = NULL, *grown;
	CK_ULONG n = 0;
	CK_RV rv;
	int r;

	r = hsm_ck(p11->C_GetSlotList(present, NULL, &n), "C_GetSlotList");
	if (r < 0)
		return r;
	/* a slot may appear between the two calls: ask again with the new count */
	do {
		grown = realloc(slots, (n ? n : 1) * sizeof(*slots));
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		slots = grown;
		rv = p11->C_GetSlotList(present, slots, &n);
	} while (rv == CKR_BUFFER_TOO_SMALL);
	r = hsm_ck(rv, "C_GetSlotList");
	if (r < 0)
		goto out;
	*ret = slots;
	*ret_n = n;
	slots = NULL;
	r = 0;
out:
	free(slots);
	return r;
}

/*
 * With @padded, the slot of the initialised token with that padded label; without, the
 * first slot whose token is not initialised. -ENODEV if there is none.
 */
static int find_slot(CK_FUNCTION_LIST *p11, const CK_UTF8CHAR *padded, CK_SLOT_ID *ret)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	int r;

	r = slot_list(p11, padded ? CK_TRUE : CK_FALSE, &slots, &n);
	if (r < 0)
		return r;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;
		int initialised;

		if (hsm_logged(p11->C_GetTokenInfo(slots[i], &info), "C_GetTokenInfo") != CKR_OK)
			continue;
		initialised = (info.flags & CKF_TOKEN_INITIALIZED) != 0;
		if (padded ? initialised && memcmp(info.label, padded, HSM_TOKEN_LABEL_MAX) == 0
			   : !initialised) {
			*ret = slots[i];
			r = 0;
			goto out;
		}
	}
	r = -ENODEV;
out:
	free(slots);
	return r;
}

int hsm_find_token(CK_FUNCTION_LIST *p11, const CK_UTF8CHAR *padded, CK_SLOT_ID *ret)
{
	return find_slot(p11, padded, ret);
}

static int find_free_slot(CK_FUNCTION_LIST *p11, CK_SLOT_ID *ret)
{
	return find_slot(p11, NULL, ret);
}

int hsm_token_create(const char *module, const char *label, const struct secbuf *so_pin,
		     const struct secbuf *user_pin)
{
	CK_UTF8CHAR padded[HSM_TOKEN_LABEL_MAX];
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	struct lib l = { 0 };
	CK_SLOT_ID slot;
	int r;

	if (!label || !*label || strlen(label) > HSM_TOKEN_LABEL_MAX)
		return -EINVAL;
	pad_label(label, padded);
	r = lib_load(module, &l);
	if (r < 0)
		return r;
	/* Two tokens with one label would leave hsm_open to pick one of them. */
	r = hsm_find_token(l.p11, padded, &slot);
	if (r == 0) {
		r = -EEXIST;
		goto out;
	}
	if (r != -ENODEV)
		goto out;
	r = find_free_slot(l.p11, &slot);
	if (r < 0)
		goto out;
	r = hsm_ck(l.p11->C_InitToken(slot, so_pin->data, so_pin->len, padded), "C_InitToken");
	if (r < 0) {
		/* the token refused the PIN we offered it: a bad argument, not a wrong PIN */
		r = r == -EACCES ? -EINVAL : r;
		goto out;
	}
	/* SoftHSM2 moves an initialised token to a new slot id: find it again by label. */
	r = hsm_find_token(l.p11, padded, &slot);
	if (r < 0) {
		r = r == -ENODEV ? -EIO : r;
		goto out;
	}
	r = hsm_ck(l.p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
		   "C_OpenSession");
	if (r < 0)
		goto out;
	r = hsm_ck(l.p11->C_Login(s, CKU_SO, so_pin->data, so_pin->len), "C_Login");
	if (r < 0)
		goto out;
	r = hsm_ck(l.p11->C_InitPIN(s, user_pin->data, user_pin->len), "C_InitPIN");
	(void)hsm_ck(l.p11->C_Logout(s), "C_Logout");
	if (r < 0) {
		r = r == -EACCES ? -EINVAL : r;
		goto out;
	}
	r = 0;
out:
	if (s != CK_INVALID_HANDLE)
		(void)hsm_ck(l.p11->C_CloseSession(s), "C_CloseSession");
	lib_unload(&l);
	return r;
}

/* A thread's exit: its session goes with it. */
static void thread_session_close(void *p)
{
	struct thread_session *ts = p;
	struct hsm *h = ts->h;
	struct thread_session **pp;

	/* not inside a call, but a reopen must not finalise the module under this one */
	pthread_rwlock_rdlock(&h->use);
	pthread_mutex_lock(&h->lock);
	for (pp = &h->sessions; *pp != ts; pp = &(*pp)->next)
		if (!*pp)
			abort();
	*pp = ts->next;
	if (ts->session != CK_INVALID_HANDLE)
		(void)hsm_ck(h->lib.p11->C_CloseSession(ts->session), "C_CloseSession");
	pthread_mutex_unlock(&h->lock);
	pthread_rwlock_unlock(&h->use);
	free(ts);
}

int hsm_login(struct hsm *h)
{
	CK_RV rv;
	int r;

	r = hsm_ck(h->lib.p11->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
					     NULL, &h->anchor),
		   "C_OpenSession");
	if (r < 0) {
		h->anchor = CK_INVALID_HANDLE;
		return r;
	}
	/* Login state is per token and process: another handle may have logged in already
	 * (SoftHSM2 then answers CKR_USER_ALREADY_LOGGED_IN without looking at the PIN). */
	rv = hsm_logged(h->lib.p11->C_Login(h->anchor, CKU_USER, h->pin->data, h->pin->len),
			"C_Login");
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return hsm_errno(rv);
	return 0;
}

uint64_t hsm_serial_next(void)
{
	return atomic_fetch_add(&serials, 1) + 1;
}

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
	pad_label(label, h->padded);
	pthread_mutex_init(&h->lock, NULL);
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&h->use, &attr);
	pthread_rwlockattr_destroy(&attr);
	h->anchor = CK_INVALID_HANDLE;
	h->serial = hsm_serial_next();
	r = secbuf_from(pin->data, pin->len, &h->pin);
	if (r < 0)
		goto out;
	r = lib_load(module, &h->lib);
	if (r < 0)
		goto out;
	r = hsm_find_token(h->lib.p11, h->padded, &h->slot);
	if (r < 0)
		goto out;
	r = hsm_login(h);
	if (r < 0)
		goto out;
	r = -pthread_key_create(&h->key, thread_session_close);
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
	lib_unload(&h->lib);
	secbuf_free(h->pin);
	pthread_rwlock_destroy(&h->use);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void hsm_session_reset(struct hsm *h)
{
	struct thread_session *ts = pthread_getspecific(h->key);
	struct thread_session **pp;

	if (!ts)
		return;
	hsm_enter(h);
	(void)pthread_setspecific(h->key, NULL);
	pthread_mutex_lock(&h->lock);
	for (pp = &h->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == ts) {
			*pp = ts->next;
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (ts->session != CK_INVALID_HANDLE)
		(void)hsm_ck(h->lib.p11->C_CloseSession(ts->session), "C_CloseSession");
	hsm_leave(h);
	free(ts);
}

void hsm_material_destroy(struct hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	CK_RV rv;

	if (o == CK_INVALID_HANDLE)
		return;
	hsm_enter(h);
	rv = hsm_logged(h->lib.p11->C_DestroyObject(s, o), "C_DestroyObject");
	hsm_leave(h);
	if (rv == CKR_OK)
		return;
	log_warn("PKCS#11 C_DestroyObject of key material failed (CKR 0x%08lx): closing the "
		 "session that holds it",
		 (unsigned long)rv);
	hsm_session_reset(h);
}

uint64_t hsm_serial(const struct hsm *h)
{
	return h->serial;
}

CK_FUNCTION_LIST *hsm_functions(struct hsm *h)
{
	return h->lib.p11;
}

int hsm_session(struct hsm *h, CK_SESSION_HANDLE *ret)
{
	struct thread_session *ts = pthread_getspecific(h->key);
	int r;

	if (ts && ts->session != CK_INVALID_HANDLE) {
		*ret = ts->session;
		return 0;
	}
	if (ts) { /* hsm_reopen dropped it with the module's old state */
		r = hsm_ck(h->lib.p11->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
						     NULL, NULL, &ts->session),
			   "C_OpenSession");
		if (r < 0) {
			ts->session = CK_INVALID_HANDLE;
			return r;
		}
		*ret = ts->session;
		return 0;
	}
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	ts->h = h;
	ts->session = CK_INVALID_HANDLE;
	r = hsm_ck(h->lib.p11->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
					     NULL, &ts->session),
		   "C_OpenSession");
	if (r < 0)
		goto out;
	r = -pthread_setspecific(h->key, ts);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&h->lock);
	ts->next = h->sessions;
	h->sessions = ts;
	pthread_mutex_unlock(&h->lock);
	*ret = ts->session;
	ts = NULL;
	r = 0;
out:
	if (ts && ts->session != CK_INVALID_HANDLE)
		(void)hsm_ck(h->lib.p11->C_CloseSession(ts->session), "C_CloseSession");
	free(ts);
	return r;
}

int hsm_find_label(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE found[2];
	CK_SESSION_HANDLE s;
	CK_ULONG n = 0;
	int r, r_final;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = hsm_ck(h->lib.p11->C_FindObjectsInit(s, tmpl, ARRAY_SIZE(tmpl)), "C_FindObjectsInit");
	if (r < 0)
		return r;
	r = hsm_ck(h->lib.p11->C_FindObjects(s, found, ARRAY_SIZE(found), &n), "C_FindObjects");
	/* always ended: a search left active would fail the session's next one */
	r_final = hsm_ck(h->lib.p11->C_FindObjectsFinal(s), "C_FindObjectsFinal");
	if (r < 0)
		return r;
	if (r_final < 0)
		return r_final;
	if (n == 0)
		return -ENOKEY;
	if (n > 1)
		return -ENOTUNIQ;
	*ret = found[0];
	return 0;
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
	a.pValue = b->data;
	a.ulValueLen = b->cap;
	r = hsm_ck(p11->C_GetAttributeValue(s, key, &a, 1), "C_GetAttributeValue");
	if (r < 0)
		goto out;
	if (a.ulValueLen != KEY_LEN) {
		r = -EBADMSG;
		goto out;
	}
	b->len = KEY_LEN;
	secbuf_check(b);
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

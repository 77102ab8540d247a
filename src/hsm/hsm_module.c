/*
 * hsm_module: the PKCS#11 module itself — loaded with dlopen, initialised once per process
 * with CKF_OS_LOCKING_OK (SoftHSM2 does no locking of its own without it) and shared by
 * every handle on it, the last of which finalises it, and only if we initialised it —
 * its slots and tokens, and the translation of every CK_RV into an errno (the native code
 * goes to the debug log, once, with the function's name). A return value that says the
 * token is gone is noted for the calling thread, for hsm_use.c to mark the handle lost.
 *
 * It must never log or copy a PIN: a PIN goes from its secbuf to the module.
 */
#include "hsm.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "hsm_internal.h"
#include "log.h"

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct module *modules; /* protected by modules_lock */

static atomic_uint_fast64_t serials;

/* Whether a call of the calling thread saw the token gone (hsm_gone_take). */
static __thread int gone;

int hsm_gone_take(void)
{
	int was = gone;

	gone = 0;
	return was;
}

void hsm_note_gone(void)
{
	gone = 1;
}

void hsm_named_refused(CK_RV rv)
{
	switch (rv) {
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_WRAPPING_KEY_HANDLE_INVALID:
	case CKR_UNWRAPPING_KEY_HANDLE_INVALID:
		gone = 1;
		break;
	default:
		break;
	}
}

int hsm_named_ck(CK_RV rv, const char *fn)
{
	hsm_named_refused(rv);
	return hsm_ck(rv, fn);
}

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
	if (rv != CKR_OK) {
		log_debug("PKCS#11 %s: CKR 0x%08lx", fn, (unsigned long)rv);
		counters_add(COUNTER_TOKEN_ERRORS, 1);
	}
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

int hsm_lib_load(const char *path, struct lib *ret)
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

void hsm_lib_unload(struct lib *l)
{
	if (l->mod)
		module_put(l->mod);
	if (l->dl)
		dlclose(l->dl);
	memset(l, 0, sizeof(*l));
}

/* @label must be at most HSM_TOKEN_LABEL_MAX bytes. */
void hsm_pad_label(const char *label, CK_UTF8CHAR out[HSM_TOKEN_LABEL_MAX])
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
	hsm_pad_label(label, padded);
	r = hsm_lib_load(module, &l);
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
	/* PKCS#11 takes PINs without const; the module only reads them */
	r = hsm_ck(l.p11->C_InitToken(slot, (CK_UTF8CHAR_PTR)secbuf_data(so_pin),
				      secbuf_len(so_pin), padded),
		   "C_InitToken");
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
	r = hsm_ck(
		l.p11->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)secbuf_data(so_pin), secbuf_len(so_pin)),
		"C_Login");
	if (r < 0)
		goto out;
	r = hsm_ck(
		l.p11->C_InitPIN(s, (CK_UTF8CHAR_PTR)secbuf_data(user_pin), secbuf_len(user_pin)),
		"C_InitPIN");
	(void)hsm_ck(l.p11->C_Logout(s), "C_Logout");
	if (r < 0) {
		r = r == -EACCES ? -EINVAL : r;
		goto out;
	}
	r = 0;
out:
	if (s != CK_INVALID_HANDLE)
		(void)hsm_ck(l.p11->C_CloseSession(s), "C_CloseSession");
	hsm_lib_unload(&l);
	return r;
}

uint64_t hsm_serial_next(void)
{
	return atomic_fetch_add(&serials, 1) + 1;
}

/*
 * hsm_session: the sessions of a handle — the anchor that holds the login for the
 * handle's life (closing a token's last session logs it out), and one session per thread,
 * opened at its first call, opened again after hsm_reopen, closed when the thread exits —
 * and finding a key by its label in them.
 *
 * It must never log or copy a PIN: a PIN goes from its secbuf to the module.
 */
#include "hsm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_internal.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A thread's exit: its session goes with it. */
void hsm_thread_session_close(void *p)
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
	rv = hsm_logged(h->lib.p11->C_Login(h->anchor, CKU_USER,
					    (CK_UTF8CHAR_PTR)secbuf_data(h->pin),
					    secbuf_len(h->pin)),
			"C_Login");
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return hsm_errno(rv);
	return 0;
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
	/* Closing the session destroys its objects: done either way, nothing for a caller to
	 * decide, so the token's code goes to the debug log only. */
	log_debug("PKCS#11 C_DestroyObject of key material failed (CKR 0x%08lx): closing the "
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

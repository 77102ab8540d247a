/*
 * hsm_reopen: a token that went away and came back is used again without a restart.
 *
 * SoftHSM2 marks a token whose directory disappeared as absent for the rest of the
 * module's life, even once the directory is back; only a new C_Initialize reads it again.
 * So every call on the token is bracketed (hsm_enter/hsm_leave: a read lock, taken once
 * per thread however calls nest), and hsm_reopen takes the lock for writing, finalises and
 * initialises the module, logs in again and finds the vault's named keys by their labels.
 * Named keys are what the vault holds for its life (the key-encryption key, the trail's
 * keys): their handles are indexes into a table here, not the module's handles, so that
 * they stay good across a reopen. This file must never be the one to decide that a reopen
 * is due — that is the daemon's — nor log anything but debug lines.
 */
#include "hsm_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* The handle the calling thread is inside, how deeply, and whether a call saw the token
 * gone meanwhile. Calls nest (hsm_datakey_new wraps with hsm_wrap), and a read lock
 * taken twice by one thread deadlocks behind a waiting writer. */
static __thread struct hsm *entered;
static __thread unsigned depth;
static __thread int gone;

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

void hsm_enter(struct hsm *h)
{
	if (entered == h) {
		depth++;
		return;
	}
	pthread_rwlock_rdlock(&h->use);
	if (!entered) {
		entered = h;
		depth = 1;
		gone = 0;
	}
}

void hsm_leave(struct hsm *h)
{
	if (entered == h) {
		if (--depth > 0)
			return;
		entered = NULL;
		if (gone)
			atomic_store(&h->lost, 1);
		gone = 0;
	}
	pthread_rwlock_unlock(&h->use);
}

void hsm_hold(struct hsm *h)
{
	hsm_enter(h);
}

void hsm_release(struct hsm *h)
{
	hsm_leave(h);
}

int hsm_lost(struct hsm *h)
{
	return atomic_load(&h->lost);
}

/* Handles are 1 + the index: 0 stays CK_INVALID_HANDLE. */
int hsm_named_add(struct hsm *h, const char *label, CK_OBJECT_HANDLE o, CK_OBJECT_HANDLE *ret)
{
	unsigned i;
	int r;

	if (strlen(label) >= HSM_LABEL_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->n_named; i++)
		if (strcmp(h->named[i].label, label) == 0)
			break;
	if (i == h->n_named) {
		if (i == HSM_NAMED_MAX) {
			r = -ENOSPC; /* a handful of keys per vault: a caller's bug */
			goto out;
		}
		strcpy(h->named[i].label, label);
		h->n_named++;
	}
	h->named[i].o = o;
	*ret = i + 1;
	r = 0;
out:
	pthread_mutex_unlock(&h->lock);
	return r;
}

int hsm_named_object(struct hsm *h, CK_OBJECT_HANDLE k, CK_OBJECT_HANDLE *ret)
{
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	int known;

	pthread_mutex_lock(&h->lock);
	known = k >= 1 && k <= h->n_named;
	if (known)
		o = h->named[k - 1].o;
	pthread_mutex_unlock(&h->lock);
	if (!known)
		return -ENOKEY;
	if (o == CK_INVALID_HANDLE) { /* a reopen did not find it: the token is not back */
		gone = 1;
		return -ENODEV;
	}
	*ret = o;
	return 0;
}

CK_OBJECT_HANDLE hsm_key_handle(struct hsm *h, CK_OBJECT_HANDLE key)
{
	CK_OBJECT_HANDLE o;

	return hsm_named_object(h, key, &o) == 0 ? o : CK_INVALID_HANDLE;
}

/* With h->use held for writing: no thread is in the module. */
static int restart(struct hsm *h)
{
	struct thread_session *ts;
	unsigned i;
	int r;

	/* Finalising closes every session: each thread opens a new one at its next call. */
	pthread_mutex_lock(&h->lock);
	for (ts = h->sessions; ts; ts = ts->next)
		ts->session = CK_INVALID_HANDLE;
	for (i = 0; i < h->n_named; i++)
		h->named[i].o = CK_INVALID_HANDLE;
	pthread_mutex_unlock(&h->lock);
	h->anchor = CK_INVALID_HANDLE;
	/* Handles cached under the old serial (users' keys) are found again. */
	atomic_store(&h->serial, hsm_serial_next());

	r = hsm_module_restart(&h->lib);
	if (r < 0)
		return r;
	r = hsm_find_token(h->lib.p11, h->padded, &h->slot);
	if (r < 0)
		return r;
	r = hsm_login(h);
	if (r < 0)
		return r;
	for (i = 0; i < h->n_named; i++) {
		CK_OBJECT_HANDLE o;

		r = hsm_find_label(h, h->named[i].label, &o);
		if (r < 0)
			return r == -ENOKEY ? -ENODEV : r; /* not the token we had */
		pthread_mutex_lock(&h->lock);
		h->named[i].o = o;
		pthread_mutex_unlock(&h->lock);
	}
	return 0;
}

int hsm_reopen(struct hsm *h, int wait_ms)
{
	struct timespec until;
	int r;

	if (entered == h)
		return -EDEADLK; /* the caller is inside a call on @h */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	r = -pthread_rwlock_timedwrlock(&h->use, &until);
	if (r < 0)
		return r;
	gone = 0;
	r = restart(h);
	if (r == 0 && gone)
		r = -ENODEV; /* a call of the restart found the token gone again */
	gone = 0;
	atomic_store(&h->lost, r < 0);
	pthread_rwlock_unlock(&h->use);
	return r;
}

/*
 * hsm_reopen: a token that went away and came back is used again without a restart.
 *
 * SoftHSM2 marks a token whose directory disappeared as absent for the rest of the
 * module's life, even once the directory is back; only a new C_Initialize reads it again.
 * Every call on the token holds the handle's use lock for reading (hsm_use.c); hsm_reopen
 * takes it for writing, finalises and initialises the module, logs in again and finds the
 * vault's named keys by their labels. This file must never be the one to decide that a
 * reopen is due — that is the daemon's — nor log anything but debug lines.
 */
#include "hsm.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "hsm_internal.h"

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

	if (hsm_entered(h))
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
	(void)hsm_gone_take();
	r = restart(h);
	if (hsm_gone_take() && r == 0)
		r = -ENODEV; /* a call of the restart found the token gone again */
	atomic_store(&h->lost, r < 0);
	pthread_rwlock_unlock(&h->use);
	return r;
}

/*
 * hsm_use: the bracket around every call on the token, and the vault's named keys.
 *
 * Every call holds the handle's use lock for reading (hsm_enter/hsm_leave: taken once per
 * thread however calls nest), so hsm_reopen, which takes it for writing, never finalises
 * the module under a call; a call that saw the token gone marks the handle lost on its
 * way out. Named keys are what the vault holds for its life (the key-encryption key, the
 * trail's keys): their handles are indexes into a table here, not the module's handles,
 * so that they stay good across a reopen. This file logs nothing.
 */
#include "hsm_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "counters.h"

/* The handle the calling thread is inside, and how deeply. Calls nest (hsm_datakey_new wraps with
 * hsm_wrap), and a read lock taken twice by one thread deadlocks behind a waiting writer. */
static __thread struct hsm *entered;
static __thread unsigned depth;

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
		(void)hsm_gone_take();
		counters_add(COUNTER_TOKEN_CALLS, 1); /* the daemon's metrics */
	}
}

void hsm_leave(struct hsm *h)
{
	if (entered == h) {
		if (--depth > 0)
			return;
		entered = NULL;
		if (hsm_gone_take())
			atomic_store(&h->lost, 1);
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
		hsm_note_gone();
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

int hsm_entered(const struct hsm *h)
{
	return entered == h;
}

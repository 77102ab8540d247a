/*
 * audit_epoch: the trail's epoch keys, made so that a slow token holds up no record.
 *
 * Each epoch key is an HMAC computed in the token, and a token call can stall for any
 * time (a busy HSM, a network HSM, a USB token being pulled). So the key for the next
 * epoch is derived before it is needed, outside every lock the writers take: by a thread
 * of its own in the daemon (audit_epochs_ahead), or, in a one-shot command, by the caller
 * before it takes the trail's lock. While the next key is late, writers go on with the
 * current one for up to a grace period past its second; after that they wait for it only
 * up to their deadline and then fail closed. A key is never used once the next is ready,
 * and a replaced key is wiped at once.
 */
#include "audit_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "timeutil.h"

#define EPOCH_US 1000000 /* a new epoch key every second that records are written */
#define RETRY_US 100000 /* after a token failure, the thread tries again this much later */

struct audit_epochs {
	struct hsm *hsm;
	CK_OBJECT_HANDLE key;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a key made, or one wanted: every waiter checks again */
	pthread_t thread;
	/* protected by lock: */
	int threaded; /* the thread runs */
	int stopping;
	int deriving; /* someone is in the token for the next key */
	int error; /* the last derivation's error, 0 once one succeeds */
	struct secbuf *next; /* made ahead, not used yet */
	uint8_t next_nonce[AUDIT_NONCE_LEN];
	/* The key in use: only audit_epochs_current() replaces it, and its caller serialises
	 * those calls, so the pointer it returns stays valid until its next call. */
	struct secbuf *cur;
	uint8_t cur_nonce[AUDIT_NONCE_LEN];
	int64_t cur_start; /* time_mono_us() when cur came into use */
};

static void deadline_ts(int64_t deadline_us, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_us / 1000000);
	ts->tv_nsec = (long)(deadline_us % 1000000) * 1000;
}

/* Under e->lock, which it drops while the token works: makes the next epoch's key. */
static int derive_next(struct audit_epochs *e)
{
	uint8_t nonce[AUDIT_NONCE_LEN];
	struct secbuf *k = NULL;
	int r;

	e->deriving = 1;
	pthread_mutex_unlock(&e->lock);
	r = crypto_random(nonce, sizeof(nonce));
	if (r >= 0)
		r = audit_epoch_key(e->hsm, e->key, nonce, &k);
	pthread_mutex_lock(&e->lock);
	e->deriving = 0;
	if (r >= 0) {
		secbuf_free(e->next);
		e->next = k;
		memcpy(e->next_nonce, nonce, sizeof(nonce));
	}
	e->error = r < 0 ? r : 0;
	pthread_cond_broadcast(&e->cond);
	return r;
}

static void *ahead_main(void *arg)
{
	struct audit_epochs *e = arg;
	struct timespec ts;

	pthread_mutex_lock(&e->lock);
	while (!e->stopping) {
		if (e->next) {
			pthread_cond_wait(&e->cond, &e->lock);
			continue;
		}
		if (derive_next(e) < 0 && !e->stopping) {
			/* a failing token: try again soon, without spinning on it */
			deadline_ts(time_mono_us() + RETRY_US, &ts);
			pthread_cond_timedwait(&e->cond, &e->lock, &ts);
		}
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int audit_epochs_new(struct hsm *hsm, CK_OBJECT_HANDLE key, struct audit_epochs **ret)
{
	struct audit_epochs *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;

	if (!e)
		return -ENOMEM;
	e->hsm = hsm;
	e->key = key;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cond, &ca);
	pthread_condattr_destroy(&ca);
	*ret = e;
	return 0;
}

void audit_epochs_retry(struct audit_epochs *e)
{
	pthread_mutex_lock(&e->lock);
	e->error = 0;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

int audit_epochs_ahead(struct audit_epochs *e)
{
	int r;

	pthread_mutex_lock(&e->lock);
	if (e->threaded) {
		pthread_mutex_unlock(&e->lock);
		return 0;
	}
	e->threaded = 1;
	r = -pthread_create(&e->thread, NULL, ahead_main, e);
	if (r < 0)
		e->threaded = 0;
	pthread_mutex_unlock(&e->lock);
	return r;
}

void audit_epochs_free(struct audit_epochs *e)
{
	if (!e)
		return;
	if (e->threaded) {
		/* a thread inside a stalled token call is waited for: it holds a session */
		pthread_mutex_lock(&e->lock);
		e->stopping = 1;
		pthread_cond_broadcast(&e->cond);
		pthread_mutex_unlock(&e->lock);
		pthread_join(e->thread, NULL);
	}
	secbuf_free(e->cur);
	secbuf_free(e->next);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int audit_epochs_current(struct audit_epochs *e, int64_t deadline, int64_t grace,
			 const struct secbuf **ret_key, uint8_t ret_nonce[AUDIT_NONCE_LEN])
{
	struct timespec ts;
	int r = 0;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		int64_t now = time_mono_us();

		if (e->cur && now - e->cur_start < EPOCH_US)
			break;
		if (e->next) {
			secbuf_free(e->cur);
			e->cur = e->next;
			e->next = NULL;
			memcpy(e->cur_nonce, e->next_nonce, AUDIT_NONCE_LEN);
			e->cur_start = now;
			pthread_cond_broadcast(&e->cond); /* the thread makes the one after */
			break;
		}
		if (e->threaded) {
			/* The next key is late: the token is slow or failing. */
			if (e->cur && now - e->cur_start < EPOCH_US + grace)
				break;
			if (e->error) {
				r = e->error;
				break;
			}
		} else if (!e->deriving) {
			r = derive_next(e);
			if (r < 0)
				break;
			continue;
		}
		if (now >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		deadline_ts(deadline, &ts);
		pthread_cond_timedwait(&e->cond, &e->lock, &ts);
	}
	if (r >= 0) {
		*ret_key = e->cur;
		memcpy(ret_nonce, e->cur_nonce, AUDIT_NONCE_LEN);
	}
	pthread_mutex_unlock(&e->lock);
	return r;
}

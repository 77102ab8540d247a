/*
 * daemon: what the mount daemon (mount.c) runs beside its session — its own records in
 * the trail, and the flusher, the thread that every second flushes the trail and moves
 * the vault's record of its head along, reopens the logs after SIGHUP, and opens the token
 * again once it is back; and the lifetimer, the thread of the lifetime engine. It calls
 * nothing of mount.c.
 */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "service.h"
#include "timeutil.h"
#include "vault_lifetime.h"

void daemon_record(struct vault *vault, const char *op, const char *path, int result,
		   const char *detail)
{
	char exe[PATH_MAX], cgroup[PATH_MAX];
	struct audit_event ev;

	vault_admin_event(&ev, op, exe, sizeof(exe), cgroup, sizeof(cgroup));
	ev.rule = NULL;
	ev.path = path;
	ev.result = result;
	ev.detail = detail;
	if (vault_record(vault, &ev) < 0)
		log_error("Failed to record \"%s\" in the audit trail", op);
}

static volatile sig_atomic_t reopen_requested;

void daemon_on_hup(int sig)
{
	(void)sig;
	reopen_requested = 1; /* logrotate, or systemctl reload: the flusher does it */
}

/*
 * A token that went away (its directory moved, the device pulled) fails every operation
 * closed; once it is back, the flusher opens it again, so the fault clears without a
 * remount. Said once in the log when it goes, once when it is back, and recorded then.
 */
static void token_check(struct flusher *f)
{
	char msg[128];
	int r;

	r = vault_token_recover(f->vault);
	if (r < 0 && !f->token_lost_since) {
		f->token_lost_since = time_mono_us();
		metrics_token_lost();
		log_warn("The token is gone (%s): every operation fails until it is back",
			 strerror(-r));
	} else if (r > 0) {
		snprintf(msg, sizeof(msg), "the token is back after %.1f s and was opened again",
			 f->token_lost_since ? (time_mono_us() - f->token_lost_since) / 1e6 : 0.0);
		log_info("The token is back: opened again");
		f->token_lost_since = 0;
		metrics_token_back();
		daemon_record(f->vault, "token-reopen", NULL, 0, msg);
	}
}

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	struct timespec t;
	int64_t t0;
	int r;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += 1;
		pthread_cond_timedwait(&f->cond, &f->lock, &t);
		pthread_mutex_unlock(&f->lock);
		if (reopen_requested) {
			reopen_requested = 0;
			service_reloading();
			r = log_reopen();
			if (r < 0)
				log_error("Failed to reopen vaultfs.log in \"%s\" (logging on to "
					  "the old file): %s",
					  f->vault->dir, strerror(-r));
			audit_reopen(f->vault->audit);
			log_info("Reopened %sthe audit trail (SIGHUP)",
				 r > 0 ? "vaultfs.log and " : "");
			/* after the trail: the reload's record goes into the new file */
			if (f->reload)
				f->reload(f->reload_data);
			service_reloaded();
		}
		token_check(f);
		t0 = time_mono_us();
		r = vault_audit_flush(f->vault);
		metrics_audit_flushed(r, time_mono_us() - t0);
		if (r < 0)
			token_check(f); /* a flush is often the first to find the token gone */
		if (r < 0 && !f->token_lost_since)
			log_error("Failed to flush the audit trail: %s", strerror(-r));
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int flusher_start(struct flusher *f, struct vault *vault, void (*reload)(void *), void *reload_data)
{
	pthread_condattr_t ca;
	int r;

	f->vault = vault;
	f->reload = reload;
	f->reload_data = reload_data;
	f->stop = 0;
	f->token_lost_since = 0;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = -pthread_create(&f->thread, NULL, flusher_main, f);
	if (r < 0) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
	}
	return r;
}

void flusher_stop(struct flusher *f)
{
	pthread_mutex_lock(&f->lock);
	f->stop = 1;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	if (vault_audit_flush(f->vault) < 0)
		log_error("Failed to flush the audit trail at exit");
}

static void lifetime_once(struct lifetimer *l)
{
	struct vault_lifetime_counts c = { 0 };
	int r = vault_lifetime_run(l->vault, time_now_us(), &c);

	if (r < 0 || c.rotated || c.warned || c.failed)
		log_info("Lifetime check: %u key(s) rotated, %u expiry warning(s), %u failure(s)%s",
			 c.rotated, c.warned, c.failed, r < 0 ? " (a check could not run)" : "");
}

static void *lifetimer_main(void *arg)
{
	struct lifetimer *l = arg;
	struct timespec deadline;

	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		pthread_mutex_unlock(&l->lock);
		lifetime_once(l);
		/* the next run counts from this one's end: a slow run is never run twice over */
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += l->vault->cfg->lifetime_interval;
		pthread_mutex_lock(&l->lock);
		/* an absolute deadline: a spurious wakeup sleeps on to the same instant */
		while (!l->stop &&
		       pthread_cond_timedwait(&l->cond, &l->lock, &deadline) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int lifetimer_start(struct lifetimer *l, struct vault *vault)
{
	pthread_condattr_t ca;
	int r;

	l->vault = vault;
	l->stop = 0;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = -pthread_create(&l->thread, NULL, lifetimer_main, l);
	if (r < 0) {
		pthread_cond_destroy(&l->cond);
		pthread_mutex_destroy(&l->lock);
	}
	return r;
}

void lifetimer_stop(struct lifetimer *l)
{
	pthread_mutex_lock(&l->lock);
	l->stop = 1;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
}

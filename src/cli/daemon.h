/*
 * daemon: the mount daemon's work beside its session (daemon.c): its own records in the
 * trail, the flusher thread and the lifetime thread. Used by mount.c alone.
 */
#ifndef VAULTFS_DAEMON_H
#define VAULTFS_DAEMON_H

#include <pthread.h>
#include <stdint.h>

#include "vault.h"

/* A record of the daemon's own doing: mount, unmount, policy reloads, undoing a mount over
 * the vault (at @path, or NULL), the token's return; a record that cannot be written is
 * said in the log. */
void daemon_record(struct vault *vault, const char *op, const char *path, int result,
		   const char *detail);

/* Flushes the trail every second and moves the vault's record of its head along. */
struct flusher {
	struct vault *vault;
	void (*reload)(void *); /* after SIGHUP's reopening: reads the policy again */
	void *reload_data;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop; /* protected by lock */
	int64_t token_lost_since; /* time_mono_us() the token was found gone; 0: it is here */
};

/* Starts the flusher of @vault, calling @reload(@reload_data) after each SIGHUP's
 * reopening (systemctl reload: under systemd, between RELOADING=1 and READY=1): 0, or
 * -errno (no thread). */
int flusher_start(struct flusher *f, struct vault *vault, void (*reload)(void *),
		  void *reload_data);

/* Stops it, and flushes the trail a last time. */
void flusher_stop(struct flusher *f);

/* Runs the vault's lifetime engine (vault_lifetime_run) at once and then every [lifetime]
 * interval, on a thread of its own that sleeps until its next deadline or its stop. */
struct lifetimer {
	struct vault *vault;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	int stop; /* protected by lock */
};

/* Starts it: 0, or -errno (no thread). */
int lifetimer_start(struct lifetimer *l, struct vault *vault);

/* Stops it at once, waiting for a run in progress to end. */
void lifetimer_stop(struct lifetimer *l);

/* SIGHUP's handler (async-signal-safe): the flusher reopens vaultfs.log and the trail at
 * its next round, as logrotate expects, and reads the policy again (systemctl reload). */
void daemon_on_hup(int sig);

#endif

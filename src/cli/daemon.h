/*
 * daemon: the mount daemon's work beside its session (daemon.c): its own records in the
 * trail, and the flusher thread. Used by mount.c alone.
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
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop; /* protected by lock */
	int64_t token_lost_since; /* time_mono_us() the token was found gone; 0: it is here */
};

/* Starts the flusher of @vault: 0, or -errno (no thread). */
int flusher_start(struct flusher *f, struct vault *vault);

/* Stops it, and flushes the trail a last time. */
void flusher_stop(struct flusher *f);

/* SIGHUP's handler (async-signal-safe): the flusher reopens vaultfs.log and the trail at
 * its next round, as logrotate expects. */
void daemon_on_hup(int sig);

#endif

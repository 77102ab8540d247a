/*
 * mountwatch: ends the daemon's FUSE connection once the daemon's own mount is gone.
 *
 * An unmount removes one mount of a filesystem; the filesystem, and with it the FUSE
 * connection, lives on while anything else holds it: a container's bind mount of the
 * mount point (made by the container runtime in the container's own mount namespace,
 * where no unmount on the host reaches it); after a lazy unmount, a process whose working
 * directory or open file is in the mount or in a container's copy of it. The daemon went
 * on serving those, unseen, and kept its lock on the vault, so that the next mount of the
 * vault was refused. So a thread waits for the daemon's mount table to change (POLLPRI on
 * /proc/self/mountinfo) and looks the daemon's mount up there, by mount ID and device, so
 * that a new mount that was given a freed ID is not taken for it.
 * Once it is gone the connection gets a second to end by itself, which it does at once
 * when nothing else held it (the device then polls POLLERR, and the loop ends as on any
 * unmount). If it lives on, the watch ends the loop and aborts the connection through the
 * fusectl filesystem (/sys/fs/fuse/connections/N/abort), so that every copy answers
 * ENOTCONN at once; where it cannot (a user's daemon where fusectl is not mounted), the
 * connection ends when the daemon closes its device on the way out, a moment later.
 *
 * It never reaches the mount itself: the table is read from procfs, and the device is only
 * polled. It must never end a connection whose mount is still in the daemon's namespace,
 * nor act on the daemon's own unmount (it is stopped before that).
 */
#include "mountwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <unistd.h>

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>

#include "log.h"
#include "mountinfo.h"
#include "timeutil.h"

/* How long a connection whose mount is gone may take to end by itself. */
#define GRACE_MS 1000
/* A failed poll is tried again this soon. */
#define RETRY_MS 100
/*
 * Wakes the loop's thread out of libfuse's wait for its workers (a sem_wait, which a
 * handler installed without SA_RESTART interrupts). SIGURG: its default is to be ignored,
 * so a stray one does no harm, and nothing else in the daemon uses it.
 */
#define WAKE_SIGNAL SIGURG
/* Where systemd mounts the fusectl filesystem, and the daemon mounts its own if need be. */
#define FUSECTL "/sys/fs/fuse/connections"

struct mountwatch {
	struct fuse_session *se;
	pthread_t loop_thread; /* runs se's loop */
	int dev_fd; /* se's /dev/fuse descriptor: polled, never closed here */
	int mount_id; /* the daemon's mount, as the table and fdinfo name it */
	unsigned major, minor; /* its device: the FUSE connection's number */
	char mountpoint[PATH_MAX];
	int table_fd; /* /proc/self/mountinfo */
	int stop_fd; /* an eventfd: written to stop */
	pthread_t thread;
	int running;
	int ended; /* MOUNTWATCH_*: written by the watch's thread, read once it is joined */
};

static void on_wake(int sig)
{
	(void)sig; /* the interrupted wait looks at fuse_session_exited() again */
}

/* 1 when the daemon's mount is in its namespace's table, 0 when not, -errno when the table
 * cannot be read (which never counts as gone). */
static int mounted(struct mountwatch *w)
{
	const struct mountinfo_entry *e;
	struct mountinfo *m = NULL;
	int r;

	r = mountinfo_read(w->table_fd, &m);
	if (r < 0)
		return r;
	e = mountinfo_find(m, w->mount_id);
	r = e && e->major == w->major && e->minor == w->minor;
	mountinfo_free(m);
	return r;
}

/* Waits up to GRACE_MS for the connection to end by itself; 1 if it did, or if the watch is
 * being stopped (the loop is over, the daemon unwinds: nothing to do), else 0. */
static int ends_alone(struct mountwatch *w)
{
	struct pollfd pfd[2] = {
		{ .fd = w->dev_fd, .events = 0 }, /* POLLERR once the connection is gone */
		{ .fd = w->stop_fd, .events = POLLIN },
	};
	int64_t deadline = time_mono_us() + GRACE_MS * 1000LL, left;

	while ((left = deadline - time_mono_us()) > 0) {
		if (poll(pfd, 2, (int)((left + 999) / 1000)) < 0 && errno != EINTR)
			return 0;
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL) || pfd[1].revents)
			return 1;
	}
	return 0;
}

/* Writes to the connection's abort file in the fusectl mounted on FUSECTL, as the calling
 * thread sees it. Returns 0, or -errno (-ENOENT: no fusectl there). */
static int write_abort(const struct mountwatch *w)
{
	char path[64];
	int fd, r = 0;

	/* named by its superblock's device number as the kernel prints it, (major << 20) |
	 * minor; a FUSE mount's major is 0 */
	snprintf(path, sizeof(path), FUSECTL "/%u/abort", (w->major << 20) | w->minor);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Aborts the connection: its requests fail at once, the copies answer ENOTCONN. Through
 * the fusectl that systemd mounts, where it is there and writable (its files are the
 * mounting user's); else through one the daemon mounts (as root) in a mount namespace of
 * this thread's own, made private first so that nothing done there reaches any other, and
 * which goes away with the thread. Returns 0, or the -errno of the last way tried.
 */
static int abort_connection(const struct mountwatch *w)
{
	int r = write_abort(w);

	if (r == 0)
		return 0;
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("fusectl", FUSECTL, "fusectl", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -errno;
	return write_abort(w);
}

/* The mount is gone and its connection lives on: ends the loop and the connection. */
static void end_connection(struct mountwatch *w)
{
	int r;

	log_warn("the mount on \"%s\" was unmounted, but copies of it elsewhere (a container's "
		 "bind mount, a file open in a lazily unmounted mount) still reach the vault: "
		 "ending the connection, so that they answer ENOTCONN",
		 w->mountpoint);
	/* first, so that the workers the abort wakes leave quietly, as on an unmount */
	fuse_session_exit(w->se);
	r = abort_connection(w);
	if (r < 0)
		log_info("cannot abort the connection through " FUSECTL " (%s): it ends when the "
			 "daemon closes its device, once it has stopped",
			 strerror(-r));
	/* Unaborted, libfuse's unmount by path would find the device still connected and, as
	 * root, detach whatever is on the mount point now; a user's goes through fusermount3,
	 * which unmounts only a FUSE mount of that user's. */
	w->ended = r < 0 && geteuid() == 0 ? MOUNTWATCH_ENDED_KEEP : MOUNTWATCH_ENDED;
	pthread_kill(w->loop_thread, WAKE_SIGNAL);
}

static void *watch_main(void *arg)
{
	struct mountwatch *w = arg;
	struct pollfd pfd[2] = {
		{ .fd = w->table_fd, .events = POLLPRI },
		{ .fd = w->stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (mounted(w) == 0) {
			if (!ends_alone(w))
				end_connection(w);
			break;
		}
		/* the table changes on every mount and unmount in the namespace; each is one
		 * read of it */
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			poll(NULL, 0, RETRY_MS);
		if (pfd[1].revents)
			break;
	}
	return NULL;
}

int mountwatch_start(struct fuse_session *se, const char *mountpoint, struct mountwatch **ret)
{
	const struct mountinfo_entry *e;
	struct mountinfo *m = NULL;
	struct mountwatch *w = calloc(1, sizeof(*w));
	struct sigaction sa = { .sa_handler = on_wake }; /* no SA_RESTART */
	int r;

	if (!w)
		return -ENOMEM;
	w->se = se;
	w->loop_thread = pthread_self();
	w->dev_fd = fuse_session_fd(se);
	w->table_fd = w->stop_fd = -1;
	if (strlen(mountpoint) >= sizeof(w->mountpoint)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	strcpy(w->mountpoint, mountpoint);
	/* the mount is made and does not serve yet: found without asking it anything */
	r = mountinfo_fuse_at(mountpoint, &w->table_fd, &m, &e);
	if (r < 0)
		goto out;
	w->mount_id = r;
	w->major = e->major;
	w->minor = e->minor;
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd < 0) {
		r = -errno;
		goto out;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(WAKE_SIGNAL, &sa, NULL) < 0) {
		r = -errno;
		goto out;
	}
	r = -pthread_create(&w->thread, NULL, watch_main, w);
	if (r < 0)
		goto out;
	w->running = 1;
	*ret = w;
	w = NULL;
	r = 0;
out:
	mountinfo_free(m);
	mountwatch_stop(w);
	return r;
}

int mountwatch_stop(struct mountwatch *w)
{
	uint64_t one = 1;
	int ended;

	if (!w)
		return MOUNTWATCH_NOTHING;
	if (w->running) {
		(void)!write(w->stop_fd, &one, sizeof(one));
		pthread_join(w->thread, NULL);
	}
	ended = w->ended;
	if (w->table_fd >= 0)
		close(w->table_fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	free(w);
	return ended;
}

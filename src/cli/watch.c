/*
 * watch: an inotify thread on the policy file's directory, stopped through an eventfd.
 */
#include "watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

struct policy_watch {
	int ino_fd, stop_fd;
	char *name;
	void (*changed)(void *userdata);
	void *userdata;
	pthread_t thread;
};

/* Reads the pending events; returns 1 if one names the watched file. */
static int drain(struct policy_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;

	for (;;) {
		ssize_t n = read(w->ino_fd, buf, sizeof(buf));

		if (n <= 0)
			return hit;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if ((e->len && strcmp(e->name, w->name) == 0) || (e->mask & IN_Q_OVERFLOW))
				hit = 1;
			p += sizeof(*e) + e->len;
		}
	}
}

static void *run(void *arg)
{
	struct policy_watch *w = arg;
	struct pollfd fds[2] = { { .fd = w->ino_fd, .events = POLLIN },
				 { .fd = w->stop_fd, .events = POLLIN } };
	int pending = 0;

	for (;;) {
		int r = poll(fds, 2, pending ? 100 : -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (fds[1].revents & POLLIN))
			break;
		if (r == 0) { /* quiet for 100 ms after a change: act on it once */
			pending = 0;
			w->changed(w->userdata);
			continue;
		}
		if (fds[0].revents & POLLIN)
			pending |= drain(w);
	}
	return NULL;
}

int policy_watch_start(const char *dir, const char *name, void (*changed)(void *userdata),
		       void *userdata, struct policy_watch **ret)
{
	struct policy_watch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	w->name = strdup(name);
	w->changed = changed;
	w->userdata = userdata;
	if (w->ino_fd < 0 || w->stop_fd < 0 || !w->name) {
		r = w->name ? -errno : -ENOMEM;
		goto fail;
	}
	if (inotify_add_watch(w->ino_fd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
				      IN_ATTRIB) < 0) {
		r = -errno;
		goto fail;
	}
	r = -pthread_create(&w->thread, NULL, run, w);
	if (r < 0)
		goto fail;
	*ret = w;
	return 0;
fail:
	if (w->ino_fd >= 0)
		close(w->ino_fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	free(w->name);
	free(w);
	return r;
}

void policy_watch_stop(struct policy_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	(void)!write(w->stop_fd, &one, sizeof(one));
	pthread_join(w->thread, NULL);
	close(w->ino_fd);
	close(w->stop_fd);
	free(w->name);
	free(w);
}

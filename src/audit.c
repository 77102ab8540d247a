/*
 * audit: appending records to the trail (audit.h tells what the chain is).
 *
 * One mutex orders this process's appends; an flock on the file orders them with other
 * processes'. Under both, an append makes sure it writes to the file now named audit.log,
 * picks up the chain where another process left it, formats the record, MACs it, and
 * writes it with one write(2) — or, when that fails or falls short, cuts the file back to
 * where it was, so that a failed record is never half there. It must never write a record
 * whose bytes it did not MAC, and never return success for a record not wholly written.
 */
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_internal.h"
#include "crypto.h"
#include "fdio.h"
#include "log.h"
#include "timeutil.h"

#define EPOCH_US 1000000 /* a new epoch key every second that records are written */

struct audit {
	char *path;
	char *dir;
	struct hsm *hsm;
	CK_OBJECT_HANDLE key;
	struct audit_options opt;
	pthread_mutex_t lock;
	/* protected by lock: */
	int fd;
	dev_t dev;
	ino_t ino;
	off_t end; /* where this process believes the file ends; -1: not known */
	int need_marker; /* the file is new and the chain goes on: start it with audit-rotate */
	struct audit_head head;
	struct audit_head synced; /* the head when audit_sync last flushed */
	int dirty; /* written since the last audit_sync */
	struct secbuf *epoch_key;
	uint8_t nonce[AUDIT_NONCE_LEN];
	int64_t epoch_start;
	struct audit_hmac *hmac;
	char line[AUDIT_LINE_MAX];
};

/* Under a->lock, once per second of writing: a new epoch and its key. */
static int epoch_refresh(struct audit *a)
{
	int64_t now = time_now_us();
	uint8_t nonce[AUDIT_NONCE_LEN];
	struct secbuf *k = NULL;
	int r;

	if (a->epoch_key && now - a->epoch_start < EPOCH_US && now >= a->epoch_start)
		return 0;
	r = crypto_random(nonce, sizeof(nonce));
	if (r < 0)
		return r;
	r = audit_epoch_key(a->hsm, a->key, nonce, &k);
	if (r < 0)
		return r;
	secbuf_free(a->epoch_key);
	a->epoch_key = k;
	memcpy(a->nonce, nonce, sizeof(nonce));
	a->epoch_start = now;
	return 0;
}

/* The highest head found at the end of a rotated trail file, for a fresh audit.log. */
static void head_from_rotated(struct audit *a)
{
	char name[PATH_MAX];
	DIR *d = opendir(a->dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct audit_line l;
		off_t end;
		struct stat st;
		ssize_t n;
		int fd;

		if (!audit_is_trail_file(e->d_name) || strcmp(e->d_name, "audit.log") == 0)
			continue;
		snprintf(name, sizeof(name), "%s/%s", a->dir, e->d_name);
		fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			n = audit_last_line(fd, st.st_size, a->line, sizeof(a->line), &end);
			if (n > 0 && audit_line_parse(a->line, (size_t)n, &l) == 0 &&
			    l.seq > a->head.seq) {
				a->head.seq = l.seq;
				memcpy(a->head.mac, l.mac, AUDIT_MAC_LEN);
			}
		}
		close(fd);
	}
	closedir(d);
}

/*
 * Under a->lock and the file's flock: brings the head up to the file. Another process may
 * have appended (take its last record), logrotate may have truncated it (copytruncate), a
 * writer may have died mid-record (cut the torn line: its result was never returned).
 */
static int resync(struct audit *a, off_t size)
{
	struct audit_line l;
	off_t complete;
	ssize_t n;

	if (size == a->end)
		return 0;
	n = audit_last_line(a->fd, size, a->line, sizeof(a->line), &complete);
	if (n < 0)
		return n;
	if (complete < size) {
		log_warn("Cutting a torn record (%lld bytes) off the end of \"%s\"",
			 (long long)(size - complete), a->path);
		if (ftruncate(a->fd, complete) < 0)
			return -errno;
	}
	a->end = complete;
	if (n == 0) {
		/* an empty file: a fresh trail, or a new file after a rotation */
		if (a->head.seq == 0)
			head_from_rotated(a);
		a->need_marker = a->head.seq > 0;
		return 0;
	}
	if (audit_line_parse(a->line, (size_t)n, &l) < 0) {
		log_error("The last line of \"%s\" is not an audit record", a->path);
		return -EBADMSG;
	}
	/* Another writer's record continues the chain; never step back behind ours. */
	if (l.seq >= a->head.seq) {
		a->head.seq = l.seq;
		memcpy(a->head.mac, l.mac, AUDIT_MAC_LEN);
	}
	return 0;
}

static int open_file(struct audit *a)
{
	struct stat st;
	int fd;

	fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int r = S_ISREG(st.st_mode) ? -errno : -EINVAL;

		close(fd);
		return r;
	}
	if (a->fd >= 0)
		close(a->fd);
	a->fd = fd;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	a->end = -1;
	return 0;
}

/* Under a->lock: the file locked, current, and the head known. */
static int prepare(struct audit *a)
{
	struct stat st;
	int r;

	for (int tries = 0;; tries++) {
		if (a->fd < 0) {
			r = open_file(a);
			if (r < 0)
				return r;
		}
		if (flock(a->fd, LOCK_EX) < 0)
			return -errno;
		/* The name may have moved on to a new file while we waited (rotation). */
		if (stat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
			break;
		if (tries > 8)
			return -EIO;
		flock(a->fd, LOCK_UN);
		close(a->fd);
		a->fd = -1;
	}
	if (fstat(a->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	r = resync(a, st.st_size);
	if (r < 0)
		goto fail;
	r = epoch_refresh(a);
	if (r < 0)
		goto fail;
	return 0;
fail:
	flock(a->fd, LOCK_UN);
	return r;
}

/* Under a->lock and the flock: one record, MACed, wholly written or not at all. */
static int append_locked(struct audit *a, const struct audit_event *ev, const uint8_t *prev)
{
	uint8_t mac[AUDIT_MAC_LEN];
	char h[2 * AUDIT_MAC_LEN + 1];
	uint64_t seq = a->head.seq + 1;
	size_t len;
	int r;

	len = audit_format_body(a->line, sizeof(a->line), ev, seq, prev, a->nonce);
	r = audit_hmac(a->hmac, a->epoch_key, a->head.mac, a->line, len, mac);
	if (r < 0)
		return r;
	audit_hex(mac, AUDIT_MAC_LEN, h);
	memcpy(a->line + len, ",\"mac\":\"", 8);
	memcpy(a->line + len + 8, h, 2 * AUDIT_MAC_LEN);
	memcpy(a->line + len + 8 + 2 * AUDIT_MAC_LEN, "\"}\n", 3);
	len += 8 + 2 * AUDIT_MAC_LEN + 3;
	r = fd_write_all(a->fd, a->line, len);
	if (r < 0) {
		/* Leave no partial record: the next one must follow a whole line. */
		if (ftruncate(a->fd, a->end) < 0)
			a->end = -1;
		return r;
	}
	a->end += (off_t)len;
	a->head.seq = seq;
	memcpy(a->head.mac, mac, AUDIT_MAC_LEN);
	a->dirty = 1;
	return 0;
}

/* Under a->lock and the flock, after a record: moves a full file aside. The next append
 * finds the name gone to a new file and starts it with a rotation record. */
static void rotate_if_full(struct audit *a)
{
	char name[PATH_MAX];

	if (!a->opt.rotate_size || (uint64_t)a->end < a->opt.rotate_size)
		return;
	snprintf(name, sizeof(name), "%s-%012llu", a->path, (unsigned long long)a->head.seq);
	if (fdatasync(a->fd) < 0 || rename(a->path, name) < 0) {
		log_warn("Failed to rotate \"%s\": %s", a->path, strerror(errno));
		return;
	}
	log_info("Rotated \"%s\" to \"%s\"", a->path, name);
}

int audit_append(struct audit *a, const struct audit_event *ev, struct audit_head *ret_head)
{
	static const struct audit_event rotate = {
		.op = AUDIT_ROTATE_OP,
		.allow = 1,
	};
	int r;

	pthread_mutex_lock(&a->lock);
	r = prepare(a);
	if (r < 0)
		goto out;
	if (a->need_marker) {
		struct audit_event rot = rotate;
		uint8_t prev[AUDIT_MAC_LEN];

		rot.uid = getuid();
		rot.gid = getgid();
		rot.pid = getpid();
		memcpy(prev, a->head.mac, sizeof(prev));
		r = append_locked(a, &rot, prev);
		if (r >= 0)
			a->need_marker = 0;
	}
	if (r >= 0)
		r = append_locked(a, ev, NULL);
	if (r >= 0 && a->opt.sync_each && fdatasync(a->fd) < 0)
		r = -errno;
	if (r >= 0) {
		rotate_if_full(a);
		if (ret_head)
			*ret_head = a->head;
	}
	flock(a->fd, LOCK_UN);
out:
	pthread_mutex_unlock(&a->lock);
	if (r < 0) {
		log_error("Failed to write an audit record to \"%s\": %s", a->path, strerror(-r));
		return -EIO;
	}
	return 0;
}

int audit_sync(struct audit *a, struct audit_head *ret)
{
	struct audit_head head;
	int fd = -1, dirty, r = 0;

	pthread_mutex_lock(&a->lock);
	head = a->head;
	dirty = a->dirty;
	if (dirty && a->fd >= 0 && (fd = dup(a->fd)) < 0)
		r = -errno;
	a->dirty = 0;
	pthread_mutex_unlock(&a->lock);
	if (dirty) {
		/* outside the lock: appends go on while the disk catches up */
		if (fd >= 0 && fdatasync(fd) < 0)
			r = -errno;
		if (fd >= 0)
			close(fd);
		if (r < 0) {
			pthread_mutex_lock(&a->lock);
			a->dirty = 1;
			pthread_mutex_unlock(&a->lock);
			return r;
		}
		pthread_mutex_lock(&a->lock);
		a->synced = head;
		pthread_mutex_unlock(&a->lock);
	}
	*ret = head;
	return dirty;
}

void audit_set_sync_each(struct audit *a, int on)
{
	pthread_mutex_lock(&a->lock);
	a->opt.sync_each = on;
	pthread_mutex_unlock(&a->lock);
}

void audit_reopen(struct audit *a)
{
	pthread_mutex_lock(&a->lock);
	if (a->fd >= 0) {
		if (a->dirty && fdatasync(a->fd) == 0)
			a->dirty = 0;
		close(a->fd);
		a->fd = -1;
	}
	pthread_mutex_unlock(&a->lock);
}

void audit_key_label(const uint8_t *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", AUDIT_KEY_LABEL, id[0], id[1],
		 id[2], id[3], id[4], id[5], id[6], id[7]);
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0) {
		if (a->dirty)
			(void)fdatasync(a->fd);
		close(a->fd);
	}
	secbuf_free(a->epoch_key);
	audit_hmac_free(a->hmac);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a->dir);
	free(a);
}

int audit_open(const char *path, struct hsm *hsm, CK_OBJECT_HANDLE key,
	       const struct audit_options *opt, struct audit **ret)
{
	struct audit *a = calloc(1, sizeof(*a));
	char *slash;
	int r;

	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->fd = -1;
	a->end = -1;
	a->hsm = hsm;
	a->key = key;
	a->opt = *opt;
	a->path = strdup(path);
	a->dir = strdup(path);
	if (!a->path || !a->dir) {
		r = -ENOMEM;
		goto fail;
	}
	slash = strrchr(a->dir, '/');
	if (slash)
		*(slash == a->dir ? slash + 1 : slash) = '\0';
	else
		strcpy(a->dir, ".");
	r = audit_hmac_new(&a->hmac);
	if (r < 0)
		goto fail;
	/* Open and lock once now: an unwritable trail refuses to start, and a torn last
	 * record is cut before anyone reads the file. */
	r = open_file(a);
	if (r < 0)
		goto fail;
	if (flock(a->fd, LOCK_EX) < 0) {
		r = -errno;
		goto fail;
	}
	{
		struct stat st;

		r = fstat(a->fd, &st) < 0 ? -errno : resync(a, st.st_size);
	}
	flock(a->fd, LOCK_UN);
	if (r < 0)
		goto fail;
	a->synced = a->head;
	*ret = a;
	return 0;
fail:
	audit_free(a);
	return r;
}

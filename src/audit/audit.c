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

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "audit_internal.h"
#include "counters.h"
#include "fdio.h"
#include "log.h"
#include "timeutil.h"

struct audit {
	char *path;
	char *dir;
	struct hsm *hsm;
	CK_OBJECT_HANDLE key;
	struct audit_options opt;
	struct audit_epochs *epochs;
	pthread_mutex_t notify_lock;
	/* protected by notify_lock: */
	audit_notify_fn notify;
	void *notify_data;
	off_t torn_at_open; /* bytes audit_open cut (alone with it), until someone is told */
	pthread_mutex_t stall_lock;
	/* protected by stall_lock: records refused since the last one written */
	uint64_t refused;
	int64_t refused_since;
	pid_t holder; /* who held the file's lock then, if known */
	int why; /* enum stall: what the refused records waited for */
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
	const struct secbuf *epoch_key; /* from epochs: valid until the next append */
	uint8_t nonce[AUDIT_NONCE_LEN];
	struct audit_hmac *hmac;
	char line[AUDIT_LINE_MAX];
};

/* A record waits no longer than this for the file's lock or the next epoch key unless
 * the vault says otherwise ([audit] timeout_ms). */
#define TIMEOUT_MS_DEFAULT 3000
#define LOCK_PAUSE_MAX_US 10000 /* the longest pause between two tries of the lock */

static int64_t timeout_us(const struct audit *a)
{
	return (int64_t)(a->opt.timeout_ms ? a->opt.timeout_ms : TIMEOUT_MS_DEFAULT) * 1000;
}

/*
 * The file's exclusive lock, tried until @deadline (time_mono_us()): a process that holds
 * it stopped, or stalled on a slow disk, must not hold every writer with it. Short pauses,
 * growing, keep the added latency small when the lock is merely busy. -ETIMEDOUT past
 * the deadline.
 */
static int lock_file(int fd, int64_t deadline)
{
	int64_t pause = 50;

	for (;;) {
		int64_t left;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		left = deadline - time_mono_us();
		if (left <= 0)
			return -ETIMEDOUT;
		usleep((useconds_t)(pause < left ? pause : left));
		if (pause < LOCK_PAUSE_MAX_US)
			pause *= 2;
	}
}

static void notify(struct audit *a, enum audit_notice_kind kind, const char *detail,
		   long long value)
{
	struct audit_notice n = { kind, a->path, detail, value };

	pthread_mutex_lock(&a->notify_lock);
	if (a->notify)
		a->notify(a->notify_data, &n);
	pthread_mutex_unlock(&a->notify_lock);
}

void audit_set_notify(struct audit *a, audit_notify_fn fn, void *userdata)
{
	off_t torn;

	pthread_mutex_lock(&a->notify_lock);
	a->notify = fn;
	a->notify_data = userdata;
	torn = fn ? a->torn_at_open : 0;
	if (fn)
		a->torn_at_open = 0;
	pthread_mutex_unlock(&a->notify_lock);
	if (torn)
		notify(a, AUDIT_NOTICE_TORN, NULL, (long long)torn);
}

/* The pid that holds an flock on the file at @path, from /proc/locks; 0 if none. */
static pid_t lock_holder(const char *path)
{
	struct stat st;
	char line[256];
	pid_t pid = 0;
	FILE *f;

	if (stat(path, &st) < 0 || !(f = fopen("/proc/locks", "re")))
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		int holder;

		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%llu", &holder, &maj, &min, &ino) ==
			    4 &&
		    makedev(maj, min) == st.st_dev && ino == st.st_ino)
			pid = holder;
	}
	fclose(f);
	return pid;
}

/* What a record waited for in vain: another thread of this process (which waits for one of
 * the others), the file's lock, or the token's epoch key. */
enum stall { STALL_UNKNOWN, STALL_LOCK, STALL_KEY };
static const char *const stall_what[] = {
	[STALL_UNKNOWN] = "no lock or epoch key",
	[STALL_LOCK] = "no lock on the trail",
	[STALL_KEY] = "no epoch key from the token",
};

/*
 * A record refused because the lock or the token did not answer in time. Such a stall is
 * told once when it starts, and recorded in the trail by the first record written after
 * it (audit-stall), since none could be written during it.
 */
static void stall_note(struct audit *a, enum stall why)
{
	pid_t holder = why == STALL_LOCK ? lock_holder(a->path) : 0;
	int first, named = 0;

	if (holder == getpid()) /* this process itself, through another descriptor */
		holder = 0;
	pthread_mutex_lock(&a->stall_lock);
	first = a->refused++ == 0;
	if (first)
		a->refused_since = time_now_us();
	if (why != STALL_UNKNOWN)
		a->why = why;
	if (holder && !a->holder) {
		a->holder = holder;
		named = 1;
	}
	pthread_mutex_unlock(&a->stall_lock);
	if (first)
		notify(a, AUDIT_NOTICE_STALLED, stall_what[why], (long long)(timeout_us(a) / 1000));
	if (named)
		notify(a, AUDIT_NOTICE_HOLDER, NULL, (long long)holder);
}

/*
 * Under a->lock and the flock, the file empty: it is new, or was cut, and the chain goes
 * on from the furthest head anyone left. This process's own head is behind when another
 * process (an admin command, audit verify) wrote last before the rotation; the rotated
 * file holds that record unless it left the directory (compressed, moved to an olddir),
 * and then the head the vault keeps says where the chain stands. On equal seqs the files
 * win: what is written is what verify will follow.
 */
static void head_newest(struct audit *a)
{
	struct audit_head best = a->head, h;
	int r;

	if (a->opt.stored_head) {
		r = a->opt.stored_head(a->opt.stored_head_data, &h);
		if (r < 0)
			log_debug("The head the vault keeps for \"%s\" is not used: %s", a->path,
				  strerror(-r));
		else if (h.seq > best.seq)
			best = h;
	}
	audit_rotated_head(a->dir, a->line, sizeof(a->line), &h);
	if (h.seq > 0 && h.seq >= best.seq)
		best = h;
	if (best.seq != a->head.seq)
		log_debug("The audit trail \"%s\" goes on after seq %llu (this process's last: "
			  "%llu)",
			  a->path, (unsigned long long)best.seq, (unsigned long long)a->head.seq);
	a->head = best;
}

/*
 * Under a->lock and the flock: whether the file is as this process left it — as long, and
 * still ending with the head's record — so that there is nothing to pick up. One pread
 * of the last record's end and one byte more says both: another writer's records make
 * the file longer, a cut makes it shorter, and copytruncate followed by others' records
 * can bring it back to the very same length, which only the bytes tell apart.
 */
static int file_as_left(struct audit *a)
{
	char want[2 * AUDIT_MAC_LEN + 3], got[sizeof(want) + 1];

	if (a->end == 0)
		return pread(a->fd, got, 1, 0) == 0;
	if (a->end < (off_t)sizeof(want)) /* not known (-1), or no record of ours */
		return 0;
	if (pread(a->fd, got, sizeof(got), a->end - (off_t)sizeof(want)) != (ssize_t)sizeof(want))
		return 0;
	audit_hex(a->head.mac, AUDIT_MAC_LEN, want);
	memcpy(want + 2 * AUDIT_MAC_LEN, "\"}\n", 3);
	return memcmp(got, want, sizeof(want)) == 0;
}

/*
 * Under a->lock and the flock: brings the head up to the file. Another process may
 * have appended (take its last record), logrotate may have truncated it (copytruncate) or
 * put a new file in its place, a writer may have died mid-record (cut the torn line: its
 * result was never returned). @opening: no one can be told of a cut yet.
 */
static int resync(struct audit *a, off_t size, int opening)
{
	struct audit_line l;
	off_t complete;
	ssize_t n;

	n = audit_last_line(a->fd, size, a->line, sizeof(a->line), &complete);
	if (n < 0)
		return n;
	if (complete < size) {
		log_debug("Cutting a torn record (%lld bytes) off the end of \"%s\"",
			  (long long)(size - complete), a->path);
		if (ftruncate(a->fd, complete) < 0)
			return -errno;
		if (opening)
			a->torn_at_open = size - complete;
		else
			notify(a, AUDIT_NOTICE_TORN, NULL, (long long)(size - complete));
	}
	a->end = complete;
	if (n == 0) {
		/* an empty file: a fresh trail, or a new file after a rotation */
		head_newest(a);
		a->need_marker = a->head.seq > 0;
		return 0;
	}
	if (audit_line_parse(a->line, (size_t)n, &l) < 0) {
		log_debug("The last line of \"%s\" is not an audit record", a->path);
		return -EBADMSG;
	}
	a->need_marker = 0; /* whoever wrote the file's first record started it */
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

/* Under a->lock: the file locked (by @deadline), current, and the head known. */
static int prepare(struct audit *a, int64_t deadline)
{
	struct stat st;
	int r;

	for (int tries = 0;; tries++) {
		if (a->fd < 0) {
			r = open_file(a);
			if (r < 0)
				return r;
		}
		r = lock_file(a->fd, deadline);
		if (r < 0)
			return r;
		/* The name may have moved on to a new file while we waited (rotation). */
		if (stat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
			break;
		if (tries > 8)
			return -EIO;
		flock(a->fd, LOCK_UN);
		close(a->fd);
		a->fd = -1;
	}
	if (file_as_left(a))
		return 0;
	if (fstat(a->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	r = resync(a, st.st_size, 0);
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
	counters_add(COUNTER_AUDIT_RECORDS, 1);
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
		/* tried again after the next record; a command that only reads says nothing */
		log_debug("Failed to rotate \"%s\": %s", a->path, strerror(errno));
		return;
	}
	notify(a, AUDIT_NOTICE_ROTATED, name, 0);
}

/* Under a->lock and the flock: the record of a stall that ended, before the next record. */
static int append_stall(struct audit *a)
{
	struct audit_event ev = { .op = AUDIT_STALL_OP, .allow = 1, .result = ETIMEDOUT };
	char since[TIME_RFC3339_MAX], detail[256];
	uint64_t refused;
	enum stall why;
	pid_t holder;
	int r;

	pthread_mutex_lock(&a->stall_lock);
	refused = a->refused;
	holder = a->holder;
	why = a->why;
	time_format(a->refused_since, 1, since);
	pthread_mutex_unlock(&a->stall_lock);
	if (!refused)
		return 0;
	snprintf(detail, sizeof(detail), "%llu records refused (EIO) from %s: %s within %lld ms",
		 (unsigned long long)refused, since, stall_what[why],
		 (long long)(timeout_us(a) / 1000));
	if (holder)
		snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
			 " (held by pid %d)", (int)holder);
	ev.uid = getuid();
	ev.gid = getgid();
	ev.pid = getpid();
	ev.detail = detail;
	r = append_locked(a, &ev, NULL);
	if (r < 0)
		return r;
	pthread_mutex_lock(&a->stall_lock);
	a->refused -= refused; /* those refused meanwhile wait for the next record */
	if (!a->refused) {
		a->holder = 0;
		a->why = STALL_UNKNOWN;
	}
	pthread_mutex_unlock(&a->stall_lock);
	notify(a, AUDIT_NOTICE_RESUMED, detail, 0);
	return 0;
}

int audit_append(struct audit *a, const struct audit_event *ev, struct audit_head *ret_head)
{
	static const struct audit_event rotate = {
		.op = AUDIT_ROTATE_OP,
		.allow = 1,
	};
	int64_t deadline = time_mono_us() + timeout_us(a);
	struct audit_head head;
	struct timespec ts;
	enum stall why = STALL_UNKNOWN;
	int sync_fd = -1, r;

	ts.tv_sec = (time_t)(deadline / 1000000);
	ts.tv_nsec = (long)(deadline % 1000000) * 1000;
	r = -pthread_mutex_clocklock(&a->lock, CLOCK_MONOTONIC, &ts);
	if (r < 0)
		goto out_unlocked;
	/* The key first, outside the file's lock: a slow token holds no other process. */
	r = audit_epochs_current(a->epochs, deadline, timeout_us(a), &a->epoch_key, a->nonce);
	if (r < 0) {
		why = STALL_KEY;
		goto out;
	}
	r = prepare(a, deadline);
	if (r < 0) {
		why = STALL_LOCK;
		goto out;
	}
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
		r = append_stall(a);
	if (r >= 0)
		r = append_locked(a, ev, NULL);
	/* The record is in the file and the chain is in order: the disk may catch up after
	 * the lock is given back, so that a slow disk holds up only this caller. */
	if (r >= 0 && a->opt.sync_each && (sync_fd = dup(a->fd)) < 0)
		r = -errno;
	if (r >= 0) {
		rotate_if_full(a);
		head = a->head;
	}
	flock(a->fd, LOCK_UN);
out:
	pthread_mutex_unlock(&a->lock);
out_unlocked:
	if (sync_fd >= 0) {
		if (fdatasync(sync_fd) < 0 && r >= 0)
			r = -errno;
		close(sync_fd);
	}
	/* for the metrics: the request as its caller is answered (EIO when unrecorded) */
	counters_request(ev->op, ev->allow, r < 0 ? EIO : ev->result);
	if (r < 0)
		counters_add(COUNTER_AUDIT_FAILED, 1);
	if (r == -ETIMEDOUT) {
		counters_add(COUNTER_AUDIT_STALLED, 1);
		stall_note(a, why);
		return r;
	}
	if (r < 0) {
		log_debug("audit: record to \"%s\": %s", a->path, strerror(-r));
		return r;
	}
	if (ret_head)
		*ret_head = head;
	return 0;
}

const char *audit_path(const struct audit *a)
{
	return a->path;
}

void audit_token_back(struct audit *a)
{
	audit_epochs_retry(a->epochs);
}

int audit_derive_ahead(struct audit *a)
{
	return audit_epochs_ahead(a->epochs);
}

int audit_sync(struct audit *a, struct audit_head *ret)
{
	struct audit_head head;
	int64_t deadline = time_mono_us() + timeout_us(a);
	struct timespec ts;
	int fd = -1, dirty, r = 0;

	/* bounded as appends are: a stalled trail must not hold a committing change either */
	ts.tv_sec = (time_t)(deadline / 1000000);
	ts.tv_nsec = (long)(deadline % 1000000) * 1000;
	r = -pthread_mutex_clocklock(&a->lock, CLOCK_MONOTONIC, &ts);
	if (r < 0)
		return r;
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
	audit_epochs_free(a->epochs);
	audit_hmac_free(a->hmac);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->stall_lock);
	pthread_mutex_destroy(&a->notify_lock);
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
	pthread_mutex_init(&a->stall_lock, NULL);
	pthread_mutex_init(&a->notify_lock, NULL);
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
	if (r >= 0)
		r = audit_epochs_new(hsm, key, &a->epochs);
	if (r < 0)
		goto fail;
	/* Open and lock once now: an unwritable trail refuses to start, and a torn last
	 * record is cut before anyone reads the file. */
	r = open_file(a);
	if (r < 0)
		goto fail;
	r = lock_file(a->fd, time_mono_us() + timeout_us(a));
	if (r < 0)
		goto fail;
	{
		struct stat st;

		r = fstat(a->fd, &st) < 0 ? -errno : resync(a, st.st_size, 1);
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

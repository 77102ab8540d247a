/*
 * limits: what the mount's open files and folders may hold — [limits] of vaultfs.conf —
 * so that no caller can take the daemon's memory from everyone else. Each open file or
 * folder is charged to the uid that opened it: one file, and the bytes of locked memory
 * it holds (a value read or being written, a key operation's input and result, a
 * listing's names). Past a uid's own caps an open fails with EMFILE, past the caps in all
 * with ENFILE, the way the kernel answers for a process and for the system; growth that
 * would pass either fails with ENOSPC before the memory is taken.
 *
 * Every refusal is recorded, without letting a caller flood the trail: the first refusal
 * of a run (a uid at its caps, or the mount at its caps in all) is recorded as it
 * happens; the refusals that follow while nothing is given back are counted, and recorded
 * as one record when the run ends, at the next close. A write refused on an open file is
 * recorded once for that file (files.c, keyfiles.c).
 *
 * It must never hold its lock while it records: a record may wait for the trail.
 */
#include "vfs_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "log.h"
#include "timeutil.h"

#define BUCKETS 64
#define SUMMARIES 16 /* records made at one close; any others wait for the next */

/* A run of refusals: the first was recorded, the others are counted. */
struct run {
	uint64_t unrecorded;
	gid_t gid; /* of the first unrecorded one */
	int64_t first_us, last_us; /* of the unrecorded ones */
	int err; /* EMFILE, ENFILE */
	const char *cap; /* the setting that refused the first unrecorded one */
	uint64_t value;
};

/* One uid's share, kept while it holds something or has refusals to record. */
struct account {
	uid_t uid;
	unsigned files;
	uint64_t bytes;
	int own_recorded; /* a refusal at its own caps was recorded, and nothing closed since */
	struct run own; /* refusals at its own caps */
	struct run all; /* its refusals at the caps in all */
	struct account *next;
};

struct vfs_limits {
	pthread_mutex_t lock;
	unsigned files_per_uid, files_max;
	uint64_t bytes_per_uid, bytes_max;
	/* protected by lock: */
	unsigned files;
	uint64_t bytes;
	int all_recorded; /* a refusal at the caps in all was recorded, and nothing closed since */
	unsigned pending; /* accounts with refusals to record */
	struct account *buckets[BUCKETS];
};

/* A refusal to record once the lock is given back. */
struct summary {
	uid_t uid;
	struct run run;
};

int vfs_limits_new(struct vfs *v, const struct vault_config *cfg)
{
	struct vfs_limits *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->files_per_uid = cfg->open_files_per_uid;
	l->files_max = cfg->open_files;
	l->bytes_per_uid = cfg->buffered_per_uid;
	l->bytes_max = cfg->buffered;
	v->limits = l;
	return 0;
}

/* With l->lock held: @uid's account, made if @make. NULL if none (or out of memory). */
static struct account *account(struct vfs_limits *l, uid_t uid, int make)
{
	struct account **pp = &l->buckets[uid % BUCKETS], *a;

	for (a = *pp; a; a = a->next)
		if (a->uid == uid)
			return a;
	if (!make)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->uid = uid;
	a->next = *pp;
	*pp = a;
	return a;
}

/* With l->lock held: frees @a once it holds nothing and has nothing to record. */
static void account_drop(struct vfs_limits *l, struct account *a)
{
	struct account **pp = &l->buckets[a->uid % BUCKETS];

	if (a->files || a->bytes || a->own.unrecorded || a->all.unrecorded)
		return;
	while (*pp != a)
		pp = &(*pp)->next;
	*pp = a->next;
	free(a);
}

/*
 * With l->lock held: the cap that @files more files and @bytes more bytes for @a would
 * pass, with its value and whether it is @a's own; NULL if none. Bytes are only ever
 * added, never taken as a reason to refuse a shrink.
 */
static const char *over(const struct vfs_limits *l, const struct account *a, unsigned files,
			uint64_t bytes, uint64_t *ret_value, int *ret_own)
{
	*ret_own = 1;
	if (files && a->files + files > l->files_per_uid)
		return *ret_value = l->files_per_uid, "open_files_per_uid";
	if (bytes > l->bytes_per_uid || a->bytes > l->bytes_per_uid - bytes)
		return *ret_value = l->bytes_per_uid, "buffered_bytes_per_uid";
	*ret_own = 0;
	if (files && l->files + files > l->files_max)
		return *ret_value = l->files_max, "open_files";
	if (bytes > l->bytes_max || l->bytes > l->bytes_max - bytes)
		return *ret_value = l->bytes_max, "buffered_bytes";
	return NULL;
}

/* With l->lock held: counts a refusal of a caller of group @gid in @run. */
static void count(struct vfs_limits *l, struct run *run, gid_t gid, int err, const char *cap,
		  uint64_t value)
{
	int64_t now = time_now_us();

	if (run->unrecorded++ == 0) {
		run->gid = gid;
		run->first_us = now;
		run->err = err;
		run->cap = cap;
		run->value = value;
		l->pending++;
	}
	run->last_us = now;
}

static void record_summary(struct vfs *v, const struct summary *s)
{
	char detail[256], first[TIME_RFC3339_MAX], last[TIME_RFC3339_MAX];
	struct policy_decision d = { .allow = 0, .rule = "limits" };
	struct audit_event ev;
	struct caller c;

	/* no process is named: these refusals may have come from any of the uid's */
	caller_init(&c, s->uid, s->run.gid, 0);
	time_format(s->run.first_us, 1, first);
	time_format(s->run.last_us, 1, last);
	snprintf(detail, sizeof(detail),
		 "%" PRIu64 " more opens refused past %s=%" PRIu64 " from %s to %s",
		 s->run.unrecorded, s->run.cap, s->run.value, first, last);
	vfs_event(&c, "limits", NULL, 0, &d, s->run.err, &ev);
	ev.detail = detail;
	if (vault_record(v->vault, &ev) < 0)
		log_error("Failed to record %" PRIu64 " refused opens of uid %u in the audit trail",
			  s->run.unrecorded, (unsigned)s->uid);
}

/* With l->lock held: moves @run, if it counted any, to @out (up to SUMMARIES). */
static void take(struct vfs_limits *l, uid_t uid, struct run *run, struct summary *out, size_t *n)
{
	if (!run->unrecorded || *n == SUMMARIES)
		return;
	out[*n].uid = uid;
	out[(*n)++].run = *run;
	memset(run, 0, sizeof(*run));
	l->pending--;
}

int vfs_limits_open(struct vfs *v, struct caller *c, const char *what, const char *path,
		    uint64_t bytes, struct limits_charge *ch)
{
	struct vfs_limits *l = v->limits;
	struct policy_decision d = { .allow = 0, .rule = "limits" };
	struct account *a;
	struct audit_event ev;
	const char *cap;
	char detail[80];
	uint64_t value = 0;
	int own = 0, err, first = 0;

	pthread_mutex_lock(&l->lock);
	a = account(l, c->uid, 1);
	if (!a) {
		pthread_mutex_unlock(&l->lock);
		return -ENOMEM;
	}
	cap = over(l, a, 1, bytes, &value, &own);
	if (!cap) {
		a->files++;
		a->bytes += bytes;
		l->files++;
		l->bytes += bytes;
		pthread_mutex_unlock(&l->lock);
		ch->uid = c->uid;
		ch->open = 1;
		ch->bytes = bytes;
		return 0;
	}
	err = own ? EMFILE : ENFILE;
	if (own ? !a->own_recorded : !l->all_recorded) {
		first = 1;
		*(own ? &a->own_recorded : &l->all_recorded) = 1;
	} else {
		count(l, own ? &a->own : &a->all, c->gid, err, cap, value);
	}
	account_drop(l, a);
	pthread_mutex_unlock(&l->lock);
	if (!first) {
		/* recorded later in a summary, but counted now in the metrics, one by one */
		counters_request(what, 0, err);
		return -err;
	}
	snprintf(detail, sizeof(detail), "%s=%" PRIu64, cap, value);
	vfs_event(c, what, path, 0, &d, err, &ev);
	ev.detail = detail;
	if (vault_record(v->vault, &ev) == 0)
		return -err;
	/* not recorded after all: the next refusal is the first of its run again */
	pthread_mutex_lock(&l->lock);
	if (own) {
		a = account(l, c->uid, 0);
		if (a)
			a->own_recorded = 0;
	} else {
		l->all_recorded = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return -EIO;
}

int vfs_limits_refuse_write(struct vfs *v, struct caller *c, const char *path, const char *cap,
			    uint64_t value)
{
	struct policy_decision d = { .allow = 0, .rule = "limits" };
	struct audit_event ev;
	char detail[80];

	snprintf(detail, sizeof(detail), "%s=%" PRIu64, cap, value);
	vfs_event(c, "write", path, 0, &d, ENOSPC, &ev);
	ev.detail = detail;
	return vault_record(v->vault, &ev) < 0 ? -EIO : -ENOSPC;
}

int vfs_limits_hold(struct vfs *v, struct limits_charge *ch, uint64_t bytes, const char **ret_cap,
		    uint64_t *ret_value)
{
	struct vfs_limits *l = v->limits;
	struct account *a;
	const char *cap = NULL;
	uint64_t value = 0;
	int own;

	if (!ch->open || bytes == ch->bytes)
		return 0;
	pthread_mutex_lock(&l->lock);
	a = account(l, ch->uid, 0);
	if (!a) /* corrupted state: an open charge always has its account */
		abort();
	if (bytes > ch->bytes)
		cap = over(l, a, 0, bytes - ch->bytes, &value, &own);
	if (!cap) {
		a->bytes = a->bytes - ch->bytes + bytes;
		l->bytes = l->bytes - ch->bytes + bytes;
		ch->bytes = bytes;
	}
	pthread_mutex_unlock(&l->lock);
	if (!cap)
		return 0;
	*ret_cap = cap;
	*ret_value = value;
	return -ENOSPC;
}

void vfs_limits_set(struct vfs *v, struct limits_charge *ch, uint64_t bytes)
{
	struct vfs_limits *l = v->limits;
	struct account *a;

	if (!ch->open)
		return;
	pthread_mutex_lock(&l->lock);
	a = account(l, ch->uid, 0);
	if (!a)
		abort();
	a->bytes = a->bytes - ch->bytes + bytes;
	l->bytes = l->bytes - ch->bytes + bytes;
	ch->bytes = bytes;
	pthread_mutex_unlock(&l->lock);
}

void vfs_limits_close(struct vfs *v, struct limits_charge *ch)
{
	struct vfs_limits *l = v->limits;
	struct summary out[SUMMARIES];
	struct account *a;
	size_t n = 0;

	if (!ch->open)
		return;
	pthread_mutex_lock(&l->lock);
	a = account(l, ch->uid, 0);
	if (!a)
		abort();
	a->files--;
	a->bytes -= ch->bytes;
	l->files--;
	l->bytes -= ch->bytes;
	ch->open = 0;
	ch->bytes = 0;
	/* Something was given back: the runs of refusals it ends are recorded now. */
	a->own_recorded = 0;
	take(l, a->uid, &a->own, out, &n);
	if (l->all_recorded) {
		l->all_recorded = 0;
		for (size_t b = 0; b < BUCKETS && l->pending; b++)
			for (struct account *x = l->buckets[b]; x; x = x->next)
				take(l, x->uid, &x->all, out, &n);
	}
	/* the accounts emptied by this (any of them may have had only refusals) */
	for (size_t i = 0; i < n; i++) {
		struct account *x = account(l, out[i].uid, 0);

		if (x && x != a)
			account_drop(l, x);
	}
	account_drop(l, a);
	pthread_mutex_unlock(&l->lock);
	for (size_t i = 0; i < n; i++)
		record_summary(v, &out[i]);
}

void vfs_usage(struct vfs *v, struct vfs_usage *ret)
{
	struct vfs_limits *l = v->limits;

	pthread_mutex_lock(&l->lock);
	ret->open_files = l->files;
	ret->buffered_bytes = l->bytes;
	pthread_mutex_unlock(&l->lock);
	ret->open_files_max = l->files_max;
	ret->buffered_bytes_max = l->bytes_max;
}

void vfs_limits_free(struct vfs *v)
{
	struct vfs_limits *l = v->limits;
	struct summary s;

	if (!l)
		return;
	for (size_t b = 0; b < BUCKETS; b++)
		while (l->buckets[b]) {
			struct account *a = l->buckets[b];
			size_t n = 0;

			/* refusals not yet recorded are recorded at the unmount */
			take(l, a->uid, &a->own, &s, &n);
			if (n)
				record_summary(v, &s);
			n = 0;
			take(l, a->uid, &a->all, &s, &n);
			if (n)
				record_summary(v, &s);
			l->buckets[b] = a->next;
			free(a);
		}
	pthread_mutex_destroy(&l->lock);
	free(l);
	v->limits = NULL;
}

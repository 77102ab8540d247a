/*
 * metrics: the mount daemon's metrics (metrics.h), rendered and written by a thread of
 * their own. The hot path only counts (counters.c); everything here runs every few
 * seconds, or on the daemon's rare events, and takes no lock a request waits for except
 * the [limits] one, for the moment it copies two numbers.
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "counters.h"
#include "fdio.h"
#include "log.h"
#include "timeutil.h"
#include "vault.h"
#include "vfs.h"

/* Flush times: le bounds in microseconds. */
static const int64_t flush_bounds[] = { 500,   1000,   2500,   5000,   10000,	25000,
					50000, 100000, 250000, 500000, 1000000, 2500000 };
#define FLUSH_BUCKETS (sizeof(flush_bounds) / sizeof(flush_bounds[0]))

/* The daemon's own events: each written by one thread (the policy watch, the flusher), read
 * by the writer, all with __atomic. */
static struct {
	uint64_t policy_rules, policy_reloads, policy_refused;
	int64_t policy_loaded_us; /* wall clock of the policy in force */
	uint64_t token_losses, token_reopens;
	int token_down;
	uint64_t flushes, flush_failures, flush_us;
	uint64_t flush_le[FLUSH_BUCKETS]; /* flushes within each bound (not cumulative) */
	int64_t started_us;
} ev;

/* Records the daemon makes of its own doing: not requests of its callers. A run of opens
 * refused past [limits] is counted one by one as it happens, not as its summary. */
static const char *const own_ops[] = { "mount", "unmount", "policy-reload", "mount-over",
				       "token-reopen", "limits", "audit-stall", "audit-rotate",
				       /* the lifetime engine's: see lifetime() */
				       "expiring", "key-rotate" };

#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define PUT(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define ADD(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_RELAXED)

void metrics_policy_loaded(size_t rules, int reload)
{
	PUT(ev.policy_rules, (uint64_t)rules);
	PUT(ev.policy_loaded_us, time_now_us());
	if (reload)
		ADD(ev.policy_reloads, 1);
}

void metrics_policy_refused(void)
{
	ADD(ev.policy_refused, 1);
}

void metrics_token_lost(void)
{
	ADD(ev.token_losses, 1);
	PUT(ev.token_down, 1);
}

void metrics_token_back(void)
{
	ADD(ev.token_reopens, 1);
	PUT(ev.token_down, 0);
}

void metrics_audit_flushed(int r, int64_t us)
{
	size_t i;

	if (r < 0) {
		ADD(ev.flush_failures, 1);
		return;
	}
	if (r == 0) /* nothing was new: no disk was asked */
		return;
	for (i = 0; i < FLUSH_BUCKETS && us > flush_bounds[i]; i++)
		;
	if (i < FLUSH_BUCKETS)
		ADD(ev.flush_le[i], 1);
	ADD(ev.flush_us, (uint64_t)us);
	ADD(ev.flushes, 1);
}

/* @s as a label value: backslash, double quote and newline escaped, as both formats say. */
static void put_label(FILE *f, const char *name, const char *s)
{
	fprintf(f, "%s=\"", name);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

struct out {
	FILE *f;
	int om; /* OpenMetrics 1.0, else the Prometheus text format 0.0.4 */
	const char *vault;
};

/*
 * A family's metadata. @name is the family's name as OpenMetrics has it: a counter's
 * samples add _total, an info's _info. The 0.0.4 format has no such types: its family is
 * named as its samples are, and an info is a gauge of 1.
 */
static void family(struct out *o, const char *name, const char *type, const char *unit,
		   const char *help)
{
	const char *suffix = "";

	if (!o->om && strcmp(type, "counter") == 0)
		suffix = "_total";
	if (!o->om && strcmp(type, "info") == 0) {
		suffix = "_info";
		type = "gauge";
	}
	fprintf(o->f, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, suffix, help, name, suffix, type);
	if (o->om && unit)
		fprintf(o->f, "# UNIT %s %s\n", name, unit);
}

/* A sample: begin, any labels beyond the vault's, then its value. */
static void begin(struct out *o, const char *name, const char *suffix)
{
	fprintf(o->f, "%s%s{", name, suffix);
	put_label(o->f, "vault", o->vault);
}

static void label(struct out *o, const char *name, const char *value)
{
	fputc(',', o->f);
	put_label(o->f, name, value);
}

static void end_u(struct out *o, uint64_t v)
{
	fprintf(o->f, "} %llu\n", (unsigned long long)v);
}

/* A value in microseconds, written in seconds. */
static void end_s(struct out *o, int64_t us)
{
	fprintf(o->f, "} %lld.%06lld\n", (long long)(us / 1000000), (long long)(us % 1000000));
}

/* A sample with at most one label beyond the vault's (@lname NULL: none). */
static void sample_u(struct out *o, const char *name, const char *suffix, const char *lname,
		     const char *lvalue, uint64_t v)
{
	begin(o, name, suffix);
	if (lname)
		label(o, lname, lvalue);
	end_u(o, v);
}

static void sample_s(struct out *o, const char *name, const char *lname, const char *lvalue,
		     int64_t us)
{
	begin(o, name, "");
	if (lname)
		label(o, lname, lvalue);
	end_s(o, us);
}

static int own_op(const char *op)
{
	for (size_t i = 0; i < sizeof(own_ops) / sizeof(own_ops[0]); i++)
		if (strcmp(op, own_ops[i]) == 0)
			return 1;
	return 0;
}

static void result_name(int result, char *buf, size_t len)
{
	const char *name = result > 0 ? strerrorname_np(result) : NULL;

	if (result == 0)
		snprintf(buf, len, "0");
	else if (result < 0)
		snprintf(buf, len, "other");
	else if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%d", result);
}

static void requests(struct out *o)
{
	const char *ops[COUNTERS_OPS];
	int results[COUNTERS_RESULTS];
	size_t n_ops, n_results;
	char res[32];

	family(o, "vaultfs_requests", "counter", NULL,
	       "Accesses by the mount's callers, as the audit trail records them (op, decision, "
	       "result), refusals past [limits] one by one, and those whose record could not be "
	       "written (result EIO).");
	counters_names(ops, &n_ops, results, &n_results);
	for (size_t i = 0; i < n_ops; i++) {
		if (own_op(ops[i]))
			continue;
		for (int allow = 0; allow < 2; allow++)
			for (size_t j = 0; j < n_results; j++) {
				uint64_t n = counters_get_request(i, allow, j);

				if (!n)
					continue;
				result_name(results[j], res, sizeof(res));
				begin(o, "vaultfs_requests", "_total");
				label(o, "op", ops[i]);
				label(o, "decision", allow ? "allow" : "deny");
				label(o, "result", res);
				end_u(o, n);
			}
	}
}

static void audit(struct out *o)
{
	uint64_t failed = counters_get(COUNTER_AUDIT_FAILED),
		 stalled = counters_get(COUNTER_AUDIT_STALLED), cum = 0;
	char le[32];

	family(o, "vaultfs_audit_records", "counter", NULL,
	       "Records the daemon wrote to the audit trail.");
	sample_u(o, "vaultfs_audit_records", "_total", NULL, NULL,
		 counters_get(COUNTER_AUDIT_RECORDS));
	family(o, "vaultfs_audit_write_failures", "counter", NULL,
	       "Records that could not be written, so their operations failed with EIO: by a stall "
	       "(no lock on the trail or no epoch key within [audit] timeout_ms) or an error.");
	sample_u(o, "vaultfs_audit_write_failures", "_total", "reason", "stall", stalled);
	sample_u(o, "vaultfs_audit_write_failures", "_total", "reason", "error",
		 failed > stalled ? failed - stalled : 0);
	family(o, "vaultfs_audit_flush_seconds", "histogram", "seconds",
	       "The once-a-second flush of the trail to disk (fdatasync) and of its head to "
	       "vault.db, when records were new.");
	for (size_t i = 0; i < FLUSH_BUCKETS; i++) {
		cum += GET(ev.flush_le[i]);
		snprintf(le, sizeof(le), "%g", flush_bounds[i] / 1e6);
		sample_u(o, "vaultfs_audit_flush_seconds", "_bucket", "le", le, cum);
	}
	sample_u(o, "vaultfs_audit_flush_seconds", "_bucket", "le", "+Inf", GET(ev.flushes));
	begin(o, "vaultfs_audit_flush_seconds", "_sum");
	end_s(o, (int64_t)GET(ev.flush_us));
	sample_u(o, "vaultfs_audit_flush_seconds", "_count", NULL, NULL, GET(ev.flushes));
	family(o, "vaultfs_audit_flush_failures", "counter", NULL,
	       "Flushes of the trail that failed (the disk, or a stall).");
	sample_u(o, "vaultfs_audit_flush_failures", "_total", NULL, NULL, GET(ev.flush_failures));
}

static void token(struct out *o)
{
	family(o, "vaultfs_token_up", "gauge", NULL,
	       "1 while the token answers, 0 from when the daemon found it gone until it is back.");
	sample_u(o, "vaultfs_token_up", "", NULL, NULL, !GET(ev.token_down));
	family(o, "vaultfs_token_calls", "counter", NULL, "Operations on the PKCS#11 token.");
	sample_u(o, "vaultfs_token_calls", "_total", NULL, NULL, counters_get(COUNTER_TOKEN_CALLS));
	family(o, "vaultfs_token_errors", "counter", NULL,
	       "PKCS#11 calls that the token answered with an error.");
	sample_u(o, "vaultfs_token_errors", "_total", NULL, NULL,
		 counters_get(COUNTER_TOKEN_ERRORS));
	family(o, "vaultfs_token_losses", "counter", NULL,
	       "Times the token went away (every operation failed until it was back).");
	sample_u(o, "vaultfs_token_losses", "_total", NULL, NULL, GET(ev.token_losses));
	family(o, "vaultfs_token_reopens", "counter", NULL,
	       "Times the token came back and was opened again without a remount.");
	sample_u(o, "vaultfs_token_reopens", "_total", NULL, NULL, GET(ev.token_reopens));
}

static void lifetime(struct out *o)
{
	family(o, "vaultfs_expiry_warnings", "counter", NULL,
	       "Expiry warnings recorded (op \"expiring\"): a secret or key within [lifetime] "
	       "warn_days of its expiry or past it, once a day each.");
	sample_u(o, "vaultfs_expiry_warnings", "_total", NULL, NULL,
		 counters_get(COUNTER_EXPIRY_WARNINGS));
	family(o, "vaultfs_lifetime_rotations", "counter", NULL,
	       "Keys rotated by the mount because their --rotate-every was due.");
	sample_u(o, "vaultfs_lifetime_rotations", "_total", NULL, NULL,
		 counters_get(COUNTER_LIFETIME_ROTATIONS));
}

static void state(struct out *o, struct vfs *vfs)
{
	struct vfs_usage u;

	vfs_usage(vfs, &u);
	family(o, "vaultfs_open_files", "gauge", NULL,
	       "Files and folders open through the mount, each charged to [limits].");
	sample_u(o, "vaultfs_open_files", "", NULL, NULL, u.open_files);
	family(o, "vaultfs_open_files_limit", "gauge", NULL, "[limits] open_files.");
	sample_u(o, "vaultfs_open_files_limit", "", NULL, NULL, u.open_files_max);
	family(o, "vaultfs_buffered_bytes", "gauge", "bytes",
	       "Locked memory that open files hold (values, writes, key operations, listings).");
	sample_u(o, "vaultfs_buffered_bytes", "", NULL, NULL, u.buffered_bytes);
	family(o, "vaultfs_buffered_limit_bytes", "gauge", "bytes", "[limits] buffered_bytes.");
	sample_u(o, "vaultfs_buffered_limit_bytes", "", NULL, NULL, u.buffered_bytes_max);
	family(o, "vaultfs_policy_rules", "gauge", NULL, "Rules of the policy in force.");
	sample_u(o, "vaultfs_policy_rules", "", NULL, NULL, GET(ev.policy_rules));
	family(o, "vaultfs_policy_reloads", "counter", NULL,
	       "Changes of the policy file: put in force (ok), or refused with the last good "
	       "policy kept (error).");
	sample_u(o, "vaultfs_policy_reloads", "_total", "result", "ok", GET(ev.policy_reloads));
	sample_u(o, "vaultfs_policy_reloads", "_total", "result", "error", GET(ev.policy_refused));
	family(o, "vaultfs_policy_loaded_timestamp_seconds", "gauge", "seconds",
	       "When the policy in force was loaded (Unix time).");
	sample_s(o, "vaultfs_policy_loaded_timestamp_seconds", NULL, NULL,
		 GET(ev.policy_loaded_us));
}

int metrics_render(struct vault *vault, struct vfs *vfs, const char *mountpoint, int openmetrics,
		   char **ret)
{
	struct out o = { .om = openmetrics, .vault = vault->dir };
	char *buf = NULL;
	size_t len = 0;

	o.f = open_memstream(&buf, &len);
	if (!o.f)
		return -ENOMEM;
	family(&o, "vaultfs_build", "info", NULL, "The vaultfs that serves the mount.");
	sample_u(&o, "vaultfs_build", "_info", "version", VAULTFS_VERSION, 1);
	family(&o, "vaultfs_mount", "info", NULL, "Where the vault is mounted.");
	sample_u(&o, "vaultfs_mount", "_info", "mountpoint", mountpoint, 1);
	family(&o, "vaultfs_start_time_seconds", "gauge", "seconds",
	       "When the mount started serving (Unix time).");
	sample_s(&o, "vaultfs_start_time_seconds", NULL, NULL, GET(ev.started_us));
	requests(&o);
	audit(&o);
	token(&o);
	lifetime(&o);
	state(&o, vfs);
	if (o.om)
		fputs("# EOF\n", o.f);
	if (fclose(o.f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

struct metrics {
	struct vault *vault;
	struct vfs *vfs;
	char *mountpoint;
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	unsigned interval;
	int openmetrics;
	int failing; /* the last write failed, and said so in the log */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop; /* protected by lock */
};

/*
 * The file, whole: written to a temporary name beside it, then renamed over it. The
 * temporary name is made anew (O_EXCL, O_NOFOLLOW), so that nothing planted there — a
 * symbolic link in a directory others can write — is written through. Mode 0644: the
 * reader is node_exporter, another user; the file holds counts and paths, nothing secret.
 */
static int write_file(struct metrics *m)
{
	char *text = NULL;
	int fd = -1, r;

	r = metrics_render(m->vault, m->vfs, m->mountpoint, m->openmetrics, &text);
	if (r < 0)
		return r;
	if (unlink(m->tmp) < 0 && errno != ENOENT) {
		r = -errno;
		goto out;
	}
	fd = open(m->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = fchmod(fd, 0644) < 0 ? -errno : fd_write_all(fd, text, strlen(text));
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && rename(m->tmp, m->path) < 0)
		r = -errno;
	if (r < 0)
		unlink(m->tmp);
	else
		r = 0;
out:
	free(text);
	return r;
}

/* Writes the file; a failure is logged once, and its end once. */
static void refresh(struct metrics *m)
{
	int r = write_file(m);

	if (r < 0 && !m->failing)
		log_error("Failed to write the metrics file \"%s\": %s (tried again every %u s)",
			  m->path, strerror(-r), m->interval);
	else if (r == 0 && m->failing)
		log_info("The metrics file \"%s\" is written again", m->path);
	m->failing = r < 0;
}

static void *writer_main(void *arg)
{
	struct metrics *m = arg;
	struct timespec t;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += m->interval;
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &t) != ETIMEDOUT)
			;
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);
		refresh(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int metrics_start(struct vault *vault, struct vfs *vfs, const char *mountpoint,
		  struct metrics **ret)
{
	const struct vault_config *cfg = vault->cfg;
	struct metrics *m;
	pthread_condattr_t ca;
	int r;

	PUT(ev.started_us, time_now_us());
	if (!cfg->metrics_file) {
		*ret = NULL;
		return 0;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->vault = vault;
	m->vfs = vfs;
	m->interval = cfg->metrics_interval;
	m->openmetrics = cfg->metrics_openmetrics;
	m->mountpoint = strdup(mountpoint);
	if (cfg->metrics_file[0] == '/')
		r = snprintf(m->path, sizeof(m->path), "%s", cfg->metrics_file);
	else
		r = snprintf(m->path, sizeof(m->path), "%s/%s", vault->dir, cfg->metrics_file);
	if (!m->mountpoint || r >= (int)sizeof(m->path)) {
		r = m->mountpoint ? -ENAMETOOLONG : -ENOMEM;
		free(m->mountpoint);
		free(m);
		return r;
	}
	snprintf(m->tmp, sizeof(m->tmp), "%s.tmp", m->path);
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* at once: the file is there when `vaultfs mount` returns */
	refresh(m);
	r = -pthread_create(&m->thread, NULL, writer_main, m);
	if (r < 0) {
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		unlink(m->path);
		free(m->mountpoint);
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = 1;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	/* a mount that is gone has no open files, no token and no rates: no file says so */
	if (unlink(m->path) < 0 && errno != ENOENT)
		log_error("Failed to remove the metrics file \"%s\": %s", m->path, strerror(errno));
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m->mountpoint);
	free(m);
}

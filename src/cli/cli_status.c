/*
 * cli_status: `vaultfs status DIR [--metrics]` — whether the vault is mounted, where and by
 * which daemon, the token, the trail's head, the policy, and the mount's counts; or the
 * mount's metrics as it wrote them.
 *
 * It asks nothing of the mount itself, which may be dead or hanging: the daemon is the
 * process that holds the vault directory's lock (/proc/locks), its mount is found in its
 * own mount table (/proc/PID/mountinfo, so also when it mounted in another namespace), and
 * its counts come from its metrics file. It opens the vault as the other inspections do
 * and is recorded as one ("status"). It never prints a secret's name or value or the PIN.
 * Exit status as systemctl status: 0 mounted, 3 not mounted, 1 an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli.h"
#include "mountinfo.h"
#include "policy.h"
#include "timeutil.h"
#include "vault.h"

#define EXIT_NOT_MOUNTED 3
#define METRICS_MAX (1 << 20)

static const char status_help[] =
	"Usage: vaultfs status DIR [--metrics]\n"
	"\n"
	"Says whether the vault in DIR is mounted, where, and by which daemon (its pid, and\n"
	"since when); the token; the audit trail's head (its seq, and whether the token vouches\n"
	"for it); the policy's rules and when the mount last loaded it; and the mount's counts\n"
	"(from its metrics file). Works as the vault's owner, mounted or not, and never touches\n"
	"the mount. Recorded in the audit trail as an inspection. Never prints a secret's name\n"
	"or value, or the PIN.\n"
	"\n"
	"  --metrics   print the mount's metrics, as its [metrics] file holds them\n"
	"\n"
	"Exit status, as systemctl status: 0 mounted, 3 not mounted, 1 an error.\n";

/* What is known of the daemon that holds the vault. */
struct daemon_state {
	pid_t pid; /* 0: none holds the vault */
	char mountpoint[PATH_MAX]; /* as the daemon sees it; "" if it has no mount (yet) */
	int64_t started_us; /* wall clock; 0 if unknown */
	char dead[PATH_MAX]; /* with no daemon: a mount of this vault left dead here */
};

/* The pid holding an exclusive flock on @absdir (the mount daemon; init, briefly), or 0.
 * Read, never tried: a lock taken here could make a daemon starting now fail. */
static pid_t lock_holder(const char *absdir)
{
	struct stat st;
	char line[256];
	pid_t pid = 0;
	FILE *f;

	if (stat(absdir, &st) < 0 || !(f = fopen("/proc/locks", "re")))
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		int holder;

		if (sscanf(line, "%*d: FLOCK %*s WRITE %d %x:%x:%llu", &holder, &maj, &min, &ino) ==
			    4 &&
		    makedev(maj, min) == st.st_dev && ino == st.st_ino && holder > 0)
			pid = holder;
	}
	fclose(f);
	return pid;
}

/* The first mount of the vault @absdir in the mount table @path, into @out; 0 if none. */
static int find_mount(const char *path, const char *absdir, char *out, size_t len)
{
	char source[PATH_MAX + 16];
	struct mountinfo *m = NULL;
	int fd, found = 0;

	snprintf(source, sizeof(source), "vaultfs:%s", absdir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (mountinfo_read(fd, &m) == 0) {
		for (size_t i = 0; i < m->n && !found; i++) {
			const struct mountinfo_entry *e = &m->e[i];

			if (strcmp(e->fstype, "fuse.vaultfs") == 0 &&
			    strcmp(e->source, source) == 0 && strcmp(e->root, "/") == 0) {
				snprintf(out, len, "%s", e->mountpoint);
				found = 1;
			}
		}
		mountinfo_free(m);
	}
	close(fd);
	return found;
}

/* When process @pid started (wall clock, microseconds), from /proc; 0 if unknown. */
static int64_t started(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks = 0;
	double uptime = 0;
	ssize_t n;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* past the command's name, which may hold spaces and parentheses: field 22 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &ticks) != 1)
		return 0;
	f = fopen("/proc/uptime", "re");
	if (!f)
		return 0;
	if (fscanf(f, "%lf", &uptime) != 1)
		uptime = 0;
	fclose(f);
	if (uptime <= 0)
		return 0;
	return time_now_us() -
	       (int64_t)((uptime - (double)ticks / (double)sysconf(_SC_CLK_TCK)) * 1e6);
}

static void find_daemon(const char *absdir, struct daemon_state *d)
{
	char path[64];

	memset(d, 0, sizeof(*d));
	d->pid = lock_holder(absdir);
	if (!d->pid) {
		/* nobody serves it: a mount of it still in the table is a dead one */
		find_mount("/proc/self/mountinfo", absdir, d->dead, sizeof(d->dead));
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)d->pid);
	find_mount(path, absdir, d->mountpoint, sizeof(d->mountpoint));
	d->started_us = started(d->pid);
}

/* "2h 3min 4s" */
static void span(int64_t us, char *buf, size_t len)
{
	long long s = us > 0 ? us / 1000000 : 0;

	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh %lldmin", s / 86400, s % 86400 / 3600,
			 s % 3600 / 60);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldmin %llds", s / 3600, s % 3600 / 60, s % 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldmin %llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}

/*
 * The metrics file of @v's mount, malloc'ed in *ret, its path in @path: -ENOENT when there
 * is none, -EPERM when another user could have written it, -ESTALE when it was not
 * written by the daemon of @d (one killed before it left its file), or -errno.
 */
static double metric(const char *text, const char *name, const char *match);

static int read_metrics(struct vault *v, const struct daemon_state *d, char *path, size_t len,
			char **ret)
{
	const char *file = v->cfg->metrics_file;
	struct stat st;
	char *buf = NULL;
	double start;
	ssize_t n;
	int fd, r;

	if (!file)
		return -ENOENT;
	if (file[0] == '/')
		snprintf(path, len, "%s", file);
	else
		snprintf(path, len, "%s/%s", v->dir, file);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > METRICS_MAX) {
		r = -EINVAL;
		goto out;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022)) {
		r = -EPERM;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t got = 0;; got += (size_t)n) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0 || got + (size_t)n == (size_t)st.st_size) {
			buf[got + (size_t)n] = '\0';
			break;
		}
	}
	*ret = buf;
	/* it starts serving after the process started: an earlier start is another's */
	start = metric(buf, "vaultfs_start_time_seconds", NULL) * 1e6;
	if (d->started_us &&
	    (start < (double)d->started_us - 2e6 || start > (double)d->started_us + 3600e6)) {
		r = -ESTALE;
		goto out;
	}
	*ret = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* The sum of the samples of @name in @text whose labels hold @match (NULL: any). */
static double metric(const char *text, const char *name, const char *match)
{
	size_t len = strlen(name);
	double sum = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *end = strchr(l, '\n'), *sp;

		if (strncmp(l, name, len) != 0 || (l[len] != '{' && l[len] != ' '))
			continue;
		if (!end)
			end = l + strlen(l);
		for (sp = end; sp > l && sp[-1] != ' '; sp--)
			;
		if (match) {
			const char *m = strstr(l, match);

			if (!m || m > end)
				continue;
		}
		sum += strtod(sp, NULL);
	}
	return sum;
}

static const char *metrics_error(int r)
{
	if (r == -EPERM)
		return "others could have written it";
	if (r == -ESTALE)
		return "not written by this daemon (an earlier one's, or not yet its own)";
	return strerror(-r);
}

/* The mount's counts, from the metrics file it wrote — if it is this daemon's. */
static void print_counts(struct vault *v, const struct daemon_state *d)
{
	char path[PATH_MAX], when[TIME_RFC3339_MAX], ago[32];
	char *text = NULL;
	double loaded;
	int r;

	r = read_metrics(v, d, path, sizeof(path), &text);
	if (r == -ENOENT && !v->cfg->metrics_file) {
		printf("  counts:   none: no metrics file ([metrics] file is empty)\n");
		return;
	}
	if (r < 0) {
		printf("  counts:   none: metrics file \"%s\": %s\n", path, metrics_error(r));
		return;
	}
	printf("  requests: %.0f allowed, %.0f denied, %.0f failed closed (EIO: no record)\n",
	       metric(text, "vaultfs_requests_total", "decision=\"allow\""),
	       metric(text, "vaultfs_requests_total", "decision=\"deny\""),
	       metric(text, "vaultfs_requests_total", "result=\"EIO\""));
	printf("  open:     %.0f files and folders, %.0f bytes buffered (caps %.0f, %.0f)\n",
	       metric(text, "vaultfs_open_files", NULL),
	       metric(text, "vaultfs_buffered_bytes", NULL),
	       metric(text, "vaultfs_open_files_limit", NULL),
	       metric(text, "vaultfs_buffered_limit_bytes", NULL));
	loaded = metric(text, "vaultfs_policy_loaded_timestamp_seconds", NULL);
	time_format((int64_t)(loaded * 1e6), 0, when);
	span(time_now_us() - (int64_t)(loaded * 1e6), ago, sizeof(ago));
	printf("  loaded:   policy of %.0f rules in force since %s (%s ago); %.0f reloads, %.0f "
	       "refused\n",
	       metric(text, "vaultfs_policy_rules", NULL), when, ago,
	       metric(text, "vaultfs_policy_reloads_total", "result=\"ok\""),
	       metric(text, "vaultfs_policy_reloads_total", "result=\"error\""));
	printf("  trail:    %.0f records written by the mount, %.0f could not be\n",
	       metric(text, "vaultfs_audit_records_total", NULL),
	       metric(text, "vaultfs_audit_write_failures_total", NULL));
	printf("  token:    %s for the mount; %.0f calls, %.0f errors, lost %.0f times\n",
	       metric(text, "vaultfs_token_up", NULL) > 0 ? "answering" : "GONE",
	       metric(text, "vaultfs_token_calls_total", NULL),
	       metric(text, "vaultfs_token_errors_total", NULL),
	       metric(text, "vaultfs_token_losses_total", NULL));
	printf("  metrics:  %s\n", path);
	free(text);
}

/* The vault's own state: token, trail head, policy file. */
static void print_vault(struct vault *v)
{
	struct store_anchor a;
	struct policy *p = NULL;
	char path[PATH_MAX], err[512] = "";
	int r;

	if (v->cfg->softhsm2_conf)
		printf("  token:    \"%s\", the embedded SoftHSM2 token: logged in\n",
		       v->cfg->token_label);
	else
		printf("  token:    \"%s\" through %s: logged in\n", v->cfg->token_label,
		       v->cfg->hsm_module);
	r = store_anchor_get(v->store, &a);
	if (r < 0)
		printf("  head:     cannot be read: %s\n", strerror(-r));
	else if (a.seq == 0)
		printf("  head:     no record yet\n");
	else {
		r = vault_head_check(v, &a);
		printf("  head:     seq %llu, %s\n", (unsigned long long)a.seq,
		       r == 0	       ? "its tag verified by the token"
		       : r == -EBADMSG ? "its tag FAILS: run 'vaultfs audit verify'"
				       : "its tag could not be checked");
	}
	snprintf(path, sizeof(path), "%s/%s", v->dir, VAULT_POLICY);
	r = policy_load(path, VAULT_POLICY, &p, err, sizeof(err));
	if (r == 0)
		printf("  policy:   %zu rules in %s\n", policy_rule_count(p), path);
	else
		printf("  policy:   the file does not load: %s (a mount keeps its last good "
		       "policy)\n",
		       err[0] ? err : strerror(-r));
	policy_free(p);
}

int cli_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "metrics", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char absdir[PATH_MAX], err[512] = "", exe[PATH_MAX], cgroup[PATH_MAX];
	struct daemon_state d;
	struct audit_event ev;
	struct vault *v = NULL;
	int c, metrics = 0, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			metrics = 1;
			break;
		case 'h':
			fputs(status_help, stdout);
			return 0;
		default:
			return cli_usage("status", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("status", "expects one DIR");
	if (vault_resolve_safe(argv[optind], absdir, err, sizeof(err)) < 0)
		return cli_error("status", NULL, "%s", err);
	find_daemon(absdir, &d);
	r = vault_open(absdir, &v, err, sizeof(err));
	if (r < 0)
		return cli_error("status", NULL, "%s", err[0] ? err : strerror(-r));
	vault_admin_event(&ev, "status", exe, sizeof(exe), cgroup, sizeof(cgroup));
	if (cli_inspection("status", v, &ev) < 0) {
		r = cli_error("status", absdir, "cannot write the audit trail");
		goto out;
	}
	if (metrics) {
		char path[PATH_MAX], *text = NULL;

		if (!d.mountpoint[0]) {
			fprintf(stderr, "vaultfs: status: \"%s\": not mounted\n", absdir);
			r = EXIT_NOT_MOUNTED;
			goto out;
		}
		r = read_metrics(v, &d, path, sizeof(path), &text);
		if (r < 0) {
			r = v->cfg->metrics_file
				    ? cli_error("status", path, "%s", metrics_error(r))
				    : cli_error("status", absdir,
						"no metrics file: [metrics] file is empty");
			goto out;
		}
		fputs(text, stdout);
		free(text);
		r = fflush(stdout) == 0 ? 0 : 1;
		goto out;
	}
	printf("vault %s\n", absdir);
	if (d.mountpoint[0]) {
		char since[TIME_RFC3339_MAX] = "?", up[32] = "?";

		if (d.started_us) {
			time_format(d.started_us, 0, since);
			span(time_now_us() - d.started_us, up, sizeof(up));
		}
		printf("  mounted:  on %s by pid %d, since %s (up %s)\n", d.mountpoint, (int)d.pid,
		       since, up);
	} else if (d.pid) {
		printf("  mounted:  no: pid %d holds the vault without a mount (starting, or "
		       "stopping)\n",
		       (int)d.pid);
	} else if (d.dead[0]) {
		printf("  mounted:  no: its mount on %s was left dead by a daemon that died "
		       "('vaultfs mount' cleans it up)\n",
		       d.dead);
	} else {
		printf("  mounted:  no\n");
	}
	print_vault(v);
	if (d.mountpoint[0])
		print_counts(v, &d);
	r = fflush(stdout) != 0 ? 1 : d.mountpoint[0] ? 0 : EXIT_NOT_MOUNTED;
out:
	vault_free(v);
	return r;
}

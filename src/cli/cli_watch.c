/*
 * cli_watch: `vaultfs watch DIR [PATH...]` prints one JSON line for every committed
 * change to the vault, whoever made it, as it happens.
 *
 * Every change is recorded in DIR/audit.log inside its own transaction, just before it
 * commits (vault_ops.h), whatever made it: the mount, a command in another process, the
 * mounted vault's own lifetime work. So the trail is followed, as `audit tail -f` does but
 * woken by inotify on DIR (no timer: an idle watch costs nothing), across rotations (the
 * vault's own, logrotate's move or copytruncate), and each record that is a change is
 * printed once the store says its transaction committed (store_peek.h) and the trail,
 * read on to its end after that, holds no record that undoes it (a change rolled back
 * after its record: vault_change.h).
 *
 * It prints only the record's time, op, path, version (and a rename's target), all of
 * which the trail holds as they are: never a value, which the trail never holds either.
 * It needs neither the token nor its PIN, and records nothing: like `audit tail`, it
 * shows the trail's own lines to whoever may read the trail.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "cli.h"
#include "store_peek.h"
#include "vault.h"
#include "watch_pending.h"
#include "watch_trail.h"

/* How long one wait for a writer's transaction lasts before the signals are looked at. */
#define COMMIT_WAIT_MS 500
#define BUF_LEN (2 * AUDIT_LINE_MAX)

static const char watch_help[] =
	"Usage: vaultfs watch DIR [PATH...]\n"
	"\n"
	"Prints one JSON line for every change to the vault in DIR as it happens, whoever\n"
	"made it (the mount, a command, a renewal or rotation by the mounted vault), once it\n"
	"has committed:\n"
	"  {\"time\":\"...\",\"op\":\"write\",\"path\":\"secrets/db\",\"version\":3}\n"
	"A rename adds \"to\" (its target). Values are never printed. Starts at the end of the\n"
	"trail (DIR/audit.log) and follows it across rotations; ends quietly on SIGINT,\n"
	"SIGTERM or when its reader goes away.\n"
	"\n"
	"PATH (as the mount shows it: secrets/NAME, keys/NAME, certs/NAME, or a folder) keeps\n"
	"only changes at or below it: certs/web matches certs/web, certs/web/cert.pem and\n"
	"certs/web@3, not certs/webx. Several PATHs: any of them. Without PATH, the whole\n"
	"vault, changes that name no path (purge-expired) included.\n"
	"\n"
	"A change is a record with decision allow and result 0 whose op is not one of those\n"
	"that change nothing (open, readdir, lookup, sign, secret-get, key-list, mount, ...):\n"
	"every other op, those added later included, is shown.\n";

/*
 * The ops that change nothing: reads, inspections, the daemon's own life. Everything
 * else is a change (a new op is shown until it is listed here). "create" is the open of a
 * new file: its first version is the "write" that follows.
 */
static const char *const unchanged[] = {
	"open",		 "create",	 "read",	 "readdir",	    "lookup",
	"access",	 "getxattr",	 "listxattr",	 "limits",	    "sign",
	"encrypt",	 "decrypt",	 "wrap",	 "unwrap",	    "export",
	"init",		 "mount",	 "unmount",	 "mount-over",	    "mount-helper",
	"policy-reload", "token-reopen", "audit-rotate", "audit-stall",	    "audit-verify",
	"status",	 "secret-get",	 "secret-list",	 "secret-versions", "secret-attr",
	"key-list",	 "cert-list",	 "cert-get",	 "backup",	    "restore",
	"expiring",	 "watch",
};

/* One file of the trail as it is being read: the current audit.log, or the one it was
 * before a rotation, kept until the next rotation for what its writers still add. */
struct trail_file {
	int fd; /* -1: none */
	dev_t dev;
	ino_t ino;
	off_t off; /* read up to here */
	size_t len; /* bytes of a line not yet complete, in buf */
	char buf[BUF_LEN];
};

struct watch {
	char path[PATH_MAX]; /* DIR/audit.log */
	struct pending_list pend; /* read, not printed yet: waiting for their commit */
	struct trail_file cur, prev;
	uint64_t last_seq; /* the last record looked at: a record is looked at once */
	char **paths; /* the PATH filters, normalised */
	int npaths;
	struct store_peek *peek;
	int sig_fd;
	int done; /* a signal, or stdout closed: end with 0 */
};

static int is_change(const char *op)
{
	for (size_t i = 0; i < sizeof(unchanged) / sizeof(unchanged[0]); i++)
		if (strcmp(op, unchanged[i]) == 0)
			return 0;
	return 1;
}

/* Whether @path is @prefix or below it: a segment ("/"), or a version ("@N"). */
static int under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 0)
		return 1;
	return strncmp(path, prefix, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/' || path[n] == '@');
}

static int wanted(const struct watch *w, const char *path, const char *to)
{
	if (w->npaths == 0)
		return 1;
	for (int i = 0; i < w->npaths; i++)
		if ((path && under(path, w->paths[i])) || (to && under(to, w->paths[i])))
			return 1;
	return 0;
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *f;

	if (!json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_string))
		return NULL;
	return json_object_get_string(f);
}

/* A signal that ends the watch, seen without waiting. */
static int signalled(struct watch *w)
{
	struct signalfd_siginfo si;

	if (read(w->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		w->done = 1;
	return w->done;
}

/* Prints @o's line; 0, or 1 when the reader went away (the watch ends quietly). */
static int emit(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);

	if (fputs(s, stdout) == EOF || putchar('\n') == EOF || fflush(stdout) == EOF)
		return errno == EPIPE ? 1 : -errno;
	return 0;
}

static int settle(struct watch *w);

/* One line of the trail: a change that is wanted waits in w->pend for its commit
 * (resolve); a record that undoes one marks it. Returns 0 or -errno. */
static int one_record(struct watch *w, const char *line, size_t len)
{
	json_object *rec = NULL, *out = NULL, *f;
	const char *op, *path, *to = NULL, *decision;
	json_tokener *tok = json_tokener_new();
	int64_t seq;
	int r = 0;

	if (!tok)
		return -ENOMEM;
	rec = json_tokener_parse_ex(tok, line, (int)len);
	json_tokener_free(tok);
	/* what is not a record (a torn line, cut by its writer's successor) is no change */
	if (!rec || !json_object_is_type(rec, json_type_object) ||
	    !json_object_object_get_ex(rec, "seq", &f) || !json_object_is_type(f, json_type_int))
		goto out;
	seq = json_object_get_int64(f);
	/* read again after a truncation, or both files of a rotation: once only */
	if (seq <= 0 || (uint64_t)seq <= w->last_seq)
		goto out;
	w->last_seq = (uint64_t)seq;
	if (json_object_object_get_ex(rec, "undoes", &f) && json_object_is_type(f, json_type_int) &&
	    json_object_get_int64(f) > 0)
		pending_undo(&w->pend, (uint64_t)json_object_get_int64(f));
	op = str_field(rec, "op");
	path = str_field(rec, "path");
	decision = str_field(rec, "decision");
	if (!op || !decision || strcmp(decision, "allow") != 0 || !is_change(op))
		goto out;
	if (!json_object_object_get_ex(rec, "result", &f) ||
	    !json_object_is_type(f, json_type_int) || json_object_get_int(f) != 0)
		goto out;
	/* a change, of any path: those waiting before it are settled, printed or not */
	r = settle(w);
	if (r != 0)
		goto out;
	if (strcmp(op, "rename") == 0)
		to = str_field(rec, "detail");
	if (!wanted(w, path, to))
		goto out;
	out = json_object_new_object();
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	json_object_object_add(out, "time", json_object_new_string(str_field(rec, "time") ?: ""));
	json_object_object_add(out, "op", json_object_new_string(op));
	json_object_object_add(out, "path", path ? json_object_new_string(path) : NULL);
	json_object_object_add(out, "version",
			       json_object_object_get_ex(rec, "version", &f) &&
					       json_object_is_type(f, json_type_int)
				       ? json_object_new_int64(json_object_get_int64(f))
				       : NULL);
	if (to)
		json_object_object_add(out, "to", json_object_new_string(to));
	r = pending_push(&w->pend, (uint64_t)seq, out);
	if (r == 0)
		out = NULL;
out:
	json_object_put(out);
	json_object_put(rec);
	return r;
}

/* Reads @f from where it stands to its end, and acts on every complete line. */
static int drain(struct watch *w, struct trail_file *f)
{
	int r;

	while (f->fd >= 0) {
		ssize_t k = pread(f->fd, f->buf + f->len, BUF_LEN - f->len, f->off);
		char *p, *nl;

		if (k < 0)
			return -errno;
		if (k == 0)
			return 0;
		f->off += k;
		f->len += (size_t)k;
		for (p = f->buf; (nl = memchr(p, '\n', f->len - (size_t)(p - f->buf)));
		     p = nl + 1) {
			r = one_record(w, p, (size_t)(nl - p));
			if (r != 0)
				return r;
		}
		f->len -= (size_t)(p - f->buf);
		memmove(f->buf, p, f->len);
		if (f->len >= AUDIT_LINE_MAX)
			f->len = 0; /* longer than any record: not one */
	}
	return 0;
}

static void file_close(struct trail_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->len = 0;
}

/* Opens DIR/audit.log as @f, read from @off. -ENOENT between a move and the new file. */
static int file_open(struct watch *w, struct trail_file *f, off_t off)
{
	struct stat st;
	int fd = open(w->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->off = off < 0 ? st.st_size : off;
	f->len = 0;
	return 0;
}

/* Reads the rotated files of the trail that the watch has not reached (watch_trail.h),
 * in order; @f is scratch for each. */
static int catch_up(struct watch *w, struct trail_file *f)
{
	struct watch_file_id open[2] = { { w->cur.dev, w->cur.ino }, { w->prev.dev, w->prev.ino } };
	struct watch_missed *m = NULL;
	size_t n = 0;
	int r;

	r = watch_missed_files(w->path, open, w->prev.fd >= 0 ? 2 : 1, w->last_seq, f->buf, &m, &n);
	for (size_t i = 0; i < n && r == 0; i++) {
		f->fd = m[i].fd;
		f->off = 0;
		f->len = 0;
		r = drain(w, f);
		f->fd = -1;
	}
	for (size_t i = 0; i < n; i++)
		close(m[i].fd);
	free(m);
	return r;
}

/*
 * Brings the watch up to date: what the file before the last rotation still got, the
 * current file to its end, and a rotation since (a new file at the path: the old one is
 * read to its end first; the same file shorter: truncated, read again from its start).
 */
static int follow(struct watch *w)
{
	struct stat st;
	int r;

	r = drain(w, &w->prev);
	if (r != 0)
		return r;
	if (stat(w->path, &st) < 0)
		return errno == ENOENT ? drain(w, &w->cur) : -errno; /* moved: the new file comes */
	if (w->cur.fd >= 0 && st.st_dev == w->cur.dev && st.st_ino == w->cur.ino) {
		off_t line_end = w->cur.off - (off_t)w->cur.len;
		char c = '\n';

		/*
		 * Looked at before reading on: a file cut and grown again past where the
		 * watch stood would otherwise be read from the middle of a record, and its
		 * first records, all after the cut, skipped for good (their seqs are below
		 * those read there). The last line read whole still ends where it did,
		 * unless it was cut.
		 */
		if (st.st_size < w->cur.off ||
		    (line_end > 0 && (pread(w->cur.fd, &c, 1, line_end - 1) != 1 || c != '\n'))) {
			w->cur.off = 0; /* copytruncate: the records read already are not again */
			w->cur.len = 0;
		}
		return drain(w, &w->cur);
	}
	/* a new file at the path: the old one is read to its end first */
	r = drain(w, &w->cur);
	if (r != 0)
		return r;
	file_close(&w->prev);
	r = catch_up(w, &w->prev);
	if (r != 0)
		return r;
	w->prev = w->cur;
	w->cur.fd = -1;
	r = file_open(w, &w->cur, 0);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	return drain(w, &w->cur);
}

/* Waits for the end of the first pending change's transaction: 1 when the stored head
 * covers it (*@head), 0 when it does not, 2 on a signal, or -errno. */
static int wait_commit(struct watch *w, uint64_t *head)
{
	int r;

	while ((r = store_peek_committed(w->peek, w->pend.v[0].seq, COMMIT_WAIT_MS, head)) ==
	       -ETIMEDOUT)
		if (signalled(w))
			return 2;
	return r;
}

/*
 * A change's record has just been read: every change waiting before it is settled. Its
 * writer recorded it holding vault.db's write lock, which the earlier ones' writers had
 * given back, each after the record that undoes its change if it did not commit: those
 * records have been read. What is printed is what committed and was not undone, so at
 * most the changes since the last change wait, and a slow reader holds the rest of the
 * trail in the file, not in memory. Returns 0, 1 when the watch is to end quietly, or
 * -errno.
 */
static int settle(struct watch *w)
{
	uint64_t head;
	int r = 0;

	while (r == 0 && w->pend.n > 0) {
		if (!w->pend.v[0].undone) {
			r = wait_commit(w, &head);
			if (r < 0)
				return r;
			if (r == 2)
				return 1;
			r = r == 1 ? emit(w->pend.v[0].line) : 0; /* 0: rolled back */
		}
		pending_pop(&w->pend);
	}
	return r;
}

/*
 * Prints the pending changes that committed, in order, and forgets those that did not,
 * once no change follows them in the trail (settle decides those that one follows). A
 * change whose record the stored head has not reached once the writer's transaction is
 * over was rolled back. One the head has reached may still have been rolled back after
 * its record, with a head past it stored since (the daemon's flush, an admin command's
 * record): the vault wrote the record that undoes it before it gave the write lock back,
 * so before that head was stored — reading the trail on to its end now finds it. Returns
 * 0, 1 when the watch is to end quietly, or -errno.
 */
static int resolve(struct watch *w)
{
	uint64_t head = 0;
	int r = 0;

	while (w->pend.n > 0 && r == 0) {
		if (w->pend.v[0].undone) {
			pending_pop(&w->pend);
			continue;
		}
		r = wait_commit(w, &head);
		if (r == 2)
			return 1;
		if (r <= 0) {
			if (r == 0) /* rolled back: its failure is a record of its own */
				pending_pop(&w->pend);
			continue;
		}
		/* the head covers it: read on for a record that undoes it (or those after) */
		r = follow(w);
		while (r == 0 && w->pend.n > 0 && w->pend.v[0].seq <= head) {
			if (!w->pend.v[0].undone)
				r = emit(w->pend.v[0].line);
			pending_pop(&w->pend);
		}
	}
	return r;
}

/* Where the watch starts: the end of the last complete line of the trail, and its seq. */
static int start_at_end(struct watch *w)
{
	struct trail_file *f = &w->cur;
	off_t from;
	ssize_t k;
	char *nl;
	int r = file_open(w, f, -1);

	if (r < 0)
		return r;
	from = f->off > AUDIT_LINE_MAX ? f->off - AUDIT_LINE_MAX : 0;
	k = pread(f->fd, f->buf, (size_t)(f->off - from), from);
	if (k < 0)
		return -errno;
	nl = memrchr(f->buf, '\n', (size_t)k);
	if (!nl)
		return 0;
	/* a record being written now is after the start: it is read when complete */
	f->off = from + (nl - f->buf) + 1;
	*nl = '\0';
	{
		char *line = memrchr(f->buf, '\n', (size_t)(nl - f->buf));
		json_object *o = json_tokener_parse(line ? line + 1 : f->buf), *s;

		if (o && json_object_object_get_ex(o, "seq", &s))
			w->last_seq = (uint64_t)json_object_get_int64(s);
		json_object_put(o);
	}
	return 0;
}

/* "secrets/x/" and "/secrets/x" as "secrets/x". */
static char *normalise(const char *arg)
{
	char *s;
	size_t n;

	while (arg[0] == '/')
		arg++;
	s = strdup(arg);
	if (!s)
		return NULL;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

/* Reads the pending inotify events: 1 when one may concern the trail (a name that starts
 * with audit.log, or events lost), 0 when all were of other files (the database, the
 * metrics file, the daemon's log), which a watch need not look at. */
static int trail_touched(int ino, char *buf, size_t len)
{
	int hit = 0;
	ssize_t n;

	while ((n = read(ino, buf, len)) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if ((e->mask & IN_Q_OVERFLOW) ||
			    (e->len && strncmp(e->name, VAULT_AUDIT, strlen(VAULT_AUDIT)) == 0))
				hit = 1;
			p += sizeof(*e) + e->len;
		}
	return hit;
}

static int run(struct watch *w)
{
	struct pollfd fds[3];
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char dir[PATH_MAX];
	int ino, r;

	snprintf(dir, sizeof(dir), "%s", w->path);
	*strrchr(dir, '/') = '\0';
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0)
		return -errno;
	/* the directory, not the file: a rotation's new file is seen as it comes */
	if (inotify_add_watch(ino, dir,
			      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) <
	    0) {
		r = -errno;
		close(ino);
		return r;
	}
	fds[0] = (struct pollfd){ .fd = ino, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = w->sig_fd, .events = POLLIN };
	/* no events asked: a pipe whose reader is gone answers POLLERR, so that an idle
	 * watch ends when its reader does, not at the next change */
	fds[2] = (struct pollfd){ .fd = STDOUT_FILENO, .events = 0 };
	r = follow(w);
	if (r == 0)
		r = resolve(w);
	while (r == 0 && !w->done) {
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (fds[1].revents || (fds[2].revents & (POLLERR | POLLHUP)) || signalled(w))
			break;
		if (fds[2].revents & POLLNVAL)
			fds[2].fd = -1; /* no stdout at all: the next line's write tells */
		if (trail_touched(ino, ev, sizeof(ev))) {
			r = follow(w);
			if (r == 0)
				r = resolve(w);
		}
	}
	close(ino);
	return r < 0 ? r : 0;
}

int cli_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char absdir[PATH_MAX], db[PATH_MAX], err[512] = "";
	struct watch *w = NULL;
	sigset_t sigs;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(watch_help, stdout);
			return 0;
		default:
			return cli_usage("watch", "unknown option");
		}
	}
	if (argc - optind < 1)
		return cli_usage("watch", "expects DIR [PATH...]");
	r = cli_vault_dir(argv[optind], err, sizeof(err));
	if (r == 0)
		r = vault_resolve_safe(argv[optind], absdir, err, sizeof(err));
	if (r < 0)
		return cli_error("watch", NULL, "%s", err);
	w = calloc(1, sizeof(*w));
	if (!w)
		return cli_error("watch", NULL, "%s", strerror(ENOMEM));
	w->cur.fd = w->prev.fd = w->sig_fd = -1;
	w->npaths = argc - optind - 1;
	w->paths = calloc((size_t)w->npaths + 1, sizeof(char *));
	for (int i = 0; w->paths && i < w->npaths; i++)
		if (!(w->paths[i] = normalise(argv[optind + 1 + i])))
			w->npaths = i;
	if (!w->paths || w->npaths != argc - optind - 1) {
		r = cli_error("watch", NULL, "%s", strerror(ENOMEM));
		goto out;
	}
	if (snprintf(w->path, sizeof(w->path), "%s/%s", absdir, VAULT_AUDIT) >=
		    (int)sizeof(w->path) ||
	    snprintf(db, sizeof(db), "%s/%s", absdir, VAULT_DB) >= (int)sizeof(db)) {
		r = cli_error("watch", argv[optind], "%s", strerror(ENAMETOOLONG));
		goto out;
	}
	r = store_peek_open(db, &w->peek);
	if (r < 0) {
		r = cli_error("watch", db, "%s",
			      r == -EUCLEAN ? "not a vault database" : strerror(-r));
		goto out;
	}
	r = start_at_end(w);
	if (r < 0) {
		r = cli_error("watch", w->path, "%s", strerror(-r));
		goto out;
	}
	/* SIGINT and SIGTERM end the watch with 0 (through the poll); a closed pipe is EPIPE */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	w->sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (w->sig_fd < 0) {
		r = cli_error("watch", NULL, "signalfd: %s", strerror(errno));
		goto out;
	}
	r = run(w);
	if (r < 0)
		r = cli_error("watch", w->path, "%s", strerror(-r));
out:
	if (w) {
		file_close(&w->cur);
		file_close(&w->prev);
		if (w->sig_fd >= 0)
			close(w->sig_fd);
		store_peek_free(w->peek);
		pending_clear(&w->pend);
		for (int i = 0; w->paths && i < w->npaths; i++)
			free(w->paths[i]);
		free(w->paths);
		free(w);
	}
	return r;
}

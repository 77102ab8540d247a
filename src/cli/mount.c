/*
 * mount: `vaultfs mount DIR MOUNTPOINT [-f] [-o OPTION,...]` — the daemon.
 *
 * Without -f the command forks; the parent waits until the child's mount serves requests
 * (or it failed) and exits with that result. The child opens the vault — and so
 * initialises the token — only after the fork, and never forks again. It holds a lock on
 * the vault directory so that a second mount of the same vault is refused, locks its
 * memory where allowed, and unmounts cleanly on SIGTERM or SIGINT. SIGHUP reopens its
 * log (DIR/vaultfs.log, detached) and the audit trail, as logrotate expects, and reads the
 * policy again (systemctl reload). Under systemd it speaks sd_notify through service.c.
 */
#include "mount.h"
#include "mount_args.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "mount_check.h"
#include "mountpoint.h"
#include "mountwatch.h"
#include "policy.h"
#include "service.h"
#include "timeutil.h"
#include "vault.h"
#include "vfs.h"
#include "watch.h"

/* Reports the start's outcome to the waiting parent: "" for success, else the message. */
static int ready_fd = -1;

static void report(const char *msg)
{
	if (ready_fd < 0)
		return;
	(void)!write(ready_fd, msg, strlen(msg) + 1);
	close(ready_fd);
	ready_fd = -1;
}

/* A warning for the terminal that waits for a background start, sent ahead of the outcome
 * and marked by a leading '\1'; logged as well. */
static void warn_start(const char *msg)
{
	char buf[768];
	int n;

	log_warn("%s", msg);
	n = snprintf(buf, sizeof(buf), "\1%s", msg);
	if (ready_fd >= 0 && n > 0)
		(void)!write(ready_fd, buf,
			     (size_t)(n < (int)sizeof(buf) ? n + 1 : (int)sizeof(buf)));
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("mount: %s", msg);
	report(msg);
	return 1;
}

/* Waits for the daemon's report, printing its warnings as they come; returns the
 * command's exit status. The daemon's messages name what they are about (DIR, its policy,
 * or MOUNTPOINT). */
static int parent_wait(int fd, const char *dir)
{
	char msg[1024], *end;
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, msg + len, sizeof(msg) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			len += (size_t)n;
		/* each warning ends with a NUL: said, then taken out */
		while (len && msg[0] == '\1' && (end = memchr(msg, '\0', len))) {
			fprintf(stderr, "vaultfs: mount: %s\n", msg + 1);
			len -= (size_t)(end + 1 - msg);
			memmove(msg, end + 1, len);
		}
		if (n <= 0 || (len && msg[0] != '\1' && memchr(msg, '\0', len)) ||
		    len == sizeof(msg) - 1)
			break;
	}
	msg[len] = '\0';
	if (len == 0 || msg[0] == '\1')
		return cli_error("mount", NULL,
				 "the daemon died while starting (see \"%s/vaultfs.log\")", dir);
	if (msg[0] == '\0')
		return 0;
	return cli_error("mount", NULL, "%s", msg);
}

/*
 * The detached daemon's stdin and stdout go to /dev/null and its stderr — every log line,
 * and the last word of a daemon that dies — to DIR/vaultfs.log.
 */
static void detach_stdio(const char *dir)
{
	char path[PATH_MAX];
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC), r = -ENAMETOOLONG;

	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
	}
	/* SIGHUP opens it again (log_reopen), as logrotate expects */
	if (snprintf(path, sizeof(path), "%s/vaultfs.log", dir) < (int)sizeof(path))
		r = log_to_file(path);
	if (r < 0 && null_fd >= 0)
		dup2(null_fd, STDERR_FILENO);
	if (null_fd >= 0)
		close(null_fd);
	log_use_timestamps();
}

struct reload {
	struct vfs *vfs;
	struct vault *vault;
	int serves_others; /* allow_other: exe= must be read for other users' callers */
	char path[PATH_MAX];
};

/* The guard found a filesystem mounted over the vault, and detached it (or could not). */
static void on_mount_over(void *userdata, const char *path, int result, const char *detail)
{
	struct vault *vault = userdata;
	const char *where = path[0] ? path : "the root";

	if (result == 0)
		log_warn("detached a filesystem mounted over %s%s%s of the vault: %s",
			 path[0] ? "\"" : "", where, path[0] ? "\"" : "", detail);
	else
		log_error("cannot detach a filesystem mounted over %s%s%s of the vault (%s): %s",
			  path[0] ? "\"" : "", where, path[0] ? "\"" : "", detail,
			  strerror(result));
	daemon_record(vault, "mount-over", path, result, detail);
}

static void warn_log(const char *msg)
{
	log_warn("%s", msg);
}

/* The policy file changed: a good file in a vault that is still safe takes over whole;
 * anything else changes nothing. */
static void on_policy_change(void *userdata)
{
	struct reload *rl = userdata;
	struct policy *p = NULL;
	char err[512] = "", msg[600];
	int r;

	/* A file another user could have written is no policy: refused like one with an
	 * error, whatever it says. */
	r = vault_check_safe(rl->vault->dir, err, sizeof(err));
	if (r == 0)
		r = policy_load(rl->path, VAULT_POLICY, &p, err, sizeof(err));
	if (r == 0) {
		log_info("policy reloaded: %zu rules", policy_rule_count(p));
		metrics_policy_loaded(policy_rule_count(p), 1);
		mount_check_policy(p, rl->vault->dir, rl->serves_others, warn_log);
		snprintf(msg, sizeof(msg), "%zu rules", policy_rule_count(p));
		vfs_set_policy(rl->vfs, p);
	} else if (r == -ENOENT) {
		snprintf(msg, sizeof(msg),
			 "policy: file removed; the last good policy stays in force");
		log_error("%s", msg);
	} else {
		snprintf(msg, sizeof(msg), "%s; the last good policy stays in force", err);
		log_error("%s", msg);
	}
	if (r < 0)
		metrics_policy_refused();
	daemon_record(rl->vault, "policy-reload", NULL, -r, msg);
}

/* SIGHUP, or systemctl reload: the policy is read again, once the logs are reopened. */
static void reload_policy(void *userdata)
{
	struct reload *rl = userdata;

	if (rl->vfs)
		on_policy_change(rl);
}

static void on_fatal(int sig)
{
	/* Best effort on the way down: the message is what an operator looks for. */
	log_fatal_signal("daemon died", sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Keeps every page — secret values, keys — out of swap where the limits allow. Locked
 * as they are first touched (MCL_ONFAULT): every page that ever holds a byte is locked all
 * the same, but a mapping is not filled whole in advance — without it each worker thread's
 * 8 MiB stack was locked in RAM in full, most of the daemon's memory. */
static void lock_memory(void)
{
#if !defined(__SANITIZE_ADDRESS__)
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0 &&
	    mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		log_debug("mlockall: %s (secret buffers are still locked one by one)",
			  strerror(errno));
#endif
}

/*
 * Serves @se with @threads workers until it is unmounted or a signal stops it. Returns 0
 * for a clean end (unmounted, or stopped by a signal), 1 when the session failed, -1 when
 * no loop could be made (nothing served).
 */
static int run_loop(struct fuse_session *se, unsigned threads, const char *dir)
{
	struct fuse_loop_config *loop = fuse_loop_cfg_create();
	int r;

	if (!loop) {
		log_error("out of memory");
		return -1;
	}
	/* Workers are kept, not retired when idle: each holds its own database connection and
	 * token session, which are dear to make again. */
	fuse_loop_cfg_set_max_threads(loop, threads);
	fuse_loop_cfg_set_idle_threads(loop, threads);
	fuse_loop_cfg_set_clone_fd(loop, 0);
	/* 0: unmounted from outside; > 0: the signal that stopped it; < 0: an error. */
	r = fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	/* The kernel ends a connection that still has requests queued (an unmount while
	 * thousands of closes are on their way) with ECONNABORTED rather than ENODEV, which
	 * libfuse takes for the end: it is the same end, not a failure. */
	if (r == -ECONNABORTED)
		r = 0;
	if (r < 0) {
		log_error("vault \"%s\": session failed: %s", dir, strerror(-r));
		return 1;
	}
	if (r > 0)
		log_info("vault \"%s\": stopping on %s", dir, strsignal(r));
	return 0;
}

/*
 * The mount's tree, on the policy in force (recorded and refused if it has an error), and
 * the watch that reloads it on change into @rl. Says why on failure (fail) and returns
 * -errno; *ret_vfs and *ret_watch are set only on success.
 */
static int vfs_make(const struct mount_opts *o, struct vault *vault, struct reload *rl,
		    struct vfs **ret_vfs, struct policy_watch **ret_watch)
{
	struct policy *policy = NULL;
	struct policy_watch *watch = NULL;
	struct vfs *vfs = NULL;
	char err[512] = "";
	int r;

	snprintf(rl->path, sizeof(rl->path), "%s/%s", vault->dir, VAULT_POLICY);
	r = policy_load(rl->path, VAULT_POLICY, &policy, err, sizeof(err));
	if (r < 0) {
		daemon_record(vault, "mount", NULL, -r, err);
		fail("%s/%s", vault->dir, err); /* DIR's policy, not the mount point */
		return r;
	}
	metrics_policy_loaded(policy_rule_count(policy), 0);
	rl->serves_others = geteuid() == 0 || strstr(o->fuse_opts, "allow_other") != NULL;
	mount_check_policy(policy, vault->dir, rl->serves_others, warn_start);
	r = vfs_new(vault, policy, &vfs);
	if (r < 0) {
		policy_free(policy);
		fail("%s", strerror(-r));
		return r;
	}
	/* the vfs owns the policy now. One worker always stays out of the token, for
	 * everything that does not need it. */
	r = vfs_set_token_slots(vfs, o->threads > 1 ? o->threads - 1 : 1,
				vault->cfg->hsm_busy_timeout_ms);
	if (r < 0) {
		fail("%s", strerror(-r));
		goto out;
	}
	rl->vfs = vfs;
	rl->vault = vault;
	r = policy_watch_start(vault->dir, VAULT_POLICY, on_policy_change, rl, &watch);
	if (r < 0) {
		fail("cannot watch \"%s\": %s", rl->path, strerror(-r));
		goto out;
	}
	*ret_vfs = vfs;
	*ret_watch = watch;
	vfs = NULL;
	r = 0;
out:
	vfs_free(vfs);
	return r;
}

/*
 * The daemon's life, in order: open the vault and lock it, lock memory, start the flusher,
 * make the tree (vfs_make), the session and its signals, mount, start the guard, serve
 * (run_loop), and unwind in reverse through one set of labels. Kept as one function, a
 * little over the usual length, so that the order of start and stop reads in one place.
 */
static int serve(const struct mount_opts *o)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	struct guard *guard = NULL;
	struct mountwatch *mw = NULL;
	struct policy_watch *watch = NULL;
	struct metrics *metrics = NULL;
	struct reload reload = { 0 };
	struct flusher flusher;
	struct lifetimer lifetimer;
	int flushing = 0, lifetiming = 0;
	struct vault *vault = NULL;
	struct vfs *vfs = NULL;
	char err[512] = "", opts[1400], detail[PATH_MAX + 128], why[512];
	int lock_fd = -1, r, status = 1, ended = MOUNTWATCH_NOTHING;
	struct stderr_capture capture;

	r = cli_vault_open(o->dir, &vault, err, sizeof(err));
	if (r < 0 && err[0] && !strstr(err, o->dir))
		return fail("vault \"%s\": %s", o->dir, err);
	if (r < 0)
		return fail("%s", err[0] ? err : strerror(-r));
	lock_fd = open(vault->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fail("vault \"%s\" is already mounted or in use", o->dir);
		goto out;
	}
	lock_memory();
	r = vault_daemon_mode(vault);
	if (r < 0) /* the writers then derive their keys themselves */
		log_warn("Cannot start the audit trail's key thread: %s", strerror(-r));
	r = flusher_start(&flusher, vault, reload_policy, &reload);
	if (r < 0) {
		fail("cannot start a thread: %s", strerror(-r));
		goto out;
	}
	flushing = 1;
	r = vfs_make(o, vault, &reload, &vfs, &watch);
	if (r < 0)
		goto out;
	snprintf(opts, sizeof(opts), "fsname=vaultfs:%s,subtype=vaultfs%s%s%s", vault->dir,
		 geteuid() == 0 ? ",allow_other" : "", o->fuse_opts[0] ? "," : "", o->fuse_opts);
	if (fuse_opt_add_arg(&args, "vaultfs") < 0 || fuse_opt_add_arg(&args, "-o") < 0 ||
	    fuse_opt_add_arg(&args, opts) < 0 || (o->debug && fuse_opt_add_arg(&args, "-d") < 0)) {
		fail("out of memory");
		goto out;
	}
	se = fuse_session_new(&args, vfs_ops(), sizeof(*vfs_ops()), vfs);
	if (!se) {
		fail("bad mount options \"%s\"", o->fuse_opts);
		goto out;
	}
	if (fuse_set_signal_handlers(se) < 0) {
		fail("cannot set signal handlers");
		goto out;
	}
	/* SIGHUP reopens vaultfs.log and the audit trail, as logrotate expects, rather than
	 * unmounting. */
	{
		struct sigaction sa = { .sa_handler = daemon_on_hup };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGHUP, &sa, NULL);
	}
	/* libfuse and fusermount3 say why on stderr: in the log once detached, and never
	 * in one line with ours */
	capture_start(&capture);
	r = fuse_session_mount(se, o->mountpoint);
	capture_end(&capture, why, sizeof(why));
	if (r < 0) {
		fail("cannot mount on \"%s\"%s%s", o->mountpoint, why[0] ? ": " : "", why);
		goto out_signals;
	}
	r = guard_start(vfs, o->mountpoint, on_mount_over, vault, &guard);
	if (r < 0) {
		fail("cannot watch the mount table for mounts over \"%s\": %s", o->mountpoint,
		     strerror(-r));
		goto out_unmount;
	}
	r = mountwatch_start(se, o->mountpoint, &mw);
	if (r < 0) {
		fail("cannot watch the mount table for the unmount of \"%s\": %s", o->mountpoint,
		     strerror(-r));
		goto out_unmount;
	}
	log_info("vault \"%s\" mounted on \"%s\"", vault->dir, o->mountpoint);
	snprintf(detail, sizeof(detail), "%s%s", o->mountpoint,
		 o->cleaned_dead ? " (a dead mount left there was unmounted first)" : "");
	daemon_record(vault, "mount", NULL, 0, detail);
	r = metrics_start(vault, vfs, o->mountpoint, &metrics);
	if (r < 0) /* the mount serves without them */
		log_error("Failed to start the metrics: %s", strerror(-r));
	r = lifetimer_start(&lifetimer, vault);
	if (r < 0) {
		fail("cannot start a thread: %s", strerror(-r));
		goto out_unmount;
	}
	lifetiming = 1;
	report("");
	r = service_ready_when_serving(vault->dir, o->mountpoint);
	if (r < 0) {
		fail("cannot start a thread: %s", strerror(-r));
		goto out_unmount;
	}
	r = run_loop(se, o->threads, vault->dir);
	service_stopping();
	if (lifetiming) /* before the unmount's record: the engine's last one comes before it */
		lifetimer_stop(&lifetimer);
	lifetiming = 0;
	ended = mountwatch_stop(mw);
	mw = NULL;
	if (r < 0)
		goto out_unmount; /* no loop could be made: nothing was served */
	status = r;
	log_info("vault \"%s\" unmounted from \"%s\"", vault->dir, o->mountpoint);
	snprintf(detail, sizeof(detail), "%s%s", o->mountpoint,
		 ended ? " (unmounted while copies elsewhere still held the connection: ended)"
		       : "");
	daemon_record(vault, "unmount", NULL, 0, detail);
out_unmount:
	if (lifetiming)
		lifetimer_stop(&lifetimer);
	metrics_stop(metrics);
	/* before the daemon's own unmount, which it must not take for one from outside */
	mountwatch_stop(mw);
	/* nothing of the daemon's is on the mount point any more: see mountwatch_stop */
	if (ended != MOUNTWATCH_ENDED_KEEP)
		fuse_session_unmount(se);
	/* after the unmount: a lookup of the guard's, or the readiness stat, waits for no
	 * worker any more */
	guard_stop(guard);
	service_end();
out_signals:
	fuse_remove_signal_handlers(se);
out:
	policy_watch_stop(watch);
	if (flushing)
		flusher_stop(&flusher);
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	vfs_free(vfs);
	vault_free(vault);
	if (lock_fd >= 0)
		close(lock_fd);
	return status;
}

/* The vault directory and the mount point, judged before anything is made or mounted, into
 * @dir and @mp (PATH_MAX bytes each), which @o then names: -1 to go on, or the command's
 * exit status with the one line that says why. */
static int prepare_paths(const char *dir_arg, const char *mp_arg, struct mount_opts *o, char *dir,
			 char *mp)
{
	char err[PATH_MAX + 256] = "";

	/* a vault at all (or MOUNTPOINT DIR given the wrong way round); absolute before the
	 * daemon leaves the working directory; judged before the daemon makes its log file */
	if (cli_vault_dir(dir_arg, err, sizeof(err)) < 0 ||
	    vault_resolve_safe(dir_arg, dir, err, sizeof(err)) < 0)
		return cli_error("mount", NULL, "%s", err);
	/* said here, before the fork: libfuse would say it in the log, after it */
	if (mount_check_fuse_device(err, sizeof(err)) < 0)
		return cli_error("mount", NULL, "%s", err);
	o->dir = dir;
	/* a mount point in the vault, or above it, would hang the daemon on its own mount */
	if (mountpoint_prepare(dir, mp_arg, mp, &o->cleaned_dead, err, sizeof(err)) < 0)
		return cli_error("mount", mp_arg, "%s", err);
	if (o->cleaned_dead)
		log_info("\"%s\" was left dead by a daemon that died: unmounted it", mp);
	o->mountpoint = mp;
	return -1;
}

/* Forks the daemon: the parent waits for its report and returns the command's status; the
 * child detaches (its own session, stdio to DIR/vaultfs.log, cwd /, syslog) and serves. */
static int start_background(const struct mount_opts *o)
{
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return cli_error("mount", NULL, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return cli_error("mount", NULL, "fork: %s", strerror(errno));
	if (pid > 0) {
		close(pipefd[1]);
		return parent_wait(pipefd[0], o->dir);
	}
	close(pipefd[0]);
	ready_fd = pipefd[1];
	setsid();
	detach_stdio(o->dir);
	if (chdir("/") < 0)
		_exit(1);
	log_use_syslog("vaultfs");
	_exit(serve(o));
}

int mount_main(int argc, char **argv)
{
	struct mount_opts o = { .threads = mount_default_threads() };
	char mp[PATH_MAX], dir[PATH_MAX];
	int r;

	/* SIGHUP means "reopen your logs" (logrotate sends it to every mount daemon), never
	 * "stop": ignored until serve() puts daemon_on_hup in place, so that it ends neither a
	 * daemon that is starting nor this command while it waits for the mount to serve. */
	signal(SIGHUP, SIG_IGN);
	r = mount_parse_args(argc, argv, &o);
	if (r >= 0)
		return r;
	r = prepare_paths(argv[optind], argv[optind + 1], &o, dir, mp);
	if (r >= 0)
		return r;
	signal(SIGSEGV, on_fatal);
	signal(SIGBUS, on_fatal);
	signal(SIGABRT, on_fatal);
	signal(SIGILL, on_fatal);
	signal(SIGFPE, on_fatal);
	return o.foreground ? serve(&o) : start_background(&o);
}

/*
 * caller: identity from /proc, read through one directory descriptor of /proc/PID. Once
 * open, that descriptor names the same task for good: if the task exits, every read
 * through it fails, and a new task that gets the pid is not reached through it. What is
 * read is accepted only if the task's filesystem uid and gid are the request's, which a
 * task that took over the pid before the descriptor was opened would have to share. The
 * pid FUSE gives is the calling thread's, so what is read (groups, the uid check) is that
 * thread's own. Each request reads at most: status, cgroup, and the exe link with a stat
 * through it and one of the path it names.
 */
#include "caller.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * What was read recently, per task: lookups and attribute requests (which decide what a
 * caller sees, never what it may do) reuse it for a second instead of reading /proc again;
 * an open, a listing, a write — anything that acts — always reads afresh.
 */
#define RECENT_SLOTS 256
#define RECENT_US 1000000

struct recent {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	unsigned have;
	int64_t at;
	size_t ngroups;
	gid_t groups[CALLER_GROUPS_MAX];
	char cgroup[CALLER_CGROUP_MAX];
	char exe[CALLER_EXE_MAX];
	int exe_unverified;
};

static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct recent *recent; /* protected by recent_lock */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Fills @c from a recent read of the same task with the same ids covering @need. */
static int recent_get(struct caller *c, unsigned need)
{
	struct recent *e;
	int hit = 0;

	pthread_mutex_lock(&recent_lock);
	if (recent) {
		e = &recent[(unsigned)c->pid % RECENT_SLOTS];
		if (e->pid == c->pid && e->uid == c->uid && e->gid == c->gid &&
		    (e->have & need) == need && now_us() - e->at < RECENT_US) {
			if (need & CALLER_HAVE_GROUPS) {
				memcpy(c->groups, e->groups, e->ngroups * sizeof(gid_t));
				c->ngroups = e->ngroups;
			}
			if (need & CALLER_HAVE_CGROUP)
				memcpy(c->cgroup, e->cgroup, sizeof(c->cgroup));
			if (need & CALLER_HAVE_EXE) {
				memcpy(c->exe, e->exe, sizeof(c->exe));
				c->exe_unverified = e->exe_unverified;
			}
			c->have |= need;
			hit = 1;
		}
	}
	pthread_mutex_unlock(&recent_lock);
	return hit;
}

static void recent_put(const struct caller *c, unsigned got)
{
	struct recent *e;

	pthread_mutex_lock(&recent_lock);
	if (!recent)
		recent = calloc(RECENT_SLOTS, sizeof(*recent));
	if (recent) {
		e = &recent[(unsigned)c->pid % RECENT_SLOTS];
		if (e->pid != c->pid || e->uid != c->uid || e->gid != c->gid)
			e->have = 0;
		e->pid = c->pid;
		e->uid = c->uid;
		e->gid = c->gid;
		e->have |= got;
		e->at = now_us();
		if (got & CALLER_HAVE_GROUPS) {
			memcpy(e->groups, c->groups, c->ngroups * sizeof(gid_t));
			e->ngroups = c->ngroups;
		}
		if (got & CALLER_HAVE_CGROUP)
			memcpy(e->cgroup, c->cgroup, sizeof(e->cgroup));
		if (got & CALLER_HAVE_EXE) {
			memcpy(e->exe, c->exe, sizeof(e->exe));
			e->exe_unverified = c->exe_unverified;
		}
	}
	pthread_mutex_unlock(&recent_lock);
}

void caller_init(struct caller *c, uid_t uid, gid_t gid, pid_t pid)
{
	c->uid = uid;
	c->gid = gid;
	c->pid = pid;
	c->have = 0;
	c->tried = 0;
	c->ngroups = 0;
	c->cgroup[0] = '\0';
	c->exe[0] = '\0';
	c->exe_unverified = 0;
	c->proc = NULL;
	c->recent_ok = 0;
}

/* Reads the whole of @name into @buf; -1 if it does not fit, as a file cut short could
 * end in a line that looks whole (a cgroup path cut to one that some rule matches). */
static ssize_t read_at(int dfd, const char *name, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	char more;

	if (fd < 0)
		return -1;
	while ((size_t)total < len - 1) {
		n = read(fd, buf + total, len - 1 - (size_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	buf[total] = '\0';
	if ((size_t)total == len - 1 && read(fd, &more, 1) != 0)
		total = -1;
	close(fd);
	return total;
}

/* Checks the fs uid and gid, and collects the supplementary groups if asked. */
static int read_status(struct caller *c, int dfd, int want_groups)
{
	char buf[8192];
	unsigned long fsuid, fsgid, a, b, e;
	const char *uid_line, *gid_line, *groups_line;

	if (read_at(dfd, "status", buf, sizeof(buf)) <= 0)
		return -1;
	uid_line = strstr(buf, "\nUid:");
	gid_line = strstr(buf, "\nGid:");
	groups_line = strstr(buf, "\nGroups:");
	if (!uid_line || !gid_line || !groups_line)
		return -1;
	if (sscanf(uid_line + 5, "%lu %lu %lu %lu", &a, &e, &b, &fsuid) != 4 ||
	    sscanf(gid_line + 5, "%lu %lu %lu %lu", &a, &e, &b, &fsgid) != 4)
		return -1;
	if (fsuid != (unsigned long)c->uid || fsgid != (unsigned long)c->gid)
		return -1; /* not the process that made the request, or it changed since */
	if (want_groups) {
		const char *p = groups_line + 8;
		size_t n = 0;

		for (;;) {
			char *end;
			unsigned long g;

			while (*p == ' ' || *p == '\t')
				p++;
			if (*p < '0' || *p > '9')
				break;
			g = strtoul(p, &end, 10);
			if (n == CALLER_GROUPS_MAX)
				return -1; /* a partial list could miss a deny */
			c->groups[n++] = (gid_t)g;
			p = end;
		}
		c->ngroups = n;
	}
	return 0;
}

static int read_cgroup(struct caller *c, int dfd)
{
	char buf[8192];
	const char *line = buf;

	if (read_at(dfd, "cgroup", buf, sizeof(buf)) <= 0)
		return -1;
	/* cgroup v2: the line "0::PATH" */
	while (line && *line) {
		if (strncmp(line, "0::", 3) == 0) {
			const char *end = strchr(line, '\n');
			size_t len = end ? (size_t)(end - line - 3) : strlen(line + 3);

			if (len >= sizeof(c->cgroup))
				return -1;
			memcpy(c->cgroup, line + 3, len);
			c->cgroup[len] = '\0';
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

/*
 * The link text is the path in the task's mount namespace; the stat through the link is
 * the file the task runs, wherever it is mounted. The path passes only if, looked up here,
 * it leads to that same file: a program bind-mounted over /usr/bin/TOOL in a private
 * namespace is not /usr/bin/TOOL here. Both are read through @dfd, the stat first: a task
 * that execs in between has a path newer than the file, which can only fail to verify.
 * A deleted executable's text ends in " (deleted)" and does not verify either.
 */
static int read_exe(struct caller *c, int dfd)
{
	struct stat run, here;
	ssize_t n;

	if (fstatat(dfd, "exe", &run, 0) < 0)
		return -1;
	n = readlinkat(dfd, "exe", c->exe, PATH_MAX);
	/* a link text that fills the buffer may have been cut: a path cut short is not the
	 * caller's, and could match a glob the whole path does not */
	if (n <= 0 || n >= PATH_MAX)
		return -1;
	c->exe[n] = '\0';
	c->exe_unverified =
		stat(c->exe, &here) < 0 || here.st_dev != run.st_dev || here.st_ino != run.st_ino;
	if (c->exe_unverified)
		memcpy(c->exe + n, CALLER_EXE_UNVERIFIED, sizeof(CALLER_EXE_UNVERIFIED));
	return 0;
}

/*
 * /proc/PID belongs to the task's effective uid and gid — unless the task is not dumpable,
 * when it belongs to root. A match on both is the caller; anything else is settled by the
 * status file.
 */
static int owned_by_caller(const struct caller *c, int dfd)
{
	struct stat st;

	return fstat(dfd, &st) == 0 && st.st_uid == c->uid && st.st_gid == c->gid &&
	       !(c->uid == 0 && c->gid == 0);
}

void caller_load(struct caller *c, unsigned need)
{
	char dir[64];
	unsigned got = 0;
	int dfd;

	need &= ~c->tried;
	c->tried |= need;
	if (!need || c->pid <= 0)
		return;
	if (c->recent_ok && recent_get(c, need))
		return;
	snprintf(dir, sizeof(dir), "%s/%d", c->proc ? c->proc : "/proc", (int)c->pid);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	if (!(need & CALLER_HAVE_GROUPS) && owned_by_caller(c, dfd)) {
		/* The directory's owner is the task's effective ids: enough to tell it is the
		 * caller, without asking the kernel to render the whole status file. */
	} else if (read_status(c, dfd, need & CALLER_HAVE_GROUPS) < 0) {
		goto out;
	}
	if (need & CALLER_HAVE_GROUPS)
		got |= CALLER_HAVE_GROUPS;
	if ((need & CALLER_HAVE_CGROUP) && read_cgroup(c, dfd) == 0)
		got |= CALLER_HAVE_CGROUP;
	if ((need & CALLER_HAVE_EXE) && read_exe(c, dfd) == 0)
		got |= CALLER_HAVE_EXE;
	c->have |= got;
	if (got)
		recent_put(c, got);
out:
	close(dfd);
}

int caller_in_group(struct caller *c, gid_t gid)
{
	if (c->gid == gid)
		return 1;
	caller_load(c, CALLER_HAVE_GROUPS);
	if (!(c->have & CALLER_HAVE_GROUPS))
		return 0;
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

/* PF_EXITING in /proc/PID/stat's flags: set as do_exit() starts, before the task's files
 * are closed. */
#define TASK_PF_EXITING 0x4

int caller_exit_code(const struct caller *c, int *ret_code)
{
	char path[64], buf[1024];
	unsigned long long flags = 0;
	long long code = 0;
	const char *p;
	int dfd, field;

	if (c->pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "%s/%d", c->proc ? c->proc : "/proc", (int)c->pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (read_at(dfd, "stat", buf, sizeof(buf)) < 0) {
		close(dfd);
		return -EIO;
	}
	close(dfd);
	/* the command name, in parentheses, may hold anything: fields start after the last
	 * ')'; flags is field 9 and exit_code field 52 (proc(5)) */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	for (field = 2; *p && field < 52; p++)
		if (*p == ' ') {
			field++;
			if (field == 9)
				flags = strtoull(p + 1, NULL, 10);
		}
	if (field != 52)
		return -EIO; /* a kernel without exit_code (before 3.5) */
	code = strtoll(p, NULL, 10);
	if (!(flags & TASK_PF_EXITING))
		return 0;
	*ret_code = (int)code;
	return 1;
}

int caller_setuid_root(const struct caller *c)
{
	char dir[64], buf[8192];
	unsigned long ruid, euid, suid, fsuid;
	const char *line;
	struct stat st;
	int dfd, r;

	if (c->uid == 0)
		return 0; /* root acting as root needs nobody's leave to mount */
	if (c->pid <= 0)
		return -ESRCH;
	snprintf(dir, sizeof(dir), "%s/%d", c->proc ? c->proc : "/proc", (int)c->pid);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	/* /proc/PID belongs to the effective uid of a dumpable task; a set-user-ID one is not
	 * dumpable, so its directory is root's: one owned by the caller settles it at once */
	if (fstat(dfd, &st) == 0 && st.st_uid == c->uid) {
		r = 0;
		goto out;
	}
	r = -EIO;
	if (read_at(dfd, "status", buf, sizeof(buf)) <= 0)
		goto out;
	line = strstr(buf, "\nUid:");
	if (!line || sscanf(line + 5, "%lu %lu %lu %lu", &ruid, &euid, &suid, &fsuid) != 4)
		goto out;
	/* access(2) asks with the real uid, anything else with the filesystem uid */
	if (fsuid != (unsigned long)c->uid && ruid != (unsigned long)c->uid) {
		r = -ESRCH; /* not the task that made the request, or it changed since */
		goto out;
	}
	r = euid == 0 && ruid == (unsigned long)c->uid;
out:
	close(dfd);
	return r;
}

int caller_exe_readable(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	return !!(data[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective & CAP_TO_MASK(CAP_SYS_PTRACE));
}

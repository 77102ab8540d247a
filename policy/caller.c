/*
 * caller: identity from /proc, read through one directory descriptor of /proc/PID — which
 * keeps naming the same process even if the pid is reused — and accepted only if the
 * process's start time is the same before and after and its filesystem uid and gid are
 * the request's. The pid FUSE gives is the calling thread's, so what is read (groups, the
 * uid check) is that thread's own.
 */
#include "caller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	c->proc = NULL;
}

static ssize_t read_at(int dfd, const char *name, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

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
	close(fd);
	buf[total] = '\0';
	return total;
}

/* Field 22 of /proc/PID/stat: the start time, which a reused pid does not share. */
static int start_time(int dfd, unsigned long long *ret)
{
	char buf[1024];
	const char *p;

	if (read_at(dfd, "stat", buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p)
		return -1;
	/* after ") " come fields 3.. ; the start time is field 22 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			  "%*d %*d %llu",
		   ret) != 1)
		return -1;
	return 0;
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

static int read_exe(struct caller *c, int dfd)
{
	ssize_t n = readlinkat(dfd, "exe", c->exe, sizeof(c->exe) - 1);

	if (n <= 0)
		return -1;
	c->exe[n] = '\0';
	return 0;
}

void caller_load(struct caller *c, unsigned need)
{
	unsigned long long t0, t1;
	char dir[64];
	unsigned got = 0;
	int dfd;

	need &= ~c->tried;
	c->tried |= need;
	if (!need || c->pid <= 0)
		return;
	snprintf(dir, sizeof(dir), "%s/%d", c->proc ? c->proc : "/proc", (int)c->pid);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	if (start_time(dfd, &t0) < 0 || read_status(c, dfd, need & CALLER_HAVE_GROUPS) < 0)
		goto out;
	if (need & CALLER_HAVE_GROUPS)
		got |= CALLER_HAVE_GROUPS;
	if ((need & CALLER_HAVE_CGROUP) && read_cgroup(c, dfd) == 0)
		got |= CALLER_HAVE_CGROUP;
	if ((need & CALLER_HAVE_EXE) && read_exe(c, dfd) == 0)
		got |= CALLER_HAVE_EXE;
	/* Still the same process, still with the request's ids: then what was read is its. */
	if (start_time(dfd, &t1) < 0 || t1 != t0 || read_status(c, dfd, 0) < 0)
		got = 0;
	c->have |= got;
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

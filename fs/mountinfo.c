/*
 * mountinfo: /proc/self/mountinfo parsed in place. The kernel escapes space, tab, newline
 * and backslash in paths as three octal digits; they are unescaped here, in the buffer.
 * Nothing here looks up a path: a line cut short or that does not parse fails the whole
 * read rather than being skipped, since a skipped line could be the mount that matters.
 */
#include "mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOUNTINFO_PATH "/proc/self/mountinfo"

/* Reads all of @fd from offset 0 into a NUL-terminated buffer. */
static int read_all(int fd, char **ret)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap), *bigger;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - len < 4096) {
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		n = pread(fd, buf + len, cap - len - 1, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

/* Cuts the next space-separated field off *@p and unescapes it in place. */
static char *field(char **p)
{
	char *start = *p, *in, *out;

	if (!start || !*start)
		return NULL;
	in = strchr(start, ' ');
	if (in) {
		*in = '\0';
		*p = in + 1;
	} else {
		*p = NULL;
	}
	for (in = out = start; *in; in++, out++) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
		    in[3] >= '0' && in[3] <= '7') {
			*out = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 | (in[3] - '0'));
			in += 3;
		} else {
			*out = *in;
		}
	}
	*out = '\0';
	return start;
}

static int parse_line(char *line, struct mountinfo_entry *e)
{
	char *p = line, *f;

	f = field(&p);
	if (!f || sscanf(f, "%d", &e->id) != 1)
		return -EIO;
	f = field(&p);
	if (!f || sscanf(f, "%d", &e->parent) != 1)
		return -EIO;
	f = field(&p);
	if (!f || sscanf(f, "%u:%u", &e->major, &e->minor) != 2)
		return -EIO;
	e->root = field(&p);
	e->mountpoint = field(&p);
	if (!field(&p)) /* the mount's options */
		return -EIO;
	/* optional fields ("shared:1", ...) up to a lone "-" */
	do {
		f = field(&p);
	} while (f && strcmp(f, "-") != 0);
	e->fstype = field(&p);
	e->source = field(&p);
	e->super_opts = p ? p : "";
	if (!e->root || !e->mountpoint || !e->fstype || !e->source)
		return -EIO;
	return 0;
}

int mountinfo_read(int fd, struct mountinfo **ret)
{
	struct mountinfo *m = calloc(1, sizeof(*m));
	size_t lines = 0;
	char *line, *next;
	int own = -1, r;

	if (!m)
		return -ENOMEM;
	if (fd < 0) {
		own = fd = open(MOUNTINFO_PATH, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			goto out;
		}
	}
	r = read_all(fd, &m->buf);
	if (r < 0)
		goto out;
	for (line = m->buf; *line; line++)
		lines += *line == '\n';
	m->e = calloc(lines + 1, sizeof(*m->e));
	if (!m->e) {
		r = -ENOMEM;
		goto out;
	}
	for (line = m->buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			r = -EIO; /* a line cut short */
			goto out;
		}
		*next++ = '\0';
		r = parse_line(line, &m->e[m->n]);
		if (r < 0)
			goto out;
		m->n++;
	}
	*ret = m;
	m = NULL;
	r = 0;
out:
	if (own >= 0)
		close(own);
	mountinfo_free(m);
	return r;
}

void mountinfo_free(struct mountinfo *m)
{
	if (!m)
		return;
	free(m->e);
	free(m->buf);
	free(m);
}

const struct mountinfo_entry *mountinfo_find(const struct mountinfo *m, int id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].id == id)
			return &m->e[i];
	return NULL;
}

const struct mountinfo_entry *mountinfo_at(const struct mountinfo *m, const char *path)
{
	const struct mountinfo_entry *top = NULL;

	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].mountpoint, path) == 0)
			top = &m->e[i];
	return top;
}

int mountinfo_is_below(const struct mountinfo *m, int id, int ancestor)
{
	const struct mountinfo_entry *e = mountinfo_find(m, id);

	/* bounded: a table that loops (it cannot) ends the walk */
	for (size_t steps = 0; e && steps < m->n; steps++) {
		if (e->parent == ancestor)
			return 1;
		if (e->parent == e->id)
			return 0;
		e = mountinfo_find(m, e->parent);
	}
	return 0;
}

int mountinfo_fd_mount_id(int fd)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int dfd, id;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	dfd = open(path, O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	n = read(dfd, buf, sizeof(buf) - 1);
	close(dfd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strstr(buf, "mnt_id:");
	if (!p || (p != buf && p[-1] != '\n') || sscanf(p + 7, "%d", &id) != 1)
		return -EIO;
	return id;
}

int mountinfo_fuse_at(const char *mountpoint, int *ret_table_fd, struct mountinfo **ret_m,
		      const struct mountinfo_entry **ret_e)
{
	const struct mountinfo_entry *e;
	int fd, id, r;

	fd = open(mountpoint, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	id = mountinfo_fd_mount_id(fd);
	close(fd);
	if (id < 0)
		return id;
	*ret_table_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (*ret_table_fd < 0)
		return -errno;
	r = mountinfo_read(*ret_table_fd, ret_m);
	if (r < 0)
		return r;
	e = mountinfo_find(*ret_m, id);
	if (!e || strcmp(e->mountpoint, mountpoint) != 0 || strncmp(e->fstype, "fuse", 4) != 0)
		return -ENOENT;
	*ret_e = e;
	return id;
}

/*
 * watch_trail: the trail's rotated files a watch has not reached (watch_trail.h). Between
 * the file a watch read to its end and the new one at the path, the trail may have been
 * rotated more than once while the watch was not looking (a slow reader, a loaded
 * machine, the vault's own rotation by size under a burst); the files in between are
 * told by their first record.
 */
#include "watch_trail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"

static int missed_cmp(const void *a, const void *b)
{
	const struct watch_missed *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* The seq of the first record in @fd: 0 when it holds none (empty, compressed). */
static uint64_t first_seq(int fd, char *buf)
{
	ssize_t k = pread(fd, buf, AUDIT_LINE_MAX, 0);
	char *nl = k > 0 ? memchr(buf, '\n', (size_t)k) : NULL;
	json_object *o, *s;
	uint64_t seq = 0;

	if (!nl)
		return 0;
	*nl = '\0';
	o = json_tokener_parse(buf);
	if (o && json_object_object_get_ex(o, "seq", &s) && json_object_is_type(s, json_type_int) &&
	    json_object_get_int64(s) > 0)
		seq = (uint64_t)json_object_get_int64(s);
	json_object_put(o);
	return seq;
}

static int is_open(const struct stat *st, const struct watch_file_id *open, size_t n_open)
{
	for (size_t i = 0; i < n_open; i++)
		if (st->st_dev == open[i].dev && st->st_ino == open[i].ino)
			return 1;
	return 0;
}

int watch_missed_files(const char *path, const struct watch_file_id *open, size_t n_open,
		       uint64_t last_seq, char *buf, struct watch_missed **ret, size_t *ret_n)
{
	char dir[PATH_MAX];
	const char *base;
	struct watch_missed *m = NULL, *grown;
	size_t n = 0, cap = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int r = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	*(strrchr(dir, '/') ?: dir) = '\0';
	d = opendir(*dir ? dir : ".");
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		uint64_t first;
		int fd;

		if (strncmp(e->d_name, base, strlen(base)) != 0 || strcmp(e->d_name, base) == 0)
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue; /* gone meanwhile, or not ours to read: not the trail */
		first = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !is_open(&st, open, n_open)
				? first_seq(fd, buf)
				: 0;
		if (first <= last_seq) {
			close(fd);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 4;
			grown = realloc(m, cap * sizeof(*m));
			if (!grown) {
				close(fd);
				r = -ENOMEM;
				goto out;
			}
			m = grown;
		}
		m[n++] = (struct watch_missed){ .first = first, .fd = fd };
	}
	if (n > 1) /* qsort wants an array, and none was made for no file */
		qsort(m, n, sizeof(*m), missed_cmp);
	*ret = m;
	*ret_n = n;
	m = NULL;
	n = 0;
out:
	for (size_t i = 0; i < n; i++)
		close(m[i].fd);
	free(m);
	closedir(d);
	return r;
}

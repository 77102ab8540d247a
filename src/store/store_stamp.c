/*
 * store_stamp: the change stamp of the SQLite store (store_stamp in store.h) — what the
 * read caches compare before they answer, without a query or a lock.
 *
 * Every commit to a WAL database — by this process or any other, the command line
 * included — rewrites the WAL-index header in the -shm file (its change counter, last
 * frame, salts and checksums; https://www.sqlite.org/walformat.html). The stamp is a copy
 * of that header, read from a read-only mapping of the file's first page. A header that is
 * being written (its two copies differ) or not set up gives no stamp.
 *
 * What this must never do: give the same stamp on both sides of a commit.
 */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct store_stamper {
	/* Kept open for the store's life: closing any descriptor of a file drops every POSIX
	 * lock this process holds on it, SQLite's own locks on the -shm file included. */
	int fd;
	const volatile uint8_t *shm; /* the -shm file's first page; NULL: no stamp ever */
	size_t map_len;
};

int store_stamper_open(const char *db_path, struct store_stamper **ret)
{
	struct store_stamper *st;
	char path[PATH_MAX];
	struct stat sb;
	void *p;
	int fd;

	if (snprintf(path, sizeof(path), "%s-shm", db_path) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		free(st);
		return -errno;
	}
	/* From here the descriptor stays open until store_stamper_free, even if no stamp can
	 * be read: closing it now would drop SQLite's locks on the file. */
	st->fd = fd;
	/* Mapped past the file's end, a read would be SIGBUS: SQLite makes the file 32 KiB
	 * once it is in use, and never shrinks it while this process holds its locks. */
	if (fstat(fd, &sb) == 0 && sb.st_size >= 4096) {
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			st->shm = p;
			st->map_len = 4096;
		}
	}
	*ret = st;
	return 0;
}

void store_stamper_free(struct store_stamper *st)
{
	if (!st)
		return;
	if (st->shm)
		munmap((void *)st->shm, st->map_len);
	close(st->fd); /* after the store's connections: see struct store_stamper */
	free(st);
}

int store_stamp(struct store *s, struct store_stamp *ret)
{
	const struct store_stamper *st = s->stamper;
	uint8_t out[STORE_STAMP_LEN], other[STORE_STAMP_LEN];

	if (!st || !st->shm)
		return -ENOTSUP;
	/* two copies of the header follow each other; a writer changes both */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (size_t i = 0; i < STORE_STAMP_LEN; i++)
		out[i] = st->shm[i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (size_t i = 0; i < STORE_STAMP_LEN; i++)
		other[i] = st->shm[STORE_STAMP_LEN + i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	/* isInit is byte 12 of the header */
	if (memcmp(out, other, STORE_STAMP_LEN) != 0 || out[12] == 0)
		return -EAGAIN;
	memcpy(ret->bytes, out, STORE_STAMP_LEN);
	return 0;
}

/*
 * store_cache: the read path without SQLite while nothing has changed.
 *
 * Every commit to a WAL database — by this process or any other, the command line
 * included — rewrites the WAL-index header in the -shm file (its change counter, last
 * frame, salts and checksums; https://www.sqlite.org/walformat.html). The cache maps the
 * first page of that file read-only, and keeps rows and current sealed values (metadata
 * and ciphertext, never plaintext) stamped with the header they were read under. An entry
 * is used only while the header is still byte for byte the same, and it is filled only if
 * the header was the same before and after the query that read it. A header that is being
 * written (its two copies differ) or not set up makes every lookup a miss.
 *
 * What this must never do: serve a row or value older than the last commit that finished
 * before the lookup began. Lookups that race a commit see the state before it, as a read
 * transaction begun at that moment would.
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

#define HDR_LEN STORE_STAMP_LEN /* one copy of the WAL-index header; two follow each other */
#define CACHE_BUCKETS 1024
#define CACHE_MAX 8192

struct cache_entry {
	char *path;
	struct row row;
	int64_t key_id;
	uint8_t *sealed; /* NULL until a read fills it */
	size_t sealed_len;
	struct cache_entry *next;
};

struct store_cache {
	pthread_rwlock_t lock;
	/* Kept open for the cache's life: closing any descriptor of a file drops every POSIX
	 * lock this process holds on it, SQLite's own locks on the -shm file included. */
	int fd;
	const volatile uint8_t *shm; /* the -shm file's first page */
	size_t map_len;
	uint8_t stamp[HDR_LEN]; /* protected by lock: the header the entries were read under */
	int stamped;
	struct cache_entry *buckets[CACHE_BUCKETS]; /* protected by lock */
	size_t count;
};

/* Copies the header; -1 if it is being written or was never set up. */
static int header(const struct store_cache *c, uint8_t out[HDR_LEN])
{
	uint8_t other[HDR_LEN];

	if (!c->shm)
		return -1;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (size_t i = 0; i < HDR_LEN; i++)
		out[i] = c->shm[i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (size_t i = 0; i < HDR_LEN; i++)
		other[i] = c->shm[HDR_LEN + i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	/* isInit is byte 12 of the header */
	if (memcmp(out, other, HDR_LEN) != 0 || out[12] == 0)
		return -1;
	return 0;
}

static size_t bucket(const char *path)
{
	size_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = h * 33 + *p;
	return h % CACHE_BUCKETS;
}

static void clear_locked(struct store_cache *c)
{
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cache_entry *e = c->buckets[i];

		while (e) {
			struct cache_entry *next = e->next;

			free(e->path);
			free(e->sealed);
			free(e);
			e = next;
		}
		c->buckets[i] = NULL;
	}
	c->count = 0;
}

int store_cache_new(const char *db_path, struct store_cache **ret)
{
	struct store_cache *c;
	char path[PATH_MAX];
	struct stat st;
	void *p;
	int fd;

	if (snprintf(path, sizeof(path), "%s-shm", db_path) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		free(c);
		return -errno;
	}
	/* From here the descriptor stays open until store_cache_free, even if the cache cannot
	 * be used: closing it now would drop SQLite's locks on the file. */
	pthread_rwlock_init(&c->lock, NULL);
	c->fd = fd;
	/* Mapped past the file's end, a read would be SIGBUS: SQLite makes the file 32 KiB
	 * once it is in use, and never shrinks it while this process holds its locks. */
	if (fstat(fd, &st) == 0 && st.st_size >= 4096) {
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			c->shm = p;
			c->map_len = 4096;
		}
	}
	*ret = c;
	return 0;
}

void store_cache_free(struct store_cache *c)
{
	if (!c)
		return;
	clear_locked(c);
	if (c->shm)
		munmap((void *)c->shm, c->map_len);
	close(c->fd); /* after the store's connections: see struct store_cache */
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

int store_cache_stamp(struct store_cache *c, uint8_t out[HDR_LEN])
{
	return c ? header(c, out) : -1;
}

int store_cache_get(struct store_cache *c, const char *path, struct row *ret_row,
		    int64_t *ret_key_id, uint8_t **ret_sealed, size_t *ret_sealed_len)
{
	uint8_t now[HDR_LEN];
	int r = -ENOENT;

	if (!c || header(c, now) < 0)
		return -ENOENT;
	pthread_rwlock_rdlock(&c->lock);
	if (c->stamped && memcmp(now, c->stamp, HDR_LEN) == 0) {
		for (struct cache_entry *e = c->buckets[bucket(path)]; e; e = e->next) {
			if (strcmp(e->path, path) != 0)
				continue;
			if (ret_sealed && !e->sealed)
				break;
			*ret_row = e->row;
			if (ret_sealed) {
				*ret_sealed = malloc(e->sealed_len);
				if (!*ret_sealed)
					break;
				memcpy(*ret_sealed, e->sealed, e->sealed_len);
				*ret_sealed_len = e->sealed_len;
				*ret_key_id = e->key_id;
			}
			r = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&c->lock);
	return r;
}

void store_cache_put(struct store_cache *c, const uint8_t before[HDR_LEN], const char *path,
		     const struct row *row, int64_t key_id, const void *sealed, size_t sealed_len)
{
	uint8_t now[HDR_LEN];
	struct cache_entry *e;
	size_t b;

	if (!c || header(c, now) < 0 || memcmp(now, before, HDR_LEN) != 0)
		return; /* something committed while the row was read */
	pthread_rwlock_wrlock(&c->lock);
	if (!c->stamped || memcmp(c->stamp, now, HDR_LEN) != 0 || c->count >= CACHE_MAX) {
		clear_locked(c);
		memcpy(c->stamp, now, HDR_LEN);
		c->stamped = 1;
	}
	b = bucket(path);
	for (e = c->buckets[b]; e; e = e->next)
		if (strcmp(e->path, path) == 0)
			break;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->path = strdup(path))) {
			free(e);
			goto out;
		}
		e->next = c->buckets[b];
		c->buckets[b] = e;
		c->count++;
	}
	e->row = *row;
	if (sealed) {
		uint8_t *copy = malloc(sealed_len);

		if (copy) {
			memcpy(copy, sealed, sealed_len);
			free(e->sealed);
			e->sealed = copy;
			e->sealed_len = sealed_len;
			e->key_id = key_id;
		}
	}
out:
	pthread_rwlock_unlock(&c->lock);
}

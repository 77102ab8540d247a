/*
 * secbuf: locked, undumpable, wiped memory for secret bytes.
 *
 * Each buffer's bytes live in a private anonymous mapping: mlock keeps them out of swap
 * (best effort: an unprivileged process over RLIMIT_MEMLOCK still gets the buffer, as
 * OpenSSH and Vault do), MADV_DONTDUMP keeps them out of core files, and every path that
 * lets go of the bytes — truncate, growth, free — wipes them first.
 *
 * Blocks up to POOL_MAX come from a pool of such mappings, kept and reused once wiped:
 * a read through the mount then costs no mmap, mlock or munmap (and no TLB shootdown on
 * every core). Larger blocks are mapped one by one. The pool keeps at most POOL_KEEP bytes
 * of free blocks per size: a block freed beyond that is unmapped, so memory that a burst
 * of open files took goes back to the system when they close (the pool must never grow
 * to the largest number of buffers ever held at once and stay there).
 */
#include "secbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Past len, up to map_len, the block holds zeros or what a writer put in the room
 * (secbuf_mutable_data); all of it is wiped when the block is let go. */
struct secbuf {
	uint8_t *data; /* NULL while capacity is 0 */
	size_t len; /* written and read with relaxed atomics: see secbuf_len */
	size_t cap;
	size_t map_len; /* the mapping's length, a multiple of the page size */
};

static void set_len(struct secbuf *b, size_t len)
{
	__atomic_store_n(&b->len, len, __ATOMIC_RELAXED);
}

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - page)
		return 0;
	return (n + page - 1) / page * page;
}

#define POOL_CLASSES 5 /* 4, 8, 16, 32 and 64 KiB */
#define POOL_MIN 4096
#define POOL_MAX (POOL_MIN << (POOL_CLASSES - 1))
#define POOL_CHUNK (256 * 1024) /* mapped at once and cut into blocks of one class */
/* free bytes kept per class: more than the blocks a few dozen concurrent reads hold */
#define POOL_KEEP (1024 * 1024)

/* A free block holds only the link to the next one: its bytes were wiped. */
struct free_block {
	struct free_block *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct free_block *pool_free[POOL_CLASSES]; /* protected by pool_lock */
static size_t pool_free_bytes[POOL_CLASSES]; /* protected by pool_lock */

static void *map_secure(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)mlock(p, len);
	(void)madvise(p, len, MADV_DONTDUMP);
	(void)madvise(p, len, MADV_DONTFORK);
	return p;
}

static int pool_class(size_t len)
{
	int c = 0;

	while ((size_t)POOL_MIN << c < len)
		c++;
	return c;
}

static void *pool_get(int c)
{
	size_t size = (size_t)POOL_MIN << c;
	struct free_block *b;

	pthread_mutex_lock(&pool_lock);
	if (!pool_free[c]) {
		uint8_t *chunk = map_secure(POOL_CHUNK);

		if (chunk)
			for (size_t off = 0; off + size <= POOL_CHUNK; off += size) {
				b = (struct free_block *)(chunk + off);
				b->next = pool_free[c];
				pool_free[c] = b;
				pool_free_bytes[c] += size;
			}
	}
	b = pool_free[c];
	if (b) {
		pool_free[c] = b->next;
		pool_free_bytes[c] -= size;
		b->next = NULL; /* a new block reads as zeros */
	}
	pthread_mutex_unlock(&pool_lock);
	return b;
}

/* Takes back a wiped block, or unmaps it when the class already keeps enough: a block is
 * whole pages of its chunk, and unmapping them alone gives them back (the rest of the
 * chunk stays mapped). */
static void pool_put(void *p, int c)
{
	size_t size = (size_t)POOL_MIN << c;
	struct free_block *b = p;
	int keep;

	pthread_mutex_lock(&pool_lock);
	keep = pool_free_bytes[c] + size <= POOL_KEEP;
	if (keep) {
		b->next = pool_free[c];
		pool_free[c] = b;
		pool_free_bytes[c] += size;
	}
	pthread_mutex_unlock(&pool_lock);
	if (!keep)
		(void)munmap(p, size);
}

/* The length of the block that holds @cap bytes: a pool class, or whole pages. 0 when
 * no block can be that large. */
static size_t block_len(size_t cap)
{
	size_t len = page_round(cap);

	if (len != 0 && len <= POOL_MAX)
		len = (size_t)POOL_MIN << pool_class(len);
	return len;
}

static int map_block(size_t cap, uint8_t **ret_data, size_t *ret_map_len)
{
	size_t len = block_len(cap);
	void *p;

	if (len == 0)
		return -ENOMEM;
	if (len <= POOL_MAX)
		p = pool_get(pool_class(len));
	else
		p = map_secure(len);
	if (!p)
		return -ENOMEM;
	*ret_data = p;
	*ret_map_len = len;
	return 0;
}

/*
 * Wipes the whole block — whatever any writer put anywhere in it — and lets it go.
 * explicit_bzero is glibc's vectorised memset that the compiler may not drop; it wipes a
 * page in a fraction of the time of a byte loop.
 */
static void unmap_block(uint8_t *data, size_t map_len)
{
	if (!data)
		return;
	explicit_bzero(data, map_len);
	if (map_len <= POOL_MAX) {
		pool_put(data, pool_class(map_len));
		return;
	}
	(void)munlock(data, map_len);
	(void)munmap(data, map_len);
}

void secbuf_check(const struct secbuf *b)
{
	if (!b || b->len > b->cap || b->cap > b->map_len || (b->cap && !b->data))
		abort();
}

int secbuf_new(size_t cap, struct secbuf **ret)
{
	struct secbuf *b;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	r = map_block(cap, &b->data, &b->map_len);
	if (r < 0) {
		free(b);
		return r;
	}
	b->cap = b->map_len;
	*ret = b;
	return 0;
}

int secbuf_from(const void *src, size_t len, struct secbuf **ret)
{
	struct secbuf *b;
	int r;

	r = secbuf_new(len, &b);
	if (r < 0)
		return r;
	if (len)
		memcpy(b->data, src, len);
	set_len(b, len);
	*ret = b;
	return 0;
}

/* The capacity to map so that @b holds @need bytes. */
static size_t grown_cap(const struct secbuf *b, size_t need)
{
	/* Grow geometrically so that many small appends stay linear. */
	if (need < b->cap * 2 && b->cap * 2 > b->cap)
		return b->cap * 2;
	return need;
}

size_t secbuf_held(const struct secbuf *b)
{
	return b ? b->map_len : 0;
}

size_t secbuf_held_after(const struct secbuf *b, size_t need)
{
	size_t len;

	if (!b)
		len = block_len(need);
	else if (need <= b->cap)
		return b->map_len;
	else
		len = block_len(grown_cap(b, need));
	return len ? len : SIZE_MAX;
}

int secbuf_reserve(struct secbuf *b, size_t need)
{
	uint8_t *data;
	size_t map_len;
	int r;

	secbuf_check(b);
	if (need <= b->cap)
		return 0;
	need = grown_cap(b, need);
	r = map_block(need, &data, &map_len);
	if (r < 0)
		return r;
	if (b->len)
		memcpy(data, b->data, b->len);
	unmap_block(b->data, b->map_len);
	b->data = data;
	b->map_len = map_len;
	b->cap = map_len;
	return 0;
}

int secbuf_append(struct secbuf *b, const void *src, size_t len)
{
	int r;

	secbuf_check(b);
	if (len > SIZE_MAX - b->len)
		return -ENOMEM;
	r = secbuf_reserve(b, b->len + len);
	if (r < 0)
		return r;
	if (len)
		memcpy(b->data + b->len, src, len);
	set_len(b, b->len + len);
	return 0;
}

void secbuf_truncate(struct secbuf *b, size_t len)
{
	secbuf_check(b);
	if (len > b->len)
		abort();
	OPENSSL_cleanse(b->data + len, b->len - len);
	set_len(b, len);
}

const uint8_t *secbuf_data(const struct secbuf *b)
{
	secbuf_check(b);
	return b->data;
}

uint8_t *secbuf_mutable_data(struct secbuf *b)
{
	secbuf_check(b);
	return b->data;
}

size_t secbuf_len(const struct secbuf *b)
{
	return __atomic_load_n(&b->len, __ATOMIC_RELAXED);
}

size_t secbuf_cap(const struct secbuf *b)
{
	secbuf_check(b);
	return b->cap;
}

int secbuf_set_len(struct secbuf *b, size_t len)
{
	secbuf_check(b);
	if (len > b->cap)
		return -EINVAL;
	if (len < b->len)
		OPENSSL_cleanse(b->data + len, b->len - len);
	set_len(b, len);
	return 0;
}

int secbuf_resize(struct secbuf *b, size_t len)
{
	int r;

	secbuf_check(b);
	if (len > b->len) {
		r = secbuf_reserve(b, len);
		if (r < 0)
			return r;
		/* the room may hold what a writer left there without setting the length */
		memset(b->data + b->len, 0, len - b->len);
	}
	return secbuf_set_len(b, len);
}

int secbuf_equal(const struct secbuf *a, const struct secbuf *b)
{
	if (a->len != b->len)
		return 0;
	if (a->len == 0)
		return 1;
	return CRYPTO_memcmp(a->data, b->data, a->len) == 0;
}

int secbuf_read_fd(int fd, size_t max, struct secbuf **ret)
{
	struct secbuf *b;
	int r;

	r = secbuf_new(4096, &b);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n;

		if (b->len == b->cap) {
			if (b->len > max) {
				r = -EFBIG;
				goto fail;
			}
			r = secbuf_reserve(b, b->cap + 1);
			if (r < 0)
				goto fail;
		}
		n = read(fd, b->data + b->len, b->cap - b->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		set_len(b, b->len + (size_t)n);
		if (b->len > max) {
			r = -EFBIG;
			goto fail;
		}
	}
	*ret = b;
	return 0;
fail:
	secbuf_free(b);
	return r;
}

void secbuf_free(struct secbuf *b)
{
	if (!b)
		return;
	secbuf_check(b);
	unmap_block(b->data, b->map_len);
	OPENSSL_cleanse(b, sizeof(*b));
	free(b);
}

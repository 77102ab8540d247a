/*
 * secbuf: locked, undumpable, wiped memory for secret bytes.
 *
 * Each buffer's bytes live in a private anonymous mapping: mlock keeps them out of swap
 * (best effort: an unprivileged process over RLIMIT_MEMLOCK still gets the buffer, as
 * OpenSSH and Vault do), MADV_DONTDUMP keeps them out of core files, and every path that
 * lets go of the bytes — truncate, growth, free — wipes them first.
 */
#include "secbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - page)
		return 0;
	return (n + page - 1) / page * page;
}

static int map_block(size_t cap, uint8_t **ret_data, size_t *ret_map_len)
{
	size_t len = page_round(cap);
	void *p;

	if (len == 0)
		return -ENOMEM;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	(void)mlock(p, len);
	(void)madvise(p, len, MADV_DONTDUMP);
	(void)madvise(p, len, MADV_DONTFORK);
	*ret_data = p;
	*ret_map_len = len;
	return 0;
}

static void unmap_block(uint8_t *data, size_t map_len)
{
	if (!data)
		return;
	OPENSSL_cleanse(data, map_len);
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
	b->len = len;
	*ret = b;
	return 0;
}

int secbuf_reserve(struct secbuf *b, size_t need)
{
	uint8_t *data;
	size_t map_len;
	int r;

	secbuf_check(b);
	if (need <= b->cap)
		return 0;
	/* Grow geometrically so that many small appends stay linear. */
	if (need < b->cap * 2 && b->cap * 2 > b->cap)
		need = b->cap * 2;
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
	b->len += len;
	return 0;
}

void secbuf_truncate(struct secbuf *b, size_t len)
{
	secbuf_check(b);
	if (len > b->len)
		abort();
	OPENSSL_cleanse(b->data + len, b->len - len);
	b->len = len;
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
		b->len += (size_t)n;
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

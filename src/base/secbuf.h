/*
 * secbuf: the one type that holds secret bytes in memory — secret values, data keys,
 * PINs. A secbuf lives in its own anonymous mapping that is locked into RAM where the
 * process may lock memory, excluded from core dumps, and wiped before it is unmapped.
 *
 * It must never be copied with memcpy into ordinary heap memory by its users, and its
 * contents must never reach a log.
 */
#ifndef VAULTFS_SECBUF_H
#define VAULTFS_SECBUF_H

#include <stddef.h>
#include <stdint.h>

/* Opaque: its bytes are reached through the functions below, so that nothing outside
 * secbuf.c can get its length and its capacity out of step. */
struct secbuf;

/* Allocates an empty secbuf with room for at least @cap bytes. Returns 0 or -ENOMEM. */
int secbuf_new(size_t cap, struct secbuf **ret);

/* Allocates a secbuf holding a copy of @len bytes at @src. */
int secbuf_from(const void *src, size_t len, struct secbuf **ret);

/* Makes room for @need bytes in all. A larger block is mapped, the contents moved, and the
 * old block wiped and unmapped. Returns 0 or -ENOMEM; on failure @b is unchanged. */
int secbuf_reserve(struct secbuf *b, size_t need);

/* The bytes of memory @b holds (its mapping, whole pages); 0 for NULL. */
size_t secbuf_held(const struct secbuf *b);

/* What secbuf_held would be once secbuf_reserve(@b, @need) succeeded — or, for a NULL @b,
 * what secbuf_new(@need) holds. SIZE_MAX when no buffer can be that large. Lets a caller
 * with a budget refuse growth before the memory is taken. */
size_t secbuf_held_after(const struct secbuf *b, size_t need);

/* The secbuf_len(@b) bytes it holds, to read. Never NULL. */
const uint8_t *secbuf_data(const struct secbuf *b);

/*
 * The same bytes to write, and the room after them up to secbuf_cap(@b): a caller that
 * fills the room (a token's or OpenSSL's output) then says how much with secbuf_set_len.
 * Valid until the next call that may grow @b (reserve, resize, append).
 */
uint8_t *secbuf_mutable_data(struct secbuf *b);

/* The length of what it holds. May be read while another thread writes @b (stat of a
 * file being written): the answer is then the length before or after that write. */
size_t secbuf_len(const struct secbuf *b);

/* The bytes it can hold without growing (at least what secbuf_new and reserve asked). */
size_t secbuf_cap(const struct secbuf *b);

/*
 * Sets the length to @len without growing: the bytes up to @len are what was written in
 * the room (zeros where nothing was); bytes past a shorter length are wiped. Returns 0,
 * or -EINVAL when @len exceeds secbuf_cap(@b), and then @b is unchanged.
 */
int secbuf_set_len(struct secbuf *b, size_t len);

/*
 * Sets the length to @len, growing as secbuf_reserve does: bytes added are zeros, bytes
 * dropped are wiped. Returns 0 or -ENOMEM; on failure @b is unchanged.
 */
int secbuf_resize(struct secbuf *b, size_t len);

/* Appends @len bytes; grows as secbuf_reserve does. */
int secbuf_append(struct secbuf *b, const void *src, size_t len);

/* Sets the length to @len, which must not exceed the capacity; bytes past it are wiped. */
void secbuf_truncate(struct secbuf *b, size_t len);

/* Constant-time equality of two buffers' contents (length is not secret). */
int secbuf_equal(const struct secbuf *a, const struct secbuf *b);

/* Reads the whole of file descriptor @fd (up to @max bytes) into a new secbuf.
 * Returns 0, -EFBIG when the input is longer than @max, or another -errno. */
int secbuf_read_fd(int fd, size_t max, struct secbuf **ret);

/* Wipes and unmaps. Accepts NULL. */
void secbuf_free(struct secbuf *b);

/* Aborts if the buffer's bookkeeping is inconsistent: corrupted state is not recovered. */
void secbuf_check(const struct secbuf *b);

static inline void secbuf_freep(struct secbuf **b)
{
	secbuf_free(*b);
	*b = NULL;
}
#define _cleanup_secbuf_ __attribute__((cleanup(secbuf_freep)))

#endif

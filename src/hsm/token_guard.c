/*
 * token_guard: the lock, the signal mask and the known-good copy around the embedded
 * token's C_Initialize and C_Login (see token_guard.h for why).
 *
 * What SoftHSM2 2.6.1 writes, and when (ObjectFile::store, Generation::commit): C_Login
 * rewrites token.object — label, serial, flags and the wrapped SO and user PINs, after a
 * generation number — by ftruncate() and one write() at fclose(); nothing else it writes is
 * ever cut short: the token's "generation" file is overwritten in place, 8 bytes, and each
 * key is an object file of its own, written when it is made. So token.object is the only
 * file a kill can empty, and the copy of it is all this module keeps. It holds no list of
 * objects: putting an older copy back can never forget a key, and since what token.object
 * holds changes only with the PINs and flags, a copy taken after a login is as current as
 * the file, whatever generation number either carries.
 *
 * SIGKILL cannot be held off, so the lock alone proves nothing after a kill: the copy is
 * what makes a kill harmless, and it is only ever written whole, under another name, and
 * renamed into place. This file never reads or writes a key object and never logs.
 */
#include "token_guard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"

#define TOKEN_OBJECT "token.object"
#define TMP_SUFFIX ".tmp"
#define OBJECT_MAX (1 << 20) /* a token.object is a few hundred bytes */
#define GEN_LEN 8

/* SoftHSM2's own attributes of a token (CKA_VENDOR_DEFINED + 0x5348 + n, OSAttributes.h). */
#define CKA_OS_TOKENLABEL 0x80005349UL
#define CKA_OS_TOKENFLAGS 0x8000534bUL
#define CKA_OS_USERPIN 0x8000534dUL

/* The kinds of value in an object file (ObjectFile.cpp). */
enum { KIND_BOOL = 1, KIND_ULONG, KIND_BYTES, KIND_ATTRMAP, KIND_MECHSET };

struct token_guard {
	int lock_fd;
	int dir_fd; /* @tokens_dir */
	sigset_t saved_mask;
};

struct blob {
	uint8_t *data;
	size_t len;
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Takes an 8-byte number at *@pos of @b: 0, or -EBADMSG past the end. */
static int take(const struct blob *b, size_t *pos, uint64_t *ret)
{
	if (b->len - *pos < 8)
		return -EBADMSG;
	*ret = be64(b->data + *pos);
	*pos += 8;
	return 0;
}

/* Skips @n bytes: 0, or -EBADMSG past the end. */
static int skip(const struct blob *b, size_t *pos, uint64_t n)
{
	if (b->len - *pos < n)
		return -EBADMSG;
	*pos += (size_t)n;
	return 0;
}

/*
 * Whether @b is a whole token.object: a generation number, then attributes that end
 * exactly at the end of the file, among them the label, the flags and the user PIN that a
 * vault's token always has. An emptied or cut file fails; so does anything else.
 */
static int object_check(const struct blob *b)
{
	unsigned seen = 0;
	size_t pos = 0;
	uint64_t v;

	if (take(b, &pos, &v) < 0)
		return -EBADMSG;
	while (pos < b->len) {
		uint64_t type, kind;

		if (take(b, &pos, &type) < 0 || take(b, &pos, &kind) < 0)
			return -EBADMSG;
		switch (kind) {
		case KIND_BOOL:
			if (skip(b, &pos, 1) < 0)
				return -EBADMSG;
			break;
		case KIND_ULONG:
			if (skip(b, &pos, 8) < 0)
				return -EBADMSG;
			break;
		case KIND_BYTES:
		case KIND_ATTRMAP:
			if (take(b, &pos, &v) < 0 || skip(b, &pos, v) < 0)
				return -EBADMSG;
			break;
		case KIND_MECHSET:
			if (take(b, &pos, &v) < 0 || v > OBJECT_MAX / 8 || skip(b, &pos, v * 8) < 0)
				return -EBADMSG;
			break;
		default:
			return -EBADMSG;
		}
		seen |= (type == CKA_OS_TOKENLABEL) << 0 | (type == CKA_OS_TOKENFLAGS) << 1 |
			(type == CKA_OS_USERPIN) << 2;
	}
	return seen == 7 ? 0 : -EBADMSG;
}

/* Reads the regular file @name in @dfd, at most OBJECT_MAX bytes; -ENOENT if absent. */
static int blob_read(int dfd, const char *name, struct blob *ret)
{
	struct blob b = { 0 };
	struct stat st;
	int fd, r;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > OBJECT_MAX) {
		r = -EBADMSG;
		goto out;
	}
	b.data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b.data) {
		r = -ENOMEM;
		goto out;
	}
	while (b.len < (size_t)st.st_size) {
		ssize_t n = read(fd, b.data + b.len, (size_t)st.st_size - b.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break; /* cut while we read: the check refuses it */
		b.len += (size_t)n;
	}
	*ret = b;
	b.data = NULL;
	r = 0;
out:
	free(b.data);
	close(fd);
	return r;
}

/*
 * Replaces @name in @dfd with @b, whole or not at all: written to NAME.tmp, flushed,
 * renamed over @name, and the directory flushed. A file made by root in someone else's
 * vault is given to the directory's owner, so that the owner's own commands can use it.
 */
static int replace_file(int dfd, const char *name, const struct blob *b)
{
	char tmp[64];
	struct stat dst;
	int fd, r;

	snprintf(tmp, sizeof(tmp), "%s%s", name, TMP_SUFFIX);
	if (fstat(dfd, &dst) < 0)
		return -errno;
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = 0;
	if (geteuid() == 0 && dst.st_uid != 0 && fchown(fd, dst.st_uid, dst.st_gid) < 0)
		r = -errno;
	if (r == 0)
		r = fd_write_all(fd, b->data, b->len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return r;
	}
	if (fsync(dfd) < 0)
		return -errno;
	return 0;
}

/* Puts the known-good copy back in token dir @tdfd if its token.object is not whole. */
static int token_repair(int tdfd, unsigned *restored)
{
	struct blob live = { 0 }, good = { 0 };
	int r, r_live;

	r = r_live = blob_read(tdfd, TOKEN_OBJECT, &live);
	if (r == 0 && object_check(&live) == 0)
		goto out;
	if (r < 0 && r != -ENOENT && r != -EBADMSG)
		goto out;
	r = blob_read(tdfd, TOKEN_GUARD_GOOD, &good);
	if (r == 0 && object_check(&good) < 0)
		r = -EBADMSG;
	if (r == -ENOENT && r_live == -ENOENT) {
		r = 0; /* neither: not a token's folder */
		goto out;
	}
	if (r == -ENOENT || r == -EBADMSG) {
		r = -EUCLEAN;
		goto out;
	}
	if (r < 0)
		goto out;
	r = replace_file(tdfd, TOKEN_OBJECT, &good);
	if (r < 0)
		goto out;
	(*restored)++;
	r = 0;
out:
	free(live.data);
	free(good.data);
	return r;
}

/* Makes the intact token.object of @tdfd its known-good copy, unless the copy already
 * says the same beyond the generation number. */
static int token_keep(int tdfd)
{
	struct blob live = { 0 }, good = { 0 };
	int r;

	r = blob_read(tdfd, TOKEN_OBJECT, &live);
	if (r == -ENOENT) {
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	if (object_check(&live) < 0) {
		r = -EBADMSG; /* a login just wrote it: the module failed to */
		goto out;
	}
	r = blob_read(tdfd, TOKEN_GUARD_GOOD, &good);
	if (r == 0 && good.len == live.len && object_check(&good) == 0 &&
	    memcmp(good.data + GEN_LEN, live.data + GEN_LEN, live.len - GEN_LEN) == 0)
		goto out;
	if (r < 0 && r != -ENOENT && r != -EBADMSG)
		goto out;
	r = replace_file(tdfd, TOKEN_GUARD_GOOD, &live);
out:
	free(live.data);
	free(good.data);
	return r;
}

/* Runs @fn on each token folder of @dfd; the first error stops it. */
static int each_token(int dfd, int (*fn)(int tdfd, unsigned *n), unsigned *n)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while (r == 0 && (errno = 0, de = readdir(d))) {
		int tdfd;

		if (de->d_name[0] == '.')
			continue;
		tdfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (tdfd < 0) {
			if (errno != ENOTDIR && errno != ELOOP && errno != ENOENT)
				r = -errno;
			continue;
		}
		r = fn(tdfd, n);
		close(tdfd);
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	return r;
}

static int keep_one(int tdfd, unsigned *n)
{
	(void)n;
	return token_keep(tdfd);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* flock() with a deadline: polled, so that a signal still ends a process that waits. */
static int lock_wait(int fd, int wait_ms)
{
	int64_t deadline = now_ms() + wait_ms;
	long pause_us = 1000;

	for (;;) {
		struct timespec ts;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		ts.tv_sec = 0;
		ts.tv_nsec = pause_us * 1000;
		nanosleep(&ts, NULL);
		if (pause_us < 20000)
			pause_us *= 2;
	}
}

int token_guard_begin(const char *tokens_dir, int wait_ms, unsigned *ret_restored,
		      struct token_guard **ret)
{
	struct token_guard *g;
	unsigned restored = 0;
	sigset_t held;
	struct stat st;
	int r, masked = 0;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->lock_fd = -1;
	g->dir_fd = open(tokens_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (g->dir_fd < 0) {
		r = -errno;
		goto fail;
	}
	g->lock_fd = openat(g->dir_fd, TOKEN_GUARD_LOCK,
			    O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (g->lock_fd < 0) {
		r = -errno;
		goto fail;
	}
	/* made by root in another user's vault: theirs, or their commands could not lock */
	if (geteuid() == 0 && fstat(g->dir_fd, &st) == 0 && st.st_uid != 0 &&
	    fchown(g->lock_fd, st.st_uid, st.st_gid) < 0) {
		r = -errno;
		goto fail;
	}
	r = lock_wait(g->lock_fd, wait_ms);
	if (r < 0)
		goto fail;
	/* Faults stay deliverable: they are this process's own bug, not a user's request. */
	sigfillset(&held);
	sigdelset(&held, SIGSEGV);
	sigdelset(&held, SIGBUS);
	sigdelset(&held, SIGFPE);
	sigdelset(&held, SIGILL);
	sigdelset(&held, SIGABRT);
	sigdelset(&held, SIGTRAP);
	sigdelset(&held, SIGSYS);
	r = -pthread_sigmask(SIG_BLOCK, &held, &g->saved_mask);
	if (r < 0)
		goto fail;
	masked = 1;
	r = each_token(g->dir_fd, token_repair, &restored);
	if (r < 0)
		goto fail;
	*ret_restored = restored;
	*ret = g;
	return 0;
fail:
	if (masked)
		pthread_sigmask(SIG_SETMASK, &g->saved_mask, NULL);
	if (g->lock_fd >= 0)
		close(g->lock_fd); /* releases the lock */
	if (g->dir_fd >= 0)
		close(g->dir_fd);
	free(g);
	return r;
}

int token_guard_end(struct token_guard *g, int proven)
{
	int r = 0;

	if (!g)
		return 0;
	if (proven)
		r = each_token(g->dir_fd, keep_one, NULL);
	close(g->lock_fd);
	close(g->dir_fd);
	pthread_sigmask(SIG_SETMASK, &g->saved_mask, NULL);
	free(g);
	return r;
}

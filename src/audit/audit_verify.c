/*
 * audit_verify: walks the trail's files in seq order and checks every link of the chain
 * (audit_internal.h gives the format), then that the chain reaches the head the vault
 * recorded. It reports the first seq that is wrong or missing and why.
 *
 * It reads files that writers are appending to: a file's length is taken under a shared
 * flock (an append holds the exclusive one for its whole write), and nothing past that
 * length is read, so a record being written is never mistaken for a torn one. It must
 * never hold the lock while it reads, or the vault's operations would wait for it.
 */
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit_internal.h"

#define KEY_CACHE 64
#define READ_CHUNK (1 << 20)

struct trail_file {
	char name[NAME_MAX + 1];
	uint64_t first_seq; /* UINT64_MAX: no record at its start */
};

struct verifier {
	struct hsm *hsm;
	CK_OBJECT_HANDLE key;
	const struct audit_head *anchor;
	struct audit_report *rep;
	struct audit_hmac *hmac;
	struct {
		uint8_t nonce[AUDIT_NONCE_LEN];
		struct secbuf *key;
	} keys[KEY_CACHE];
	size_t next_key;
	int started;
	uint64_t expected;
	uint8_t prev[AUDIT_MAC_LEN];
	const char *file;
};

static int bad(struct verifier *v, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct verifier *v, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	v->rep->bad_seq = seq ? seq : 1;
	va_start(ap, fmt);
	vsnprintf(v->rep->reason, sizeof(v->rep->reason), fmt, ap);
	va_end(ap);
	snprintf(v->rep->file, sizeof(v->rep->file), "%s", v->file ? v->file : "");
	return 1;
}

static int epoch_key(struct verifier *v, const uint8_t nonce[AUDIT_NONCE_LEN],
		     const struct secbuf **ret)
{
	struct secbuf *k;
	size_t slot;
	int r;

	for (size_t i = 0; i < KEY_CACHE; i++) {
		if (v->keys[i].key && memcmp(v->keys[i].nonce, nonce, AUDIT_NONCE_LEN) == 0) {
			*ret = v->keys[i].key;
			return 0;
		}
	}
	r = audit_epoch_key(v->hsm, v->key, nonce, &k);
	if (r < 0)
		return r;
	slot = v->next_key++ % KEY_CACHE;
	secbuf_free(v->keys[slot].key);
	v->keys[slot].key = k;
	memcpy(v->keys[slot].nonce, nonce, AUDIT_NONCE_LEN);
	*ret = k;
	return 0;
}

/* One line (without its newline). Returns 0 to go on, 1 when the trail is bad, or -errno. */
static int check_line(struct verifier *v, const char *line, size_t len)
{
	const struct secbuf *key;
	uint8_t mac[AUDIT_MAC_LEN];
	struct audit_line l;
	int r;

	if (audit_line_parse(line, len, &l) < 0)
		return bad(v, v->expected, "not an audit record");
	if (!v->started) {
		if (l.has_prev) {
			memcpy(v->prev, l.prev, AUDIT_MAC_LEN);
		} else if (l.seq == 1) {
			memset(v->prev, 0, AUDIT_MAC_LEN);
		} else {
			return bad(v, 1, "missing: the trail starts at seq %llu",
				   (unsigned long long)l.seq);
		}
		v->expected = l.seq;
		v->rep->first_seq = l.seq;
		v->started = 1;
	}
	if (l.seq != v->expected)
		return bad(v, v->expected, "%s: found seq %llu instead",
			   l.seq > v->expected ? "missing" : "out of order",
			   (unsigned long long)l.seq);
	if (l.has_prev && CRYPTO_memcmp(l.prev, v->prev, AUDIT_MAC_LEN) != 0)
		return bad(v, l.seq, "a rotation record that does not continue the chain");
	r = epoch_key(v, l.nonce, &key);
	if (r < 0)
		return r;
	r = audit_hmac(v->hmac, key, v->prev, line, l.body_len, mac);
	if (r < 0)
		return r;
	if (CRYPTO_memcmp(mac, l.mac, AUDIT_MAC_LEN) != 0)
		return bad(v, l.seq, "changed, forged or out of place (its MAC does not hold)");
	if (l.seq == v->anchor->seq && CRYPTO_memcmp(l.mac, v->anchor->mac, AUDIT_MAC_LEN) != 0)
		return bad(v, l.seq, "differs from the record the vault holds the head of");
	memcpy(v->prev, l.mac, AUDIT_MAC_LEN);
	v->expected = l.seq + 1;
	v->rep->last_seq = l.seq;
	v->rep->records++;
	return 0;
}

/* The file's length now, under a shared lock: no append is half-way through it. */
static int settled_size(int fd, off_t *ret)
{
	struct stat st;
	int r = 0;

	if (flock(fd, LOCK_SH) < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	flock(fd, LOCK_UN);
	if (r == 0)
		*ret = st.st_size;
	return r;
}

static int check_file(struct verifier *v, int dirfd, const char *name)
{
	char *buf = NULL;
	size_t have = 0;
	off_t size = 0, done = 0;
	int fd, r;

	v->file = name;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	r = settled_size(fd, &size);
	if (r < 0)
		goto out;
	buf = malloc(READ_CHUNK + AUDIT_LINE_MAX);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (done < size) {
		size_t want = READ_CHUNK;
		ssize_t n;
		char *p, *nl;

		if ((off_t)want > size - done)
			want = (size_t)(size - done);
		n = pread(fd, buf + have, want, done);
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break; /* cut while we read */
		done += n;
		have += (size_t)n;
		p = buf;
		while ((nl = memchr(p, '\n', have - (size_t)(p - buf)))) {
			r = check_line(v, p, (size_t)(nl - p));
			if (r != 0)
				goto out;
			p = nl + 1;
		}
		have -= (size_t)(p - buf);
		if (have >= AUDIT_LINE_MAX) {
			r = bad(v, v->expected, "not an audit record (a line too long)");
			goto out;
		}
		memmove(buf, p, have);
	}
	r = have ? bad(v, v->expected, "torn: the file ends inside a record") : 0;
out:
	free(buf);
	close(fd);
	return r;
}

static int first_seq(int dirfd, const char *name, uint64_t *ret)
{
	char buf[AUDIT_LINE_MAX];
	struct audit_line l;
	ssize_t n;
	char *nl;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return -errno;
	*ret = UINT64_MAX;
	if (n == 0)
		return 1; /* empty */
	nl = memchr(buf, '\n', (size_t)n);
	if (nl && audit_line_parse(buf, (size_t)(nl - buf), &l) == 0)
		*ret = l.seq;
	return 0;
}

static int by_seq(const void *a, const void *b)
{
	const struct trail_file *x = a, *y = b;

	if (x->first_seq != y->first_seq)
		return x->first_seq < y->first_seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int list_files(DIR *d, struct trail_file **ret, size_t *ret_n)
{
	struct trail_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int r;

	while ((e = readdir(d))) {
		uint64_t seq;

		if (!audit_is_trail_file(e->d_name))
			continue;
		r = first_seq(dirfd(d), e->d_name, &seq);
		if (r < 0)
			goto fail;
		if (r == 1)
			continue;
		if (n == cap) {
			struct trail_file *t;

			cap = cap ? 2 * cap : 16;
			t = realloc(files, cap * sizeof(*files));
			if (!t) {
				r = -ENOMEM;
				goto fail;
			}
			files = t;
		}
		snprintf(files[n].name, sizeof(files[n].name), "%s", e->d_name);
		files[n].first_seq = seq;
		n++;
	}
	if (n > 1)
		qsort(files, n, sizeof(*files), by_seq);
	*ret = files;
	*ret_n = n;
	return 0;
fail:
	free(files);
	return r;
}

int audit_verify(const char *dir, struct hsm *hsm, CK_OBJECT_HANDLE key,
		 const struct audit_head *anchor, struct audit_report *ret)
{
	struct verifier v = { .hsm = hsm, .key = key, .anchor = anchor, .rep = ret };
	struct trail_file *files = NULL;
	size_t n = 0;
	DIR *d;
	int r;

	memset(ret, 0, sizeof(*ret));
	v.expected = 1;
	d = opendir(dir);
	if (!d)
		return -errno;
	r = list_files(d, &files, &n);
	if (r < 0)
		goto out;
	r = audit_hmac_new(&v.hmac);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n && r == 0; i++)
		r = check_file(&v, dirfd(d), files[i].name);
	if (r < 0)
		goto out;
	v.file = n ? files[n - 1].name : "audit.log";
	if (r == 0 && anchor->seq >= v.expected)
		bad(&v, v.expected, "missing: the trail ends at seq %llu, the vault holds seq %llu",
		    (unsigned long long)(v.expected - 1), (unsigned long long)anchor->seq);
	r = 0;
out:
	for (size_t i = 0; i < KEY_CACHE; i++)
		secbuf_free(v.keys[i].key);
	audit_hmac_free(v.hmac);
	free(files);
	closedir(d);
	return r;
}

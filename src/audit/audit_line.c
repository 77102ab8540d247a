/*
 * audit_line: the trail's line format and keys, and the last lines of its files, shared by
 * its writer and its verifier.
 *
 * Parsing here happens before a line's MAC is checked, so it trusts nothing: fixed
 * prefixes and suffixes, bounded lengths, hex only where hex belongs. It must never let a
 * malformed line be treated as anything but bad.
 */
#include "audit_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "log.h"

#define EPOCH_LABEL "vaultfs audit epoch v1"
#define HEAD_LABEL "vaultfs audit head v1"

static int unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;

		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return -EBADMSG;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

int audit_line_parse(const char *line, size_t len, struct audit_line *ret)
{
	static const char head[] = "{\"seq\":";
	static const char key[] = ",\"key\":\"";
	static const char mac[] = "\",\"mac\":\"";
	static const char prev[] = ",\"prev\":\"";
	/* ,"key":"HEX16","mac":"HEX64"} */
	const size_t tail =
		sizeof(key) - 1 + 2 * AUDIT_NONCE_LEN + sizeof(mac) - 1 + 2 * AUDIT_MAC_LEN + 2;
	struct audit_line l = { 0 };
	const char *p, *t;
	size_t i;

	if (len < sizeof(head) - 1 + 1 + tail || memcmp(line, head, sizeof(head) - 1) != 0)
		return -EBADMSG;
	p = line + sizeof(head) - 1;
	for (i = 0; i < 20 && p[i] >= '0' && p[i] <= '9'; i++) {
		if (l.seq > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		l.seq = l.seq * 10 + (uint64_t)(p[i] - '0');
	}
	if (i == 0 || p[i] != ',' || (i > 1 && p[0] == '0') || l.seq == 0)
		return -EBADMSG;
	t = line + len - tail;
	if (memcmp(t, key, sizeof(key) - 1) != 0)
		return -EBADMSG;
	t += sizeof(key) - 1;
	if (unhex(t, AUDIT_NONCE_LEN, l.nonce) < 0)
		return -EBADMSG;
	t += 2 * AUDIT_NONCE_LEN;
	if (memcmp(t, mac, sizeof(mac) - 1) != 0)
		return -EBADMSG;
	l.body_len = (size_t)(t + 1 - line); /* through the key's closing quote */
	t += sizeof(mac) - 1;
	if (unhex(t, AUDIT_MAC_LEN, l.mac) < 0 || t[2 * AUDIT_MAC_LEN] != '"' ||
	    t[2 * AUDIT_MAC_LEN + 1] != '}')
		return -EBADMSG;
	/* "prev" sits right before "key" when present */
	i = sizeof(prev) - 1 + 2 * AUDIT_MAC_LEN + 1;
	t = len > tail + i ? line + len - tail - i : NULL;
	if (t && memcmp(t, prev, sizeof(prev) - 1) == 0 &&
	    t[sizeof(prev) - 1 + 2 * AUDIT_MAC_LEN] == '"') {
		if (unhex(t + sizeof(prev) - 1, AUDIT_MAC_LEN, l.prev) < 0)
			return -EBADMSG;
		l.has_prev = 1;
	}
	*ret = l;
	return 0;
}

int audit_epoch_key(struct hsm *hsm, CK_OBJECT_HANDLE key, const uint8_t nonce[AUDIT_NONCE_LEN],
		    struct secbuf **ret)
{
	uint8_t in[sizeof(EPOCH_LABEL) + AUDIT_NONCE_LEN];
	struct secbuf *k = NULL;
	int r;

	memcpy(in, EPOCH_LABEL, sizeof(EPOCH_LABEL)); /* with its NUL: a separator */
	memcpy(in + sizeof(EPOCH_LABEL), nonce, AUDIT_NONCE_LEN);
	r = secbuf_new(AUDIT_MAC_LEN, &k);
	if (r < 0)
		return r;
	r = secbuf_resize(k, AUDIT_MAC_LEN);
	if (r >= 0)
		r = hsm_mac(hsm, key, in, sizeof(in), secbuf_mutable_data(k));
	if (r < 0) {
		secbuf_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

void audit_head_key_label(const uint8_t *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", AUDIT_HEAD_KEY_LABEL, id[0],
		 id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
}

int audit_head_tag(struct hsm *hsm, CK_OBJECT_HANDLE key, const uint8_t *vault_id,
		   const struct audit_head *head, uint8_t out[AUDIT_MAC_LEN])
{
	uint8_t in[sizeof(HEAD_LABEL) + CRYPTO_VAULT_ID_LEN + 8 + AUDIT_MAC_LEN], *p = in;

	memcpy(p, HEAD_LABEL, sizeof(HEAD_LABEL)); /* with its NUL: a separator */
	p += sizeof(HEAD_LABEL);
	memcpy(p, vault_id, CRYPTO_VAULT_ID_LEN);
	p += CRYPTO_VAULT_ID_LEN;
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(head->seq >> (8 * i));
	memcpy(p, head->mac, AUDIT_MAC_LEN);
	return hsm_mac(hsm, key, in, sizeof(in), out);
}

struct audit_hmac {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
};

void audit_hmac_free(struct audit_hmac *h)
{
	if (!h)
		return;
	EVP_MAC_CTX_free(h->ctx);
	EVP_MAC_free(h->mac);
	free(h);
}

int audit_hmac_new(struct audit_hmac **ret)
{
	struct audit_hmac *h = calloc(1, sizeof(*h));
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};

	if (!h)
		return -ENOMEM;
	h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	h->ctx = h->mac ? EVP_MAC_CTX_new(h->mac) : NULL;
	if (!h->ctx || EVP_MAC_CTX_set_params(h->ctx, params) != 1) {
		audit_hmac_free(h);
		return -EIO;
	}
	*ret = h;
	return 0;
}

int audit_hmac(struct audit_hmac *h, const struct secbuf *key, const uint8_t prev[AUDIT_MAC_LEN],
	       const char *body, size_t len, uint8_t out[AUDIT_MAC_LEN])
{
	size_t out_len = 0;

	if (EVP_MAC_init(h->ctx, secbuf_data(key), secbuf_len(key), NULL) != 1 ||
	    EVP_MAC_update(h->ctx, prev, AUDIT_MAC_LEN) != 1 ||
	    EVP_MAC_update(h->ctx, (const unsigned char *)body, len) != 1 ||
	    EVP_MAC_final(h->ctx, out, &out_len, AUDIT_MAC_LEN) != 1 || out_len != AUDIT_MAC_LEN)
		return -EIO;
	return 0;
}

ssize_t audit_last_line(int fd, off_t size, char *buf, size_t buflen, off_t *ret_complete_end)
{
	off_t start = size > (off_t)buflen ? size - (off_t)buflen : 0;
	size_t n = (size_t)(size - start), got = 0;
	char *nl, *prev_nl;

	while (got < n) {
		ssize_t k = pread(fd, buf + got, n - got, start + (off_t)got);

		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO; /* shrank while we read: the caller holds the lock, so no */
		got += (size_t)k;
	}
	nl = n ? memrchr(buf, '\n', n) : NULL;
	if (!nl) {
		if (start > 0)
			return -EBADMSG; /* a "line" longer than any record */
		*ret_complete_end = 0;
		return 0;
	}
	*ret_complete_end = start + (nl + 1 - buf);
	prev_nl = memrchr(buf, '\n', (size_t)(nl - buf));
	if (!prev_nl && start > 0)
		return -EBADMSG;
	prev_nl = prev_nl ? prev_nl + 1 : buf;
	memmove(buf, prev_nl, (size_t)(nl - prev_nl));
	return nl - prev_nl;
}

int audit_is_trail_file(const char *name)
{
	static const char backup[] = ".backup";
	const char *base = "audit.log";
	size_t l = strlen(base), n = strlen(name);

	if (strncmp(name, base, l) != 0)
		return 0;
	if (name[l] == '\0')
		return 1;
	if (name[l] != '-' && name[l] != '.')
		return 0;
	/* logrotate's name for an audit.log a writer made between its rename and its
	 * create, which it moves aside: the records in it belong to the chain */
	if (name[l] == '-' && n > l + sizeof(backup) &&
	    strcmp(name + n - (sizeof(backup) - 1), backup) == 0)
		n -= sizeof(backup) - 1;
	/* compressed rotations cannot be read in place */
	for (size_t i = l + 1; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_'))
			return 0;
	return n > l + 1;
}

void audit_rotated_head(const char *dir, char *buf, size_t buflen, struct audit_head *ret)
{
	char name[PATH_MAX];
	DIR *d = opendir(dir);
	struct dirent *e;

	ret->seq = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		struct audit_line l;
		off_t end;
		struct stat st;
		ssize_t n;
		int fd;

		if (!audit_is_trail_file(e->d_name) || strcmp(e->d_name, "audit.log") == 0)
			continue;
		snprintf(name, sizeof(name), "%s/%s", dir, e->d_name);
		fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			n = audit_last_line(fd, st.st_size, buf, buflen, &end);
			if (n > 0 && audit_line_parse(buf, (size_t)n, &l) == 0 &&
			    l.seq > ret->seq) {
				ret->seq = l.seq;
				memcpy(ret->mac, l.mac, AUDIT_MAC_LEN);
			}
		}
		close(fd);
	}
	closedir(d);
}

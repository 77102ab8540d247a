/*
 * oaep: EME-OAEP decoding (RFC 8017 7.1.2) with SHA-256 and MGF1-SHA-256, for tokens that
 * do the raw RSA operation but not OAEP with SHA-256 (SoftHSM2 2.6 offers OAEP with SHA-1
 * only). The private key stays in the token; only the padding is removed here. The label
 * is what keeps a key's uses apart (decrypt takes the empty one, unwrap "vaultfs-wrap"): a
 * ciphertext made for one use fails here for the other, as any tampered one does.
 *
 * Decoding must not tell a bad first byte from a bad label hash or a missing separator, by
 * its answer or by its time (Manger's attack): every check runs on every input, the
 * results are merged without branches, and there is one failure, -EBADMSG.
 */
#include "oaep.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define HLEN 32

/* All ones if @a == @b, else 0, without a branch. */
static unsigned ct_eq(unsigned a, unsigned b)
{
	unsigned x = a ^ b;

	return 0u - (unsigned)((((uint64_t)x - 1) >> 32) & 1);
}

static unsigned ct_select(unsigned mask, unsigned a, unsigned b)
{
	return (mask & a) | (~mask & b);
}

/* MGF1 with SHA-256: @out (@len bytes) ^= MGF1(@seed). */
static int mgf1_xor(uint8_t *out, size_t len, const uint8_t *seed, size_t seed_len)
{
	uint8_t digest[HLEN], counter[4];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (uint32_t i = 0; len > 0; i++) {
		size_t n = len < HLEN ? len : HLEN;

		counter[0] = (uint8_t)(i >> 24);
		counter[1] = (uint8_t)(i >> 16);
		counter[2] = (uint8_t)(i >> 8);
		counter[3] = (uint8_t)i;
		if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(ctx, seed, seed_len) != 1 ||
		    EVP_DigestUpdate(ctx, counter, 4) != 1 ||
		    EVP_DigestFinal_ex(ctx, digest, NULL) != 1) {
			r = -EIO;
			break;
		}
		for (size_t j = 0; j < n; j++)
			out[j] ^= digest[j];
		out += n;
		len -= n;
	}
	OPENSSL_cleanse(digest, sizeof(digest));
	EVP_MD_CTX_free(ctx);
	return r;
}

int oaep_sha256_decode(const struct secbuf *em, size_t k, const uint8_t *label, size_t label_len,
		       struct secbuf **ret)
{
	uint8_t label_hash[HLEN];
	struct secbuf *buf = NULL, *out = NULL;
	unsigned good, found = 0, index = 0, looking;
	size_t em_len = secbuf_len(em), db_len, mlen;
	uint8_t *p, *seed, *db;
	int r;

	/* the modulus length is public; a shorter raw output has lost its leading zeros */
	if (k < 2 * HLEN + 2 || em_len > k)
		return -EBADMSG;
	if (EVP_Digest(label_len ? label : (const uint8_t *)"", label_len, label_hash, NULL,
		       EVP_sha256(), NULL) != 1)
		return -EIO;
	r = secbuf_new(k, &buf);
	if (r < 0)
		return r;
	r = secbuf_resize(buf, k); /* zeros, then the raw output at its end */
	if (r < 0)
		goto out;
	p = secbuf_mutable_data(buf);
	memcpy(p + (k - em_len), secbuf_data(em), em_len);
	seed = p + 1;
	db = p + 1 + HLEN;
	db_len = k - HLEN - 1;
	r = mgf1_xor(seed, HLEN, db, db_len);
	if (r == 0)
		r = mgf1_xor(db, db_len, seed, HLEN);
	if (r < 0)
		goto out;
	good = ct_eq(p[0], 0);
	good &= ct_eq((unsigned)CRYPTO_memcmp(db, label_hash, HLEN), 0);
	/* the first 0x01 after the label hash, past zero bytes only */
	looking = ~0u;
	for (size_t i = HLEN; i < db_len; i++) {
		unsigned is_one = ct_eq(db[i], 1), is_zero = ct_eq(db[i], 0);

		index = ct_select(looking & is_one, (unsigned)i, index);
		found |= looking & is_one;
		good &= ~looking | is_one | is_zero; /* before it: zeros only */
		looking &= ~is_one;
	}
	good &= found;
	if (!good) {
		r = -EBADMSG;
		goto out;
	}
	mlen = db_len - index - 1;
	r = secbuf_from(db + index + 1, mlen, &out);
	if (r < 0)
		goto out;
	*ret = out;
	r = 0;
out:
	secbuf_free(buf);
	return r;
}

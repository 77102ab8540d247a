/*
 * crypto: AES-256-GCM sealing of values with OpenSSL 3 EVP.
 *
 * The key and the plaintext stay in secbufs; the only heap output is ciphertext. Nothing
 * here logs, and a failed tag check is reported as -EBADMSG with no partial plaintext left.
 */
#include "crypto.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define AAD_FORMAT "vaultfs.value.v1"

int crypto_random(void *buf, size_t len)
{
	if (len > INT_MAX)
		return -EINVAL;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

int crypto_value_aad(const uint8_t vault_id[CRYPTO_VAULT_ID_LEN], uint32_t key_id, uint64_t version,
		     const char *path, uint8_t *buf, size_t buflen)
{
	size_t plen = strlen(path);
	size_t need = sizeof(AAD_FORMAT) + CRYPTO_VAULT_ID_LEN + 4 + 8 + 4 + plen;
	uint32_t be32;
	uint64_t be64;
	uint8_t *p = buf;

	if (need > buflen || need > INT_MAX || plen > UINT32_MAX)
		return -ENAMETOOLONG;
	memcpy(p, AAD_FORMAT, sizeof(AAD_FORMAT)); /* with its NUL as delimiter */
	p += sizeof(AAD_FORMAT);
	memcpy(p, vault_id, CRYPTO_VAULT_ID_LEN);
	p += CRYPTO_VAULT_ID_LEN;
	be32 = htobe32(key_id);
	memcpy(p, &be32, 4);
	p += 4;
	be64 = htobe64(version);
	memcpy(p, &be64, 8);
	p += 8;
	be32 = htobe32((uint32_t)plen);
	memcpy(p, &be32, 4);
	p += 4;
	memcpy(p, path, plen);
	return (int)need;
}

static EVP_CIPHER *gcm_cipher(void)
{
	/* Fetched once: EVP_CIPHER_fetch takes a lock and a lookup on every call. */
	static EVP_CIPHER *cipher;
	EVP_CIPHER *c = __atomic_load_n(&cipher, __ATOMIC_ACQUIRE);

	if (c)
		return c;
	c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (!c)
		return NULL;
	{
		EVP_CIPHER *expected = NULL;

		if (!__atomic_compare_exchange_n(&cipher, &expected, c, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			EVP_CIPHER_free(c);
			c = expected;
		}
	}
	return c;
}

int crypto_seal(const struct secbuf *key, const uint8_t *aad, size_t aad_len,
		const struct secbuf *plain, uint8_t **ret_sealed, size_t *ret_sealed_len)
{
	EVP_CIPHER *cipher = gcm_cipher();
	EVP_CIPHER_CTX *ctx = NULL;
	size_t plen = secbuf_len(plain), out_len;
	uint8_t *out = NULL;
	int n, r;

	if (secbuf_len(key) != CRYPTO_KEY_LEN)
		return -EINVAL;
	if (plen > INT_MAX - CRYPTO_OVERHEAD || aad_len > INT_MAX)
		return -EFBIG;
	if (!cipher)
		return -EIO;
	out_len = plen + CRYPTO_OVERHEAD;
	out = malloc(out_len);
	ctx = EVP_CIPHER_CTX_new();
	if (!out || !ctx) {
		r = -ENOMEM;
		goto out;
	}
	r = crypto_random(out, CRYPTO_NONCE_LEN);
	if (r < 0)
		goto out;
	r = -EIO;
	if (EVP_EncryptInit_ex2(ctx, cipher, secbuf_data(key), out, NULL) != 1)
		goto out;
	if (aad_len && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (plen &&
	    EVP_EncryptUpdate(ctx, out + CRYPTO_NONCE_LEN, &n, secbuf_data(plain), (int)plen) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, out + CRYPTO_NONCE_LEN + plen, &n) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN,
				out + CRYPTO_NONCE_LEN + plen) != 1)
		goto out;
	*ret_sealed = out;
	*ret_sealed_len = out_len;
	out = NULL;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(out);
	return r;
}

/*
 * Each thread keeps one decryption context and re-keys it per value: building a context
 * from scratch (allocation, provider lookup) costs more than the decryption of a small
 * value. The context holds the schedule of a data key that the process holds anyway; it
 * is freed, and cleansed by OpenSSL, when the thread exits.
 */
static pthread_key_t open_ctx_key;
static pthread_once_t open_ctx_once = PTHREAD_ONCE_INIT;

static void open_ctx_free(void *p)
{
	EVP_CIPHER_CTX_free(p);
}

static void open_ctx_key_make(void)
{
	(void)pthread_key_create(&open_ctx_key, open_ctx_free);
}

/* The thread's context, keyed with @key and @iv. */
static EVP_CIPHER_CTX *open_ctx(EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *iv)
{
	EVP_CIPHER_CTX *ctx;

	pthread_once(&open_ctx_once, open_ctx_key_make);
	ctx = pthread_getspecific(open_ctx_key);
	if (ctx && EVP_DecryptInit_ex2(ctx, NULL, key, iv, NULL) == 1)
		return ctx;
	if (ctx) { /* a context that cannot be re-keyed is not used again */
		pthread_setspecific(open_ctx_key, NULL);
		EVP_CIPHER_CTX_free(ctx);
	}
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return NULL;
	if (EVP_DecryptInit_ex2(ctx, cipher, key, iv, NULL) != 1 ||
	    pthread_setspecific(open_ctx_key, ctx) != 0) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int crypto_open(const struct secbuf *key, const uint8_t *aad, size_t aad_len, const uint8_t *sealed,
		size_t sealed_len, struct secbuf **ret_plain)
{
	EVP_CIPHER *cipher = gcm_cipher();
	EVP_CIPHER_CTX *ctx = NULL;
	struct secbuf *plain = NULL;
	size_t plen;
	int n, r;

	if (secbuf_len(key) != CRYPTO_KEY_LEN)
		return -EINVAL;
	if (sealed_len < CRYPTO_OVERHEAD)
		return -EBADMSG;
	if (sealed_len > INT_MAX || aad_len > INT_MAX)
		return -EFBIG;
	if (!cipher)
		return -EIO;
	plen = sealed_len - CRYPTO_OVERHEAD;
	r = secbuf_new(plen, &plain);
	if (r < 0)
		return r;
	ctx = open_ctx(cipher, secbuf_data(key), sealed);
	if (!ctx) {
		r = -EIO;
		goto out;
	}
	r = -EIO;
	if (aad_len && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (plen && EVP_DecryptUpdate(ctx, secbuf_mutable_data(plain), &n,
				      sealed + CRYPTO_NONCE_LEN, (int)plen) != 1)
		goto out;
	r = secbuf_set_len(plain, plen);
	if (r < 0)
		goto out;
	r = -EIO;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN,
				(void *)(sealed + CRYPTO_NONCE_LEN + plen)) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, secbuf_mutable_data(plain) + plen, &n) != 1) {
		r = -EBADMSG;
		goto out;
	}
	*ret_plain = plain;
	plain = NULL;
	r = 0;
out:
	secbuf_free(plain);
	return r;
}

int crypto_der_copy(const unsigned char *der, int n, uint8_t **ret, size_t *ret_len)
{
	uint8_t *copy;

	if (n <= 0)
		return -EIO;
	copy = malloc((size_t)n);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, der, (size_t)n);
	*ret = copy;
	*ret_len = (size_t)n;
	return 0;
}

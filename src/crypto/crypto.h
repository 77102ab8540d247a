/*
 * crypto: sealing secret values with AES-256-GCM through OpenSSL's EVP interface.
 *
 * A sealed value is nonce (12 bytes, random) || ciphertext || tag (16 bytes). The
 * associated data names where the value belongs (crypto_value_aad), so a ciphertext moved
 * to another vault, secret or version does not open. Plaintext only ever lives in secbufs.
 */
#ifndef VAULTFS_CRYPTO_H
#define VAULTFS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "secbuf.h"

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
#define CRYPTO_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define CRYPTO_VAULT_ID_LEN 16

/* Fills @buf with @len bytes from OpenSSL's CSPRNG. Returns 0 or -EIO. */
int crypto_random(void *buf, size_t len);

/* Copies the @n bytes of DER at @der — what an OpenSSL i2d_* call made, whose n <= 0 is its
 * failure (-EIO) — into malloc'ed memory, *@ret of *@ret_len bytes. -ENOMEM. @der stays
 * the caller's to free. */
int crypto_der_copy(const unsigned char *der, int n, uint8_t **ret, size_t *ret_len);

/*
 * Builds the associated data for a value: a format tag, @vault_id, @key_id, @version and
 * @path, each length-delimited so that no two different tuples give the same bytes.
 * Returns the length written, or -ENAMETOOLONG when @buflen is too small.
 */
int crypto_value_aad(const uint8_t vault_id[CRYPTO_VAULT_ID_LEN], uint32_t key_id, uint64_t version,
		     const char *path, uint8_t *buf, size_t buflen);

/*
 * Seals @plain under @key (CRYPTO_KEY_LEN bytes) with @aad. On success *ret_sealed is a
 * malloc'ed buffer of plain->len + CRYPTO_OVERHEAD bytes. Returns 0, -EINVAL for a key of
 * the wrong length, -ENOMEM, or -EIO.
 */
int crypto_seal(const struct secbuf *key, const uint8_t *aad, size_t aad_len,
		const struct secbuf *plain, uint8_t **ret_sealed, size_t *ret_sealed_len);

/*
 * Opens what crypto_seal made. Returns 0 and the plaintext in a new secbuf, or -EBADMSG
 * when the input is too short, was changed, or belongs to other associated data.
 */
int crypto_open(const struct secbuf *key, const uint8_t *aad, size_t aad_len, const uint8_t *sealed,
		size_t sealed_len, struct secbuf **ret_plain);

#endif

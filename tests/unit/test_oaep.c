/*
 * Unit tests of OAEP-SHA-256 decoding (src/crypto/oaep.c) against OpenSSL: an encoding OpenSSL
 * made decodes to its message under the label it was made with, and only under that one
 * (the empty label of decrypt, "vaultfs-wrap" of unwrap); every damaged one — a non-zero
 * first byte, any byte of the masked seed or data block changed, a wrong length — is
 * -EBADMSG and nothing else.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "keys.h"
#include "oaep.h"
#include "testutil.h"

#define K 256 /* RSA-2048 */

#define WRAP ((const uint8_t *)KEYS_WRAP_LABEL)
#define WRAP_LEN (sizeof(KEYS_WRAP_LABEL) - 1)

/* The encoded message OpenSSL's OAEP-SHA-256 made for @msg with the label @label (NULL:
 * the empty label): its ciphertext opened raw. */
static void encoded_with(const char *msg, const uint8_t *label, size_t label_len, uint8_t em[K])
{
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	uint8_t ct[K];
	size_t ct_len = sizeof(ct), em_len = K;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()), 1);
	if (label)
		assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(
					 ctx, OPENSSL_memdup(label, label_len), (int)label_len),
				 1);
	assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ct_len, (const uint8_t *)msg, strlen(msg)), 1);
	assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
	assert_int_equal(EVP_PKEY_decrypt(ctx, em, &em_len, ct, ct_len), 1);
	assert_int_equal(em_len, K);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
}

static void encoded(const char *msg, uint8_t em[K])
{
	encoded_with(msg, NULL, 0, em);
}

static int decode_with(const uint8_t *em, size_t len, size_t k, const uint8_t *label,
		       size_t label_len, struct secbuf **ret)
{
	struct secbuf *in = NULL;
	int r;

	assert_int_equal(secbuf_from(em, len, &in), 0);
	r = oaep_sha256_decode(in, k, label, label_len, ret);
	secbuf_free(in);
	return r;
}

static int decode(const uint8_t *em, size_t len, size_t k, struct secbuf **ret)
{
	return decode_with(em, len, k, NULL, 0, ret);
}

static void test_round_trip(void **state)
{
	const char *msg = "the message, 31 bytes of it....";
	struct secbuf *out = NULL;
	uint8_t em[K];

	(void)state;
	encoded(msg, em);
	assert_int_equal(decode(em, K, K, &out), 0);
	assert_int_equal(secbuf_len(out), strlen(msg));
	assert_memory_equal(secbuf_data(out), msg, strlen(msg));
	secbuf_free(out);
	/* a raw output that lost its leading zero byte is the same number */
	assert_int_equal(decode(em + 1, K - 1, K, &out), 0);
	secbuf_free(out);
}

static void test_empty_message(void **state)
{
	struct secbuf *out = NULL;
	uint8_t em[K];

	(void)state;
	encoded("", em);
	assert_int_equal(decode(em, K, K, &out), 0);
	assert_int_equal(secbuf_len(out), 0);
	secbuf_free(out);
}

static void test_damaged(void **state)
{
	struct secbuf *out = NULL;
	uint8_t em[K], bad[K];

	(void)state;
	encoded("a secret key", em);
	/* the first byte must be zero */
	memcpy(bad, em, K);
	bad[0] = 1;
	assert_int_equal(decode(bad, K, K, &out), -EBADMSG);
	/* every byte of the masked seed and data block matters */
	for (size_t i = 1; i < K; i++) {
		memcpy(bad, em, K);
		bad[i] ^= 0x01;
		if (decode(bad, K, K, &out) != -EBADMSG)
			fail_msg("a change at byte %zu was not caught", i);
	}
	assert_null(out);
	/* lengths: more than the modulus, a modulus too small for SHA-256 OAEP */
	assert_int_equal(decode(em, K, K - 1, &out), -EBADMSG);
	assert_int_equal(decode(em, 60, 60, &out), -EBADMSG);
	assert_int_equal(decode(em, 0, K, &out), -EBADMSG);
}

/* The label keeps decrypt and unwrap apart: each encoding opens under its own label only. */
static void test_labels(void **state)
{
	const char *msg = "32 bytes of key material........";
	struct secbuf *out = NULL;
	uint8_t em[K], bad[K];

	(void)state;
	encoded_with(msg, WRAP, WRAP_LEN, em);
	assert_int_equal(decode_with(em, K, K, WRAP, WRAP_LEN, &out), 0);
	assert_int_equal(secbuf_len(out), strlen(msg));
	assert_memory_equal(secbuf_data(out), msg, strlen(msg));
	secbuf_free(out);
	out = NULL;
	/* what wrap made, decrypt refuses; a near label is no better */
	assert_int_equal(decode_with(em, K, K, NULL, 0, &out), -EBADMSG);
	assert_int_equal(decode_with(em, K, K, WRAP, WRAP_LEN - 1, &out), -EBADMSG);
	assert_int_equal(decode_with(em, K, K, (const uint8_t *)"vaultfs-wraq", WRAP_LEN, &out),
			 -EBADMSG);
	/* what encrypt made, unwrap refuses */
	encoded(msg, em);
	assert_int_equal(decode_with(em, K, K, WRAP, WRAP_LEN, &out), -EBADMSG);
	assert_int_equal(decode_with(em, K, K, NULL, 0, &out), 0);
	secbuf_free(out);
	out = NULL;
	/* under the wrap label too, every byte matters */
	encoded_with(msg, WRAP, WRAP_LEN, em);
	for (size_t i = 0; i < K; i++) {
		memcpy(bad, em, K);
		bad[i] ^= 0x01;
		if (decode_with(bad, K, K, WRAP, WRAP_LEN, &out) != -EBADMSG)
			fail_msg("a change at byte %zu was not caught", i);
	}
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

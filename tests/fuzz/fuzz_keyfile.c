/*
 * fuzz_keyfile: libFuzzer target for what callers write into keys/NAME/decrypt and
 * keys/NAME/unwrap before the token has a say: the AES-GCM ciphertext header, and the
 * OAEP decoding of a raw RSA output (what a token without OAEP-SHA-256 returns, so anyone's
 * ciphertext reaches it). The input's first byte picks the case:
 *
 *   0  AES header: a header that parses names the version in its bytes, and one made for
 *      that version parses back to it;
 *   1  OAEP decoding with the empty label (decrypt), 2 with the wrap label (unwrap), the
 *      rest being the raw RSA output, for a modulus of 256, 384 or 512 bytes (the second
 *      byte): accepted exactly when OpenSSL's own decoder accepts it, with the same message;
 *   3  OAEP round trip: the rest, padded by OpenSSL for a 256-byte modulus, decodes back.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "fuzz.h"
#include "keys.h"
#include "keys_header.h"
#include "oaep.h"
#include "secbuf.h"

static void aes_header(const uint8_t *c, size_t len)
{
	uint8_t head[KEYS_AES_HEADER], aad[KEYS_AES_AAD_MAX(16)];
	uint64_t v = 0;

	if (keys_aes_header_parse(c, len, &v) != 0)
		return;
	if (len < KEYS_AES_HEADER + KEYS_AES_TAG || memcmp(c, "VKA1", 4) || v == 0 ||
	    v != ((uint64_t)c[4] << 24 | (uint64_t)c[5] << 16 | (uint64_t)c[6] << 8 | c[7]))
		abort();
	keys_aes_header_make(v, c + 8, head);
	if (memcmp(head, c, KEYS_AES_HEADER))
		abort();
	if (keys_aes_aad(c, "k", aad) != 9 || memcmp(aad, c, 8) || aad[8] != 'k')
		abort();
}

/* oaep_sha256_decode against OpenSSL's RSA_padding_check_PKCS1_OAEP_mgf1. */
static void oaep_differential(const uint8_t *em, size_t len, size_t k, int wrap)
{
	const uint8_t *label = wrap ? (const uint8_t *)KEYS_WRAP_LABEL : NULL;
	size_t label_len = wrap ? strlen(KEYS_WRAP_LABEL) : 0;
	struct secbuf *in = NULL, *out = NULL;
	uint8_t *ref = malloc(k);
	int r, n = -1;

	if (!ref || secbuf_from(em, len, &in) < 0)
		goto out;
	r = oaep_sha256_decode(in, k, label, label_len, &out);
	if (len <= k)
		n = RSA_padding_check_PKCS1_OAEP_mgf1(ref, (int)k, em, (int)len, (int)k, label,
						      (int)label_len, EVP_sha256(), EVP_sha256());
	if (r == 0) {
		if (n < 0 || secbuf_len(out) != (size_t)n ||
		    memcmp(secbuf_data(out), ref, (size_t)n))
			abort();
	} else if (r != -EBADMSG || n >= 0) {
		abort();
	}
out:
	secbuf_free(out);
	secbuf_free(in);
	free(ref);
}

static void oaep_round_trip(const uint8_t *msg, size_t len)
{
	const size_t k = 256;
	struct secbuf *em = NULL, *out = NULL;

	if (len > k - 2 * 32 - 2 || secbuf_new(k, &em) < 0)
		return;
	if (secbuf_resize(em, k) < 0)
		abort();
	if (RSA_padding_add_PKCS1_OAEP_mgf1(secbuf_mutable_data(em), (int)k, msg, (int)len,
					    (const uint8_t *)KEYS_WRAP_LABEL,
					    (int)strlen(KEYS_WRAP_LABEL), EVP_sha256(),
					    EVP_sha256()) != 1)
		abort();
	if (oaep_sha256_decode(em, k, (const uint8_t *)KEYS_WRAP_LABEL, strlen(KEYS_WRAP_LABEL),
			       &out) != 0 ||
	    secbuf_len(out) != len || memcmp(secbuf_data(out), msg, len))
		abort();
	secbuf_free(out);
	out = NULL;
	/* under the other label it is refused: decrypt cannot unwrap */
	if (oaep_sha256_decode(em, k, NULL, 0, &out) != -EBADMSG)
		abort();
	secbuf_free(em);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t moduli[] = { 256, 384, 512 };

	if (size < 2)
		return 0;
	switch (data[0] % 4) {
	case 0:
		aes_header(data + 1, size - 1);
		break;
	case 1:
	case 2:
		oaep_differential(data + 2, size - 2, moduli[data[1] % 3], data[0] % 4 == 2);
		break;
	case 3:
		oaep_round_trip(data + 1, size - 1);
		break;
	}
	return 0;
}

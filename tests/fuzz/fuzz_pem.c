/*
 * fuzz_pem: libFuzzer target for reading a private key to import (`vaultfs key import`):
 * PEM, PKCS#8 or traditional, encrypted or not, with or without a passphrase. The input's
 * first byte gives the passphrase's length (255: none given), then come the passphrase
 * and the PEM text (fuzz_password_split). A refusal must give a one-line reason; a key
 * read must be a private key. No token is needed: keys_pem reads, the token imports.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "keys_pem.h"
#include "secbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secbuf *pass = NULL, *text = NULL;
	EVP_PKEY *pkey = NULL;
	const uint8_t *pem;
	char err[512] = "";
	size_t len;
	int r;

	if (fuzz_password_split(data, size, &pass, &pem, &len) < 0 ||
	    secbuf_from(pem, len, &text) < 0)
		goto out;
	r = keys_pem_read(text, pass, "key.pem", &pkey, err, sizeof(err));
	if (r == 0) {
		if (!pkey || EVP_PKEY_get_bits(pkey) <= 0)
			abort();
	} else if (r != -EINVAL || !*err || strchr(err, '\n') || pkey) {
		abort();
	}
out:
	EVP_PKEY_free(pkey);
	secbuf_free(text);
	secbuf_free(pass);
	return 0;
}

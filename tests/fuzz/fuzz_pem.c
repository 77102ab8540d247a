/*
 * fuzz_pem: libFuzzer target for reading a private key to import (`vaultfs key import`):
 * PEM, PKCS#8 or traditional, encrypted or not, with or without a passphrase. The input's
 * first byte gives the passphrase's length (255: none given), then come the passphrase
 * and the PEM text. A refusal must give a one-line reason; a key read must be a private
 * key. No token is needed: keys_pem reads, the token imports.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "keys_pem.h"
#include "secbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secbuf *pass = NULL, *text = NULL;
	EVP_PKEY *pkey = NULL;
	char err[512] = "";
	size_t plen;
	int r;

	if (size < 1)
		return 0;
	plen = data[0] == 255 ? 0 : data[0];
	if (plen > size - 1)
		plen = size - 1;
	if ((data[0] != 255 && secbuf_from(data + 1, plen, &pass) < 0) ||
	    secbuf_from(data + 1 + plen, size - 1 - plen, &text) < 0)
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

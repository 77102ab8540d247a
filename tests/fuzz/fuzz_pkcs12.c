/*
 * fuzz_pkcs12: libFuzzer target for a PKCS#12 file to import (`vaultfs cert import`,
 * src/certs/certs_p12.c through certs_bundle_parse). The input's first byte gives the
 * password's length (255: none given), then come the password and the file. A refusal must
 * give one line and leave the bundle empty; a bundle read must have a key that is its
 * leaf's and a chain (maybe empty). The seeds are files `openssl pkcs12 -export` made, with
 * and without a chain, AES and -legacy, with their passwords.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certs_parse.h"
#include "secbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certs_bundle b = { 0 };
	struct secbuf *pass = NULL;
	char err[512] = "";
	size_t plen;
	int r;

	if (size < 1)
		return 0;
	plen = data[0] == 255 ? 0 : data[0];
	if (plen > size - 1)
		plen = size - 1;
	if (data[0] != 255 && secbuf_from(data + 1, plen, &pass) < 0)
		return 0;
	r = certs_bundle_parse(data + 1 + plen, size - 1 - plen, pass, &b, err, sizeof(err));
	if (r == 0) {
		if (!b.key || !b.leaf || !b.chain ||
		    EVP_PKEY_eq(X509_get0_pubkey(b.leaf), b.key) != 1)
			abort();
	} else if ((r != -EINVAL && r != -ENOMEM) || (r == -EINVAL && !*err) || strchr(err, '\n') ||
		   b.key || b.leaf || b.chain) {
		abort();
	}
	certs_bundle_clear(&b);
	secbuf_free(pass);
	return 0;
}

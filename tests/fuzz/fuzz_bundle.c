/*
 * fuzz_bundle: the libFuzzer target for a certificate bundle to import (`vaultfs cert
 * import`, certs_bundle_parse in src/certs/certs_parse.c), built twice, once a corpus:
 *
 *   fuzz_pkcs12      a PKCS#12 file (src/certs/certs_p12.c); seeds that `openssl pkcs12
 *                    -export` made, with and without a chain, AES and -legacy
 *   fuzz_pem_bundle  a PEM bundle: a key (PKCS#8, encrypted, traditional), a leaf and a
 *                    chain in any order; seeds the real openssl made, in several orders,
 *                    plain and encrypted
 *
 * Both go through the one parser, which tells the two apart itself, so each corpus also
 * tries the other's path. The input's first byte gives the password's length (255: none
 * given), then come the password and the file (fuzz_password_split); the seeds carry
 * their passwords. A refusal must give one line and leave the bundle empty; a bundle read
 * must have a key that is its leaf's and a chain (maybe empty).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certs_parse.h"
#include "fuzz.h"
#include "secbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certs_bundle b = { 0 };
	struct secbuf *pass = NULL;
	const uint8_t *file;
	char err[512] = "";
	size_t len;
	int r;

	if (fuzz_password_split(data, size, &pass, &file, &len) < 0)
		return 0;
	r = certs_bundle_parse(file, len, pass, &b, err, sizeof(err));
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

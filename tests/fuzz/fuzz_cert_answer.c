/*
 * fuzz_cert_answer: libFuzzer target for a CA's answer to `vaultfs cert merge`
 * (src/certs/certs_parse.c, certs_answer_parse): a PEM or DER certificate, a PEM chain in
 * any order, PKCS#7 in PEM or DER. A refusal must give one line and return nothing; an
 * answer read must have its leaf, and a chain whose first certificate issued the leaf.
 * The seeds are what the real openssl writes (x509 -outform DER, crl2pkcs7 -nocrl).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "certs_parse.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	char err[512] = "";
	int r;

	r = certs_answer_parse(data, size, &leaf, &chain, err, sizeof(err));
	if (r == 0) {
		if (!leaf || !chain)
			abort();
		if (sk_X509_num(chain) > 0 &&
		    X509_check_issued(sk_X509_value(chain, 0), leaf) != X509_V_OK)
			abort();
	} else if ((r != -EINVAL && r != -ENOMEM) || (r == -EINVAL && !*err) || strchr(err, '\n') ||
		   leaf || chain) {
		abort();
	}
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return 0;
}

/*
 * certs_items: the keys and certificates found in one file as the readers of certs_parse
 * collect them, duplicates dropped and their number bounded (certs_parse_internal.h).
 */
#include "certs_parse.h"
#include "certs_parse_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void certs_items_add_key(struct certs_items *it, EVP_PKEY *pkey)
{
	if (!it->key) {
		it->key = pkey;
		it->nkeys = 1;
		return;
	}
	if (EVP_PKEY_eq(it->key, pkey) != 1)
		it->nkeys++;
	EVP_PKEY_free(pkey);
}

int certs_items_add_cert(struct certs_items *it, X509 *x, char *err, size_t errlen)
{
	if (!it->certs && !(it->certs = sk_X509_new_null())) {
		X509_free(x);
		return -ENOMEM;
	}
	for (int i = 0; i < sk_X509_num(it->certs); i++) {
		if (X509_cmp(sk_X509_value(it->certs, i), x) == 0) {
			X509_free(x);
			return 0;
		}
	}
	if (sk_X509_num(it->certs) >= CERTS_PARSE_MAX_CERTS) {
		X509_free(x);
		snprintf(err, errlen, "the file holds more than %d certificates",
			 CERTS_PARSE_MAX_CERTS);
		return -EINVAL;
	}
	if (!sk_X509_push(it->certs, x)) {
		X509_free(x);
		return -ENOMEM;
	}
	return 0;
}

void certs_items_clear(struct certs_items *it)
{
	EVP_PKEY_free(it->key);
	sk_X509_pop_free(it->certs, X509_free);
	memset(it, 0, sizeof(*it));
}

int certs_der_truncated(const uint8_t *data, size_t len)
{
	size_t n = 0, hl;

	if (len < 2 || data[0] != 0x30)
		return 0;
	if (data[1] < 0x80) {
		n = data[1];
		hl = 2;
	} else {
		size_t k = data[1] & 0x7f;

		if (k == 0 || k > 4)
			return 0;
		if (len < 2 + k)
			return 1;
		for (size_t i = 0; i < k; i++)
			n = (n << 8) | data[2 + i];
		hl = 2 + k;
	}
	return n > len - hl;
}

/*
 * certs_pem: the DER the store keeps turned into what OpenSSL and servers read — PEM
 * written straight into locked memory (a private key never passes through a BIO's
 * ordinary heap) —, the DER the store is given (a chain, an exportable key's PKCS#8, into
 * locked memory), and the few facts read back out of a certificate.
 */
#include "certs_internal.h"
#include "crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

int certs_pem_append(struct secbuf *b, const char *label, const uint8_t *der, size_t len)
{
	char line[80];
	uint8_t enc[68];
	int r, n;

	n = snprintf(line, sizeof(line), "-----BEGIN %s-----\n", label);
	r = secbuf_append(b, line, (size_t)n);
	/* 48 bytes of DER are one 64-character line */
	for (size_t off = 0; r == 0 && off < len; off += 48) {
		size_t chunk = len - off < 48 ? len - off : 48;

		n = EVP_EncodeBlock(enc, der + off, (int)chunk);
		enc[n++] = '\n';
		r = secbuf_append(b, enc, (size_t)n);
	}
	OPENSSL_cleanse(enc, sizeof(enc));
	if (r == 0) {
		n = snprintf(line, sizeof(line), "-----END %s-----\n", label);
		r = secbuf_append(b, line, (size_t)n);
	}
	return r;
}

int certs_chain_pem_append(struct secbuf *b, const uint8_t *chain, size_t len)
{
	const unsigned char *p = chain, *end = chain + len;

	while (p < end) {
		const unsigned char *start = p;
		X509 *x = d2i_X509(NULL, &p, (long)(end - p));
		int r;

		if (!x)
			return -EUCLEAN;
		X509_free(x);
		r = certs_pem_append(b, "CERTIFICATE", start, (size_t)(p - start));
		if (r < 0)
			return r;
	}
	return 0;
}

int certs_der(X509 *x, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der); /* before der is read: argument order is unspecified */
	int r = crypto_der_copy(der, n, ret, ret_len);

	OPENSSL_free(der);
	return r;
}

int certs_chain_der(STACK_OF(X509) * chain, X509 *skip, uint8_t **ret, size_t *ret_len)
{
	uint8_t *out = NULL;
	size_t len = 0;

	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		uint8_t *der = NULL, *t;
		size_t n;

		if (skip && X509_cmp(x, skip) == 0)
			continue;
		if (certs_der(x, &der, &n) < 0 || !(t = realloc(out, len + n))) {
			free(der);
			free(out);
			return -ENOMEM;
		}
		out = t;
		memcpy(out + len, der, n);
		len += n;
		free(der);
	}
	*ret = out;
	*ret_len = len;
	return 0;
}

int certs_pkcs8_der(EVP_PKEY *pkey, struct secbuf **ret)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
	struct secbuf *b = NULL;
	unsigned char *p;
	int n, r = -EIO;

	n = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, NULL) : -1;
	if (n <= 0)
		goto out;
	r = secbuf_new((size_t)n, &b);
	if (r < 0)
		goto out;
	p = secbuf_mutable_data(b);
	r = -EIO;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n || secbuf_set_len(b, (size_t)n) < 0)
		goto out;
	*ret = b;
	b = NULL;
	r = 0;
out:
	secbuf_free(b);
	/* its ASN.1 free wipes the key octets it holds */
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

X509 *certs_x509_from(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x && p != der + len) { /* one certificate and nothing after it */
		X509_free(x);
		return NULL;
	}
	return x;
}

static int time_of(const ASN1_TIME *t, int64_t *ret)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*ret = (int64_t)timegm(&tm);
	return 0;
}

int certs_x509_facts(X509 *x, int64_t *ret_not_before, int64_t *ret_not_after,
		     char serial[STORE_CERT_SERIAL_MAX])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	int64_t nb, na;
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int r = -EINVAL;

	if (hex && strlen(hex) < STORE_CERT_SERIAL_MAX &&
	    time_of(X509_get0_notBefore(x), &nb) == 0 && time_of(X509_get0_notAfter(x), &na) == 0) {
		snprintf(serial, STORE_CERT_SERIAL_MAX, "%s", hex);
		*ret_not_before = nb;
		*ret_not_after = na;
		r = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

void certs_x509_subject(X509 *x, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len))
		buf[0] = '\0';
}

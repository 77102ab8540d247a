/*
 * certs_parse_internal: what the PEM and the PKCS#12 readers of certs_parse share — the
 * keys and certificates found so far in one file, and its one-line errors. Not for use
 * outside certs_parse.c and certs_p12.c.
 */
#ifndef VAULTFS_CERTS_PARSE_INTERNAL_H
#define VAULTFS_CERTS_PARSE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "secbuf.h"

/* The keys and certificates of one file, as they are found. */
struct certs_items {
	EVP_PKEY *key; /* the first private key */
	int nkeys; /* distinct private keys seen (a repeated one counts once) */
	STACK_OF(X509) * certs; /* distinct certificates, in file order */
};

/* Takes @pkey: keeps the first key, counts a different one and frees it. */
void certs_items_add_key(struct certs_items *it, EVP_PKEY *pkey);

/* Takes @x: drops a duplicate, refuses (-EINVAL, @err) past CERTS_PARSE_MAX_CERTS. */
int certs_items_add_cert(struct certs_items *it, X509 *x, char *err, size_t errlen);

void certs_items_clear(struct certs_items *it);

/* Whether @data looks like DER whose outer length runs past @len (a cut-off file). */
int certs_der_truncated(const uint8_t *data, size_t len);

/*
 * Reads the PKCS#12 file @data into @it, with @password (NULL: none given; then the empty
 * password and no password are tried, as openssl does). Returns 0, or -EINVAL with one line
 * in @err (not PKCS#12 — then @err is empty and the caller names the format —, truncated,
 * a password needed, a wrong password, damaged), or -ENOMEM.
 */
int certs_p12_read(const uint8_t *data, size_t len, const struct secbuf *password,
		   struct certs_items *it, char *err, size_t errlen);

#endif

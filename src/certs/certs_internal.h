/*
 * certs_internal: what the files of src/certs share — X.509 made and signed in the token
 * (certs_x509.c), PEM written into locked memory, and the conversions between OpenSSL's
 * objects and the DER the store keeps.
 */
#ifndef VAULTFS_CERTS_INTERNAL_H
#define VAULTFS_CERTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "certs.h"
#include "keys.h"

#define CERTS_DEFAULT_TYPE "ec-p256"
#define CERTS_DEFAULT_DAYS 365
#define CERTS_DAYS_MAX 36500
#define CERTS_WARN_DAYS 30

/* The key a signature is made with, in the token: its record and version. */
struct certs_signer {
	struct hsm *h;
	const struct store_key *k;
	const struct store_key_version *v;
};

/* What a certificate or request says of its subject. */
struct certs_tbs {
	const char *subject; /* -subj form */
	const char *sans; /* NULL or "" for none */
	int is_ca;
	int64_t not_before, not_after; /* seconds */
};

/* Parses @subject (-subj form) into a new X509_NAME: -EINVAL with a line in @err. */
int certs_name_parse(const char *subject, X509_NAME **ret, char *err, size_t errlen);

/* Writes @n in the -subj form certs_name_parse reads back to the same name: '/' between
 * RDNs, '+' inside a multi-valued one, values in UTF-8 with '/', '+' and '\' escaped by
 * '\'. -ENAMETOOLONG past @len, -EINVAL for a name it cannot write (empty, an entry
 * without a short name, a NUL in a value); @buf is then undefined. */
int certs_name_subj(const X509_NAME *n, char *buf, size_t len);

/* Checks a --san list: DNS:, IP:, email:, URI: entries, comma-separated. -EINVAL. */
int certs_sans_check(const char *sans, char *err, size_t errlen);

/*
 * Makes the certificate @t asks for, of public key @pub (SubjectPublicKeyInfo DER),
 * signed in the token by @signer: issued by @issuer (NULL: self-signed, @signer's key is
 * @pub's). Checked against the signer's public key before it is returned. The DER in
 * *@ret (malloc'ed) and the serial in hex in @serial.
 */
int certs_x509_make(const struct certs_tbs *t, const uint8_t *pub, size_t pub_len, X509 *issuer,
		    const struct certs_signer *signer, uint8_t **ret, size_t *ret_len,
		    char serial[STORE_CERT_SERIAL_MAX], char *err, size_t errlen);

/* A PKCS#10 request for @t (dates unused) of key @pub, signed in the token by @signer (the
 * same key). The DER in *@ret (malloc'ed). */
int certs_csr_make(const struct certs_tbs *t, const uint8_t *pub, size_t pub_len,
		   const struct certs_signer *signer, uint8_t **ret, size_t *ret_len, char *err,
		   size_t errlen);

/* DER of @x (malloc'ed). */
int certs_der(X509 *x, uint8_t **ret, size_t *ret_len);

/* @s seconds as --days and --renew-at take them: "30d", "12h", "90m" or "45s", in @buf. */
const char *certs_duration(int64_t s, char *buf, size_t len);
/* The certificates of @chain but @skip (NULL: none), DER end to end (malloc'ed; NULL and
 * 0 for none). */
int certs_chain_der(STACK_OF(X509) * chain, X509 *skip, uint8_t **ret, size_t *ret_len);
/* The PKCS#8 DER of the private key @pkey, in locked memory: what an exportable
 * certificate keeps sealed. */
int certs_pkcs8_der(EVP_PKEY *pkey, struct secbuf **ret);
/* Parses one certificate from DER. NULL if it is none. */
X509 *certs_x509_from(const uint8_t *der, size_t len);
/* not-before, not-after (seconds) and serial (hex) of @x. */
int certs_x509_facts(X509 *x, int64_t *ret_not_before, int64_t *ret_not_after,
		     char serial[STORE_CERT_SERIAL_MAX]);
/* The subject of @x as -subj writes it. */
void certs_x509_subject(X509 *x, char *buf, size_t len);

/* Appends the PEM of @len bytes of DER at @der, labelled @label ("CERTIFICATE", ...). */
int certs_pem_append(struct secbuf *b, const char *label, const uint8_t *der, size_t len);
/* Appends every certificate of a chain (DER certificates end to end) as PEM. */
int certs_chain_pem_append(struct secbuf *b, const uint8_t *chain, size_t len);

/* A certs_info from the store's record and its current version. */
int certs_info_fill(struct store *s, const char *name, const struct store_cert *c,
		    struct certs_info *ret);

#endif

/*
 * certs_parse: reading the certificates a user or a CA brings — a bundle to import
 * (PKCS#12, or PEM holding the private key, the leaf and any chain) and a CA's answer to
 * merge (a leaf, a chain, or PKCS#7) — and putting their chain in order. Both are files
 * from outside the vault, so this is a parser of untrusted input: it touches neither the
 * token nor the store, refuses anything it cannot place with one line that says why, and
 * can be driven alone (tests/fuzz).
 *
 * Passwords and PEM text are read where the caller keeps them; what this file buffers of
 * a password (the NUL-terminated copy PKCS#12 wants) is a secbuf. Decoded private keys
 * are EVP_PKEYs, in OpenSSL's memory.
 */
#ifndef VAULTFS_CERTS_PARSE_H
#define VAULTFS_CERTS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "secbuf.h"

/* More certificates than this in one file are refused: no real chain is that long, and it
 * bounds the work of ordering them. */
#define CERTS_PARSE_MAX_CERTS 32

struct certs_bundle {
	EVP_PKEY *key;
	X509 *leaf; /* the certificate whose public key is the key's */
	/* the leaf's issuers, in order, the leaf's issuer first (empty, never NULL, after a
	 * successful parse) */
	STACK_OF(X509) * chain;
};

/*
 * Reads a bundle to import: PKCS#12 (DER, as `openssl pkcs12 -export` makes it, AES or
 * legacy RC2/3DES encryption) or PEM blocks — one private key (PKCS#8, encrypted PKCS#8 or
 * traditional, encrypted or not), the leaf and any chain, in any order. @password (NULL:
 * none given) opens the PKCS#12 file or the encrypted key. The certificate whose public key
 * is the key's is the leaf; the others must be its issuers, which are put in order from it
 * up (issuer name and key identifiers); duplicates are dropped.
 *
 * Returns 0 and fills *@ret (release it with certs_bundle_clear), or -EINVAL with one line
 * in @err: empty, truncated, neither PKCS#12 nor PEM, a password needed but none given, a
 * wrong password, no private key, more than one, no certificate, none that matches the key,
 * a certificate outside the leaf's chain, a PEM block that is none of these; or -ENOMEM.
 * *@ret is untouched on failure.
 */
int certs_bundle_parse(const uint8_t *data, size_t len, const struct secbuf *password,
		       struct certs_bundle *ret, char *err, size_t errlen);

/* Frees what @b holds and zeroes it. Accepts a zeroed bundle. */
void certs_bundle_clear(struct certs_bundle *b);

/*
 * Reads a CA's answer for `cert merge`: a PEM or DER certificate, PEM certificates (a chain,
 * in any order), or PKCS#7 (PEM or DER, as `openssl crl2pkcs7 -nocrl -certfile` makes). The
 * leaf is the one certificate that issues no other of the set; the rest must be its
 * issuers and come back in order, the leaf's issuer first. Returns 0 with *@ret_leaf and
 * *@ret_chain (never NULL, maybe empty; the caller frees them), or -EINVAL with one line
 * in @err (empty, truncated, garbage, a private key or another kind of PEM block, no
 * certificate, no single leaf, a certificate outside the leaf's chain), or -ENOMEM.
 * Nothing is returned on failure.
 */
int certs_answer_parse(const uint8_t *data, size_t len, X509 **ret_leaf,
		       STACK_OF(X509) * *ret_chain, char *err, size_t errlen);

/*
 * Puts @certs in order as the chain above @leaf: repeatedly the certificate of @certs that
 * issued the last one (X509_check_issued: names, key identifiers, key usage; and the last
 * one's signature, checked with its public key), until none does. Copies of @leaf and
 * duplicates are dropped. Returns 0 and the chain (references taken) in *@ret_chain, or
 * -EINVAL with one line in @err naming a certificate that is not in the chain or one
 * whose signature its named issuer did not make, or -ENOMEM. @certs is not changed.
 */
int certs_chain_order(X509 *leaf, STACK_OF(X509) * certs, STACK_OF(X509) * *ret_chain, char *err,
		      size_t errlen);

#endif

/*
 * keys_pem: reading a private key that a user brings (`vaultfs key import`) out of PEM —
 * PKCS#8, encrypted PKCS#8, or traditional RSA/EC with or without encryption — with the
 * passphrase given, and naming what is wrong with anything else. The file is the user's,
 * not the vault's, so this is a parser of untrusted input: it touches neither the token
 * nor the store, and can be driven alone.
 */
#ifndef VAULTFS_KEYS_PEM_H
#define VAULTFS_KEYS_PEM_H

#include <stddef.h>

#include <openssl/evp.h>

#include "secbuf.h"

/*
 * Reads the private key in @text; @passphrase for an encrypted one (NULL: an encrypted key
 * is refused). Returns 0 and the key in *@ret, or -EINVAL with a one-line reason naming
 * @what in @err (a public key or certificate, encrypted without a passphrase, a wrong
 * passphrase or a damaged key, not PEM), or -ENOMEM.
 */
/* A passphrase for OpenSSL's PEM readers (pem_password_cb, with this as its userdata):
 * @pass (NULL: none, the read fails), and whether the reader asked for it, which tells a
 * wrong passphrase from a key that needed one. */
struct keys_pem_pass {
	const struct secbuf *pass;
	int asked;
};
int keys_pem_pass_cb(char *buf, int size, int rwflag, void *u);

int keys_pem_read(const struct secbuf *text, const struct secbuf *passphrase, const char *what,
		  EVP_PKEY **ret, char *err, size_t errlen);

#endif

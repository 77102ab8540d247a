/*
 * keys_pem: a private key out of PEM (keys_pem.h), through OpenSSL's decoders, with the
 * passphrase handed over only when the decoder asks for it.
 */
#include "keys_pem.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

int keys_pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct keys_pem_pass *ps = u;

	(void)rwflag;
	ps->asked = 1;
	if (!ps->pass || secbuf_len(ps->pass) > (size_t)size)
		return -1;
	memcpy(buf, secbuf_data(ps->pass), secbuf_len(ps->pass));
	return (int)secbuf_len(ps->pass);
}

int keys_pem_read(const struct secbuf *text, const struct secbuf *passphrase, const char *what,
		  EVP_PKEY **ret, char *err, size_t errlen)
{
	struct keys_pem_pass ps = { passphrase, 0 };
	EVP_PKEY *pkey;
	BIO *bio;

	if (secbuf_len(text) > INT32_MAX) {
		snprintf(err, errlen, "\"%s\" is too large for a key", what);
		return -EFBIG;
	}
	bio = BIO_new_mem_buf(secbuf_data(text), (int)secbuf_len(text));
	if (!bio)
		return -ENOMEM;
	pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, keys_pem_pass_cb, &ps, NULL, NULL);
	ERR_clear_error();
	BIO_free(bio);
	if (pkey) {
		*ret = pkey;
		return 0;
	}
	if (ps.asked && !passphrase)
		snprintf(err, errlen,
			 "\"%s\" is encrypted: give its passphrase with --passphrase-file", what);
	else if (ps.asked)
		snprintf(err, errlen, "\"%s\": wrong passphrase, or a damaged key", what);
	else if (memmem(secbuf_data(text), secbuf_len(text), "PUBLIC KEY-----", 15) ||
		 memmem(secbuf_data(text), secbuf_len(text), "CERTIFICATE-----", 16))
		snprintf(err, errlen, "\"%s\" holds a public key or certificate, not a private key",
			 what);
	else
		snprintf(err, errlen, "\"%s\" is not a PEM private key", what);
	return -EINVAL;
}

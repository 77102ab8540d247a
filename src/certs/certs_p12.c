/*
 * certs_p12: the keys and certificates of a PKCS#12 file (certs_parse_internal.h). The safe
 * bags are walked here rather than through PKCS12_parse, which keeps the first key and
 * silently drops any other: a file with two keys must be refused, not half-read.
 *
 * `openssl pkcs12 -export -legacy` (and every older tool) encrypts with RC2 or 3DES, whose
 * PKCS#12 flavours live in OpenSSL 3's legacy provider; it is loaded into the default
 * library context the first time a PKCS#12 file is read, beside the default provider. The
 * PKCS12 functions take no library context of their own in OpenSSL 3.0, so a private one
 * would not reach the decryption.
 */
#include "certs_parse.h"
#include "certs_parse_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>

/* nested safe contents deeper than this are refused: no tool makes them */
#define P12_MAX_DEPTH 4

static pthread_once_t legacy_once = PTHREAD_ONCE_INIT;
static OSSL_PROVIDER *legacy; /* set once, under legacy_once */

/* Before OpenSSL's own cleanup (atexit runs the later registration first): the provider
 * keeps a library context of its own that OpenSSL 3.0's cleanup does not free, and a
 * process that checks for leaks at exit would see it. */
static void legacy_unload(void)
{
	OSSL_PROVIDER_unload(legacy);
	legacy = NULL;
}

static void legacy_load(void)
{
	/* retain_fallbacks 1: the default provider stays, as if nothing had been loaded. A
	 * missing legacy module is not an error here: AES files still read, and a legacy one
	 * gets its own message below. */
	legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
	ERR_clear_error();
	if (legacy)
		atexit(legacy_unload);
}

struct p12_pass {
	const char *pass; /* NULL: no password (not even an empty one) */
	int len;
	int given; /* the user gave one */
};

static int p12_need(const struct p12_pass *pw, char *err, size_t errlen)
{
	if (pw->given)
		snprintf(err, errlen, "wrong password for the PKCS#12 file");
	else
		snprintf(err, errlen,
			 "the PKCS#12 file is protected by a password: give it with "
			 "--password-file");
	return -EINVAL;
}

static int p12_bags(const STACK_OF(PKCS12_SAFEBAG) * bags, const struct p12_pass *pw, int depth,
		    struct certs_items *it, char *err, size_t errlen)
{
	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		PKCS8_PRIV_KEY_INFO *p8;
		EVP_PKEY *pkey;
		X509 *x;
		int r;

		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_keyBag:
			pkey = EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(bag));
			if (!pkey) {
				snprintf(err, errlen,
					 "the PKCS#12 file holds a damaged private key");
				return -EINVAL;
			}
			certs_items_add_key(it, pkey);
			break;
		case NID_pkcs8ShroudedKeyBag:
			p8 = PKCS12_decrypt_skey(bag, pw->pass, pw->len);
			if (!p8)
				return p12_need(pw, err, errlen);
			/* the PKCS8_PRIV_KEY_INFO wipes its key bytes when freed */
			pkey = EVP_PKCS82PKEY(p8);
			PKCS8_PRIV_KEY_INFO_free(p8);
			if (!pkey) {
				snprintf(err, errlen,
					 "the PKCS#12 file holds a damaged private key");
				return -EINVAL;
			}
			certs_items_add_key(it, pkey);
			break;
		case NID_certBag:
			/* SDSI certificates: nothing a server uses */
			if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
				break;
			x = PKCS12_SAFEBAG_get1_cert(bag);
			if (!x) {
				snprintf(err, errlen,
					 "the PKCS#12 file holds a damaged certificate");
				return -EINVAL;
			}
			r = certs_items_add_cert(it, x, err, errlen);
			if (r < 0)
				return r;
			break;
		case NID_safeContentsBag:
			if (depth >= P12_MAX_DEPTH) {
				snprintf(err, errlen,
					 "the PKCS#12 file nests its contents too deep");
				return -EINVAL;
			}
			r = p12_bags(PKCS12_SAFEBAG_get0_safes(bag), pw, depth + 1, it, err,
				     errlen);
			if (r < 0)
				return r;
			break;
		default:
			/* CRLs and secrets: not part of a certificate */
			break;
		}
	}
	return 0;
}

/* Which password opens the MAC: the given one, or without one "" or none. */
static int p12_mac(PKCS12 *p12, struct p12_pass *pw, char *err, size_t errlen)
{
	if (!PKCS12_mac_present(p12))
		return 0;
	if (pw->given) {
		if (PKCS12_verify_mac(p12, pw->pass, pw->len))
			return 0;
		return p12_need(pw, err, errlen);
	}
	if (PKCS12_verify_mac(p12, "", 0))
		return 0;
	if (PKCS12_verify_mac(p12, NULL, 0)) {
		pw->pass = NULL;
		return 0;
	}
	return p12_need(pw, err, errlen);
}

int certs_p12_read(const uint8_t *data, size_t len, const struct secbuf *password,
		   struct certs_items *it, char *err, size_t errlen)
{
	const unsigned char *p = data;
	struct p12_pass pw = { "", 0, 0 };
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12 *p12;
	int mac_checked, r;

	*err = '\0';
	if (len > INT32_MAX)
		return -EINVAL;
	if (password) {
		if (secbuf_len(password) > INT32_MAX)
			return -EINVAL;
		pw.pass = (const char *)secbuf_data(password);
		pw.len = (int)secbuf_len(password);
		pw.given = 1;
	}
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (!p12) {
		ERR_clear_error();
		if (certs_der_truncated(data, len))
			snprintf(err, errlen, "the file is truncated (its DER runs past its end)");
		return -EINVAL;
	}
	pthread_once(&legacy_once, legacy_load);

	r = p12_mac(p12, &pw, err, errlen);
	if (r < 0)
		goto out;
	mac_checked = PKCS12_mac_present(p12);
	safes = PKCS12_unpack_authsafes(p12);
	if (!safes) {
		snprintf(err, errlen, "the PKCS#12 file is damaged");
		r = -EINVAL;
		goto out;
	}
	for (int i = 0; i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) * bags;

		switch (OBJ_obj2nid(p7->type)) {
		case NID_pkcs7_data:
			bags = PKCS12_unpack_p7data(p7);
			break;
		case NID_pkcs7_encrypted:
			bags = PKCS12_unpack_p7encdata(p7, pw.pass, pw.len);
			/* with the MAC opened the password is right: what fails is the cipher */
			if (!bags && mac_checked) {
				snprintf(err, errlen,
					 "the PKCS#12 file is encrypted with a cipher this OpenSSL "
					 "cannot decrypt (for RC2 it needs its legacy provider)");
				r = -EINVAL;
				goto out;
			}
			if (!bags) {
				r = p12_need(&pw, err, errlen);
				goto out;
			}
			break;
		default:
			snprintf(
				err, errlen,
				"the PKCS#12 file uses public-key privacy, which is not supported");
			r = -EINVAL;
			goto out;
		}
		if (!bags) {
			snprintf(err, errlen, "the PKCS#12 file is damaged");
			r = -EINVAL;
			goto out;
		}
		r = p12_bags(bags, &pw, 0, it, err, errlen);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	return r;
}

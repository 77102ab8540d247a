/*
 * certs_x509: certificates and requests built with OpenSSL's X509 and X509_REQ and signed
 * in the token. OpenSSL encodes the to-be-signed part (i2d_re_X509_tbs); the keys layer
 * signs those bytes with the key's token object (it hashes them, and gives DER ECDSA or
 * PKCS#1 v1.5, which are X.509's encodings); the signature goes back into the structure,
 * and the result is verified with the signer's public key before anyone keeps it. No
 * private key passes through here.
 */
#include "certs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "crypto.h"

#define ENTRY_MAX 1024

int certs_name_parse(const char *subject, X509_NAME **ret, char *err, size_t errlen)
{
	X509_NAME *n = X509_NAME_new();
	const char *p = subject;
	char field[ENTRY_MAX], value[ENTRY_MAX];
	int r = -EINVAL, set = 0, entries = 0;

	if (!n)
		return -ENOMEM;
	if (!subject || subject[0] != '/') {
		snprintf(err, errlen, "the subject is written as /CN=name/O=org");
		goto out;
	}
	/* "/F=V/F=V+F=V": '+' joins fields into one RDN, '\' escapes the next character */
	while (*p == '/' || *p == '+') {
		int multi = *p == '+';
		size_t i = 0;

		p++;
		if (!*p && !multi)
			break; /* a trailing '/' */
		while (*p && *p != '=' && i < sizeof(field) - 1)
			field[i++] = *p++;
		field[i] = '\0';
		if (*p != '=' || i == 0) {
			snprintf(err, errlen, "bad subject entry \"%s\": FIELD=VALUE expected",
				 field);
			goto out;
		}
		p++;
		i = 0;
		while (*p && *p != '/' && *p != '+' && i < sizeof(value) - 1) {
			if (*p == '\\' && p[1])
				p++;
			value[i++] = *p++;
		}
		value[i] = '\0';
		if (i == 0) {
			snprintf(err, errlen, "subject field %s has no value", field);
			goto out;
		}
		if (OBJ_txt2nid(field) == NID_undef) {
			snprintf(err, errlen, "unknown subject field \"%s\"", field);
			goto out;
		}
		if (X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8,
					       (const unsigned char *)value, -1, -1,
					       multi && entries ? -1 : 0) != 1) {
			snprintf(err, errlen, "subject field %s: bad value \"%s\"", field, value);
			goto out;
		}
		set = multi && entries ? set : set + 1;
		entries++;
	}
	if (*p || entries == 0) {
		snprintf(err, errlen, "the subject is written as /CN=name/O=org");
		goto out;
	}
	*ret = n;
	n = NULL;
	r = 0;
out:
	X509_NAME_free(n);
	return r;
}

int certs_name_subj(const X509_NAME *n, char *buf, size_t len)
{
	size_t off = 0;
	int prev_set = -1;

	if (len == 0)
		return -ENAMETOOLONG;
	for (int i = 0; i < X509_NAME_entry_count(n); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		const char *field = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
		unsigned char *utf8 = NULL;
		int vlen = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
		int r = 0;

		/* what certs_name_parse cannot read back: an unnamed field, an empty value */
		if (!field || vlen <= 0 || len - off < strlen(field) + 2) {
			OPENSSL_free(utf8);
			return vlen < 0 || !field ? -EINVAL : -ENAMETOOLONG;
		}
		off += (size_t)snprintf(buf + off, len - off,
					"%c%s=", X509_NAME_ENTRY_set(e) == prev_set ? '+' : '/',
					field);
		prev_set = X509_NAME_ENTRY_set(e);
		for (int j = 0; r == 0 && j < vlen; j++) {
			int esc = utf8[j] == '/' || utf8[j] == '+' || utf8[j] == '\\';

			if (utf8[j] == '\0')
				r = -EINVAL;
			else if (len - off < (size_t)esc + 2)
				r = -ENAMETOOLONG;
			if (r == 0 && esc)
				buf[off++] = '\\';
			if (r == 0)
				buf[off++] = (char)utf8[j];
		}
		OPENSSL_free(utf8);
		if (r < 0)
			return r;
		buf[off] = '\0';
	}
	return off ? 0 : -EINVAL;
}

int certs_sans_check(const char *sans, char *err, size_t errlen)
{
	static const char *const kinds[] = { "DNS:", "IP:", "email:", "URI:" };
	const char *p = sans;

	if (!sans || !*sans)
		return 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p), k;

		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (len > strlen(kinds[k]) && strncmp(p, kinds[k], strlen(kinds[k])) == 0)
				break;
		if (k == sizeof(kinds) / sizeof(kinds[0])) {
			snprintf(err, errlen,
				 "bad --san entry \"%.*s\": DNS:name, IP:address, email:address "
				 "or URI:uri expected",
				 (int)(len > 200 ? 200 : len), p);
			return -EINVAL;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* The signature algorithm of a key type, as X.509 names it. */
static int sig_nid(const char *type)
{
	if (strcmp(type, "ec-p384") == 0)
		return NID_ecdsa_with_SHA384;
	if (strncmp(type, "ec-", 3) == 0)
		return NID_ecdsa_with_SHA256;
	return NID_sha256WithRSAEncryption;
}

static int algor_set(X509_ALGOR *alg, int nid)
{
	/* RSA's parameters are NULL; ECDSA's are absent (RFC 5758 3.2) */
	return X509_ALGOR_set0(alg, OBJ_nid2obj(nid),
			       nid == NID_sha256WithRSAEncryption ? V_ASN1_NULL : V_ASN1_UNDEF,
			       NULL) == 1
		       ? 0
		       : -EIO;
}

/* The token's signature over @tbs into @bits, with no unused bits. */
static int sign_into(const struct certs_signer *signer, const uint8_t *tbs, size_t tbs_len,
		     ASN1_BIT_STRING *bits)
{
	struct secbuf *sig = NULL;
	int r;

	r = keys_sign_made(signer->h, signer->k, signer->v, tbs, tbs_len, &sig);
	if (r < 0)
		return r;
	r = ASN1_BIT_STRING_set(bits, (unsigned char *)secbuf_data(sig), (int)secbuf_len(sig)) == 1
		    ? 0
		    : -ENOMEM;
	/* as ASN1_item_sign does: a whole number of octets */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	secbuf_free(sig);
	return r;
}

static int add_ext(X509 *x, STACK_OF(X509_EXTENSION) * *exts, X509V3_CTX *ctx, int nid,
		   const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, (char *)value);
	int ok;

	if (!e)
		return -EINVAL;
	ok = x ? X509_add_ext(x, e, -1) : X509v3_add_ext(exts, e, -1) != NULL;
	X509_EXTENSION_free(e);
	return ok ? 0 : -ENOMEM;
}

/* The extensions of @t, on @x or (@x NULL) into @exts for a request. */
static int add_exts(X509 *x, STACK_OF(X509_EXTENSION) * *exts, X509V3_CTX *ctx,
		    const struct certs_tbs *t, int rsa, char *err, size_t errlen)
{
	int r;

	r = add_ext(x, exts, ctx, NID_basic_constraints,
		    t->is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (r == 0)
		r = add_ext(x, exts, ctx, NID_key_usage,
			    t->is_ca ? "critical,digitalSignature,keyCertSign,cRLSign"
			    : rsa    ? "critical,digitalSignature,keyEncipherment"
				     : "critical,digitalSignature");
	if (r == 0 && !t->is_ca)
		r = add_ext(x, exts, ctx, NID_ext_key_usage, "serverAuth,clientAuth");
	if (r == 0 && t->sans && *t->sans) {
		r = add_ext(x, exts, ctx, NID_subject_alt_name, t->sans);
		if (r == -EINVAL) {
			snprintf(err, errlen, "bad --san \"%s\"", t->sans);
			return r;
		}
	}
	if (r == 0 && x) {
		r = add_ext(x, exts, ctx, NID_subject_key_identifier, "hash");
		if (r == 0)
			r = add_ext(x, exts, ctx, NID_authority_key_identifier, "keyid:always");
	}
	if (r < 0 && !err[0])
		snprintf(err, errlen, "cannot add the certificate's extensions");
	return r;
}

static int random_serial(ASN1_INTEGER *serial, char out[STORE_CERT_SERIAL_MAX])
{
	uint8_t bytes[20];
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int r;

	r = crypto_random(bytes, sizeof(bytes));
	if (r < 0)
		return r;
	bytes[0] &= 0x7f; /* positive in 20 octets (RFC 5280 4.1.2.2) */
	bytes[0] |= 0x40; /* and never shorter: the same length every time */
	bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
	r = -EIO;
	if (bn && BN_to_ASN1_INTEGER(bn, serial) && (hex = BN_bn2hex(bn))) {
		snprintf(out, STORE_CERT_SERIAL_MAX, "%s", hex);
		r = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

static EVP_PKEY *pubkey_from(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;

	return d2i_PUBKEY(NULL, &p, (long)len);
}

int certs_x509_make(const struct certs_tbs *t, const uint8_t *pub, size_t pub_len, X509 *issuer,
		    const struct certs_signer *signer, uint8_t **ret, size_t *ret_len,
		    char serial[STORE_CERT_SERIAL_MAX], char *err, size_t errlen)
{
	int nid = sig_nid(signer->k->type);
	EVP_PKEY *pkey = pubkey_from(pub, pub_len), *signer_pub = NULL;
	const ASN1_BIT_STRING *csig;
	const X509_ALGOR *calg;
	unsigned char *tbs = NULL, *der = NULL;
	X509_NAME *name = NULL;
	X509 *x = X509_new();
	X509V3_CTX ctx;
	int r = -EIO, n, der_len;

	if (!x || !pkey)
		goto out;
	r = certs_name_parse(t->subject, &name, err, errlen);
	if (r < 0)
		goto out;
	r = -EIO;
	if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, pkey) != 1 ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)t->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)t->not_after))
		goto out;
	r = random_serial(X509_get_serialNumber(x), serial);
	if (r < 0)
		goto out;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	r = add_exts(x, NULL, &ctx, t, EVP_PKEY_is_a(pkey, "RSA"), err, errlen);
	if (r < 0)
		goto out;
	r = -EIO;
	/* the algorithm inside the signed part, then those bytes signed in the token */
	if (algor_set((X509_ALGOR *)X509_get0_tbs_sigalg(x), nid) < 0)
		goto out;
	n = i2d_re_X509_tbs(x, &tbs);
	if (n <= 0)
		goto out;
	X509_get0_signature(&csig, &calg, x);
	if (algor_set((X509_ALGOR *)calg, nid) < 0)
		goto out;
	r = sign_into(signer, tbs, (size_t)n, (ASN1_BIT_STRING *)csig);
	if (r < 0) {
		snprintf(err, errlen, "the token could not sign: %s", strerror(-r));
		goto out;
	}
	signer_pub = issuer ? X509_get_pubkey(issuer)
			    : pubkey_from(signer->v->public_der, signer->v->public_len);
	if (!signer_pub || X509_verify(x, signer_pub) != 1) {
		r = -EIO;
		snprintf(err, errlen, "the token's signature does not verify");
		goto out;
	}
	/* der is read only after i2d set it: argument order is unspecified */
	der_len = i2d_X509(x, &der);
	r = crypto_der_copy(der, der_len, ret, ret_len);
out:
	if (r < 0 && !err[0])
		snprintf(err, errlen, "cannot make the certificate: %s", strerror(-r));
	OPENSSL_free(tbs);
	OPENSSL_free(der);
	X509_NAME_free(name);
	EVP_PKEY_free(signer_pub);
	EVP_PKEY_free(pkey);
	X509_free(x);
	return r;
}

int certs_csr_make(const struct certs_tbs *t, const uint8_t *pub, size_t pub_len,
		   const struct certs_signer *signer, uint8_t **ret, size_t *ret_len, char *err,
		   size_t errlen)
{
	int nid = sig_nid(signer->k->type);
	EVP_PKEY *pkey = pubkey_from(pub, pub_len);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const ASN1_BIT_STRING *csig;
	const X509_ALGOR *calg;
	unsigned char *tbs = NULL, *der = NULL;
	X509_NAME *name = NULL;
	X509_REQ *req = X509_REQ_new();
	X509V3_CTX ctx;
	int r = -EIO, n, der_len;

	if (!req || !pkey)
		goto out;
	r = certs_name_parse(t->subject, &name, err, errlen);
	if (r < 0)
		goto out;
	r = -EIO;
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, pkey) != 1)
		goto out;
	X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
	r = add_exts(NULL, &exts, &ctx, t, EVP_PKEY_is_a(pkey, "RSA"), err, errlen);
	if (r < 0)
		goto out;
	r = -EIO;
	if (X509_REQ_add_extensions(req, exts) != 1)
		goto out;
	X509_REQ_get0_signature(req, &csig, &calg);
	if (algor_set((X509_ALGOR *)calg, nid) < 0)
		goto out;
	n = i2d_re_X509_REQ_tbs(req, &tbs);
	if (n <= 0)
		goto out;
	r = sign_into(signer, tbs, (size_t)n, (ASN1_BIT_STRING *)csig);
	if (r < 0) {
		snprintf(err, errlen, "the token could not sign: %s", strerror(-r));
		goto out;
	}
	if (X509_REQ_verify(req, pkey) != 1) {
		r = -EIO;
		snprintf(err, errlen, "the token's signature does not verify");
		goto out;
	}
	der_len = i2d_X509_REQ(req, &der);
	r = crypto_der_copy(der, der_len, ret, ret_len);
out:
	if (r < 0 && !err[0])
		snprintf(err, errlen, "cannot make the request: %s", strerror(-r));
	OPENSSL_free(tbs);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	EVP_PKEY_free(pkey);
	X509_REQ_free(req);
	return r;
}

/*
 * certs_parse: bundles to import and CAs' answers (certs_parse.h). PEM is read block by
 * block — each BEGIN/END pair found by hand, then decoded by OpenSSL as the kind its label
 * names — so that text around the blocks (the "Bag Attributes" and "subject=" lines that
 * `openssl pkcs12 -nodes` writes) is ignored, and a block of a kind that has no place in
 * the file is named in the refusal. Anything without a PEM block is tried as DER.
 */
#include "certs_parse.h"
#include "certs_parse_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "keys_pem.h"

#define PEM_LABEL_MAX 64

/* ---- one line about a certificate ---- */

static const char *subject_of(X509 *x, char *buf, size_t size)
{
	/* X509_NAME_oneline writes control and non-ASCII bytes as \xHH: still one line */
	if (!X509_NAME_oneline(X509_get_subject_name(x), buf, (int)size))
		snprintf(buf, size, "?");
	return buf;
}

int certs_chain_order(X509 *leaf, STACK_OF(X509) * certs, STACK_OF(X509) * *ret_chain, char *err,
		      size_t errlen)
{
	STACK_OF(X509) *rest = sk_X509_new_null(), *chain = sk_X509_new_null();
	char a[256], b[256];
	X509 *cur = leaf;
	int r;

	if (!rest || !chain) {
		r = -ENOMEM;
		goto out;
	}
	/* borrowed pointers: the references are taken only for what enters the chain */
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int dup = X509_cmp(x, leaf) == 0;

		for (int j = 0; !dup && j < sk_X509_num(rest); j++)
			dup = X509_cmp(x, sk_X509_value(rest, j)) == 0;
		if (!dup && !sk_X509_push(rest, x)) {
			r = -ENOMEM;
			goto out;
		}
	}
	/* each pass takes one certificate out of rest, so this ends */
	while (sk_X509_num(rest) > 0 && X509_check_issued(cur, cur) != X509_V_OK) {
		int found = -1, named = -1;

		/* names and key identifiers say which could have issued it; only its signature
		 * says which did */
		for (int i = 0; found < 0 && i < sk_X509_num(rest); i++) {
			X509 *x = sk_X509_value(rest, i);

			if (X509_check_issued(x, cur) != X509_V_OK)
				continue;
			if (X509_verify(cur, X509_get0_pubkey(x)) == 1)
				found = i;
			else if (named < 0)
				named = i;
		}
		if (found < 0 && named >= 0) {
			snprintf(err, errlen, "the certificate \"%s\" is not signed by \"%s\"",
				 subject_of(cur, b, sizeof(b)),
				 subject_of(sk_X509_value(rest, named), a, sizeof(a)));
			r = -EINVAL;
			goto out;
		}
		if (found < 0)
			break;
		cur = sk_X509_delete(rest, found);
		if (!sk_X509_push(chain, cur)) {
			r = -ENOMEM;
			goto out;
		}
		X509_up_ref(cur);
	}
	if (sk_X509_num(rest) > 0) {
		snprintf(err, errlen, "the certificate \"%s\" is not in the chain of \"%s\"",
			 subject_of(sk_X509_value(rest, 0), a, sizeof(a)),
			 subject_of(leaf, b, sizeof(b)));
		r = -EINVAL;
		goto out;
	}
	*ret_chain = chain;
	chain = NULL;
	r = 0;
out:
	ERR_clear_error();
	sk_X509_free(rest);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

/* ---- PEM ---- */

struct pem_block {
	size_t start, end; /* [start, end) from "-----BEGIN" to the end of the END line */
	char label[PEM_LABEL_MAX + 1];
};

/* The next PEM block at or after *@pos: 1 and @ret, 0 when there is none, -EINVAL (@err)
 * for a BEGIN line without its END. */
static int pem_next(const uint8_t *data, size_t len, size_t *pos, struct pem_block *ret, char *err,
		    size_t errlen)
{
	static const char begin[] = "-----BEGIN ";
	const uint8_t *b, *l, *e, *dashes;
	char end[PEM_LABEL_MAX + 16];
	size_t llen, elen;

	b = memmem(data + *pos, len - *pos, begin, sizeof(begin) - 1);
	if (!b)
		return 0;
	l = b + sizeof(begin) - 1;
	dashes = memmem(l, len - (size_t)(l - data), "-----", 5);
	if (!dashes || memchr(l, '\n', (size_t)(dashes - l))) {
		snprintf(err, errlen, "the file is truncated or damaged: a PEM BEGIN line is cut");
		return -EINVAL;
	}
	llen = (size_t)(dashes - l);
	if (llen == 0 || llen > PEM_LABEL_MAX) {
		snprintf(err, errlen, "the file holds a PEM BEGIN line with a bad label");
		return -EINVAL;
	}
	for (size_t i = 0; i < llen; i++) {
		if (l[i] < 0x20 || l[i] > 0x7e) {
			snprintf(err, errlen, "the file holds a PEM BEGIN line with a bad label");
			return -EINVAL;
		}
	}
	memcpy(ret->label, l, llen);
	ret->label[llen] = '\0';
	elen = (size_t)snprintf(end, sizeof(end), "-----END %s-----", ret->label);
	e = memmem(dashes + 5, len - (size_t)(dashes + 5 - data), end, elen);
	if (!e) {
		snprintf(err, errlen, "the file is truncated: the PEM block \"%s\" has no END line",
			 ret->label);
		return -EINVAL;
	}
	ret->start = (size_t)(b - data);
	ret->end = (size_t)(e - data) + elen;
	*pos = ret->end;
	return 1;
}

static int label_ends(const char *label, const char *suffix)
{
	size_t n = strlen(label), s = strlen(suffix);

	return n >= s && strcmp(label + n - s, suffix) == 0;
}

/* The certificates of a PKCS#7 (signed-data) structure, into @it. */
static int p7_certs(PKCS7 *p7, struct certs_items *it, char *err, size_t errlen)
{
	STACK_OF(X509) *certs = NULL;

	if (PKCS7_type_is_signed(p7) && p7->d.sign)
		certs = p7->d.sign->cert;
	else if (PKCS7_type_is_signedAndEnveloped(p7) && p7->d.signed_and_enveloped)
		certs = p7->d.signed_and_enveloped->cert;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int r;

		X509_up_ref(x);
		r = certs_items_add_cert(it, x, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

enum pem_want {
	PEM_ANSWER, /* certificates and PKCS#7 only */
	PEM_BUNDLE, /* and one private key */
};

/* Every PEM block of @data into @it. Returns 1 when there was at least one, 0 for no PEM
 * at all, or -errno with @err. */
static int pem_read_all(const uint8_t *data, size_t len, enum pem_want want,
			const struct secbuf *password, struct certs_items *it, char *err,
			size_t errlen)
{
	struct pem_block blk;
	size_t pos = 0;
	int n = 0, r;

	while ((r = pem_next(data, len, &pos, &blk, err, errlen)) > 0) {
		BIO *bio = BIO_new_mem_buf(data + blk.start, (int)(blk.end - blk.start));

		if (!bio)
			return -ENOMEM;
		n++;
		r = 0;
		if (strcmp(blk.label, "CERTIFICATE") == 0 ||
		    strcmp(blk.label, "X509 CERTIFICATE") == 0 ||
		    strcmp(blk.label, "TRUSTED CERTIFICATE") == 0) {
			X509 *x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);

			if (!x) {
				snprintf(err, errlen, "PEM block %d (a certificate) is damaged", n);
				r = -EINVAL;
			} else {
				r = certs_items_add_cert(it, x, err, errlen);
			}
		} else if (strcmp(blk.label, "PKCS7") == 0 ||
			   strcmp(blk.label, "PKCS #7 SIGNED DATA") == 0) {
			PKCS7 *p7 = PEM_read_bio_PKCS7(bio, NULL, NULL, NULL);

			if (!p7) {
				snprintf(err, errlen, "PEM block %d (PKCS#7) is damaged", n);
				r = -EINVAL;
			} else {
				r = p7_certs(p7, it, err, errlen);
				PKCS7_free(p7);
			}
		} else if (label_ends(blk.label, "PRIVATE KEY") && want == PEM_BUNDLE) {
			struct keys_pem_pass ps = { password, 0 };
			EVP_PKEY *pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, keys_pem_pass_cb,
								    &ps, NULL, NULL);

			if (pkey)
				certs_items_add_key(it, pkey);
			else if (ps.asked && !password)
				snprintf(err, errlen,
					 "the private key is encrypted: give its password with "
					 "--password-file");
			else if (ps.asked)
				snprintf(err, errlen, "wrong password for the private key");
			else
				snprintf(err, errlen, "PEM block %d (a private key) is damaged", n);
			r = pkey ? 0 : -EINVAL;
		} else if (label_ends(blk.label, "PRIVATE KEY")) {
			snprintf(
				err, errlen,
				"the file holds a private key: a CA's answer is certificates only");
			r = -EINVAL;
		} else if (strcmp(blk.label, "EC PARAMETERS") == 0 && want == PEM_BUNDLE) {
			/* what `openssl ecparam -genkey` writes before the key: nothing to keep */
		} else {
			snprintf(err, errlen,
				 "the file holds a PEM block \"%s\", which has no place %s",
				 blk.label,
				 want == PEM_BUNDLE ? "in a certificate bundle"
						    : "in a CA's answer");
			r = -EINVAL;
		}
		BIO_free(bio);
		ERR_clear_error();
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return n > 0;
}

/* ---- the bundle to import ---- */

void certs_bundle_clear(struct certs_bundle *b)
{
	EVP_PKEY_free(b->key);
	X509_free(b->leaf);
	sk_X509_pop_free(b->chain, X509_free);
	memset(b, 0, sizeof(*b));
}

static int bundle_assemble(struct certs_items *it, struct certs_bundle *ret, char *err,
			   size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	char a[256];
	int r;

	if (it->nkeys == 0) {
		snprintf(err, errlen, "the file holds no private key");
		return -EINVAL;
	}
	if (it->nkeys > 1) {
		snprintf(err, errlen, "the file holds more than one private key");
		return -EINVAL;
	}
	if (sk_X509_num(it->certs) <= 0) { /* -1 for none at all */
		snprintf(err, errlen, "the file holds no certificate");
		return -EINVAL;
	}
	for (int i = 0; i < sk_X509_num(it->certs); i++) {
		X509 *x = sk_X509_value(it->certs, i);
		EVP_PKEY *pub = X509_get0_pubkey(x);

		if (!pub || EVP_PKEY_eq(pub, it->key) != 1)
			continue;
		if (leaf) {
			snprintf(err, errlen,
				 "the file holds more than one certificate for its key");
			r = -EINVAL;
			goto out;
		}
		leaf = x;
	}
	if (!leaf) {
		snprintf(err, errlen, "the private key does not match the certificate \"%s\"%s",
			 subject_of(sk_X509_value(it->certs, 0), a, sizeof(a)),
			 sk_X509_num(it->certs) > 1 ? " nor any other in the file" : "");
		r = -EINVAL;
		goto out;
	}
	r = certs_chain_order(leaf, it->certs, &chain, err, errlen);
	if (r < 0)
		goto out;
	X509_up_ref(leaf);
	ret->leaf = leaf;
	ret->chain = chain;
	ret->key = it->key;
	it->key = NULL;
	r = 0;
out:
	ERR_clear_error();
	return r;
}

int certs_bundle_parse(const uint8_t *data, size_t len, const struct secbuf *password,
		       struct certs_bundle *ret, char *err, size_t errlen)
{
	struct certs_items it = { 0 };
	struct certs_bundle b = { 0 };
	int r;

	if (len == 0) {
		snprintf(err, errlen, "the file is empty");
		return -EINVAL;
	}
	if (len > INT32_MAX) {
		snprintf(err, errlen, "the file is too large for a certificate bundle");
		return -EINVAL;
	}
	r = pem_read_all(data, len, PEM_BUNDLE, password, &it, err, errlen);
	if (r == 0) {
		r = certs_p12_read(data, len, password, &it, err, errlen);
		if (r == -EINVAL && !*err)
			snprintf(err, errlen, "the file is neither PKCS#12 nor PEM");
	}
	if (r < 0)
		goto out;
	r = bundle_assemble(&it, &b, err, errlen);
	if (r < 0)
		goto out;
	*ret = b;
	r = 0;
out:
	certs_items_clear(&it);
	ERR_clear_error();
	return r;
}

/* ---- the CA's answer ---- */

static int der_read(const uint8_t *data, size_t len, struct certs_items *it, char *err,
		    size_t errlen)
{
	const unsigned char *p = data;
	X509 *x;
	PKCS7 *p7;
	int r;

	x = d2i_X509(NULL, &p, (long)len);
	if (x && p == data + len)
		return certs_items_add_cert(it, x, err, errlen);
	X509_free(x);
	p = data;
	p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (p7 && p == data + len) {
		r = p7_certs(p7, it, err, errlen);
		PKCS7_free(p7);
		return r;
	}
	PKCS7_free(p7);
	if (certs_der_truncated(data, len))
		snprintf(err, errlen, "the file is truncated (its DER runs past its end)");
	else
		snprintf(err, errlen,
			 "the file is neither a certificate nor PKCS#7, in PEM or DER");
	return -EINVAL;
}

int certs_answer_parse(const uint8_t *data, size_t len, X509 **ret_leaf,
		       STACK_OF(X509) * *ret_chain, char *err, size_t errlen)
{
	struct certs_items it = { 0 };
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	int nleaves = 0, r;

	if (len == 0) {
		snprintf(err, errlen, "the file is empty");
		return -EINVAL;
	}
	if (len > INT32_MAX) {
		snprintf(err, errlen, "the file is too large for certificates");
		return -EINVAL;
	}
	r = pem_read_all(data, len, PEM_ANSWER, NULL, &it, err, errlen);
	if (r == 0)
		r = der_read(data, len, &it, err, errlen);
	if (r < 0)
		goto out;
	if (sk_X509_num(it.certs) <= 0) { /* -1 for none at all */
		snprintf(err, errlen, "the file holds no certificate");
		r = -EINVAL;
		goto out;
	}
	/* the leaf issues none of the others; every issuer above it issues one */
	for (int i = 0; i < sk_X509_num(it.certs); i++) {
		X509 *c = sk_X509_value(it.certs, i);
		int issues = 0;

		for (int j = 0; !issues && j < sk_X509_num(it.certs); j++)
			issues = j != i &&
				 X509_check_issued(c, sk_X509_value(it.certs, j)) == X509_V_OK;
		if (!issues) {
			leaf = c;
			nleaves++;
		}
	}
	if (nleaves != 1) {
		snprintf(err, errlen,
			 nleaves ? "the file holds certificates of more than one chain (%d leaves)"
				 : "the file's certificates issue each other: no leaf (%d)",
			 nleaves);
		r = -EINVAL;
		goto out;
	}
	r = certs_chain_order(leaf, it.certs, &chain, err, errlen);
	if (r < 0)
		goto out;
	X509_up_ref(leaf);
	*ret_leaf = leaf;
	*ret_chain = chain;
	r = 0;
out:
	certs_items_clear(&it);
	ERR_clear_error();
	return r;
}

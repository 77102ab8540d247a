/*
 * certs_import: a bundle read by certs_parse recorded as a new certificate (certs_import.h).
 * As certs_make does for a certificate it makes, the key's token objects come first and
 * are this file's to destroy until the store's one transaction has recorded them: every
 * failure destroys them, so a refused import leaves no object in the token. What is
 * recorded of the certificate (subject, names, validity length, CA or not) is what a
 * renewal asks the CA for again.
 */
#include "certs_import.h"
#include "certs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "hsm_keys.h"
#include "names.h"

/* The vault's type name of @pkey (into @buf), or -EINVAL with a line for one it does not
 * keep as a certificate's key. */
static int key_type(EVP_PKEY *pkey, char *buf, size_t len, char *err, size_t errlen)
{
	const struct keys_type *kt = NULL;
	char group[64] = "";

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		snprintf(buf, len, "rsa-%d", EVP_PKEY_get_bits(pkey));
		kt = keys_type_find(buf);
	} else if (EVP_PKEY_is_a(pkey, "EC") &&
		   EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						  sizeof(group), NULL) == 1) {
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
			snprintf(buf, len, "ec-p256");
		else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
			snprintf(buf, len, "ec-p384");
		kt = strcmp(buf, "ec-p256") == 0 || strcmp(buf, "ec-p384") == 0
			     ? keys_type_find(buf)
			     : NULL;
	}
	ERR_clear_error();
	if (!kt || !(kt->ops & KEY_BIT(KEY_SIGN))) {
		snprintf(err, errlen,
			 "the key is %s%s%s: a certificate's key is ec-p256, ec-p384 or rsa-2048 "
			 "to 4096",
			 EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey)
						       : "of a kind",
			 group[0] ? " " : "", group);
		return -EINVAL;
	}
	return 0;
}

/* The leaf's subject alternative names as --san writes them; those of other kinds
 * (directory names, other names) are left out: a renewal's request cannot ask for them. */
static void sans_of(X509 *x, char *buf, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *kind = NULL;
		char text[256] = "";
		int n;

		switch (g->type) {
		case GEN_DNS:
		case GEN_EMAIL:
		case GEN_URI:
			kind = g->type == GEN_DNS ? "DNS" : g->type == GEN_EMAIL ? "email" : "URI";
			/* an IA5String: a comma or a control byte would not read back */
			n = snprintf(text, sizeof(text), "%.*s", ASN1_STRING_length(g->d.ia5),
				     (const char *)ASN1_STRING_get0_data(g->d.ia5));
			if (n <= 0 || (size_t)n >= sizeof(text) || strpbrk(text, ",\n\r"))
				kind = NULL;
			break;
		case GEN_IPADD:
			kind = "IP";
			if (!inet_ntop(ASN1_STRING_length(g->d.ip) == 4 ? AF_INET : AF_INET6,
				       ASN1_STRING_get0_data(g->d.ip), text, sizeof(text)) ||
			    (ASN1_STRING_length(g->d.ip) != 4 && ASN1_STRING_length(g->d.ip) != 16))
				kind = NULL;
			break;
		default:
			break;
		}
		if (!kind)
			continue;
		n = snprintf(buf + off, len - off, "%s%s:%s", off ? "," : "", kind, text);
		if (n < 0 || (size_t)n >= len - off) {
			buf[off] = '\0'; /* the names that fit */
			break;
		}
		off += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
}

/* What the store keeps of the certificate: its settings, from the leaf. */
static int settings(const struct certs_bundle *b, const struct certs_import_options *o,
		    struct store_cert *c, char *err, size_t errlen)
{
	int64_t nb, na;
	char serial[STORE_CERT_SERIAL_MAX];
	int r;

	memset(c, 0, sizeof(*c));
	r = key_type(b->key, c->type, sizeof(c->type), err, errlen);
	if (r < 0)
		return r;
	r = certs_x509_facts(b->leaf, &nb, &na, serial);
	if (r < 0 || na <= nb) {
		snprintf(err, errlen, "the certificate's validity cannot be read");
		return -EINVAL;
	}
	/* as certs_create refuses it: each answer merged would be due for renewal at once */
	if (o->renew_kind == CERTS_RENEW_DAYS && o->renew_value >= na - nb) {
		char at[32], whole[32];

		snprintf(err, errlen,
			 "--renew-at %s is not inside the certificate's validity of %s",
			 certs_duration(o->renew_value, at, sizeof(at)),
			 certs_duration(na - nb, whole, sizeof(whole)));
		return -EINVAL;
	}
	snprintf(c->issuer, sizeof(c->issuer), "unknown");
	c->exportable = !!o->exportable;
	c->is_ca = X509_check_ca(b->leaf) != 0;
	c->renew_kind = o->renew_kind;
	c->renew_value = o->renew_value;
	/* read back by every renewal's request: not X509_NAME_oneline's form, which writes
	 * UTF-8 as \xHH and leaves a '/' inside a value as it is */
	if (certs_name_subj(X509_get_subject_name(b->leaf), c->subject, sizeof(c->subject)) < 0) {
		snprintf(err, errlen, "the certificate's subject cannot be kept for its renewals");
		return -EINVAL;
	}
	sans_of(b->leaf, c->sans, sizeof(c->sans));
	c->validity = na - nb;
	ERR_clear_error();
	return 0;
}

int certs_import(struct store *s, struct hsm *h, const char *name, const struct certs_bundle *b,
		 const struct certs_import_options *o, int64_t now, uint64_t *ret_version,
		 char *err, size_t errlen)
{
	struct store_cert_version cv = { 0 };
	struct store_key_version kv = { 0 };
	struct store_key k;
	struct store_cert c, old;
	int made = 0, r;

	if (name_single_check(name) < 0) {
		snprintf(err, errlen, "invalid certificate name");
		return -EINVAL;
	}
	r = settings(b, o, &c, err, errlen);
	if (r < 0)
		return r;
	r = store_cert_get(s, name, &old);
	if (r == 0 || (r == -ENOENT && (r = store_key_get(s, name, &k)) == 0)) {
		snprintf(err, errlen, "a %s of that name exists",
			 store_cert_get(s, name, &old) == 0 ? "certificate" : "key");
		return -EEXIST;
	}
	if (r != -ENOENT)
		return r;
	r = certs_x509_facts(b->leaf, &cv.not_before, &cv.not_after, cv.serial);
	if (r == 0)
		r = certs_der(b->leaf, &cv.cert, &cv.cert_len);
	if (r == 0)
		r = certs_chain_der(b->chain, NULL, &cv.chain, &cv.chain_len);
	if (r == 0 && o->exportable)
		r = certs_pkcs8_der(b->key, &cv.key);
	if (r < 0) {
		snprintf(err, errlen, "cannot encode the certificate: %s", strerror(-r));
		goto out;
	}
	r = keys_make_version(s, h, name, 1, c.type, b->key, &k, &kv);
	if (r < 0) {
		snprintf(err, errlen, "the token refused the key: %s", strerror(-r));
		goto out;
	}
	made = 1;
	r = store_cert_add(s, name, &c, &k, &kv, &cv, now);
	if (r == -EEXIST)
		snprintf(err, errlen, "a certificate or key of that name exists");
	else if (r < 0)
		snprintf(err, errlen, "cannot record the certificate: %s", strerror(-r));
	if (r == 0)
		made = 0; /* recorded: the vault's now */
out:
	if (made)
		(void)hsm_key_destroy(h, kv.token_id);
	store_key_version_clear(&kv);
	store_cert_version_clear(&cv);
	ERR_clear_error();
	if (r < 0)
		return r;
	*ret_version = 1;
	return 0;
}

/*
 * certs_make: certificates made, renewed and completed (certs.h). A version's key is made
 * first (in the token, or for an exportable certificate by OpenSSL and then brought into
 * the token), then its certificate or request is signed in the token, and the store
 * records both in one transaction. Until that transaction commits the new key's token
 * objects are this file's to destroy: every failure destroys them, so that nothing stays
 * in the token that the vault does not name.
 */
#include "certs_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsm_keys.h"
#include "names.h"

#define US 1000000LL

/* One version in the making: its key and what it holds. */
struct made {
	struct store_key k;
	struct store_key_version kv; /* the key version it uses */
	int new_key; /* kv's objects were made here: destroyed unless recorded */
	struct store_cert_version cv;
};

static void made_clear(struct made *m, struct hsm *h)
{
	if (m->new_key)
		(void)hsm_key_destroy(h, m->kv.token_id);
	m->new_key = 0;
	store_key_version_clear(&m->kv);
	store_cert_version_clear(&m->cv);
}

/* An exportable certificate's key, made by OpenSSL: it will also be kept sealed. */
static EVP_PKEY *keygen(const char *type)
{
	if (strcmp(type, "ec-p256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (strcmp(type, "ec-p384") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	if (strncmp(type, "rsa-", 4) == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)strtoul(type + 4, NULL, 10));
	return NULL;
}

/* A new key version for @name: in the token, and for an exportable one also its PKCS#8. */
static int new_key(struct store *s, struct hsm *h, const char *name, uint64_t label_version,
		   const struct store_cert *c, struct made *m, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	int r;

	if (c->exportable) {
		pkey = keygen(c->type);
		if (!pkey) {
			snprintf(err, errlen, "cannot make a %s key", c->type);
			return -EIO;
		}
		r = certs_pkcs8_der(pkey, &m->cv.key);
		if (r < 0) {
			EVP_PKEY_free(pkey);
			return r;
		}
	}
	r = keys_make_version(s, h, name, label_version, c->type, pkey, &m->k, &m->kv);
	EVP_PKEY_free(pkey);
	if (r < 0) {
		snprintf(err, errlen, "the token could not make the key: %s", strerror(-r));
		return r;
	}
	m->new_key = 1;
	return 0;
}

/* The vault CA @ca, able to issue at @now_s: its certificate, the chain a certificate it
 * issues gets (its own certificate and its chain), and its current key. */
struct ca {
	X509 *x;
	uint8_t *chain;
	size_t chain_len;
	struct store_key k;
	struct store_key_version kv;
};

static void ca_clear(struct ca *ca)
{
	X509_free(ca->x);
	free(ca->chain);
	store_key_version_clear(&ca->kv);
	memset(ca, 0, sizeof(*ca));
}

static int ca_load(struct store *s, const char *name, int64_t now_s, struct ca *ret, char *err,
		   size_t errlen)
{
	struct store_cert_version v = { 0 };
	struct store_cert c;
	struct ca ca = { 0 };
	int r;

	r = store_cert_get(s, name, &c);
	if (r < 0 || c.deleted) {
		snprintf(err, errlen, "no CA \"%s\" in the vault", name);
		return r < 0 && r != -ENOENT ? r : -ENOENT;
	}
	r = -EPERM;
	if (!c.is_ca) {
		snprintf(err, errlen, "\"%s\" is not a CA (made without --ca)", name);
		return r;
	}
	if (!c.current) {
		snprintf(err, errlen, "CA \"%s\" is pending: it has no certificate yet", name);
		return r;
	}
	r = store_cert_version_get(s, name, c.current, 0, &v);
	if (r < 0)
		return r;
	if (v.not_after <= now_s) {
		snprintf(err, errlen, "CA \"%s\" has expired", name);
		r = -EPERM;
		goto out;
	}
	ca.x = certs_x509_from(v.cert, v.cert_len);
	ca.chain = malloc(v.cert_len + v.chain_len);
	r = -ENOMEM;
	if (!ca.x || !ca.chain)
		goto out;
	memcpy(ca.chain, v.cert, v.cert_len);
	if (v.chain_len)
		memcpy(ca.chain + v.cert_len, v.chain, v.chain_len);
	ca.chain_len = v.cert_len + v.chain_len;
	r = store_key_get(s, name, &ca.k);
	if (r == 0)
		r = store_key_version_get(s, name, v.key_version, &ca.kv);
	if (r < 0)
		goto out;
	*ret = ca;
	memset(&ca, 0, sizeof(ca));
	r = 0;
out:
	ca_clear(&ca);
	store_cert_version_clear(&v);
	return r;
}

/* Whether @c's issuer, if a vault CA, can issue now: refused before any key is made. */
static int issuer_check(struct store *s, const struct store_cert *c, int64_t now_s, char *err,
			size_t errlen)
{
	struct ca ca = { 0 };
	int r;

	if (strcmp(c->issuer, "self") == 0 || strcmp(c->issuer, "unknown") == 0)
		return 0;
	r = ca_load(s, c->issuer, now_s, &ca, err, errlen);
	ca_clear(&ca);
	return r;
}

/* The certificate or request of @m for @name's settings @c, signed in the token. */
static int sign_version(struct store *s, struct hsm *h, const struct store_cert *c, int64_t now_s,
			struct made *m, char *err, size_t errlen)
{
	struct certs_tbs t = { .subject = c->subject, .sans = c->sans, .is_ca = c->is_ca };
	struct certs_signer self = { h, &m->k, &m->kv };
	struct ca ca = { 0 };
	X509 *x = NULL;
	int r;

	/* a minute back: a server whose clock is a little behind accepts it at once; a tenth of
	 * a validity shorter than ten minutes, so that its renew-at point stays where asked */
	t.not_before = now_s - (c->validity < 600 ? c->validity / 10 : 60);
	t.not_after = now_s + c->validity;
	if (strcmp(c->issuer, "unknown") == 0)
		return certs_csr_make(&t, m->kv.public_der, m->kv.public_len, &self, &m->cv.csr,
				      &m->cv.csr_len, err, errlen);
	if (strcmp(c->issuer, "self") == 0) {
		r = certs_x509_make(&t, m->kv.public_der, m->kv.public_len, NULL, &self,
				    &m->cv.cert, &m->cv.cert_len, m->cv.serial, err, errlen);
	} else {
		struct certs_signer signer = { h, &ca.k, &ca.kv };

		r = ca_load(s, c->issuer, now_s, &ca, err, errlen);
		if (r == 0)
			r = certs_x509_make(&t, m->kv.public_der, m->kv.public_len, ca.x, &signer,
					    &m->cv.cert, &m->cv.cert_len, m->cv.serial, err,
					    errlen);
		if (r == 0) {
			m->cv.chain = ca.chain;
			m->cv.chain_len = ca.chain_len;
			ca.chain = NULL;
		}
		ca_clear(&ca);
	}
	if (r < 0)
		return r;
	x = certs_x509_from(m->cv.cert, m->cv.cert_len);
	r = x ? certs_x509_facts(x, &m->cv.not_before, &m->cv.not_after, m->cv.serial) : -EIO;
	X509_free(x);
	return r;
}

static int check_request(const struct certs_request *rq, struct store_cert *c, char *err,
			 size_t errlen)
{
	const char *type = rq->type ? rq->type : CERTS_DEFAULT_TYPE;
	const char *issuer = rq->issuer ? rq->issuer : "self";
	int64_t validity = rq->validity ? rq->validity : (int64_t)CERTS_DEFAULT_DAYS * 86400;
	const struct keys_type *kt = keys_type_find(type);
	X509_NAME *n = NULL;
	int r;

	if (!kt || !(kt->ops & KEY_BIT(KEY_SIGN))) {
		snprintf(err, errlen,
			 "a certificate's --type is ec-p256, ec-p384 or rsa-2048 to 4096");
		return -EINVAL;
	}
	if (validity < 0 || validity > (int64_t)CERTS_DAYS_MAX * 86400) {
		snprintf(err, errlen, "--days is at most %d", CERTS_DAYS_MAX);
		return -EINVAL;
	}
	/* a window as long as the validity would make each renewal due again at once: a new
	 * version and a new token key at every lifetime check */
	if (rq->renew_kind == CERTS_RENEW_DAYS && rq->renew_value >= validity) {
		char a[32], b[32];

		snprintf(err, errlen, "--renew-at %s is not inside the validity of %s",
			 certs_duration(rq->renew_value, a, sizeof(a)),
			 certs_duration(validity, b, sizeof(b)));
		return -EINVAL;
	}
	if (strcmp(issuer, "self") != 0 && strcmp(issuer, "unknown") != 0 &&
	    name_single_check(issuer) < 0) {
		snprintf(err, errlen, "--issuer takes self, unknown or the name of a vault CA");
		return -EINVAL;
	}
	r = certs_name_parse(rq->subject, &n, err, errlen);
	X509_NAME_free(n);
	if (r < 0)
		return r;
	r = certs_sans_check(rq->sans, err, errlen);
	if (r < 0)
		return r;
	if (strlen(rq->subject) >= sizeof(c->subject) ||
	    (rq->sans && strlen(rq->sans) >= sizeof(c->sans))) {
		snprintf(err, errlen, "the subject or the --san list is too long");
		return -EINVAL;
	}
	memset(c, 0, sizeof(*c));
	snprintf(c->issuer, sizeof(c->issuer), "%s", issuer);
	c->exportable = !!rq->exportable;
	c->is_ca = !!rq->is_ca;
	c->reuse_key = !!rq->reuse_key;
	c->renew_kind = rq->renew_kind;
	c->renew_value = rq->renew_value;
	snprintf(c->subject, sizeof(c->subject), "%s", rq->subject);
	snprintf(c->sans, sizeof(c->sans), "%s", rq->sans ? rq->sans : "");
	c->validity = validity;
	snprintf(c->type, sizeof(c->type), "%s", type);
	return 0;
}

int certs_create(struct store *s, struct hsm *h, const char *name, const struct certs_request *rq,
		 int64_t now, uint64_t *ret_version, char *err, size_t errlen)
{
	struct made m = { 0 };
	struct store_cert c, old;
	struct store_key k;
	int r;

	if (name_single_check(name) < 0) {
		snprintf(err, errlen, "invalid certificate name");
		return -EINVAL;
	}
	r = check_request(rq, &c, err, errlen);
	if (r < 0)
		return r;
	r = store_cert_get(s, name, &old);
	if (r == 0) {
		snprintf(err, errlen, "a certificate of that name exists%s",
			 old.deleted ? " (deleted: recover or purge it)" : "");
		return -EEXIST;
	}
	if (r == -ENOENT && (r = store_key_get_any(s, name, &k)) == 0) {
		snprintf(err, errlen, "a key of that name exists%s",
			 k.deleted ? " (deleted: recover or purge it)" : "");
		return -EEXIST;
	}
	if (r != -ENOENT)
		return r;
	r = issuer_check(s, &c, now / US, err, errlen);
	if (r == 0)
		r = new_key(s, h, name, 1, &c, &m, err, errlen);
	if (r == 0)
		r = sign_version(s, h, &c, now / US, &m, err, errlen);
	if (r == 0) {
		r = store_cert_add(s, name, &c, &m.k, &m.kv, &m.cv, now);
		if (r == 0)
			m.new_key = 0; /* recorded: the vault's now */
		else if (r == -EEXIST)
			snprintf(err, errlen, "a certificate or key of that name exists");
	}
	made_clear(&m, h);
	if (r < 0)
		return r;
	*ret_version = 1;
	return 0;
}

int certs_renew(struct store *s, struct hsm *h, const char *name, unsigned flags, int64_t now,
		uint64_t *ret_version, int *ret_pending, char *err, size_t errlen)
{
	struct store_cert_version cur = { 0 };
	struct made m = { 0 };
	struct store_cert c;
	uint64_t version = 0;
	int r, reuse;

	r = store_cert_get(s, name, &c);
	if (r == 0 && c.deleted)
		r = -ENOENT;
	if (r < 0)
		return r;
	if (c.pending || !c.current) {
		snprintf(err, errlen, "version %llu waits for its CA's answer: merge it first",
			 (unsigned long long)(c.pending ? c.pending : 1));
		return -EBUSY;
	}
	r = issuer_check(s, &c, now / US, err, errlen);
	if (r < 0)
		return r;
	reuse = (flags & CERTS_REUSE_KEY) || c.reuse_key;
	r = store_cert_version_get(s, name, c.current,
				   reuse && c.exportable ? STORE_CERT_WITH_KEY : 0, &cur);
	if (r < 0)
		return r;
	if (reuse) {
		m.cv.key = cur.key; /* the same key, sealed again under the new version */
		cur.key = NULL;
		m.cv.key_version = cur.key_version;
		r = store_key_get(s, name, &m.k);
		if (r == 0)
			r = store_key_version_get(s, name, cur.key_version, &m.kv);
	} else {
		r = store_key_get(s, name, &m.k);
		if (r == 0)
			r = new_key(s, h, name, m.k.current + 1, &c, &m, err, errlen);
	}
	if (r == 0)
		r = sign_version(s, h, &c, now / US, &m, err, errlen);
	if (r == 0) {
		r = store_cert_add_version(s, name, m.new_key ? &m.kv : NULL, &m.cv, now, &version);
		if (r == 0)
			m.new_key = 0;
		else if (r == -EBUSY)
			snprintf(err, errlen, "a renewal of \"%s\" was started meanwhile", name);
	}
	made_clear(&m, h);
	store_cert_version_clear(&cur);
	if (r < 0)
		return r;
	*ret_version = version;
	*ret_pending = strcmp(c.issuer, "unknown") == 0;
	return 0;
}

int certs_merge(struct store *s, const char *name, X509 *leaf, STACK_OF(X509) * chain, int64_t now,
		uint64_t *ret_version, char *err, size_t errlen)
{
	struct store_cert_version pv = { 0 }, cv = { 0 };
	struct store_key_version kv = { 0 };
	const unsigned char *p;
	EVP_PKEY *pending_key = NULL;
	struct store_cert c;
	int r;

	r = store_cert_get(s, name, &c);
	if (r == 0 && c.deleted)
		r = -ENOENT;
	if (r < 0)
		return r;
	if (!c.pending) {
		snprintf(err, errlen, "no request of \"%s\" waits for an answer", name);
		return -ESRCH;
	}
	r = store_cert_version_get(s, name, c.pending, 0, &pv);
	if (r == 0)
		r = store_key_version_get(s, name, pv.key_version, &kv);
	if (r < 0)
		goto out;
	p = kv.public_der;
	pending_key = kv.public_der ? d2i_PUBKEY(NULL, &p, (long)kv.public_len) : NULL;
	if (!pending_key) {
		r = -EUCLEAN;
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), pending_key) != 1) {
		snprintf(err, errlen,
			 "the certificate is for another key than the request of version %llu",
			 (unsigned long long)c.pending);
		r = -EKEYREJECTED;
		goto out;
	}
	r = certs_x509_facts(leaf, &cv.not_before, &cv.not_after, cv.serial);
	if (r == 0)
		r = certs_der(leaf, &cv.cert, &cv.cert_len);
	if (r == 0)
		r = certs_chain_der(chain, leaf, &cv.chain, &cv.chain_len);
	if (r == 0)
		r = store_cert_complete(s, name, &cv, now);
	if (r == 0)
		*ret_version = c.pending;
out:
	EVP_PKEY_free(pending_key);
	store_key_version_clear(&kv);
	store_cert_version_clear(&pv);
	store_cert_version_clear(&cv);
	return r;
}

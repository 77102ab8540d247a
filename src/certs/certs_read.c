/*
 * certs_read: the read side of certs.h — a certificate's record and the files of its
 * versions as the mount and `cert list` show them. It changes nothing; key.pem is opened
 * only into locked memory, and only for an exportable certificate's version that has a
 * certificate.
 */
#include "certs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int certs_info_fill(struct store *s, const char *name, const struct store_cert *c,
		    struct certs_info *ret)
{
	struct store_cert_version v;
	struct certs_info i;
	X509 *x = NULL;
	int r;

	memset(&i, 0, sizeof(i));
	i.current = c->current;
	i.pending = c->pending;
	i.exportable = c->exportable;
	i.is_ca = c->is_ca;
	i.reuse_key = c->reuse_key;
	snprintf(i.issuer, sizeof(i.issuer), "%s", c->issuer);
	i.renew_kind = (enum certs_renew_at)c->renew_kind;
	i.renew_value = c->renew_value;
	i.created = c->created;
	i.updated = c->updated;
	i.deleted = c->deleted;
	if (c->current) {
		r = store_cert_version_get(s, name, c->current, 0, &v);
		if (r < 0)
			return r;
		x = v.cert ? certs_x509_from(v.cert, v.cert_len) : NULL;
		if (x)
			certs_x509_subject(x, i.subject, sizeof(i.subject));
		i.not_before = v.not_before;
		i.not_after = v.not_after;
		X509_free(x);
		store_cert_version_clear(&v);
		if (!x)
			return -EUCLEAN; /* a current version without a certificate */
	}
	*ret = i;
	return 0;
}

int certs_get(struct store *s, const char *name, unsigned flags, struct certs_info *ret)
{
	struct store_cert c;
	int r;

	r = store_cert_get(s, name, &c);
	if (r < 0)
		return r;
	if (!(flags & CERTS_DELETED) != !c.deleted)
		return -ENOENT;
	return certs_info_fill(s, name, &c, ret);
}

int certs_list(struct store *s, unsigned flags, store_list_fn fn, void *userdata)
{
	return store_cert_list(s, (flags & CERTS_DELETED) ? STORE_LIST_DELETED : 0, fn, userdata);
}

/* Version @version (0: current) of the live certificate @name, and its record. */
static int live_version(struct store *s, const char *name, uint64_t version, unsigned flags,
			struct store_cert *ret_c, struct store_cert_version *ret_v)
{
	struct store_cert c;
	int r;

	r = store_cert_get(s, name, &c);
	if (r < 0)
		return r;
	if (c.deleted)
		return -ENOENT;
	if (version == 0)
		version = c.current;
	if (version == 0)
		return -ENOENT; /* the first version is still pending */
	r = store_cert_version_get(s, name, version, flags, ret_v);
	if (r == 0)
		*ret_c = c;
	return r;
}

static unsigned files_of(const struct store_cert *c, const struct store_cert_version *v)
{
	if (!v->cert)
		return v->csr ? CERTS_FILE_BIT(CERTS_CSR) : 0;
	return CERTS_FILE_BIT(CERTS_CERT) | CERTS_FILE_BIT(CERTS_CHAIN) |
	       CERTS_FILE_BIT(CERTS_FULLCHAIN) | (c->exportable ? CERTS_FILE_BIT(CERTS_KEY) : 0);
}

int certs_version_files(struct store *s, const char *name, uint64_t version, unsigned *ret_mask,
			int64_t *ret_created)
{
	struct store_cert_version v;
	struct store_cert c;
	int r;

	r = live_version(s, name, version, 0, &c, &v);
	if (r < 0)
		return r;
	*ret_mask = files_of(&c, &v);
	if (ret_created)
		*ret_created = v.created;
	store_cert_version_clear(&v);
	return 0;
}

static int pkcs8_pem(const struct secbuf *der, struct secbuf *out)
{
	return certs_pem_append(out, "PRIVATE KEY", secbuf_data(der), secbuf_len(der));
}

int certs_file_read(struct store *s, const char *name, uint64_t version, enum certs_file f,
		    struct secbuf **ret)
{
	struct store_cert_version v = { 0 };
	struct secbuf *out = NULL;
	struct store_cert c;
	int r;

	if ((unsigned)f >= CERTS_FILE_COUNT)
		return -EINVAL;
	r = live_version(s, name, version, 0, &c, &v);
	if (r < 0)
		return r;
	if (!(files_of(&c, &v) & CERTS_FILE_BIT(f))) {
		r = -ENOENT;
		goto out;
	}
	if (f == CERTS_KEY) {
		store_cert_version_clear(&v);
		r = store_cert_version_get(s, name, c.current && !version ? c.current : version,
					   STORE_CERT_WITH_KEY, &v);
		if (r < 0) {
			r = r == -ENODATA ? -ENOENT : r;
			goto out;
		}
	}
	r = secbuf_new(4096, &out);
	if (r < 0)
		goto out;
	switch (f) {
	case CERTS_CERT:
		r = certs_pem_append(out, "CERTIFICATE", v.cert, v.cert_len);
		break;
	case CERTS_CHAIN:
		r = certs_chain_pem_append(out, v.chain, v.chain_len);
		break;
	case CERTS_FULLCHAIN:
		r = certs_pem_append(out, "CERTIFICATE", v.cert, v.cert_len);
		if (r == 0)
			r = certs_chain_pem_append(out, v.chain, v.chain_len);
		break;
	case CERTS_KEY:
		r = pkcs8_pem(v.key, out);
		break;
	case CERTS_CSR:
		r = certs_pem_append(out, "CERTIFICATE REQUEST", v.csr, v.csr_len);
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0)
		goto out;
	*ret = out;
	out = NULL;
	r = 0;
out:
	secbuf_free(out);
	store_cert_version_clear(&v);
	return r;
}

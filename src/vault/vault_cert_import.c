/*
 * vault_cert_import: the recorded import of a certificate (vault_cert_import.h), joined to
 * its record through vault_change.h as vault_certs.c joins the others.
 */
#include "vault_cert_import.h"
#include "vault_change.h"

#include "certs_parse.h"
#include "timeutil.h"

int vault_cert_import(struct vault *v, struct vault_act *a, const char *name, const uint8_t *data,
		      size_t len, const struct secbuf *password,
		      const struct certs_import_options *o, uint64_t *ret_version, char *err,
		      size_t errlen)
{
	struct certs_bundle b = { 0 };
	struct vault_change c;
	int r;

	/* read before anything is armed: a refused file is recorded as a failed import */
	r = certs_bundle_parse(data, len, password, &b, err, errlen);
	if (r < 0)
		return vault_act_failed(v, a, r);
	if ((r = vault_change_begin(v, a, &c)) < 0) {
		r = vault_act_failed(v, a, r);
		goto out;
	}
	r = vault_change_end(&c, certs_import(v->store, v->hsm, name, &b, o, time_now_us(),
					      ret_version, err, errlen));
out:
	certs_bundle_clear(&b);
	return r;
}

/*
 * vault_certs: the recorded operations on certificates (vault_certs.h). Each joins one
 * certs.h change and its record through vault_change.h; bad input refused before the
 * store is recorded as a failure (vault_act_failed), as vault_ops.c does.
 */
#include "vault_certs.h"
#include "vault_change.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

#include "certs_parse.h"

int vault_cert_create(struct vault *v, struct vault_act *a, const char *name,
		      const struct certs_request *rq, uint64_t *ret_version, char *err,
		      size_t errlen)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, certs_create(v->store, v->hsm, name, rq, time_now_us(),
						 ret_version, err, errlen));
}

int vault_cert_merge(struct vault *v, struct vault_act *a, const char *name, const uint8_t *data,
		     size_t len, uint64_t *ret_version, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	struct vault_change c;
	X509 *leaf = NULL;
	int r;

	r = certs_answer_parse(data, len, &leaf, &chain, err, errlen);
	if (r < 0)
		return vault_act_failed(v, a, r);
	if ((r = vault_change_begin(v, a, &c)) < 0) {
		r = vault_act_failed(v, a, r);
		goto out;
	}
	r = vault_change_end(&c, certs_merge(v->store, name, leaf, chain, time_now_us(),
					     ret_version, err, errlen));
out:
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

int vault_cert_renew(struct vault *v, struct vault_act *a, const char *name, unsigned flags,
		     uint64_t *ret_version, int *ret_pending, char *err, size_t errlen)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, certs_renew(v->store, v->hsm, name, flags, time_now_us(),
						ret_version, ret_pending, err, errlen));
}

int vault_cert_delete(struct vault *v, struct vault_act *a, const char *name)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, certs_delete(v->store, name, time_now_us()));
}

int vault_cert_recover(struct vault *v, struct vault_act *a, const char *name)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, certs_recover(v->store, name));
}

int vault_cert_purge(struct vault *v, struct vault_act *a, const char *name)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, certs_purge(v->store, v->hsm, name));
}

/* The names certs_due found, renewed once the walk is over: no write runs inside it. */
struct due_names {
	char (*names)[NAME_MAX + 1];
	size_t n;
};

static int due_add(const char *name, const struct certs_info *c, void *userdata)
{
	struct due_names *d = userdata;
	void *t = realloc(d->names, (d->n + 1) * sizeof(*d->names));

	(void)c;
	if (!t)
		return -ENOMEM;
	d->names = t;
	snprintf(d->names[d->n++], sizeof(*d->names), "%s", name);
	return 0;
}

int vault_certs_lifetime(struct vault *v, int64_t now, unsigned *ret_renewed, unsigned *ret_pending)
{
	char exe[PATH_MAX], cgroup[PATH_MAX], path[NAME_MAX + 8], err[256];
	char failed[NAME_MAX + 32];
	struct due_names d = { 0 };
	unsigned renewed = 0, pending = 0;
	int64_t day = now / 1000000 / 86400;
	int r, last = 0;

	r = certs_due(v->store, now / 1000000, due_add, &d);
	if (r < 0) {
		free(d.names);
		return r;
	}
	for (size_t i = 0; i < d.n; i++) {
		struct audit_event ev;
		struct vault_act a;
		uint64_t version = 0;
		int is_pending = 0;

		/* a renewal that failed (its CA gone or expired, the token away) is tried again
		 * the next day, not at every check: its failure is recorded once a day, as a
		 * warning is, and `cert renew` tries at once */
		snprintf(failed, sizeof(failed), "certs/%s@renew-failed", d.names[i]);
		if (store_lifetime_warned(v->store, failed, day) == 1)
			continue;
		vault_admin_event(&ev, "cert-renew", exe, sizeof(exe), cgroup, sizeof(cgroup));
		snprintf(path, sizeof(path), "certs/%s", d.names[i]);
		ev.path = path;
		ev.rule = "lifetime";
		err[0] = '\0';
		vault_act_init(&a, &ev);
		r = vault_cert_renew(v, &a, d.names[i], 0, &version, &is_pending, err, sizeof(err));
		if (r < 0) {
			/* named, with its reason: the record holds only the errno */
			log_warn("Lifetime: certificate \"%s\": the renewal failed: %s", d.names[i],
				 err[0] ? err : strerror(-r));
			last = r;
			if (!a.unrecorded) /* its failure is in the trail: not again today */
				(void)store_lifetime_warn(v->store, failed, day);
		} else if (is_pending)
			pending++;
		else
			renewed++;
	}
	free(d.names);
	*ret_renewed = renewed;
	*ret_pending = pending;
	return last;
}

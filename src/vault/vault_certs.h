/*
 * vault_certs: the recorded operations on certificates (SPEC "Certificates") — each user
 * action one function that makes its change in one store transaction with its audit
 * record, as vault_ops.h's do; and the certificates' part of the lifetime checks, which
 * renews what is due (recorded under the rule "lifetime").
 *
 * The key of a certificate's name is the certificate's: key operations that would change
 * it on their own (rotate, delete) are refused by vault_ops with -EPERM, and the
 * certificate's renew, delete, recover and purge change it.
 */
#ifndef VAULTFS_VAULT_CERTS_H
#define VAULTFS_VAULT_CERTS_H

#include <stddef.h>
#include <stdint.h>

#include "certs.h"
#include "vault_ops.h"

/* certs_create, recorded: the version made in *@ret_version, one line in @err. */
int vault_cert_create(struct vault *v, struct vault_act *a, const char *name,
		      const struct certs_request *rq, uint64_t *ret_version, char *err,
		      size_t errlen);

/* The CA's answer @data (@len bytes: a PEM or DER leaf, a PEM chain, PKCS#7) parsed and
 * merged into the pending version (certs_merge), recorded; garbage is refused (-EINVAL)
 * with one line in @err and recorded too. */
int vault_cert_merge(struct vault *v, struct vault_act *a, const char *name, const uint8_t *data,
		     size_t len, uint64_t *ret_version, char *err, size_t errlen);

/* certs_renew (@flags: CERTS_REUSE_KEY), recorded. */
int vault_cert_renew(struct vault *v, struct vault_act *a, const char *name, unsigned flags,
		     uint64_t *ret_version, int *ret_pending, char *err, size_t errlen);

/* certs_delete, certs_recover and certs_purge, recorded (purge returns as certs_purge
 * does: > 0 when the token kept some objects). */
int vault_cert_delete(struct vault *v, struct vault_act *a, const char *name);
int vault_cert_recover(struct vault *v, struct vault_act *a, const char *name);
int vault_cert_purge(struct vault *v, struct vault_act *a, const char *name);

/*
 * The lifetime check of certificates at @now (us): renews every live certificate whose
 * renew-at point has come — a new version for a self- or vault-CA-issued one (counted in
 * *@ret_renewed), a pending one with its request for any other issuer (*@ret_pending) —
 * each recorded as a "cert-renew" of the rule "lifetime". One that fails is recorded
 * and the others go on; the last error is returned after all were tried. A certificate
 * whose renewal failed is not tried again before the next UTC day (so its failure is
 * recorded once a day, however short the interval).
 */
int vault_certs_lifetime(struct vault *v, int64_t now, unsigned *ret_renewed,
			 unsigned *ret_pending);

#endif

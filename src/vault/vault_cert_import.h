/*
 * vault_cert_import: `cert import` as a recorded operation (vault_ops.h): the file read by
 * certs_parse and recorded by certs_import with its audit record in one transaction. A
 * file that is refused is recorded as a failure and changes nothing, in the vault or in
 * the token.
 */
#ifndef VAULTFS_VAULT_CERT_IMPORT_H
#define VAULTFS_VAULT_CERT_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "certs_import.h"
#include "secbuf.h"
#include "vault_ops.h"

/*
 * Imports the bundle @data (@len bytes: PKCS#12, or PEM key, leaf and chain; @password
 * NULL when none was given) as certificate @name with @o. Returns 0 with 1 in
 * *@ret_version, or -errno with one line in @err: certs_bundle_parse's refusals (-EINVAL),
 * certs_import's (-EEXIST, -EINVAL, ...), -EIO when it could not be recorded.
 */
int vault_cert_import(struct vault *v, struct vault_act *a, const char *name, const uint8_t *data,
		      size_t len, const struct secbuf *password,
		      const struct certs_import_options *o, uint64_t *ret_version, char *err,
		      size_t errlen);

#endif

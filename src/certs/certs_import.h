/*
 * certs_import: a certificate the user brings (`vaultfs cert import`), read by
 * certs_parse.h, becomes certificate NAME version 1: its key brought into the token as the
 * key NAME (non-extractable there), and for an exportable one also kept sealed as PKCS#8;
 * the leaf and its ordered chain kept as they came. Its issuer is "unknown": the vault
 * did not sign it, so a renewal is a pending one whose request goes to the CA.
 */
#ifndef VAULTFS_CERTS_IMPORT_H
#define VAULTFS_CERTS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "certs.h"
#include "certs_parse.h"
#include "hsm.h"
#include "store.h"

struct certs_import_options {
	int exportable; /* keep the key sealed too: key.pem */
	enum certs_renew_at renew_kind;
	int64_t renew_value;
};

/*
 * Records @b as certificate @name, version 1, with the key @name of the type of @b->key
 * (ec-p256, ec-p384, rsa-2048/3072/4096), all in one store transaction; @now in us. The
 * key's objects are made in the token first and destroyed again on any failure, so a
 * refusal leaves the token and the vault as they were. Returns 0 and 1 in *@ret_version,
 * or -EEXIST (a certificate or a key has the name), -EINVAL (a bad name, a key of another
 * type, a --renew-at window not shorter than the certificate's validity), -errno of the
 * token or the store, each with one line in @err.
 */
int certs_import(struct store *s, struct hsm *h, const char *name, const struct certs_bundle *b,
		 const struct certs_import_options *o, int64_t now, uint64_t *ret_version,
		 char *err, size_t errlen);

#endif

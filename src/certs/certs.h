/*
 * certs: the vault's certificates (SPEC "Certificates"). A certificate NAME is a versioned
 * object whose private key is the token's key NAME (keys.h): every version's key is a
 * version of that key, so keys/NAME/sign signs with the current certificate's key, and no
 * other key may have the name. Every signature — a self-signed certificate, one a vault
 * CA issues, a request for an outside CA — is made in the token; a key leaves it only as
 * the sealed copy an exportable certificate keeps (served as key.pem).
 *
 * Built on OpenSSL's X509, X509_REQ, PKCS12 and OSSL_STORE. The store keeps each
 * version's DER (certificate, chain, request) and, for an exportable one, its PKCS#8 key
 * sealed like a secret's value.
 *
 * Files of a version, as the mount serves them (certs_file):
 *   cert.pem       the leaf
 *   chain.pem      the issuers above the leaf, in order (empty for a self-signed one)
 *   fullchain.pem  cert.pem then chain.pem
 *   key.pem        PKCS#8 PEM private key, exportable certificates only
 *   csr.pem        only while the version waits for its CA's answer (pending)
 * A pending version has only csr.pem; the version before it stays current until the
 * answer is merged.
 */
#ifndef VAULTFS_CERTS_H
#define VAULTFS_CERTS_H

#include <stddef.h>
#include <stdint.h>

#include "hsm.h"
#include "secbuf.h"
#include "store.h"

enum certs_file {
	CERTS_CERT,
	CERTS_CHAIN,
	CERTS_FULLCHAIN,
	CERTS_KEY,
	CERTS_CSR,
	CERTS_FILE_COUNT,
};

#define CERTS_FILE_BIT(f) (1u << (f))

/* "cert.pem", ...; and back (-1 if it is none). */
const char *certs_file_name(enum certs_file f);
int certs_file_from_name(const char *name);

#define CERTS_SUBJECT_MAX 1024
#define CERTS_ISSUER_MAX 128

/* renew_at kinds */
enum certs_renew_at {
	CERTS_RENEW_NONE,
	CERTS_RENEW_PERCENT, /* value: percent of the validity, 1..99 */
	CERTS_RENEW_DAYS, /* value: seconds before not-after */
};

/* One certificate as the vault records it. */
struct certs_info {
	uint64_t current; /* the version served; 0 while the first one is pending */
	uint64_t pending; /* the version waiting for its CA's answer, 0 if none */
	int exportable, is_ca, reuse_key;
	/* "self", "unknown" (an outside CA, and every imported certificate), or the name of
	 * the vault CA that issues it */
	char issuer[CERTS_ISSUER_MAX];
	enum certs_renew_at renew_kind;
	int64_t renew_value;
	int64_t created, updated; /* us; updated: when the current version was made */
	int64_t deleted; /* us of the soft delete, 0 if live */
	/* the current version's (empty / 0 while the first one is pending) */
	char subject[CERTS_SUBJECT_MAX]; /* as openssl -subj writes it: /CN=web/O=Example */
	int64_t not_before, not_after; /* seconds since the epoch */
};

/* certs_get and certs_list flags */
#define CERTS_DELETED 0x1 /* the soft-deleted certificates instead of the live ones */

/* Certificate @name: -ENOENT if none in the state @flags names. */
int certs_get(struct store *s, const char *name, unsigned flags, struct certs_info *ret);

/* Every certificate name, in order (is_folder 1): the live ones, or with CERTS_DELETED
 * the soft-deleted ones. Non-zero from @fn stops and is returned. */
int certs_list(struct store *s, unsigned flags, store_list_fn fn, void *userdata);

/* Whether version @version (0: current) of live certificate @name exists, the files it
 * has (CERTS_FILE_BIT mask; a pending version has only csr.pem) and when it was made. For
 * the pending version ask for it by number. -ENOENT. */
int certs_version_files(struct store *s, const char *name, uint64_t version, unsigned *ret_mask,
			int64_t *ret_created);

/* The content of file @f of version @version (0: current) of live certificate @name, in
 * locked memory (key.pem is a private key). -ENOENT if the version lacks that file. */
int certs_file_read(struct store *s, const char *name, uint64_t version, enum certs_file f,
		    struct secbuf **ret);

#endif

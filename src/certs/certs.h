/*
 * certs: the vault's certificates (SPEC "Certificates"). A certificate NAME is a versioned
 * object whose private key is the token's key NAME (keys.h): every version's key is a
 * version of that key, so keys/NAME/sign signs with the current certificate's key, and no
 * other key may have the name. Every signature — a self-signed certificate, one a vault
 * CA issues, a request for an outside CA — is made in the token; a key leaves it only as
 * the sealed copy an exportable certificate keeps (served as key.pem).
 *
 * Built on OpenSSL's X509, X509_REQ, PKCS12, PKCS7 and PEM APIs. What is imported is not
 * read through OSSL_STORE: it passes over a block it cannot decode (a truncated or damaged
 * certificate, PKCS#7, a block of an unknown kind) with only an "unsupported" on the error
 * queue, so a bundle that lost a link of its chain would still load; certs_parse names
 * each block and has OpenSSL decode it as its label says. The store keeps each version's
 * DER (certificate, chain, request) and, for an exportable one, its PKCS#8 key sealed like
 * a secret's value.
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

#include <openssl/types.h>
#include <openssl/x509.h>

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

/* ---- making and changing certificates: each is one store transaction, and leaves no
 * token object behind when it fails ---- */

/* What a new certificate asks for (SPEC "Certificates": cert create). */
struct certs_request {
	const char *subject; /* as openssl req -subj: /CN=web.example/O=Example */
	const char *sans; /* "DNS:a,IP:10.0.0.1,email:x@y,URI:u", or NULL */
	const char *type; /* NULL: ec-p256; not aes-256 */
	int64_t validity; /* seconds (cert create --days); 0: 365 days */
	int is_ca; /* basicConstraints CA:TRUE, keyCertSign and cRLSign */
	int exportable; /* key made outside the token, kept sealed too: key.pem */
	int reuse_key; /* renewals keep the key */
	const char *issuer; /* NULL or "self", "unknown" (pending: a request), a CA's name */
	enum certs_renew_at renew_kind;
	int64_t renew_value;
};

/* Parses --renew-at: "80%" (1..99), or a time before not-after as time_parse_days takes
 * it with its unit ("30d", "12h", "90m", "45s"; kept as seconds). -EINVAL. */
int certs_renew_at_parse(const char *text, enum certs_renew_at *ret_kind, int64_t *ret_value);

/*
 * Makes certificate @name (version 1) and its key @name in the token: signed in the
 * token by its own key (self), by the vault CA @rq->issuer's current key, or (unknown)
 * a pending version holding a request signed by its key. @now in us. The version made
 * in *@ret_version. -EEXIST (a certificate or key has the name), -EINVAL (a bad subject,
 * SAN, type, days, or a --renew-at window not shorter than the validity), -ENOENT (no
 * such CA), -EPERM (the CA is no CA, pending or expired), each with one line in @err.
 */
int certs_create(struct store *s, struct hsm *h, const char *name, const struct certs_request *rq,
		 int64_t now, uint64_t *ret_version, char *err, size_t errlen);

/* certs_renew flags */
#define CERTS_REUSE_KEY 0x1 /* this renewal keeps the key */

/*
 * A new version of live certificate @name with the same subject, names, validity length,
 * kind and issuer, and a new key unless CERTS_REUSE_KEY or the certificate keeps its key.
 * For an outside issuer, a pending version (*@ret_pending 1). -ENOENT, -EBUSY (a version
 * is already pending), -EPERM (the CA can no longer issue).
 */
int certs_renew(struct store *s, struct hsm *h, const char *name, unsigned flags, int64_t now,
		uint64_t *ret_version, int *ret_pending, char *err, size_t errlen);

/*
 * Completes the pending version of @name with the CA's answer: @leaf and the issuers
 * above it, @chain (may be NULL), in order. Refuses a leaf whose public key is not the
 * pending key (-EKEYREJECTED) and -ESRCH when nothing is pending.
 */
int certs_merge(struct store *s, const char *name, X509 *leaf, STACK_OF(X509) * chain, int64_t now,
		uint64_t *ret_version, char *err, size_t errlen);

/* Soft-deletes (its key leaves with it, objects kept) and recovers certificate @name.
 * -ENOENT when there is none in the state the change needs, -EEXIST (recover) when a live
 * one has the name. */
int certs_delete(struct store *s, const char *name, int64_t now);
int certs_recover(struct store *s, const char *name);

/* Forgets the soft-deleted certificate @name with its key, then destroys its key's
 * objects in the token. Returns 0, the number of key versions the token kept (> 0: gone
 * from the vault all the same), or -ENOENT, -EBUSY (live: delete it first). */
int certs_purge(struct store *s, struct hsm *h, const char *name);

/* The instant (seconds) from which @c is due for renewal: its renew-at point, or (none
 * set) 30 days before not-after. 0 while it has no current version. */
int64_t certs_renew_point(const struct certs_info *c);

enum certs_state {
	CERTS_PENDING, /* no current version yet */
	CERTS_VALID,
	CERTS_EXPIRING, /* past its renew-at point, or within 30 days of not-after */
	CERTS_EXPIRED,
};

enum certs_state certs_state_of(const struct certs_info *c, int64_t now_s);
const char *certs_state_name(enum certs_state st);

/* Called by certs_due with each certificate due. Non-zero stops and is returned. */
typedef int (*certs_due_fn)(const char *name, const struct certs_info *c, void *userdata);

/* Every live certificate with a renew-at setting and nothing pending whose renew-at point
 * is at or before @now_s, in name order. */
int certs_due(struct store *s, int64_t now_s, certs_due_fn fn, void *userdata);

#endif

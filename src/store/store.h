/*
 * store: the vault's secrets, their versions and metadata — the interface a backend of the
 * vault's database implements (README: "The store's interface"). This one keeps them in
 * SQLite (WAL), and no SQLite type, statement or code crosses this header.
 *
 * Values are sealed with AES-256-GCM under data keys that the token's key-encryption key
 * wraps (envelope encryption); vault.db and its WAL never hold a plaintext value. The
 * store knows nothing of policy, callers or FUSE: it takes validated requests and keeps
 * SPEC's model — versions from 1, identical bytes make no version, soft delete with
 * retention, recover, purge.
 *
 * Paths are relative to secrets/ ("db-conn", "payments/api-key") and checked with
 * name_path_check(); a bad one gives -EINVAL. A store may be used from several threads:
 * each gets its own connection.
 */
#ifndef VAULTFS_STORE_H
#define VAULTFS_STORE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm.h"
#include "secbuf.h"

#define STORE_SCHEMA_VERSION 6
#define STORE_TAGS_MAX 15
#define STORE_TAG_VALUE_MAX 256
#define STORE_CONTENT_TYPE_MAX 255

struct store;

struct store_options {
	size_t max_secret_size;
	unsigned retention_days;
	unsigned busy_timeout_ms;
	int no_read_cache; /* every read from SQLite (for measuring the cache's worth) */
};

/* Which record of a path: the live secret, or its soft-deleted copy under .deleted/. */
enum store_which {
	STORE_LIVE,
	STORE_DELETED,
};

struct store_stat {
	uint64_t version; /* current version */
	uint64_t size; /* its length in bytes */
	int64_t created; /* microseconds since the epoch: first version */
	int64_t updated; /* current version made */
	int64_t deleted; /* 0 while live */
	int64_t purge_at; /* deleted records: when retention ends */
	int enabled;
	int64_t not_before, expires; /* STORE_TIME_UNSET: not set */
};

/* A not_before or expires that is not set (any instant, the epoch included, can be). */
#define STORE_TIME_UNSET INT64_MIN

/* store_secret_put flags */
#define STORE_PUT_EXCL 0x1 /* -EEXIST if the secret exists */
#define STORE_PUT_MKDIRS 0x2 /* make missing parent folders (otherwise -ENOENT) */
/* STORE_NO_REVIVE_ERR rather than bring back the history of a soft-deleted secret of that
 * name: for a writer who may not recover it. Decided in the change's own transaction. */
#define STORE_PUT_NO_REVIVE 0x4
/* What the *_NO_REVIVE flags return: a code of its own, so that the caller can tell this
 * refusal from a disabled secret's -EACCES. */
#define STORE_NO_REVIVE_ERR (-ENOTRECOVERABLE)

/* store_list flags */
#define STORE_LIST_DELETED 0x1 /* the soft-deleted records instead of the live ones */
#define STORE_LIST_RECURSIVE 0x2 /* every secret below, by full path; no folder entries */

/* Called once per name; @is_folder tells folders from secrets. Non-zero stops the walk
 * and is returned by store_list. */
typedef int (*store_list_fn)(const char *name, int is_folder, void *userdata);

/*
 * Creates a new vault database at @db_path (it must not exist): the schema, a random
 * vault id, the key-encryption key inside the token, and a first data key.
 */
int store_create(const char *db_path, struct hsm *hsm, const struct store_options *opt);

/*
 * Opens an existing database. Returns 0, or -ENOENT (no file), -EUCLEAN (corrupt or not a
 * vault database), -EPROTO (schema newer than this program), -EBUSY (locked), -ENOKEY
 * (the token lacks the vault's key-encryption key), or another -errno. Migrates an older
 * schema.
 */
int store_open(const char *db_path, struct hsm *hsm, const struct store_options *opt,
	       struct store **ret);

void store_free(struct store *s);

/*
 * Writes a copy of the database, as it stands at one instant, to @dest (which must not
 * exist), and syncs it. Writers go on meanwhile; values stay sealed. Returns 0 or -errno.
 */
int store_backup(struct store *s, const char *dest);

/* The backend's check of the whole database (SQLite's integrity check): 0, or -EUCLEAN
 * with its first complaint in @err, or another -errno. */
int store_check(struct store *s, char *err, size_t errlen);

/* Removes soft-deleted secrets whose retention ended before @now. */
int store_purge_expired(struct store *s, int64_t now, unsigned *ret_count);

int store_secret_stat(struct store *s, const char *path, enum store_which which,
		      struct store_stat *ret);

/*
 * Reads version @version (0: the current one) of a live secret at time @now.
 * Returns 0, -ENOENT (no such secret or version), -EISDIR (a folder), -EACCES (disabled),
 * -EKEYEXPIRED (outside not_before..expires), -EBADMSG (a value that fails its tag).
 */
int store_secret_get(struct store *s, const char *path, uint64_t version, int64_t now,
		     struct secbuf **ret_value, uint64_t *ret_version);

/*
 * Makes @value the new current version. A soft-deleted secret of that name comes back
 * with its history, the new value on top. Returns 1 and the new number in *ret_version,
 * 0 when the value equals the current one (no version made, *ret_version the current),
 * or -EFBIG (over max_secret_size), -EEXIST (STORE_PUT_EXCL and a live secret exists),
 * -EISDIR (a folder has that name), -ENOTDIR (a parent is a secret), -ENOENT (parent
 * folder missing), -EINVAL (bad name).
 */
int store_secret_put(struct store *s, const char *path, const struct secbuf *value, unsigned flags,
		     int64_t now, uint64_t *ret_version);

/*
 * truncate(2) of live secret @path: its current value cut or zero-extended to @size and
 * put as store_secret_put does, in one transaction. Returns what store_secret_put does,
 * or -EFBIG (@size over max_secret_size), -ENOENT, -EISDIR, -EACCES (disabled),
 * -EKEYEXPIRED (outside not_before..expires).
 */
int store_secret_resize(struct store *s, const char *path, uint64_t size, int64_t now,
			uint64_t *ret_version);

/* Size and creation time of version @version of a live secret: -ENOENT if there is none. */
int store_version_stat(struct store *s, const char *path, uint64_t version, uint64_t *ret_size,
		       int64_t *ret_created);

/* store_secret_rename flags */
#define STORE_RENAME_NOREPLACE 0x1 /* -EEXIST if @to is a live secret */
#define STORE_RENAME_NO_REVIVE 0x2 /* STORE_NO_REVIVE_ERR if @to is a soft-deleted name */

/*
 * Moves the live secret @from to @to, in one transaction with every check its @flags ask
 * for. If @to is a secret (live, or soft-deleted: its history comes back), @from's current
 * value becomes @to's new version (none if identical), and @from leaves the live tree:
 * with the rest of its history to .deleted/ if it has older versions, for good if its one
 * version is now @to's — what an editor's write-temporary-then-rename means, and no
 * history is ever destroyed. Otherwise @from moves with all its versions (each re-sealed
 * under its new path) and attributes. Returns 1 if @to got a new version or was made, 0 if
 * nothing changed, or -ENOENT, -EISDIR (either is a folder), -EEXIST, STORE_NO_REVIVE_ERR,
 * -EACCES or -EKEYEXPIRED (@from's value may not be read now, over another secret),
 * -ENOTDIR, -EINVAL.
 */
int store_secret_rename(struct store *s, const char *from, const char *to, unsigned flags,
			int64_t now);

/* All version numbers, ascending, malloc'ed. */
int store_secret_versions(struct store *s, const char *path, enum store_which which, uint64_t **ret,
			  size_t *ret_count);

/* Soft delete: the secret leaves the live tree and is kept for retention_days. */
int store_secret_delete(struct store *s, const char *path, int64_t now);

/* Brings a soft-deleted secret back with all its versions (remaking missing folders).
 * -EEXIST if a folder of that name now exists. */
int store_secret_recover(struct store *s, const char *path);

/* Removes a soft-deleted secret and all its versions for good. */
int store_secret_purge(struct store *s, const char *path);

/*
 * Attributes, by the name after "user.vault.": version, versions, created, updated,
 * content_type, enabled, not_before, expires, tag.NAME. get returns a malloc'ed string;
 * -ENODATA for one that is not set. set validates: -EINVAL (bad value), -ENOSPC (a
 * sixteenth tag), -EPERM (read-only), -EOPNOTSUPP (unknown name), -ERANGE (too long).
 */
int store_attr_get(struct store *s, const char *path, enum store_which which, const char *name,
		   char **ret_value);
/* store_attr_set flags, checked in the change's transaction */
#define STORE_ATTR_CREATE 0x1 /* -EEXIST if the attribute is set (XATTR_CREATE) */
#define STORE_ATTR_REPLACE 0x2 /* -ENODATA if it is not (XATTR_REPLACE) */

int store_attr_set(struct store *s, const char *path, const char *name, const char *value,
		   unsigned flags);
int store_attr_remove(struct store *s, const char *path, const char *name);

/* The names of the attributes that are set, each NUL-terminated, end to end, malloc'ed. */
int store_attr_list(struct store *s, const char *path, enum store_which which, char **ret,
		    size_t *ret_len);

/* Folders: "" is the root of secrets/. */
int store_folder_create(struct store *s, const char *path, int64_t now);
int store_folder_remove(struct store *s, const char *path);
int store_folder_exists(struct store *s, const char *path);

/* Lists the folder @folder ("" for the root) in name order. Returns 0, -ENOENT, or what
 * @fn returned. */
int store_list(struct store *s, const char *folder, unsigned flags, store_list_fn fn,
	       void *userdata);

/* A key held in the token: what the vault records of it. The store keeps the names and
 * numbers; what they mean (types, operations) is keys.h's. */
#define STORE_KEY_ID_LEN 16
#define STORE_KEY_WORD_MAX 15

struct store_key {
	char type[STORE_KEY_WORD_MAX + 1];
	char alg[STORE_KEY_WORD_MAX + 1];
	unsigned ops;
	uint64_t current;
	int64_t created;
	int64_t deleted; /* time (us) of its soft delete; 0: live */
	int64_t rotate_every; /* seconds between rotations; 0: none */
	int64_t expires; /* time (us) after which it no longer signs, encrypts or wraps; 0: none */
};

struct store_key_version {
	uint64_t version;
	uint8_t token_id[STORE_KEY_ID_LEN]; /* CKA_ID of its objects in the token */
	uint8_t *public_der; /* SubjectPublicKeyInfo, malloc'ed; NULL for a secret key */
	size_t public_len;
	int64_t created;
};

/* The live key @name: -ENOENT if there is none (a soft-deleted one is none). */
int store_key_get(struct store *s, const char *name, struct store_key *ret);
/* Key @name live or soft-deleted (ret->deleted tells): -ENOENT if there is none. */
int store_key_get_any(struct store *s, const char *name, struct store_key *ret);
/* Version @version (0: the current one) of the live key @name: -ENOENT if none. Free
 * with store_key_version_clear. */
int store_key_version_get(struct store *s, const char *name, uint64_t version,
			  struct store_key_version *ret);
/* The same for a key live or soft-deleted. */
int store_key_version_get_any(struct store *s, const char *name, uint64_t version,
			      struct store_key_version *ret);
void store_key_version_clear(struct store_key_version *v);
/* Records a new key @name at version 1 (@v->version is ignored), with @k's lifetime:
 * -EEXIST if a key of that name exists, live or soft-deleted. */
int store_key_add(struct store *s, const char *name, const struct store_key *k,
		  const struct store_key_version *v, int64_t now);
/* Records version current + 1 of the live key @name and makes it current; *ret_version is
 * its number. */
int store_key_add_version(struct store *s, const char *name, const struct store_key_version *v,
			  int64_t now, uint64_t *ret_version);
/* Every live key name (STORE_LIST_DELETED: every soft-deleted one instead), in order
 * (is_folder 1). Non-zero from @fn stops and is returned. */
int store_key_list(struct store *s, unsigned flags, store_list_fn fn, void *userdata);
/* Soft-deletes the live key @name at @now (its versions and token objects kept): -ENOENT
 * if there is no live key of that name. */
int store_key_soft_delete(struct store *s, const char *name, int64_t now);
/* Brings the soft-deleted key @name back: -ENOENT if there is no key of that name,
 * -EEXIST if the key of that name is live. */
int store_key_recover(struct store *s, const char *name);
/* store_key_set_lifetime: leave that setting as it is */
#define STORE_LIFETIME_KEEP (-1)
/* Sets the live key @name's rotation period (seconds) and expiry (time in us); 0 clears
 * one, STORE_LIFETIME_KEEP leaves it. -ENOENT if there is no live key of that name,
 * -EINVAL for a negative value other than STORE_LIFETIME_KEEP. */
int store_key_set_lifetime(struct store *s, const char *name, int64_t rotate_every_s,
			   int64_t expires_us);
/* Purges the soft-deleted key @name and all its versions, in one transaction that also
 * gives the token ids of every version it forgot (ascending by version, malloc'ed):
 * -ENOENT if there is no key of that name, -EBUSY if it is live (soft-delete it first). */
int store_key_delete(struct store *s, const char *name, uint8_t (**ret)[STORE_KEY_ID_LEN],
		     size_t *ret_count);

/* Called with each live secret's path and expiry (us) by store_secret_expiring. Non-zero
 * stops and is returned. */
typedef int (*store_expiring_fn)(const char *path, int64_t expires, void *userdata);
/* Every live secret whose user.vault.expires is at or before @before (us), in path
 * order. */
int store_secret_expiring(struct store *s, int64_t before, store_expiring_fn fn, void *userdata);
/* Marks the object at @path ("secrets/db-conn", "keys/k") as warned of its expiry on
 * @day (days since the epoch, UTC), in one transaction with its commit hook (the
 * warning's record). Returns 1 if marked, 0 if it was already warned that day (nothing
 * changed, no hook run), or -errno. */
int store_lifetime_warn(struct store *s, const char *path, int64_t day);
/* Whether @path was marked by store_lifetime_warn on @day: 1, 0, or -errno. */
int store_lifetime_warned(struct store *s, const char *path, int64_t day);

/*
 * Certificates (certs.h gives their meaning): a record per name, whose key is the key of
 * the same name (hsm_keys), and its versions. Each change below is one transaction that
 * changes the certificate and its key together, so that a key never names a certificate
 * version that is not there, nor the other way round.
 */
#define STORE_CERT_SUBJECT_MAX 1024
#define STORE_CERT_SANS_MAX 2048
#define STORE_CERT_ISSUER_MAX 128
#define STORE_CERT_SERIAL_MAX 64

struct store_cert {
	char issuer[STORE_CERT_ISSUER_MAX];
	int exportable, is_ca, reuse_key;
	int renew_kind;
	int64_t renew_value;
	char subject[STORE_CERT_SUBJECT_MAX]; /* what a renewal asks for again */
	char sans[STORE_CERT_SANS_MAX];
	int64_t validity; /* seconds */
	char type[STORE_KEY_WORD_MAX + 1]; /* the key's type */
	uint64_t current; /* 0 while the first version is pending */
	uint64_t pending; /* 0: none */
	int64_t created, updated; /* us */
	int64_t deleted; /* us; 0 while live */
};

struct store_cert_version {
	uint64_t version;
	uint64_t key_version; /* of the key of the certificate's name */
	uint8_t *cert, *chain, *csr; /* DER, malloc'ed; NULL when absent */
	size_t cert_len, chain_len, csr_len;
	int64_t not_before, not_after; /* seconds */
	char serial[STORE_CERT_SERIAL_MAX]; /* hex */
	int64_t created; /* us */
	/* an exportable one's PKCS#8 DER private key: given to seal on the way in; on the way
	 * out, opened only by store_cert_version_get with STORE_CERT_WITH_KEY */
	struct secbuf *key;
};

/* Certificate @name, live or soft-deleted (ret->deleted tells): -ENOENT if none. */
int store_cert_get(struct store *s, const char *name, struct store_cert *ret);

/* store_cert_version_get flags */
#define STORE_CERT_WITH_KEY 0x1 /* open the sealed private key too (-ENODATA if none) */

/* Version @version (0: current) of certificate @name, live or soft-deleted: -ENOENT if
 * none. Release with store_cert_version_clear. */
int store_cert_version_get(struct store *s, const char *name, uint64_t version, unsigned flags,
			   struct store_cert_version *ret);
void store_cert_version_clear(struct store_cert_version *v);

/* Every certificate name, live or (STORE_LIST_DELETED) soft-deleted, in order (is_folder
 * 1). Non-zero from @fn stops and is returned. */
int store_cert_list(struct store *s, unsigned flags, store_list_fn fn, void *userdata);

/*
 * Records a new certificate @name with its key: key @k with version 1 @kv (its token
 * objects made), and version 1 @cv of the certificate — current, or pending when it has
 * no certificate but a request. -EEXIST when a certificate or a key holds the name.
 */
int store_cert_add(struct store *s, const char *name, const struct store_cert *c,
		   const struct store_key *k, const struct store_key_version *kv,
		   const struct store_cert_version *cv, int64_t now);

/*
 * Adds the next version @cv of live certificate @name: with a new key version @kv (its
 * token objects made: @cv->key_version is set to its number), or (@kv NULL) on the key
 * version @cv names. A version with a certificate becomes current, and its key version
 * the key's current one; one with only a request becomes the pending one. The number in
 * *@ret_version. -ENOENT, -EBUSY when a version is already pending.
 */
int store_cert_add_version(struct store *s, const char *name, const struct store_key_version *kv,
			   struct store_cert_version *cv, int64_t now, uint64_t *ret_version);

/*
 * The pending version of live certificate @name completed with the certificate, chain,
 * dates and serial of @cv: it becomes current, its key version the key's current one.
 * -ENOENT, -ESRCH when no version is pending.
 */
int store_cert_complete(struct store *s, const char *name, const struct store_cert_version *cv,
			int64_t now);

/* Soft-deletes (at @now) or recovers (@now 0) certificate @name with its key: -ENOENT
 * when there is none in the state the change needs. */
int store_cert_set_deleted(struct store *s, const char *name, int64_t now);

/* Forgets the soft-deleted certificate @name, its versions and its key, in one
 * transaction that also gives the token ids of every key version it forgot (malloc'ed).
 * -ENOENT, -EBUSY for a live one (soft-delete it first). */
int store_cert_purge(struct store *s, const char *name, uint8_t (**ret)[STORE_KEY_ID_LEN],
		     size_t *ret_count);

#define STORE_ANCHOR_MAC_LEN 32

/*
 * The audit trail's head as the vault keeps it: the last record's seq and MAC (seq 0:
 * none yet), and the tag its writer computed over them in the token. A vault from before
 * tags holds an untagged head until it is first opened again.
 */
struct store_anchor {
	uint64_t seq;
	uint8_t mac[STORE_ANCHOR_MAC_LEN];
	int tagged;
	uint8_t tag[STORE_ANCHOR_MAC_LEN];
};

/*
 * Called inside a write transaction once its changes are made and before it commits,
 * with the version it made (0 if none) and the anchor stored now. Returns 1 with a new
 * anchor in *ret to store in the same transaction, 0 to leave the stored one, or -errno,
 * and the transaction rolls back and the store call returns that error. What the audit
 * trail needs: the record of a change is written before the change commits, and a change
 * whose record cannot be written does not happen.
 */
typedef int (*store_commit_fn)(void *userdata, uint64_t version, const struct store_anchor *cur,
			       struct store_anchor *ret);

/*
 * Called, with the same userdata, when a transaction whose commit hook ran does not
 * commit after all: the hook (or another one's) failed, storing the anchor it returned
 * failed, or COMMIT failed. @err is the error the store call returns. It runs before
 * ROLLBACK, so the transaction still holds the database's write lock: whatever the hook
 * wrote elsewhere (the change's audit record) can be answered before any other writer
 * commits — unless COMMIT failed in a way that made SQLite roll back by itself (a full
 * disk, an I/O error), which gives the lock back before this runs. It must not use the
 * store.
 */
typedef void (*store_undo_fn)(void *userdata, int err);

/*
 * Sets @fn for the calling thread's next write transaction only. A store call that fails
 * before it writes does not call it; set it again (or to NULL) before the next call.
 * Returns 0, or -errno when the thread has no connection and none can be opened: then
 * nothing is set, and a caller that needs its hook must not go on to change anything.
 * It sets no undo hook.
 */
int store_on_commit(struct store *s, store_commit_fn fn, void *userdata);

/* store_on_commit, with @undo (NULL: none) for that transaction when it does not commit
 * after its hook ran. Both are cleared as the transaction ends. */
int store_on_commit_undo(struct store *s, store_commit_fn fn, store_undo_fn undo, void *userdata);

/* The audit trail's head as the vault last recorded it. */
int store_anchor_get(struct store *s, struct store_anchor *ret);

/* Runs @fn (with version 0) on the stored head in a write transaction of its own and
 * stores the head it returns, as a commit hook does. Returns 0 or -errno. */
int store_anchor_update(struct store *s, store_commit_fn fn, void *userdata);

#define STORE_STAMP_LEN 48

/* A change stamp: bytes that only equality gives meaning to. */
struct store_stamp {
	uint8_t bytes[STORE_STAMP_LEN];
};

/*
 * The stamp of what is committed now, in *ret: every commit that finishes — through this
 * store, another in this process, or another process — makes a different one, so two
 * equal stamps mean that nothing committed between the two calls. Cheap enough for every
 * read (no query, no lock): the read caches compare it before they answer. Returns 0, or
 * -EAGAIN (a commit is being written) or -ENOTSUP (no stamp from this store): then
 * nothing read may be kept for later.
 */
int store_stamp(struct store *s, struct store_stamp *ret);

/* The files a store keeps beside its database file @db (a string literal), for whoever
 * trusts, copies or removes the database with them: SQLite's WAL, its index and its
 * rollback journal. */
#define STORE_COMPANIONS(db) db "-wal", db "-shm", db "-journal"

/* The vault's id (CRYPTO_VAULT_ID_LEN bytes), which names its keys in the token. */
const uint8_t *store_vault_id(const struct store *s);

/*
 * Checks that every statement on the read path is answered through an index: runs
 * EXPLAIN QUERY PLAN on each and returns -EXDEV with the statement in @err if any scans
 * a whole table. For tests; a backend without query plans answers 0.
 */
int store_check_plans(struct store *s, char *err, size_t errlen);
#endif

/*
 * vault_ops: the recorded operations — every change the mount or the command line makes
 * to a vault goes through one of these functions, one per user action.
 *
 * Each makes its change in one store transaction and writes the action's audit record
 * inside that transaction, flushed to disk, before it commits: a change whose record
 * cannot be written does not happen, and a change that fails is recorded with its error.
 * What depends on the store at that instant is decided there too, so that no other change
 * can come between the check and the commit: O_EXCL (VAULT_WRITE_EXCL),
 * RENAME_NOREPLACE, XATTR_CREATE and XATTR_REPLACE, a name that turns out to be held by a
 * soft-deleted secret.
 *
 * Who may act is decided above this layer — by policy for a caller of the mount (fs/),
 * by the vault's ownership for the command line (src/cli/) — and comes in as the record
 * to write (struct vault_act). Every function returns 0 (or what it documents) or -errno,
 * and sets act->unrecorded when the failure is that the trail could not be written.
 */
#ifndef VAULTFS_VAULT_OPS_H
#define VAULTFS_VAULT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "keys.h"
#include "secbuf.h"
#include "vault.h"

/* One user action: its record, and what the action may do besides what it names. */
struct vault_act {
	/* The record, as decided: who, op, path, allow and rule. Its strings must live until
	 * the operation returns; the version made and the result are filled in. */
	struct audit_event ev;
	/* A write or a rename onto the name of a soft-deleted secret brings its history back,
	 * which is a recover as well (SPEC). Set by vault_act_no_recover when the actor may
	 * not: the operation then fails with -EACCES, recorded as that denial. */
	const char *no_recover_path, *no_recover_rule;
	/* out: the operation failed because its record could not be written; nothing
	 * changed. Its return value is then -EIO. */
	int unrecorded;
};

/* Starts @a with the record @ev (copied; its strings are not). */
void vault_act_init(struct vault_act *a, const struct audit_event *ev);

/* The actor may not recover @path, under @rule (both must live as long as @a): see
 * struct vault_act. */
void vault_act_no_recover(struct vault_act *a, const char *path, const char *rule);

/* An action refused before it reached the store (bad input): recorded with @err as its
 * result. Returns @err (negative), or -EIO when it could not be recorded. */
int vault_act_failed(struct vault *v, struct vault_act *a, int err);

/* vault_secret_write flags */
#define VAULT_WRITE_EXCL 0x1 /* -EEXIST if the secret exists (O_EXCL, secret set --create) */
#define VAULT_WRITE_MKDIRS 0x2 /* make missing parent folders (otherwise -ENOENT) */

/*
 * Makes @value the new version of secret @path (created if missing); an equal value makes
 * no version. The version is in *@ret_version if not NULL. -EFBIG over max_secret_size,
 * -EEXIST, -EISDIR, -ENOTDIR, -ENOENT (no parent folder), -EINVAL (bad name).
 */
int vault_secret_write(struct vault *v, struct vault_act *a, const char *path,
		       const struct secbuf *value, unsigned flags, uint64_t *ret_version);

/*
 * truncate(2) on a secret's path: its current value cut or zero-extended to @size, made
 * a new version, read and written in one transaction. -EFBIG over max_secret_size, and
 * what reading it can give (-ENOENT, -EACCES when disabled, -EKEYEXPIRED).
 */
int vault_secret_resize(struct vault *v, struct vault_act *a, const char *path, uint64_t size);

/* Soft-deletes, recovers or purges (forever) secret @path. -ENOENT when there is none in
 * the state the action needs. */
int vault_secret_delete(struct vault *v, struct vault_act *a, const char *path);
int vault_secret_recover(struct vault *v, struct vault_act *a, const char *path);
int vault_secret_purge(struct vault *v, struct vault_act *a, const char *path);

#define VAULT_RENAME_NOREPLACE 0x1 /* -EEXIST if @to is a live secret (RENAME_NOREPLACE) */

/*
 * Renames secret @from to @to, history and attributes with it; over a live @to it becomes
 * @to's new version. -ENOENT, -EEXIST, -EISDIR (@from or @to a folder), -ENOTDIR.
 */
int vault_secret_rename(struct vault *v, struct vault_act *a, const char *from, const char *to,
			unsigned flags);

#define VAULT_ATTR_CREATE 0x1 /* -EEXIST if the attribute is set (XATTR_CREATE) */
#define VAULT_ATTR_REPLACE 0x2 /* -ENODATA if it is not (XATTR_REPLACE) */

/* vault_attr_remove flags */
#define VAULT_ATTR_UNKNOWN_NODATA                                                                  \
	0x1 /* an unknown name is -ENODATA (removexattr(2)), not                                   \
	       -EOPNOTSUPP, in the reply and the record alike */

/* Sets or removes attribute @name (after user.vault.) of secret @path: store_attr_set. */
int vault_attr_set(struct vault *v, struct vault_act *a, const char *path, const char *name,
		   const char *value, unsigned flags);
int vault_attr_remove(struct vault *v, struct vault_act *a, const char *path, const char *name,
		      unsigned flags);

/* mkdir and rmdir in secrets/: -EEXIST, -ENOENT, -ENOTEMPTY, -ENOTDIR. */
int vault_folder_create(struct vault *v, struct vault_act *a, const char *path);
int vault_folder_remove(struct vault *v, struct vault_act *a, const char *path);

/* The users' keys (keys.h): made or imported into the token, rotated (the new version in
 * *@ret_version), soft-deleted (token objects kept), recovered, purged with their token
 * objects (vault_key_purge returns, as keys_purge does, how many versions' objects the
 * token kept: > 0, the key is gone all the same), and their lifetime set
 * (keys_set_lifetime: KEYS_LIFETIME_KEEP leaves a setting, 0 clears it). */
int vault_key_create(struct vault *v, struct vault_act *a, const char *name,
		     const struct keys_options *o);
int vault_key_import(struct vault *v, struct vault_act *a, const char *name, const char *pem,
		     const struct secbuf *passphrase, const struct keys_options *o, char *err,
		     size_t errlen);
/* rotate and delete of a certificate's key (certs.h): -EPERM, recorded; the
 * certificate's renew and delete change it. */
int vault_key_rotate(struct vault *v, struct vault_act *a, const char *name, uint64_t *ret_version);
int vault_key_delete(struct vault *v, struct vault_act *a, const char *name);
int vault_key_recover(struct vault *v, struct vault_act *a, const char *name);
int vault_key_purge(struct vault *v, struct vault_act *a, const char *name);
int vault_key_lifetime(struct vault *v, struct vault_act *a, const char *name,
		       int64_t rotate_every_s, int64_t expires_us);

/*
 * Records @a (an "expiring" warning for the object at @a->ev.path) unless that object was
 * warned already on @day (days since the epoch, UTC): the mark and the record in one
 * transaction. Returns 1 if recorded, 0 if it had been that day (nothing recorded), or
 * -errno (nothing recorded; a failure is not itself recorded, only retried by the next
 * run).
 */
int vault_warn_expiring(struct vault *v, struct vault_act *a, int64_t day);

/* Purges the soft-deleted secrets whose retention has passed, recorded as the retention
 * rule's. The number purged is in *@ret_count. -EBUSY while another writer holds the store. */
int vault_purge_expired(struct vault *v, unsigned *ret_count);

#endif

/*
 * vault: one vault directory — its settings, its token and its store, opened together.
 *
 * This is where paths inside DIR are resolved and where a failure gets the sentence an
 * operator needs: every function that can fail fills @err with one line that names the
 * file or token concerned (never a PIN or a value) and returns -errno.
 */
#ifndef VAULTFS_VAULT_H
#define VAULTFS_VAULT_H

#include <pthread.h>
#include <stddef.h>

#include "audit.h"
#include "config.h"
#include "hsm.h"
#include "store.h"

#define VAULT_DB "vault.db"
#define VAULT_POLICY "policy"
#define VAULT_AUDIT "audit.log"
#define VAULT_PIN "pin"
#define VAULT_SOFTHSM_CONF "softhsm2.conf"
#define VAULT_TOKENS "tokens"
#define VAULT_PIN_MAX 256

struct vault {
	char *dir; /* absolute */
	struct vault_config *cfg;
	struct hsm *hsm;
	struct store *store;
	struct audit *audit;
	CK_OBJECT_HANDLE audit_key;
	CK_OBJECT_HANDLE head_key; /* tags the trail's head kept in vault.db (vault_head.c) */
	int daemon; /* vault_daemon_mode */
	pthread_mutex_t head_lock;
	/* protected by head_lock: the last tag this process stored or found to hold */
	int head_known;
	uint8_t head_tag[AUDIT_MAC_LEN];
};

struct vault_init_options {
	/* All three set: use this existing token. All NULL: make an embedded SoftHSM2 one. */
	const char *hsm_module;
	const char *token_label;
	const char *pin_file;
};

/* Creates a vault in @dir (made if missing). Refuses, with -EEXIST, a directory that holds
 * any vault file. On failure removes what it made. */
int vault_init(const char *dir, const struct vault_init_options *o, char *err, size_t errlen);

/* Opens the vault in @dir: settings, PIN, token login, store. */
int vault_open(const char *dir, struct vault **ret, char *err, size_t errlen);

void vault_free(struct vault *v);

/* Appends @ev to the trail. Returns 0, or -EIO when it could not be written. */
int vault_record(struct vault *v, const struct audit_event *ev);

/*
 * vault_record for a command that shows no secret value and changes nothing (audit verify,
 * secret list and versions, key list, attributes). On a full disk (ENOSPC, EDQUOT) the
 * inspection goes on: it is noted in the system log (LOG_AUTHPRIV) instead, and 1 is
 * returned so that the command can say so. Otherwise as vault_record.
 */
int vault_record_inspection(struct vault *v, const struct audit_event *ev);

/* For the mount daemon: records are flushed to disk by vault_audit_flush (every second)
 * and with every change, not one by one as for an admin command. Returns 0, or -errno
 * when the trail's key thread could not start (audit_derive_ahead): the mode is set all
 * the same. */
int vault_daemon_mode(struct vault *v);

/* Flushes the trail to disk and moves the vault's record of its head forward. Returns 1
 * if anything was flushed, 0 if nothing was new, or -errno. */
int vault_audit_flush(struct vault *v);

/*
 * Verifies the trail of @v against the head the vault keeps (audit_verify), as `audit
 * verify` does: the stored head in *ret_stored, whether its tag holds in *ret_head_ok (a
 * head that fails it is no head: the chain is still checked on its own), the report in
 * *ret. Returns 0, or -errno with a reason in @err.
 */
int vault_verify_trail(struct vault *v, struct store_anchor *ret_stored, int *ret_head_ok,
		       struct audit_report *ret, char *err, size_t errlen);

/*
 * Copies vault @v, in use or not, into the new directory @dest (vault_backup.c): the
 * database as it stood at one instant, the trail up to at least that instant, settings,
 * policy, and the embedded token's PIN and files. Returns 0, or -errno with a reason in
 * @err; on failure @dest is removed.
 */
int vault_backup(struct vault *v, const char *dest, char *err, size_t errlen);

/*
 * Copies backup @backup into the new directory @dir. The caller then opens and checks it
 * (vault_open, store_check, the trail). Returns 0, or -errno with a reason in @err; on
 * failure @dir is removed.
 */
int vault_restore(const char *backup, const char *dir, char *err, size_t errlen);

/* Removes @dir, which vault_restore made, and everything in it: a restore that failed its
 * checks leaves nothing behind. */
void vault_restore_undo(const char *dir);

/*
 * For the mount daemon: when a call found the token gone (its directory removed, the
 * device pulled), tries to start it again under the token's guard, waiting for calls in
 * progress no longer than a second or two. Returns 0 if the token was not lost, 1 if it
 * was and is back, or -errno while it is still gone (try again later).
 */
int vault_token_recover(struct vault *v);

/*
 * The trail's head kept in vault.db (vault_head.c). A head is stored with a tag the token
 * computes under the vault's head key; vault_head_open makes that key for a vault from
 * before tags and tags the head it finds then (once, trusting it as found).
 */
int vault_head_open(struct vault *v, char *err, size_t errlen);

/*
 * The anchor to store after @cur when the trail's head is @head: 1 with it in *ret, or 0
 * to leave @cur — when @head is not past it, or when @cur's tag does not hold (a head
 * rewritten outside vaultfs stays, for verify to find). -errno on a token failure.
 */
int vault_head_next(struct vault *v, const struct store_anchor *cur, const struct audit_head *head,
		    struct store_anchor *ret);

/* Stores @head as the trail's head, as vault_head_next decides. Returns 0 or -errno. */
int vault_head_store(struct vault *v, const struct audit_head *head);

/*
 * Checks that @a, the head read from vault.db, holds its tag. Returns 0, -EBADMSG when
 * the tag is missing or wrong (the head was written without the token), or -errno.
 */
int vault_head_check(struct vault *v, const struct store_anchor *a);

/*
 * The trail's stored head, for the writer that finds audit.log rotated (audit_options'
 * stored_head; @userdata is the vault): 0 with it in *ret when its tag holds, -EBADMSG
 * when it does not, or -errno. The vault's head key must be known (vault_head_open).
 */
int vault_head_stored(void *userdata, struct audit_head *ret);

/* The identity of this process, for the records of admin commands. */
void vault_admin_event(struct audit_event *ev, const char *op, char *exe, size_t exe_len,
		       char *cgroup, size_t cgroup_len);

/*
 * Whether the vault in @absdir (absolute, no symbolic link in it) can be trusted, as sshd's
 * StrictModes decides: @absdir, every directory above it, and each vault file in it that
 * exists (vaultfs.conf, vault.db and its STORE_COMPANIONS, policy, audit.log, pin,
 * softhsm2.conf, and tokens/ with all it holds) must be owned by the effective uid or root
 * and writable by no group or other user; a directory above @absdir may be writable by
 * others if it has the sticky bit, as /tmp. A vault file that is a symbolic link is
 * refused. Returns 0, or -EPERM (or the -errno of a failed stat) with one line in @err
 * naming the path and why.
 */
int vault_check_safe(const char *absdir, char *err, size_t errlen);

/* realpath(@dir) into @ret_absdir (PATH_MAX bytes), then vault_check_safe() on it. */
int vault_resolve_safe(const char *dir, char *ret_absdir, char *err, size_t errlen);

/*
 * Reads a PIN file into a secbuf, dropping one trailing newline. Refuses (-EPERM) a file
 * that group or others may read, as ssh refuses such a private key, and one that is not a
 * regular file.
 */
int vault_read_pin(const char *path, struct secbuf **ret, char *err, size_t errlen);

/*
 * The PIN that systemd passes to a command as the credential "pin" (LoadCredential=pin:FILE,
 * LoadCredentialEncrypted=pin:FILE): when $CREDENTIALS_DIRECTORY is set and holds an entry
 * "pin", its path goes into @ret_path (PATH_MAX bytes) and 1 is returned; vault_open reads
 * it in place of vaultfs.conf's pin_file, judged by vault_read_pin as that would be. 0 when
 * there is none (@ret_path untouched); -ENAMETOOLONG.
 */
int vault_pin_credential(char *ret_path);

#endif

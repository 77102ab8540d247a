/*
 * audit: the vault's tamper-evident trail, DIR/audit.log — one JSON object a line, each
 * written before the result it records reaches anyone.
 *
 * Every record carries a MAC over the previous record's MAC and its own bytes, so a
 * record changed, removed, inserted or moved breaks the chain at that seq. The MAC key is
 * derived inside the token: the trail's HMAC key is a non-extractable token object, and
 * each writer derives from it, for a random 8-byte epoch named in every record's "key"
 * field, the key it MACs with (HMAC-SHA-256 computed by the token over the epoch). A
 * writer moves to a new epoch every second that it writes and wipes the old key, so what
 * a reader of its memory learns cannot forge what was already written. Verifying derives
 * each epoch's key through the token again: forging a record needs the token.
 *
 * Several processes may append (the daemon and admin commands): each append holds an
 * flock on the file and picks the chain up from the file's last record when another
 * process wrote after it. When the file is new or empty (rotated: moved away, replaced,
 * or truncated by copytruncate), the chain goes on from the furthest head anyone left:
 * the last record of a rotated file in the directory, the head the vault keeps, or this
 * process's own. The chain's head (last seq and MAC) is also kept in vault.db by the
 * caller (audit_head), where an attacker with the log alone cannot roll it back, so a
 * cut tail is found.
 *
 * Secret values never reach this module: records hold names, numbers and identities.
 */
#ifndef VAULTFS_AUDIT_H
#define VAULTFS_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hsm.h"

#define AUDIT_MAC_LEN HSM_MAC_LEN
/* Prefix of the label of a vault's audit HMAC key; the vault id follows it. */
#define AUDIT_KEY_LABEL "vaultfs-audit"
/* The longest record line; longer fields are cut (and marked) to stay under it. */
#define AUDIT_LINE_MAX 16384

/* What one record says. NULL strings and a zero version are written as null. */
struct audit_event {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const char *exe;
	const char *cgroup;
	const char *op; /* "read", "write", "list", "delete", ... or "secret-set", ... */
	const char *path; /* as policy names it: "secrets/db-conn" */
	uint64_t version;
	int allow; /* the decision */
	const char *rule; /* "policy:3", "default-deny", "admin", or NULL */
	int result; /* 0, or a positive errno: written as its name ("EACCES") */
	const char *detail; /* an optional "detail" field (a policy error, a rename's target) */
	uint64_t undoes; /* 0, or the seq of this action's earlier record, whose change did not
			  * commit after all: an optional "undoes" field (vault_change.h) */
};

/* Where the chain stands: the last record's seq and MAC (seq 0: no record yet). */
struct audit_head {
	uint64_t seq;
	uint8_t mac[AUDIT_MAC_LEN];
};

struct audit;

struct audit_options {
	uint64_t rotate_size; /* bytes: the file is rotated once it reaches this; 0 never */
	int sync_each; /* fdatasync after every record (one-shot admin commands) */
	unsigned timeout_ms; /* the longest a record waits for the file's lock or the token's
			      * epoch key; 0: the default (3000) */
	/*
	 * The head the vault keeps (vault.db), when it holds: 0 with it in *ret, or -errno
	 * (it is then not used). Asked under the file's lock when the file is found empty
	 * and the chain must go on (a rotation), because the file that held the last record
	 * may be gone from the directory (compressed, moved elsewhere). NULL: not asked.
	 */
	int (*stored_head)(void *userdata, struct audit_head *ret);
	void *stored_head_data;
};

/*
 * Opens @path (DIR/audit.log; made 0600 if missing) for appending with MAC key @key of
 * @hsm. A torn last line — a record whose write never finished, so whose result was never
 * returned — is cut off (told by audit_set_notify). Returns 0, or -errno (-EBADMSG: the
 * file's last line is not a record).
 */
int audit_open(const char *path, struct hsm *hsm, CK_OBJECT_HANDLE key,
	       const struct audit_options *opt, struct audit **ret);

/* What happened inside the trail that its owner may want to say (audit_set_notify). */
enum audit_notice_kind {
	AUDIT_NOTICE_STALLED, /* a first record refused: @detail not there within @value ms */
	AUDIT_NOTICE_HOLDER, /* the stall's lock is held by process @value */
	AUDIT_NOTICE_RESUMED, /* the stall ended; @detail is what its audit-stall record says */
	AUDIT_NOTICE_TORN, /* a torn last record of @value bytes was cut off the file */
	AUDIT_NOTICE_ROTATED, /* the file reached rotate_size and was moved to @detail */
};

struct audit_notice {
	enum audit_notice_kind kind;
	const char *path; /* the trail's file */
	const char *detail;
	long long value;
};

typedef void (*audit_notify_fn)(void *userdata, const struct audit_notice *n);

/*
 * From now on tells @fn (NULL: no one) of each notice as it happens, in the thread that
 * met it, possibly with the trail's locks held: @fn must not call into the trail. A torn
 * record that audit_open cut is told at once. The trail itself logs only at debug level.
 */
void audit_set_notify(struct audit *a, audit_notify_fn fn, void *userdata);

void audit_free(struct audit *a);

/*
 * Appends one record. Returns 0 and, with @ret_head, the chain's head after it; the
 * errno of the file or the token when the record could not be written in whole (-EPERM
 * for an immutable file, -ENOSPC or -EDQUOT for a full disk, -EIO and others);
 * or -ETIMEDOUT when the file's lock (another process holds it: stopped, stalled) or the
 * token's next epoch key did not come within timeout_ms. A failed write leaves the file
 * as it was. Records refused by -ETIMEDOUT are counted, and the first record written
 * after them is preceded by an "audit-stall" record that says how many and since when.
 * No wait inside is longer than timeout_ms, and no other process's record waits for this
 * one's fdatasync (sync_each: the record is on disk before this returns 0). Thread-safe.
 */
int audit_append(struct audit *a, const struct audit_event *ev, struct audit_head *ret_head);

/*
 * Flushes what was written to disk (fdatasync) and returns the head that is now durable
 * in *ret (seq 0 if nothing was ever written by anyone). Returns 1 if records were flushed
 * since the last call, 0 if there was nothing new, or -errno (-ETIMEDOUT when appends held
 * the writer past timeout_ms).
 */
int audit_sync(struct audit *a, struct audit_head *ret);

/* From now on a thread of its own derives each epoch's key before it is due, so that no
 * append waits for the token while the current key is good (the daemon). Returns 0, or
 * -errno when the thread cannot start: the writers then derive their keys themselves. */
int audit_derive_ahead(struct audit *a);

/* The token came back after a failure (hsm_reopen): the next append waits for a fresh epoch
 * key instead of failing on the token's last error. */
void audit_token_back(struct audit *a);

/* Turns fdatasync after every record on or off. */
void audit_set_sync_each(struct audit *a, int on);

/* Closes the file: the next append opens whatever DIR/audit.log is then (SIGHUP after
 * logrotate). An append follows a moved, replaced or truncated file without it too. */
void audit_reopen(struct audit *a);

/* The label of a vault's audit key, for @vault_id (CRYPTO_VAULT_ID_LEN bytes). */
void audit_key_label(const uint8_t *vault_id, char *buf, size_t len);

/* The path of the trail's current file. */
const char *audit_path(const struct audit *a);

/* Prefix of the label of the key that tags a vault's stored head; the vault id follows. */
#define AUDIT_HEAD_KEY_LABEL "vaultfs-head"

/* The label of a vault's head key, for @vault_id (CRYPTO_VAULT_ID_LEN bytes). */
void audit_head_key_label(const uint8_t *vault_id, char *buf, size_t len);

/*
 * The tag that vouches for @head as the head of vault @vault_id's trail: HMAC-SHA-256
 * computed inside the token under @key (the vault's head key) over a label, the vault id,
 * the seq and the MAC. Without the token no tag can be made for another head, nor a tag
 * of one vault's head taken for another's. Returns 0 or -errno.
 */
int audit_head_tag(struct hsm *hsm, CK_OBJECT_HANDLE key, const uint8_t *vault_id,
		   const struct audit_head *head, uint8_t out[AUDIT_MAC_LEN]);

/* The most bytes audit_escape writes for @n bytes, its closing NUL included. */
#define AUDIT_ESCAPE_MAX(n) (4 * (size_t)(n) + 1)

/*
 * Writes the @n bytes at @s (any bytes, NULs included) to @out (AUDIT_ESCAPE_MAX(n)
 * bytes) as text for a person's terminal, NUL-terminated, and returns its length. What
 * is printable UTF-8 stays as it is; everything else is escaped, so that the text holds
 * no control character and is valid UTF-8, and two different inputs never read the same:
 *   \\          a backslash
 *   \n \r \t    newline, carriage return, tab
 *   \xHH        any other C0 control or DEL, or a byte that is not part of valid UTF-8
 *   \uHHHH      a C1 control, format character (bidi controls), U+2028/U+2029, a
 *               default-ignorable, private-use or non-character code point
 *   \UHHHHHHHH  the same above U+FFFF
 */
size_t audit_escape(const char *s, size_t n, char *out);

/* The result of audit_verify. */
struct audit_report {
	uint64_t records; /* records checked */
	uint64_t first_seq, last_seq; /* the range found (first > 1: older files are gone) */
	uint64_t bad_seq; /* 0 when intact; else the first seq that is wrong or missing */
	char reason[256]; /* why, when bad_seq != 0 */
	char file[256]; /* the file where it was found */
};

/*
 * Verifies the trail in directory @dir — audit.log and its rotated files (audit.log-*),
 * ordered by their first seq — against @hsm's key @key, and checks that it reaches the
 * head @anchor that the vault keeps. Returns 0 with the report filled (bad_seq says if it
 * is intact), or -errno when the files cannot be read or the token fails.
 */
int audit_verify(const char *dir, struct hsm *hsm, CK_OBJECT_HANDLE key,
		 const struct audit_head *anchor, struct audit_report *ret);

#endif

/*
 * audit_internal: what the trail's writer (audit.c), reader (audit_verify.c) and the
 * command line share — the line format, the epoch keys and which characters are shown. Nothing else
 * may depend on it.
 *
 * A record line is, in this order and with nothing else between:
 *   {"seq":N,"time":"…","uid":N,"gid":N,"pid":N,"exe":S,"cgroup":S,"op":"…","path":S,
 *    "version":N|null,"decision":"allow"|"deny","rule":S,"result":0|"EXXX"
 *    [,"detail":S][,"undoes":N][,"prev":"HEX64"],"key":"HEX16","mac":"HEX64"}\n
 * mac = HMAC-SHA-256(epoch key, previous record's mac ‖ every byte before ,"mac":).
 * The first record of the chain has 32 zero bytes before it; the first record of a file
 * that continues a chain ("op":"audit-rotate") names that MAC in "prev".
 */
#ifndef VAULTFS_AUDIT_INTERNAL_H
#define VAULTFS_AUDIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "secbuf.h"

#define AUDIT_NONCE_LEN 8
#define AUDIT_ROTATE_OP "audit-rotate"
/* The record, written once the trail answers again, of records refused while it stalled. */
#define AUDIT_STALL_OP "audit-stall"

/* One parsed line: only what the chain needs; the rest is trusted once the MAC holds. */
struct audit_line {
	uint64_t seq;
	size_t body_len; /* bytes covered by the MAC */
	uint8_t nonce[AUDIT_NONCE_LEN];
	uint8_t mac[AUDIT_MAC_LEN];
	int has_prev;
	uint8_t prev[AUDIT_MAC_LEN];
};

/* Parses a line of @len bytes (without its newline). -EBADMSG if it is not a record. */
int audit_line_parse(const char *line, size_t len, struct audit_line *ret);

/* The key of epoch @nonce: HMAC-SHA-256 inside the token under the trail's key. */
int audit_epoch_key(struct hsm *hsm, CK_OBJECT_HANDLE key, const uint8_t nonce[AUDIT_NONCE_LEN],
		    struct secbuf **ret);

/* @n bytes as lowercase hex into @out (2n + 1 bytes, NUL-terminated). */
void audit_hex(const uint8_t *in, size_t n, char *out);

/*
 * Formats @ev as record @seq — with "prev" when @prev is not NULL, and epoch @nonce in
 * "key" — into @buf of @size bytes, leaving room for the ,"mac":"…"} that follows, and
 * returns the length: the bytes the MAC covers. Fields are bounded well below
 * AUDIT_LINE_MAX; a @buf of that size never overflows (an overflow aborts: it is a bug).
 */
size_t audit_format_body(char *buf, size_t size, const struct audit_event *ev, uint64_t seq,
			 const uint8_t *prev, const uint8_t nonce[AUDIT_NONCE_LEN]);

/* The epoch keys of one writer (audit_epoch.c). */
struct audit_epochs;
int audit_epochs_new(struct hsm *hsm, CK_OBJECT_HANDLE key, struct audit_epochs **ret);
/* Waits for a thread inside a token call to come back. Accepts NULL. */
void audit_epochs_free(struct audit_epochs *e);
/* The token is back after a failure: the thread's last error no longer fails a caller at
 * once, and the thread tries again now. */
void audit_epochs_retry(struct audit_epochs *e);
/* Starts a thread that keeps the next epoch's key made ahead of time. Returns 0 or -errno. */
int audit_epochs_ahead(struct audit_epochs *e);
/*
 * The key to MAC with now and its epoch's nonce; the key stays valid until the next call,
 * and the caller serialises calls. Without the thread the caller derives a due key itself.
 * With it, a late next key leaves the current one in use up to @grace µs past its second;
 * past that, it waits for the thread until @deadline (time_mono_us()). Returns 0,
 * -ETIMEDOUT when the deadline passed, or the token's error.
 */
int audit_epochs_current(struct audit_epochs *e, int64_t deadline, int64_t grace,
			 const struct secbuf **ret_key, uint8_t ret_nonce[AUDIT_NONCE_LEN]);

/* A reusable HMAC-SHA-256 context (OpenSSL's EVP_MAC). */
struct audit_hmac;
int audit_hmac_new(struct audit_hmac **ret);
void audit_hmac_free(struct audit_hmac *h);
/* HMAC(@key, @prev ‖ @body). Returns 0 or -EIO. */
int audit_hmac(struct audit_hmac *h, const struct secbuf *key, const uint8_t prev[AUDIT_MAC_LEN],
	       const char *body, size_t len, uint8_t out[AUDIT_MAC_LEN]);

/*
 * Reads the last complete line of the open file @fd of @size bytes into @buf (of @buflen)
 * and returns its length, 0 if the file holds no complete line, or -errno. In
 * *ret_complete_end, the offset just past the last newline (where a torn line starts).
 */
ssize_t audit_last_line(int fd, off_t size, char *buf, size_t buflen, off_t *ret_complete_end);

/* The furthest head at the end of a rotated trail file still in directory @dir (audit.log-*,
 * never written again, so their ends are final), in *ret; seq 0 if none. @buf (of @buflen,
 * AUDIT_LINE_MAX) is scratch. */
void audit_rotated_head(const char *dir, char *buf, size_t buflen, struct audit_head *ret);

/* Length of the valid UTF-8 sequence at @s (of @n > 0 bytes), its code point in *ret_cp;
 * 0 if it is not one (an invalid, overlong or truncated sequence, or a surrogate). */
size_t audit_utf8(const unsigned char *s, size_t n, uint32_t *ret_cp);

/* 1 if code point @cp is never shown as it is: a control, format, separator,
 * default-ignorable, private-use or non-character (audit_text.c lists them). */
int audit_cp_hidden(uint32_t cp);

/* 1 if @name is a trail file of the directory: audit.log, audit.log-N, audit.log.N (N:
 * digits, '-' and '_'), and logrotate's audit.log-YYYYMMDDHH.backup. */
int audit_is_trail_file(const char *name);

#endif

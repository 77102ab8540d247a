/*
 * store_certs: the vault's record of its certificates (store.h) — each certificate's
 * settings and versions, and, in the same transactions, the record of its key (hsm_keys,
 * whose rows a certificate makes, advances and forgets with its own). It holds DER and
 * dates, and an exportable certificate's private key only sealed, as a secret's value is
 * (its associated data names ".certs/NAME", which no secret's path can be). It never
 * speaks to the token, and knows nothing of X.509 beyond the bytes it keeps. Its
 * statements are the Q_CERT_* (and Q_HKEY_*) of store_sql.c's table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static void copy_text(char *dst, size_t len, const unsigned char *src)
{
	snprintf(dst, len, "%s", src ? (const char *)src : "");
}

int store_cert_get_locked(struct store *s, const char *name, struct store_cert *ret)
{
	sqlite3_stmt *st = NULL;
	struct store_cert c;
	int r, rc;

	r = store_stmt(s, Q_CERT_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(&c, 0, sizeof(c));
		copy_text(c.issuer, sizeof(c.issuer), sqlite3_column_text(st, 0));
		c.exportable = sqlite3_column_int(st, 1);
		c.is_ca = sqlite3_column_int(st, 2);
		c.reuse_key = sqlite3_column_int(st, 3);
		c.renew_kind = sqlite3_column_int(st, 4);
		c.renew_value = sqlite3_column_int64(st, 5);
		copy_text(c.subject, sizeof(c.subject), sqlite3_column_text(st, 6));
		copy_text(c.sans, sizeof(c.sans), sqlite3_column_text(st, 7));
		c.validity = sqlite3_column_int64(st, 8);
		copy_text(c.type, sizeof(c.type), sqlite3_column_text(st, 9));
		c.current = (uint64_t)sqlite3_column_int64(st, 10);
		c.pending = (uint64_t)sqlite3_column_int64(st, 11);
		c.created = sqlite3_column_int64(st, 12);
		c.updated = sqlite3_column_int64(st, 13);
		c.deleted = sqlite3_column_int64(st, 14); /* NULL reads as 0 */
		*ret = c;
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_errno(s, rc, "certificate");
	}
	store_done(st);
	return r;
}

int store_cert_get(struct store *s, const char *name, struct store_cert *ret)
{
	int r = store_enter_name(s, name);

	return r < 0 ? r : store_cert_get_locked(s, name, ret);
}

void store_cert_version_clear(struct store_cert_version *v)
{
	free(v->cert);
	free(v->chain);
	free(v->csr);
	secbuf_free(v->key);
	v->cert = v->chain = v->csr = NULL;
	v->cert_len = v->chain_len = v->csr_len = 0;
	v->key = NULL;
}

static int blob_copy(sqlite3_stmt *st, int col, uint8_t **ret, size_t *ret_len)
{
	int n = sqlite3_column_bytes(st, col);

	*ret = NULL;
	*ret_len = 0;
	if (sqlite3_column_type(st, col) == SQLITE_NULL || n <= 0)
		return 0;
	*ret = malloc((size_t)n);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, sqlite3_column_blob(st, col), (size_t)n);
	*ret_len = (size_t)n;
	return 0;
}

static void sealed_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, ".certs/%s", name);
}

static int version_get_locked(struct store *s, const char *name, uint64_t version, unsigned flags,
			      struct store_cert_version *ret)
{
	struct store_cert_version v = { 0 };
	char path[NAME_SEGMENT_MAX + 16];
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, Q_CERT_VERSION_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_errno(s, rc, "certificate version");
		goto out;
	}
	v.version = (uint64_t)sqlite3_column_int64(st, 0);
	v.key_version = (uint64_t)sqlite3_column_int64(st, 1);
	v.not_before = sqlite3_column_int64(st, 5);
	v.not_after = sqlite3_column_int64(st, 6);
	copy_text(v.serial, sizeof(v.serial), sqlite3_column_text(st, 7));
	v.created = sqlite3_column_int64(st, 10);
	r = blob_copy(st, 2, &v.cert, &v.cert_len);
	if (r == 0)
		r = blob_copy(st, 3, &v.chain, &v.chain_len);
	if (r == 0)
		r = blob_copy(st, 4, &v.csr, &v.csr_len);
	if (r == 0 && (flags & STORE_CERT_WITH_KEY)) {
		if (sqlite3_column_type(st, 9) == SQLITE_NULL) {
			r = -ENODATA;
		} else {
			sealed_path(name, path, sizeof(path));
			r = store_open_sealed(s, path, sqlite3_column_int64(st, 8), v.version,
					      sqlite3_column_blob(st, 9),
					      (size_t)sqlite3_column_bytes(st, 9), &v.key);
		}
	}
out:
	store_done(st);
	if (r < 0) {
		store_cert_version_clear(&v);
		return r;
	}
	*ret = v;
	return 0;
}

int store_cert_version_get(struct store *s, const char *name, uint64_t version, unsigned flags,
			   struct store_cert_version *ret)
{
	struct store_cert c;
	int r;

	r = store_enter_name(s, name);
	if (r < 0)
		return r;
	if (version == 0) {
		r = store_cert_get_locked(s, name, &c);
		if (r < 0)
			return r;
		if (c.current == 0)
			return -ENOENT;
		version = c.current;
	}
	return version_get_locked(s, name, version, flags, ret);
}

int store_cert_list(struct store *s, unsigned flags, store_list_fn fn, void *userdata)
{
	return store_list_names(s, (flags & STORE_LIST_DELETED) ? Q_CERT_LIST_DELETED : Q_CERT_LIST,
				fn, userdata);
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t len)
{
	if (p && len)
		sqlite3_bind_blob(st, i, p, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Inside a transaction: version @cv->version of @name, its key sealed if it has one. */
static int version_insert(struct store *s, const char *name, const struct store_cert_version *cv,
			  int64_t now)
{
	char path[NAME_SEGMENT_MAX + 16];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	int64_t key_id = 0;
	sqlite3_stmt *st = NULL;
	int r;

	if (cv->key) {
		sealed_path(name, path, sizeof(path));
		r = store_seal(s, path, cv->version, cv->key, &key_id, &sealed, &sealed_len);
		if (r < 0)
			return r;
	}
	r = store_stmt(s, Q_CERT_VERSION_INSERT, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)cv->version);
	sqlite3_bind_int64(st, 3, (int64_t)cv->key_version);
	bind_blob(st, 4, cv->cert, cv->cert_len);
	bind_blob(st, 5, cv->chain, cv->chain_len);
	bind_blob(st, 6, cv->csr, cv->csr_len);
	sqlite3_bind_int64(st, 7, cv->not_before);
	sqlite3_bind_int64(st, 8, cv->not_after);
	sqlite3_bind_text(st, 9, cv->serial, -1, SQLITE_STATIC);
	if (sealed) {
		sqlite3_bind_int64(st, 10, key_id);
		sqlite3_bind_blob(st, 11, sealed, (int)sealed_len, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(st, 10);
		sqlite3_bind_null(st, 11);
	}
	sqlite3_bind_int64(st, 12, now);
	r = store_step_done(s, st);
out:
	free(sealed);
	return r;
}

/* Runs @q, with @name as ?1 and the @n numbers of @vals as ?2 on. */
static int update(struct store *s, enum query q, const char *name, size_t n, const int64_t *vals)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = store_stmt(s, q, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n; i++)
		sqlite3_bind_int64(st, (int)i + 2, vals[i]);
	return store_step_done(s, st);
}

#define UPDATE(s, q, name, ...)                                                                    \
	update(s, q, name, sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t),                   \
	       (int64_t[]){ __VA_ARGS__ })

static int add_locked(struct store *s, const char *name, const struct store_cert *c,
		      const struct store_key *k, const struct store_key_version *kv,
		      const struct store_cert_version *cv, int64_t now)
{
	int pending = cv->cert == NULL;
	sqlite3_stmt *st = NULL;
	int r;

	/* a key of the name, live or soft-deleted, holds it: the primary key says so */
	r = store_key_row_insert(s, name, k, now);
	if (r < 0)
		return r;
	r = store_key_version_insert(s, name, 1, kv, now);
	if (r < 0)
		return r;
	r = store_stmt(s, Q_CERT_INSERT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->issuer, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, c->exportable);
	sqlite3_bind_int(st, 4, c->is_ca);
	sqlite3_bind_int(st, 5, c->reuse_key);
	sqlite3_bind_int(st, 6, c->renew_kind);
	sqlite3_bind_int64(st, 7, c->renew_value);
	sqlite3_bind_text(st, 8, c->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, c->sans, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, c->validity);
	sqlite3_bind_text(st, 11, c->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, pending ? 0 : 1);
	sqlite3_bind_int64(st, 13, pending ? 1 : 0);
	sqlite3_bind_int64(st, 14, now);
	sqlite3_bind_int64(st, 15, now);
	r = store_step_done(s, st);
	if (r < 0)
		return r;
	{
		struct store_cert_version v1 = *cv;

		v1.version = 1;
		v1.key_version = 1;
		r = version_insert(s, name, &v1, now);
	}
	if (r >= 0)
		store_tx_made_version(s, 1);
	return r;
}

int store_cert_add(struct store *s, const char *name, const struct store_cert *c,
		   const struct store_key *k, const struct store_key_version *kv,
		   const struct store_cert_version *cv, int64_t now)
{
	struct store_cert existing;
	int r;

	r = store_enter_write_name(s, name);
	if (r < 0)
		return r;
	r = store_cert_get_locked(s, name, &existing);
	if (r == 0)
		r = -EEXIST;
	else if (r == -ENOENT)
		r = add_locked(s, name, c, k, kv, cv, now);
	return store_tx_end(s, r);
}

/* Inside a transaction: the highest number @q, a max() with @name as ?1, finds (0: none). */
static int max_of(struct store *s, enum query q, const char *name, uint64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, q, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = (uint64_t)sqlite3_column_int64(st, 0); /* NULL: 0 */
		r = 0;
	} else {
		r = store_sql_errno(s, rc, sqlite3_sql(st));
	}
	store_done(st);
	return r;
}

static int add_version_locked(struct store *s, const char *name, const struct store_key_version *kv,
			      struct store_cert_version *cv, int64_t now, uint64_t *ret_version)
{
	int pending = cv->cert == NULL;
	struct store_cert c;
	uint64_t version, key_version;
	int r;

	r = store_cert_get_locked(s, name, &c);
	if (r < 0)
		return r;
	if (c.deleted)
		return -ENOENT;
	if (c.pending)
		return -EBUSY;
	r = max_of(s, Q_CERT_VERSION_MAX, name, &version);
	if (r < 0)
		return r;
	version++;
	if (kv) {
		r = max_of(s, Q_HKEY_VERSION_MAX, name, &key_version);
		if (r < 0)
			return r;
		key_version++;
		r = store_key_version_insert(s, name, key_version, kv, now);
		if (r < 0)
			return r;
		cv->key_version = key_version;
	}
	cv->version = version;
	r = version_insert(s, name, cv, now);
	if (r < 0)
		return r;
	if (pending)
		r = UPDATE(s, Q_CERT_SET_PENDING, name, (int64_t)version);
	else
		r = UPDATE(s, Q_CERT_SET_CURRENT, name, (int64_t)version, now);
	/* the key's current version is the current certificate's: keys/NAME/sign signs
	 * with the key the served certificate names */
	if (r >= 0 && !pending)
		r = UPDATE(s, Q_HKEY_SET_CURRENT, name, (int64_t)cv->key_version);
	if (r < 0)
		return r;
	*ret_version = version;
	store_tx_made_version(s, version);
	return 0;
}

int store_cert_add_version(struct store *s, const char *name, const struct store_key_version *kv,
			   struct store_cert_version *cv, int64_t now, uint64_t *ret_version)
{
	struct store_cert_version v = *cv;
	uint64_t version = 0;
	int r;

	r = store_enter_write_name(s, name);
	if (r >= 0)
		r = store_tx_end(s, add_version_locked(s, name, kv, &v, now, &version));
	if (r < 0)
		return r;
	cv->version = v.version;
	cv->key_version = v.key_version;
	*ret_version = version;
	return 0;
}

static int complete_locked(struct store *s, const char *name, const struct store_cert_version *cv,
			   int64_t now)
{
	struct store_cert_version pv;
	sqlite3_stmt *st = NULL;
	struct store_cert c;
	int r;

	r = store_cert_get_locked(s, name, &c);
	if (r < 0)
		return r;
	if (c.deleted)
		return -ENOENT;
	if (!c.pending)
		return -ESRCH;
	r = version_get_locked(s, name, c.pending, 0, &pv);
	if (r < 0)
		return r;
	store_cert_version_clear(&pv);
	r = store_stmt(s, Q_CERT_VERSION_COMPLETE, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)c.pending);
	bind_blob(st, 3, cv->cert, cv->cert_len);
	bind_blob(st, 4, cv->chain, cv->chain_len);
	sqlite3_bind_int64(st, 5, cv->not_before);
	sqlite3_bind_int64(st, 6, cv->not_after);
	sqlite3_bind_text(st, 7, cv->serial, -1, SQLITE_STATIC);
	r = store_step_done(s, st);
	if (r >= 0)
		r = UPDATE(s, Q_CERT_SET_COMPLETED, name, (int64_t)c.pending, now);
	if (r >= 0)
		r = UPDATE(s, Q_HKEY_SET_CURRENT, name, (int64_t)pv.key_version);
	if (r >= 0)
		store_tx_made_version(s, c.pending);
	return r;
}

int store_cert_complete(struct store *s, const char *name, const struct store_cert_version *cv,
			int64_t now)
{
	int r = store_enter_write_name(s, name);

	return r < 0 ? r : store_tx_end(s, complete_locked(s, name, cv, now));
}

/*
 * store_secret: secrets and their versions — read, write, rename, soft delete, recover,
 * purge. Each public function enters the calling thread's connection and, where it writes,
 * runs one transaction; plaintext lives only in secbufs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "timeutil.h"

int store_secret_stat(struct store *s, const char *path, enum store_which which,
		      struct store_stat *ret)
{
	struct store_stamp stamp;
	struct row row;
	int r;

	r = store_enter_path(s, path);
	if (r < 0)
		return r;
	if (store_cache_get(s, path, &row, NULL, NULL, NULL) == 0) {
		r = (which == STORE_LIVE) == (row.deleted == 0) ? 0 : -ENOENT;
	} else {
		int stamped = store_stamp(s, &stamp) == 0;

		r = store_get_row(s, path, &row);
		if (r == 0 && stamped)
			store_cache_put(s, &stamp, path, &row, 0, NULL, 0);
		if (r == 0 && (which == STORE_LIVE) != (row.deleted == 0))
			r = -ENOENT;
	}
	if (r < 0)
		goto out;
	ret->version = row.current;
	ret->size = row.size;
	ret->created = row.created;
	ret->updated = row.updated;
	ret->deleted = row.deleted;
	ret->purge_at = row.deleted ? row.deleted + (int64_t)s->opt.retention_days * US_PER_DAY : 0;
	ret->enabled = row.enabled;
	ret->not_before = row.not_before;
	ret->expires = row.expires;
	r = 0;
out:
	return r;
}

/* Whether @row's value may be read at @now: -EACCES (disabled), -EKEYEXPIRED (outside
 * its window), or 0. */
static int readable_now(const struct row *row, int64_t now)
{
	if (!row->enabled)
		return -EACCES;
	if ((row->not_before != STORE_TIME_UNSET && now < row->not_before) ||
	    (row->expires != STORE_TIME_UNSET && now >= row->expires))
		return -EKEYEXPIRED;
	return 0;
}

int store_secret_get(struct store *s, const char *path, uint64_t version, int64_t now,
		     struct secbuf **ret_value, uint64_t *ret_version)
{
	struct row row;
	int r;

	r = store_enter_path(s, path);
	if (r < 0)
		return r;
	if (version == 0) {
		/* The common read: row, checks and value from one statement. */
		struct secbuf *value = NULL;

		r = store_get_current(s, path, &row, &value);
		if (r == 0 && ((row.not_before != STORE_TIME_UNSET && now < row.not_before) ||
			       (row.expires != STORE_TIME_UNSET && now >= row.expires))) {
			secbuf_free(value);
			r = -EKEYEXPIRED;
		}
		if (r == -ENOENT && store_folder_exists_locked(s, path) == 1)
			r = -EISDIR;
		if (r < 0)
			return r;
		*ret_value = value;
		if (ret_version)
			*ret_version = row.current;
		return 0;
	}
	r = store_get_row_which(s, path, STORE_LIVE, &row);
	if (r == -ENOENT && store_folder_exists_locked(s, path) == 1)
		r = -EISDIR;
	if (r < 0)
		goto out;
	r = readable_now(&row, now);
	if (r < 0)
		goto out;
	if (version == 0)
		version = row.current;
	if (version > row.current) {
		r = -ENOENT;
		goto out;
	}
	r = store_version_open(s, path, row.id, version, ret_value);
	if (r < 0)
		goto out;
	if (ret_version)
		*ret_version = version;
	r = 0;
out:
	return r;
}

/* Inside a transaction: adds @value as version @version of secret @id. */
static int version_add(struct store *s, const char *path, int64_t id, uint64_t version,
		       const struct secbuf *value, int64_t now)
{
	uint8_t *sealed = NULL;
	size_t sealed_len;
	int64_t key_id;
	sqlite3_stmt *st = NULL;
	int r;

	r = store_seal(s, path, version, value, &key_id, &sealed, &sealed_len);
	if (r < 0)
		return r;
	r = store_stmt(s, Q_VERSION_INSERT, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, (int64_t)secbuf_len(value));
	sqlite3_bind_int64(st, 5, key_id);
	sqlite3_bind_blob(st, 6, sealed, (int)sealed_len, SQLITE_STATIC);
	r = store_step_done(s, st);
	if (r < 0)
		goto out;
	r = store_stmt(s, Q_SECRET_SET_CURRENT, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	sqlite3_bind_int64(st, 3, now);
	r = store_step_done(s, st);
	if (r >= 0)
		store_tx_made_version(s, version);
out:
	free(sealed);
	return r;
}

static int secret_insert(struct store *s, const char *path, int64_t now, int64_t *ret_id)
{
	int r = store_insert_named(s, Q_SECRET_INSERT, path, now);

	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(store_db(s));
	return 0;
}

static int set_deleted(struct store *s, int64_t id, int64_t when)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = store_stmt(s, Q_SECRET_SET_DELETED, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	if (when)
		sqlite3_bind_int64(st, 2, when);
	else
		sqlite3_bind_null(st, 2);
	return store_step_done(s, st);
}

int store_put_locked(struct store *s, const char *path, const struct secbuf *value, unsigned flags,
		     int64_t now, uint64_t *ret_version)
{
	struct secbuf *current = NULL;
	struct row row;
	int64_t id;
	int r;

	r = store_get_row(s, path, &row);
	if (r == 0) {
		int revived = 0;

		if (row.deleted) {
			/* Writing a deleted secret's name brings it back, history and all, with
			 * the new value on top (as a write after delete does in Vault's KV). */
			if (flags & STORE_PUT_NO_REVIVE)
				return STORE_NO_REVIVE_ERR;
			r = store_folder_exists_locked(s, path);
			if (r != 0)
				return r < 0 ? r : -EISDIR;
			r = store_ensure_parents(s, path, flags & STORE_PUT_MKDIRS, now);
			if (r >= 0)
				r = set_deleted(s, row.id, 0);
			if (r < 0)
				return r;
			revived = 1;
		} else if (flags & STORE_PUT_EXCL) {
			return -EEXIST;
		}
		r = store_version_open(s, path, row.id, row.current, &current);
		if (r < 0)
			return r;
		r = secbuf_equal(current, value);
		secbuf_free(current);
		if (r) {
			*ret_version = row.current;
			return revived;
		}
		id = row.id;
	} else if (r == -ENOENT) {
		r = store_folder_exists_locked(s, path);
		if (r != 0)
			return r < 0 ? r : -EISDIR;
		r = store_ensure_parents(s, path, flags & STORE_PUT_MKDIRS, now);
		if (r < 0)
			return r;
		r = secret_insert(s, path, now, &id);
		if (r < 0)
			return r;
		row.current = 0;
	} else {
		return r;
	}
	r = version_add(s, path, id, row.current + 1, value, now);
	if (r < 0)
		return r;
	*ret_version = row.current + 1;
	return 1;
}

int store_secret_put(struct store *s, const char *path, const struct secbuf *value, unsigned flags,
		     int64_t now, uint64_t *ret_version)
{
	uint64_t version = 0;
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	if (secbuf_len(value) > s->opt.max_secret_size)
		return -EFBIG;
	r = store_enter(s);
	if (r < 0)
		return r;
	r = store_tx_begin(s);
	if (r >= 0)
		r = store_tx_end(s, store_put_locked(s, path, value, flags, now, &version));
	if (r >= 0 && ret_version)
		*ret_version = version;
	return r;
}

/* Inside a transaction: @path's current value cut or zero-extended to @size, put back. */
static int resize_locked(struct store *s, const char *path, uint64_t size, int64_t now,
			 uint64_t *ret_version)
{
	struct secbuf *value = NULL;
	struct row row;
	int r;

	r = store_get_row_which(s, path, STORE_LIVE, &row);
	if (r == -ENOENT && store_folder_exists_locked(s, path) == 1)
		r = -EISDIR;
	if (r >= 0)
		r = readable_now(&row, now);
	if (r >= 0)
		r = store_version_open(s, path, row.id, row.current, &value);
	if (r >= 0)
		r = secbuf_resize(value, (size_t)size); /* zeros past the end, as truncate(2) */
	if (r >= 0)
		r = store_put_locked(s, path, value, 0, now, ret_version);
	secbuf_free(value);
	return r;
}

int store_secret_resize(struct store *s, const char *path, uint64_t size, int64_t now,
			uint64_t *ret_version)
{
	uint64_t version = 0;
	int r;

	if (size > s->opt.max_secret_size)
		return -EFBIG;
	r = store_enter_write(s, path);
	if (r >= 0)
		r = store_tx_end(s, resize_locked(s, path, size, now, &version));
	if (r >= 0 && ret_version)
		*ret_version = version;
	return r;
}

int store_version_stat(struct store *s, const char *path, uint64_t version, uint64_t *ret_size,
		       int64_t *ret_created)
{
	sqlite3_stmt *st = NULL;
	struct row row;
	int r, rc;

	r = store_enter_row(s, path, STORE_LIVE, &row);
	if (r < 0)
		goto out;
	r = store_stmt(s, Q_VERSION_META, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, row.id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_size = (uint64_t)sqlite3_column_int64(st, 0);
		*ret_created = sqlite3_column_int64(st, 1);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_errno(s, rc, "version meta");
	}
	store_done(st);
out:
	return r;
}

int store_purge_id(struct store *s, int64_t id);

/* Re-seals every version of secret @id from @from's associated data to @to's. */
static int reseal_all(struct store *s, int64_t id, uint64_t current, const char *from,
		      const char *to)
{
	uint8_t aad[NAME_PATH_MAX + 64];
	const struct secbuf *key;
	int64_t key_id;
	int r;

	r = store_datakey_current(s, &key_id);
	if (r < 0)
		return r;
	r = store_datakey_get(s, key_id, &key);
	if (r < 0)
		return r;
	for (uint64_t v = 1; v <= current; v++) {
		struct secbuf *plain = NULL;
		uint8_t *sealed = NULL;
		size_t sealed_len;
		sqlite3_stmt *st = NULL;
		int aad_len;

		r = store_version_open(s, from, id, v, &plain);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		aad_len = store_value_aad(s, key_id, v, to, aad, sizeof(aad));
		r = aad_len < 0
			    ? aad_len
			    : crypto_seal(key, aad, (size_t)aad_len, plain, &sealed, &sealed_len);
		secbuf_free(plain);
		if (r < 0)
			return r;
		r = store_stmt(s, Q_VERSION_RESEAL, &st);
		if (r >= 0) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, (int64_t)v);
			sqlite3_bind_int64(st, 3, key_id);
			sqlite3_bind_blob(st, 4, sealed, (int)sealed_len, SQLITE_STATIC);
			r = store_step_done(s, st);
		}
		free(sealed);
		if (r < 0)
			return r;
	}
	return 0;
}

/* @src's current value becomes @to's new version; @src leaves the live tree, keeping its
 * older versions in .deleted/ (nothing of its history is lost). */
static int rename_over_locked(struct store *s, const char *from, const struct row *src,
			      const char *to, unsigned flags, int64_t now)
{
	struct secbuf *value = NULL;
	uint64_t version;
	int r, put;

	/* the value moves to where the source's attributes do not follow it: one that may
	 * not be read now (disabled, outside its window) may not be moved either */
	r = readable_now(src, now);
	if (r < 0)
		return r;
	r = store_version_open(s, from, src->id, src->current, &value);
	if (r < 0)
		return r;
	put = store_put_locked(s, to, value,
			       flags & STORE_RENAME_NO_REVIVE ? STORE_PUT_NO_REVIVE : 0, now,
			       &version);
	secbuf_free(value);
	if (put < 0)
		return put;
	/* versions run 1..current with no gaps: an older one is history to keep */
	if (src->current > 1)
		r = set_deleted(s, src->id, now > 0 ? now : 1);
	else
		r = store_purge_id(s, src->id);
	return r < 0 ? r : put;
}

static int rename_locked(struct store *s, const char *from, const char *to, unsigned flags,
			 int64_t now)
{
	char folder[NAME_PATH_MAX];
	const char *name;
	struct row src, dst;
	sqlite3_stmt *st = NULL;
	int r;

	r = store_get_row_which(s, from, STORE_LIVE, &src);
	if (r == -ENOENT && store_folder_exists_locked(s, from) == 1)
		return -EISDIR;
	if (r < 0)
		return r;
	if (strcmp(from, to) == 0)
		return 0;
	r = store_get_row(s, to, &dst);
	if (r == 0) {
		if (!dst.deleted && (flags & STORE_RENAME_NOREPLACE))
			return -EEXIST;
		return rename_over_locked(s, from, &src, to, flags, now);
	}
	if (r != -ENOENT)
		return r;
	r = store_folder_exists_locked(s, to);
	if (r != 0)
		return r < 0 ? r : -EISDIR;
	r = store_ensure_parents(s, to, 0, now);
	if (r < 0)
		return r;
	r = reseal_all(s, src.id, src.current, from, to);
	if (r < 0)
		return r;
	store_split_path(to, folder, sizeof(folder), &name);
	r = store_stmt(s, Q_SECRET_MOVE, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, src.id);
	sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	r = store_step_done(s, st);
	return r < 0 ? r : 1;
}

int store_secret_rename(struct store *s, const char *from, const char *to, unsigned flags,
			int64_t now)
{
	int r;

	if (name_path_check(from) < 0 || name_path_check(to) < 0)
		return -EINVAL;
	r = store_enter(s);
	if (r < 0)
		return r;
	r = store_tx_begin(s);
	if (r >= 0)
		r = store_tx_end(s, rename_locked(s, from, to, flags, now));
	return r;
}

int store_secret_versions(struct store *s, const char *path, enum store_which which, uint64_t **ret,
			  size_t *ret_count)
{
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	struct row row;
	int r, rc;

	r = store_enter_row(s, path, which, &row);
	if (r < 0)
		goto out;
	r = store_stmt(s, Q_VERSION_LIST, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, row.id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			uint64_t *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				store_done(st);
				goto out;
			}
			v = nv;
		}
		v[n++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	store_done(st);
	if (rc != SQLITE_DONE) {
		r = store_sql_errno(s, rc, "version list");
		goto out;
	}
	*ret = v;
	*ret_count = n;
	v = NULL;
	r = 0;
out:
	free(v);
	return r;
}

int store_secret_delete(struct store *s, const char *path, int64_t now)
{
	struct row row;
	int r;

	r = store_enter_write(s, path);
	if (r < 0)
		goto out;
	r = store_get_row_which(s, path, STORE_LIVE, &row);
	if (r == -ENOENT && store_folder_exists_locked(s, path) == 1)
		r = -EISDIR;
	if (r >= 0)
		r = set_deleted(s, row.id, now > 0 ? now : 1);
	r = store_tx_end(s, r);
out:
	return r;
}

int store_secret_recover(struct store *s, const char *path)
{
	struct row row;
	int r;

	r = store_enter_write(s, path);
	if (r < 0)
		goto out;
	r = store_get_row_which(s, path, STORE_DELETED, &row);
	if (r >= 0) {
		r = store_folder_exists_locked(s, path);
		if (r > 0)
			r = -EEXIST;
	}
	if (r >= 0)
		r = store_ensure_parents(s, path, 1, time_now_us());
	if (r >= 0)
		r = set_deleted(s, row.id, 0);
	r = store_tx_end(s, r);
out:
	return r;
}

int store_purge_id(struct store *s, int64_t id)
{
	static const enum query steps[] = { Q_PURGE_VERSIONS, Q_PURGE_TAGS, Q_PURGE_SECRET };
	sqlite3_stmt *st = NULL;
	int r;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		r = store_stmt(s, steps[i], &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, id);
		r = store_step_done(s, st);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_secret_purge(struct store *s, const char *path)
{
	struct row row;
	int r;

	r = store_enter_write(s, path);
	if (r < 0)
		goto out;
	r = store_get_row_which(s, path, STORE_DELETED, &row);
	if (r >= 0)
		r = store_purge_id(s, row.id);
	r = store_tx_end(s, r);
out:
	return r;
}

int store_purge_expired(struct store *s, int64_t now, unsigned *ret_count)
{
	int64_t limit = now - (int64_t)s->opt.retention_days * US_PER_DAY;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_enter(s);
	if (r < 0)
		return r;
	r = store_tx_begin(s);
	if (r < 0)
		goto out;
	r = store_stmt(s, Q_EXPIRED, &st);
	if (r < 0)
		goto end;
	sqlite3_bind_int64(st, 1, limit);
	/* Collect first: rows are not deleted from under a running SELECT. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			int64_t *nids;

			cap = cap ? cap * 2 : 64;
			nids = realloc(ids, cap * sizeof(*ids));
			if (!nids) {
				rc = SQLITE_NOMEM;
				break;
			}
			ids = nids;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	store_done(st);
	r = rc == SQLITE_DONE ? 0 : store_sql_errno(s, rc, "expired list");
	for (size_t i = 0; i < n && r >= 0; i++)
		r = store_purge_id(s, ids[i]);
	if (n == 0)
		(void)store_on_commit(s, NULL, NULL); /* nothing changed: nothing to record */
end:
	r = store_tx_end(s, r);
	if (r >= 0 && ret_count)
		*ret_count = (unsigned)n;
out:
	free(ids);
	return r < 0 ? r : 0;
}

/*
 * store: secrets, versions and metadata in SQLite, values sealed under HSM-wrapped data
 * keys.
 *
 * This file reads and writes the rows of secrets and folders (store_sql.c speaks SQLite,
 * store_datakey.c seals, store_open.c opens). Writes run in BEGIN IMMEDIATE transactions,
 * so a version is either wholly there or not at all, and the WAL is synced at each commit
 * (synchronous=FULL). Plaintext exists only in secbufs for the length of one call; it
 * never reaches SQLite, a log or an error message.
 */
#include "store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crypto.h"
#include "log.h"
#include "names.h"
#include "timeutil.h"

void store_split_path(const char *path, char *folder, size_t folder_len, const char **ret_name)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		folder[0] = '\0';
		*ret_name = path;
		return;
	}
	snprintf(folder, folder_len, "%.*s", (int)(slash - path), path);
	*ret_name = slash + 1;
}

/* A nullable time column: NULL is STORE_TIME_UNSET. */
static int64_t column_time(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? STORE_TIME_UNSET
							   : sqlite3_column_int64(st, col);
}

static void read_row(sqlite3_stmt *st, struct row *ret)
{
	const unsigned char *ct = sqlite3_column_text(st, 8);

	ret->id = sqlite3_column_int64(st, 0);
	ret->current = (uint64_t)sqlite3_column_int64(st, 1);
	ret->created = sqlite3_column_int64(st, 2);
	ret->updated = sqlite3_column_int64(st, 3);
	ret->deleted = sqlite3_column_int64(st, 4);
	ret->enabled = sqlite3_column_int(st, 5);
	ret->not_before = column_time(st, 6);
	ret->expires = column_time(st, 7);
	{
		size_t l = ct ? strlen((const char *)ct) : 0;

		if (l >= sizeof(ret->content_type))
			l = sizeof(ret->content_type) - 1;
		memcpy(ret->content_type, ct ? (const char *)ct : "", l);
		ret->content_type[l] = '\0';
	}
	ret->size = (uint64_t)sqlite3_column_int64(st, 9);
}

int store_get_row(struct store *s, const char *path, struct row *ret)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, Q_SECRET_BY_PATH, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_row(st, ret);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = store_sql_errno(s, rc, "secret lookup");
	}
	store_done(st);
	return r;
}

int store_get_current(struct store *s, const char *path, struct row *ret_row,
		      struct secbuf **ret_value)
{
	struct store_stamp stamp;
	uint8_t *sealed = NULL;
	sqlite3_stmt *st = NULL;
	size_t sealed_len;
	int64_t key_id;
	struct row row;
	int r, rc, stamped;

	if (store_cache_get(s, path, &row, &key_id, &sealed, &sealed_len) == 0) {
		if (row.deleted)
			r = -ENOENT;
		else if (!row.enabled)
			r = -EACCES;
		else
			r = store_open_sealed(s, path, key_id, row.current, sealed, sealed_len,
					      ret_value);
		free(sealed);
		if (r >= 0)
			*ret_row = row;
		return r;
	}
	stamped = store_stamp(s, &stamp) == 0;
	r = store_stmt(s, Q_SECRET_CURRENT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_row(st, &row);
		if (stamped)
			store_cache_put(s, &stamp, path, &row, sqlite3_column_int64(st, 10),
					sqlite3_column_blob(st, 11),
					(size_t)sqlite3_column_bytes(st, 11));
		if (row.deleted)
			r = -ENOENT;
		else if (!row.enabled)
			r = -EACCES;
		else
			r = store_open_sealed(s, path, sqlite3_column_int64(st, 10), row.current,
					      sqlite3_column_blob(st, 11),
					      (size_t)sqlite3_column_bytes(st, 11), ret_value);
		if (r >= 0)
			*ret_row = row;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = store_sql_errno(s, rc, "secret read");
	}
	store_done(st);
	return r;
}

/* The row for @path in state @which: -ENOENT if there is none in that state. */
int store_get_row_which(struct store *s, const char *path, enum store_which which, struct row *ret)
{
	struct row row;
	int r = store_get_row(s, path, &row);

	if (r < 0)
		return r;
	if ((which == STORE_LIVE) != (row.deleted == 0))
		return -ENOENT;
	*ret = row;
	return 0;
}

int store_folder_exists_locked(struct store *s, const char *path)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if (path[0] == '\0')
		return 1;
	r = store_stmt(s, Q_FOLDER_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	store_done(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_sql_errno(s, rc, "folder lookup");
}

int store_insert_named(struct store *s, enum query q, const char *path, int64_t now)
{
	char parent[NAME_PATH_MAX];
	const char *name;
	sqlite3_stmt *st = NULL;
	int r;

	store_split_path(path, parent, sizeof(parent), &name);
	r = store_stmt(s, q, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	return store_step_done(s, st);
}

int store_list_names(struct store *s, enum query q, store_list_fn fn, void *userdata)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_enter(s);
	if (r < 0)
		return r;
	r = store_stmt(s, q, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = fn((const char *)sqlite3_column_text(st, 0), 1, userdata);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql_errno(s, rc, sqlite3_sql(st));
	store_done(st);
	return r;
}

int store_folder_insert(struct store *s, const char *path, int64_t now)
{
	return store_insert_named(s, Q_FOLDER_INSERT, path, now);
}

/*
 * Checks the folders above @path: each must exist (or, with @mkdirs, is made) and none may
 * be a live secret. Runs inside the caller's transaction.
 */
int store_ensure_parents(struct store *s, const char *path, int mkdirs, int64_t now)
{
	char prefix[NAME_PATH_MAX];
	const char *p = path;

	for (;;) {
		const char *slash = strchr(p, '/');
		struct row row;
		int r;

		if (!slash)
			return 0;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - path), path);
		r = store_folder_exists_locked(s, prefix);
		if (r < 0)
			return r;
		if (r == 0) {
			r = store_get_row_which(s, prefix, STORE_LIVE, &row);
			if (r == 0)
				return -ENOTDIR;
			if (r != -ENOENT)
				return r;
			if (!mkdirs)
				return -ENOENT;
			r = store_folder_insert(s, prefix, now);
			if (r < 0)
				return r;
		}
		p = slash + 1;
	}
}

int store_enter_row(struct store *s, const char *path, enum store_which which, struct row *ret)
{
	int r = store_enter_path(s, path);

	return r < 0 ? r : store_get_row_which(s, path, which, ret);
}

/*
 * store: secrets, versions and metadata in SQLite, values sealed under HSM-wrapped data
 * keys.
 *
 * One connection per thread (store_conn.c), with every statement prepared once. Writes run
 * in BEGIN IMMEDIATE transactions, so a version is either wholly there or not at all, and
 * the WAL is synced at each commit (synchronous=FULL). Plaintext exists only in secbufs
 * for the length of one call; it never reaches SQLite, a log or an error message.
 *
 * SQLite result codes become errno here; the native message goes to the debug log.
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

/* Each entry brings the schema from version i to i + 1. Never edit a released entry: add
 * one. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE schema_version (version INTEGER NOT NULL);"
	"INSERT INTO schema_version VALUES (0);"
	"CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE data_keys (id INTEGER PRIMARY KEY, wrapped BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE folders (path TEXT PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL,"
	"  created INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX folders_parent ON folders (parent, name);"
	"CREATE TABLE secrets (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
	"  folder TEXT NOT NULL, name TEXT NOT NULL, deleted INTEGER, current INTEGER NOT NULL,"
	"  created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	"  content_type TEXT NOT NULL DEFAULT '', enabled INTEGER NOT NULL DEFAULT 1,"
	"  not_before INTEGER, expires INTEGER);"
	"CREATE INDEX secrets_folder ON secrets (folder, name);"
	"CREATE INDEX secrets_deleted ON secrets (deleted) WHERE deleted IS NOT NULL;"
	"CREATE INDEX secrets_trash ON secrets (path) WHERE deleted IS NOT NULL;"
	"CREATE TABLE versions (secret_id INTEGER NOT NULL REFERENCES secrets (id),"
	"  version INTEGER NOT NULL, created INTEGER NOT NULL, size INTEGER NOT NULL,"
	"  key_id INTEGER NOT NULL REFERENCES data_keys (id), sealed BLOB NOT NULL,"
	"  PRIMARY KEY (secret_id, version)) WITHOUT ROWID;"
	"CREATE TABLE tags (secret_id INTEGER NOT NULL REFERENCES secrets (id),"
	"  name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (secret_id, name)) WITHOUT ROWID;",
	/* 1 -> 2: the audit trail's head, kept where the trail's writer alone cannot undo it */
	"CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  seq INTEGER NOT NULL, mac BLOB NOT NULL);"
	"INSERT INTO audit_anchor VALUES (1, 0, zeroblob(32));",
	/* 2 -> 3: keys held in the token, by name and version */
	"CREATE TABLE hsm_keys (name TEXT PRIMARY KEY, type TEXT NOT NULL, alg TEXT NOT NULL,"
	"  ops INTEGER NOT NULL, current INTEGER NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE hsm_key_versions (name TEXT NOT NULL REFERENCES hsm_keys (name),"
	"  version INTEGER NOT NULL, token_id BLOB NOT NULL, public_der BLOB,"
	"  created INTEGER NOT NULL, PRIMARY KEY (name, version)) WITHOUT ROWID;",
	/* 3 -> 4: the head's tag, computed in the token, so that the head cannot be rewritten
	 * without it; NULL in a vault from before, until the vault tags it (vault_head.c) */
	"ALTER TABLE audit_anchor ADD COLUMN tag BLOB;",
};

static const char *const query_sql[Q__MAX] = {
	/* A secret's row and its current version's size (and, for a read, its value) in
	 * one statement: each statement is a read transaction with its own file locks. */
	[Q_SECRET_BY_PATH] = "SELECT s.id, s.current, s.created, s.updated, s.deleted, s.enabled,"
			     " s.not_before, s.expires, s.content_type, v.size FROM secrets s"
			     " LEFT JOIN versions v ON v.secret_id = s.id AND v.version = s.current"
			     " WHERE s.path = ?1",
	[Q_SECRET_CURRENT] = "SELECT s.id, s.current, s.created, s.updated, s.deleted, s.enabled,"
			     " s.not_before, s.expires, s.content_type, v.size, v.key_id, v.sealed"
			     " FROM secrets s JOIN versions v ON v.secret_id = s.id"
			     " AND v.version = s.current WHERE s.path = ?1",
	[Q_VERSION_GET] =
		"SELECT key_id, sealed FROM versions WHERE secret_id = ?1 AND version = ?2",
	[Q_VERSION_SIZE] = "SELECT size FROM versions WHERE secret_id = ?1 AND version = ?2",
	[Q_VERSION_META] =
		"SELECT size, created FROM versions WHERE secret_id = ?1 AND version = ?2",
	[Q_VERSION_RESEAL] = "UPDATE versions SET key_id = ?3, sealed = ?4 WHERE secret_id = ?1"
			     " AND version = ?2",
	[Q_SECRET_MOVE] = "UPDATE secrets SET path = ?2, folder = ?3, name = ?4 WHERE id = ?1",
	[Q_VERSION_LIST] = "SELECT version FROM versions WHERE secret_id = ?1 ORDER BY version",
	[Q_VERSION_INSERT] =
		"INSERT INTO versions (secret_id, version, created, size, key_id, sealed)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_SECRET_INSERT] = "INSERT INTO secrets (path, folder, name, current, created, updated)"
			    " VALUES (?1, ?2, ?3, 0, ?4, ?4)",
	[Q_SECRET_SET_CURRENT] = "UPDATE secrets SET current = ?2, updated = ?3 WHERE id = ?1",
	[Q_SECRET_SET_DELETED] = "UPDATE secrets SET deleted = ?2 WHERE id = ?1",
	[Q_FOLDER_GET] = "SELECT 1 FROM folders WHERE path = ?1",
	[Q_FOLDER_INSERT] =
		"INSERT INTO folders (path, parent, name, created) VALUES (?1, ?2, ?3, ?4)",
	[Q_FOLDER_DELETE] = "DELETE FROM folders WHERE path = ?1",
	[Q_FOLDER_HAS_CHILDREN] =
		"SELECT 1 FROM folders WHERE parent = ?1 UNION ALL"
		" SELECT 1 FROM secrets WHERE folder = ?1 AND deleted IS NULL LIMIT 1",
	[Q_KEY_GET] = "SELECT wrapped FROM data_keys WHERE id = ?1",
	[Q_KEY_CURRENT] = "SELECT max(id) FROM data_keys",
	[Q_KEY_INSERT] = "INSERT INTO data_keys (wrapped, created) VALUES (?1, ?2)",
	[Q_LIST_LIVE] =
		"SELECT name, 1 FROM folders WHERE parent = ?1 UNION ALL"
		" SELECT name, 0 FROM secrets WHERE folder = ?1 AND deleted IS NULL ORDER BY 1",
	/* ?2 and ?3 bound a range of paths: every path below the folder sorts between
	 * "FOLDER/" and "FOLDER0" ('0' follows '/'). */
	[Q_LIST_DELETED] = "SELECT path FROM secrets WHERE path >= ?2 AND path < ?3"
			   " AND deleted IS NOT NULL ORDER BY path",
	[Q_LIST_LIVE_BELOW] = "SELECT path FROM secrets WHERE path >= ?2 AND path < ?3"
			      " AND deleted IS NULL ORDER BY path",
	[Q_LIST_DELETED_BELOW] = "SELECT path FROM secrets WHERE path >= ?2 AND path < ?3"
				 " AND deleted IS NOT NULL ORDER BY path",
	[Q_EXPIRED] = "SELECT id FROM secrets WHERE deleted IS NOT NULL AND deleted < ?1",
	[Q_PURGE_VERSIONS] = "DELETE FROM versions WHERE secret_id = ?1",
	[Q_PURGE_TAGS] = "DELETE FROM tags WHERE secret_id = ?1",
	[Q_PURGE_SECRET] = "DELETE FROM secrets WHERE id = ?1",
	[Q_TAG_GET] = "SELECT value FROM tags WHERE secret_id = ?1 AND name = ?2",
	[Q_TAG_LIST] = "SELECT name FROM tags WHERE secret_id = ?1 ORDER BY name",
	[Q_TAG_COUNT] = "SELECT count(*) FROM tags WHERE secret_id = ?1",
	[Q_TAG_SET] = "INSERT OR REPLACE INTO tags (secret_id, name, value) VALUES (?1, ?2, ?3)",
	[Q_TAG_DELETE] = "DELETE FROM tags WHERE secret_id = ?1 AND name = ?2",
	[Q_SET_CONTENT_TYPE] = "UPDATE secrets SET content_type = ?2 WHERE id = ?1",
	[Q_SET_ENABLED] = "UPDATE secrets SET enabled = ?2 WHERE id = ?1",
	[Q_SET_NOT_BEFORE] = "UPDATE secrets SET not_before = ?2 WHERE id = ?1",
	[Q_SET_EXPIRES] = "UPDATE secrets SET expires = ?2 WHERE id = ?1",
	[Q_ANCHOR_GET] = "SELECT seq, mac, tag FROM audit_anchor WHERE id = 1",
	[Q_HKEY_GET] = "SELECT type, alg, ops, current, created FROM hsm_keys WHERE name = ?1",
	[Q_HKEY_VERSION_GET] = "SELECT version, token_id, public_der, created FROM hsm_key_versions"
			       " WHERE name = ?1 AND version = ?2",
	[Q_HKEY_INSERT] = "INSERT INTO hsm_keys (name, type, alg, ops, current, created)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_HKEY_VERSION_INSERT] = "INSERT INTO hsm_key_versions (name, version, token_id,"
				  " public_der, created) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_HKEY_SET_CURRENT] = "UPDATE hsm_keys SET current = ?2 WHERE name = ?1",
	[Q_HKEY_LIST] = "SELECT name FROM hsm_keys ORDER BY name",
	[Q_HKEY_VERSION_LIST] = "SELECT version, token_id FROM hsm_key_versions WHERE name = ?1"
				" ORDER BY version",
	[Q_HKEY_DELETE_VERSIONS] = "DELETE FROM hsm_key_versions WHERE name = ?1",
	[Q_HKEY_DELETE] = "DELETE FROM hsm_keys WHERE name = ?1",
	[Q_ANCHOR_SET] = "UPDATE audit_anchor SET seq = ?1, mac = ?2, tag = ?3 WHERE id = 1"
			 " AND seq <= ?1",
};

/* The statements a read through the mount runs; store_check_plans holds them to indexes. */
static const enum query read_path[] = {
	Q_SECRET_BY_PATH,  Q_VERSION_GET, Q_VERSION_SIZE, Q_VERSION_LIST,
	Q_VERSION_META,	   Q_FOLDER_GET,  Q_KEY_GET,	  Q_LIST_LIVE,
	Q_LIST_DELETED,	   Q_TAG_GET,	  Q_TAG_LIST,	  Q_FOLDER_HAS_CHILDREN,
	Q_LIST_LIVE_BELOW, Q_EXPIRED,	  Q_HKEY_GET,	  Q_HKEY_VERSION_GET,
	Q_HKEY_VERSION_LIST, /* not Q_HKEY_LIST: it reads every key, in key order */
};

int store_rc_errno(int rc)
{
	int r;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		r = -EBUSY;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_SCHEMA:
		r = -EUCLEAN;
		break;
	case SQLITE_FULL:
		r = -ENOSPC;
		break;
	case SQLITE_NOMEM:
		r = -ENOMEM;
		break;
	case SQLITE_READONLY:
		r = -EROFS;
		break;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		r = -EACCES;
		break;
	case SQLITE_CANTOPEN:
		r = -ENOENT;
		break;
	case SQLITE_CONSTRAINT:
		r = -EEXIST;
		break;
	default:
		r = -EIO;
	}
	return r;
}

int store_sql_errno(struct store *s, int rc, const char *what)
{
	log_debug("sqlite: %s: %s (%d)", what,
		  s && store_db(s) ? sqlite3_errmsg(store_db(s)) : sqlite3_errstr(rc), rc);
	return store_rc_errno(rc);
}

int store_stmt(struct store *s, enum query q, sqlite3_stmt **ret)
{
	struct conn *c = pthread_getspecific(s->conn_key);
	int rc;

	if (!c->stmts[q]) {
		rc = sqlite3_prepare_v3(c->db, query_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
					&c->stmts[q], NULL);
		if (rc != SQLITE_OK)
			return store_sql_errno(s, rc, query_sql[q]);
	}
	*ret = c->stmts[q];
	return 0;
}

void store_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows. */
int store_step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	store_done(st);
	if (rc != SQLITE_DONE)
		return store_sql_errno(s, rc, sqlite3_sql(st));
	return 0;
}

int store_exec(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(store_db(s), sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_sql_errno(s, rc, sql);
}

int store_tx_begin(struct store *s)
{
	return store_exec(s, "BEGIN IMMEDIATE");
}

void store_tx_made_version(struct store *s, uint64_t version)
{
	struct conn *c = pthread_getspecific(s->conn_key);

	if (c)
		c->tx_version = version;
}

/* The stored anchor, read inside the caller's transaction (or as one statement). */
static int anchor_read(struct store *s, struct store_anchor *ret)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, Q_ANCHOR_GET, &st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == STORE_ANCHOR_MAC_LEN) {
		memset(ret, 0, sizeof(*ret));
		ret->seq = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(ret->mac, sqlite3_column_blob(st, 1), STORE_ANCHOR_MAC_LEN);
		/* a tag of another length is no tag: the caller finds the head untagged */
		ret->tagged = sqlite3_column_bytes(st, 2) == STORE_ANCHOR_MAC_LEN;
		if (ret->tagged)
			memcpy(ret->tag, sqlite3_column_blob(st, 2), STORE_ANCHOR_MAC_LEN);
		r = 0;
	} else {
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? -EUCLEAN
							  : store_sql_errno(s, rc, "audit anchor");
	}
	store_done(st);
	return r;
}

/* Stores the anchor (never an older seq) inside the caller's transaction. */
static int anchor_write(struct store *s, const struct store_anchor *a)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = store_stmt(s, Q_ANCHOR_SET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)a->seq);
	sqlite3_bind_blob(st, 2, a->mac, STORE_ANCHOR_MAC_LEN, SQLITE_STATIC);
	if (a->tagged)
		sqlite3_bind_blob(st, 3, a->tag, STORE_ANCHOR_MAC_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	return store_step_done(s, st);
}

int store_tx_end(struct store *s, int r)
{
	struct conn *c = pthread_getspecific(s->conn_key);
	store_commit_fn fn = c ? c->on_commit : NULL;

	if (c) {
		c->on_commit = NULL;
		if (r >= 0 && fn) {
			struct store_anchor cur, next;
			int h = anchor_read(s, &cur);

			if (h >= 0)
				h = fn(c->on_commit_data, c->tx_version, &cur, &next);
			if (h > 0)
				h = anchor_write(s, &next);
			if (h < 0)
				r = h;
		}
		c->tx_version = 0;
	}
	if (r < 0) {
		(void)store_exec(s, "ROLLBACK");
		return r;
	}
	{
		int rc = store_exec(s, "COMMIT");

		if (rc < 0) {
			(void)store_exec(s, "ROLLBACK");
			return rc;
		}
	}
	return r;
}

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
	uint8_t stamp[STORE_STAMP_LEN], *sealed = NULL;
	sqlite3_stmt *st = NULL;
	size_t sealed_len;
	int64_t key_id;
	struct row row;
	int r, rc, stamped;

	if (store_cache_get(s->cache, path, &row, &key_id, &sealed, &sealed_len) == 0) {
		if (row.deleted)
			r = -ENOENT;
		else if (!row.enabled)
			r = -EACCES;
		else
			r = store_open_sealed(s, path, key_id, row.current, sealed, sealed_len,
					      ret_value);
		free(sealed);
		if (r >= 0 || r == -EACCES)
			*ret_row = row;
		return r;
	}
	stamped = store_cache_stamp(s->cache, stamp) == 0;
	r = store_stmt(s, Q_SECRET_CURRENT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_row(st, &row);
		if (stamped)
			store_cache_put(s->cache, stamp, path, &row, sqlite3_column_int64(st, 10),
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
		if (r >= 0 || r == -EACCES)
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

static int datakey_get_locked(struct store *s, int64_t id, const struct secbuf **ret);

/* Data keys are unwrapped once and kept: every thread shares them. */
int store_datakey_get(struct store *s, int64_t id, const struct secbuf **ret)
{
	int r = -ENOKEY;

	/* Readers share the lock; a key is unwrapped under the write lock, once. */
	pthread_rwlock_rdlock(&s->keys_lock);
	for (size_t i = 0; i < s->n_keys; i++)
		if (s->keys[i].id == id) {
			*ret = s->keys[i].key;
			r = 0;
			break;
		}
	pthread_rwlock_unlock(&s->keys_lock);
	if (r == 0)
		return 0;
	pthread_rwlock_wrlock(&s->keys_lock);
	r = datakey_get_locked(s, id, ret);
	pthread_rwlock_unlock(&s->keys_lock);
	return r;
}

static int datakey_get_locked(struct store *s, int64_t id, const struct secbuf **ret)
{
	struct datakey *keys;
	struct secbuf *key = NULL;
	sqlite3_stmt *st = NULL;
	int r, rc;

	for (size_t i = 0; i < s->n_keys; i++)
		if (s->keys[i].id == id) {
			*ret = s->keys[i].key;
			return 0;
		}
	r = store_stmt(s, Q_KEY_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = hsm_datakey_unwrap(s->hsm, s->kek, sqlite3_column_blob(st, 0),
				       (size_t)sqlite3_column_bytes(st, 0), &key);
	else if (rc == SQLITE_DONE)
		r = -EUCLEAN; /* a version names a data key that is not there */
	else
		r = store_sql_errno(s, rc, "data key lookup");
	store_done(st);
	if (r < 0)
		return r;
	keys = realloc(s->keys, (s->n_keys + 1) * sizeof(*keys));
	if (!keys) {
		secbuf_free(key);
		return -ENOMEM;
	}
	s->keys = keys;
	s->keys[s->n_keys].id = id;
	s->keys[s->n_keys].key = key;
	s->n_keys++;
	*ret = key;
	return 0;
}

int store_datakey_current(struct store *s, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, Q_KEY_CURRENT, &st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
		*ret = sqlite3_column_int64(st, 0);
		r = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		r = -EUCLEAN;
	} else {
		r = store_sql_errno(s, rc, "current data key");
	}
	store_done(st);
	return r;
}

static int datakey_add(struct store *s, int64_t now)
{
	struct secbuf *key = NULL;
	uint8_t *wrapped = NULL;
	size_t wrapped_len;
	sqlite3_stmt *st = NULL;
	int r;

	r = hsm_datakey_new(s->hsm, s->kek, &key, &wrapped, &wrapped_len);
	if (r < 0)
		return r;
	r = store_stmt(s, Q_KEY_INSERT, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_blob(st, 1, wrapped, (int)wrapped_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	r = store_step_done(s, st);
	if (r < 0)
		goto out;
	r = 0;
out:
	secbuf_free(key); /* unwrapped again on first use, as on any later open */
	free(wrapped);
	return r;
}

int store_value_aad(struct store *s, int64_t key_id, uint64_t version, const char *path,
		    uint8_t *buf, size_t len)
{
	return crypto_value_aad(s->vault_id, (uint32_t)key_id, version, path, buf, len);
}

/* Opens version @version of secret @row at @path into a new secbuf. */
int store_version_open(struct store *s, const char *path, int64_t secret_id, uint64_t version,
		       struct secbuf **ret)
{
	sqlite3_stmt *st = NULL;
	int64_t key_id;
	int r, rc;

	r = store_stmt(s, Q_VERSION_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, secret_id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_errno(s, rc, "version lookup");
		goto out;
	}
	key_id = sqlite3_column_int64(st, 0);
	r = store_open_sealed(s, path, key_id, version, sqlite3_column_blob(st, 1),
			      (size_t)sqlite3_column_bytes(st, 1), ret);
out:
	store_done(st);
	return r;
}

int store_open_sealed(struct store *s, const char *path, int64_t key_id, uint64_t version,
		      const void *sealed, size_t sealed_len, struct secbuf **ret)
{
	uint8_t aad[NAME_PATH_MAX + 64];
	const struct secbuf *key;
	int aad_len, r;

	r = store_datakey_get(s, key_id, &key);
	if (r < 0)
		return r;
	aad_len = store_value_aad(s, key_id, version, path, aad, sizeof(aad));
	if (aad_len < 0)
		return aad_len;
	return crypto_open(key, aad, (size_t)aad_len, sealed, sealed_len, ret);
}

int store_version_size(struct store *s, int64_t secret_id, uint64_t version, uint64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, Q_VERSION_SIZE, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, secret_id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = (uint64_t)sqlite3_column_int64(st, 0);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -EUCLEAN : store_sql_errno(s, rc, "version size");
	}
	store_done(st);
	return r;
}

static int check_schema(struct store *s, int64_t *ret_version)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(store_db(s), "SELECT version FROM schema_version", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = store_sql_errno(s, rc, "schema version");
		/* A readable database without our table is not a vault database. */
		return r == -EIO ? -EUCLEAN : r;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_version = sqlite3_column_int64(st, 0);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -EUCLEAN : store_sql_errno(s, rc, "schema version");
	}
	sqlite3_finalize(st);
	return r;
}

static int migrate(struct store *s, int64_t from)
{
	int64_t n = (int64_t)(sizeof(migrations) / sizeof(migrations[0]));
	char sql[64];
	int r;

	if (from > n)
		return -EPROTO;
	for (int64_t v = from; v < n; v++) {
		r = store_tx_begin(s);
		if (r < 0)
			return r;
		r = store_exec(s, migrations[v]);
		if (r >= 0) {
			snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %" PRId64,
				 v + 1);
			r = store_exec(s, sql);
		}
		r = store_tx_end(s, r);
		if (r < 0)
			return r;
	}
	return 0;
}

static int meta_vault_id(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(store_db(s), "SELECT value FROM meta WHERE name = 'vault_id'", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return store_sql_errno(s, rc, "vault id");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == CRYPTO_VAULT_ID_LEN) {
		memcpy(s->vault_id, sqlite3_column_blob(st, 0), CRYPTO_VAULT_ID_LEN);
		r = 0;
	} else {
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? -EUCLEAN
							  : store_sql_errno(s, rc, "vault id");
	}
	sqlite3_finalize(st);
	return r;
}

/* Each vault has its own key-encryption key, so several vaults can share one token. */
static void kek_label_for(const uint8_t id[CRYPTO_VAULT_ID_LEN], char *buf)
{
	snprintf(buf, HSM_TOKEN_LABEL_MAX + 1, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", HSM_KEK_LABEL,
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
}

void store_free(struct store *s)
{
	if (!s)
		return;
	if (s->conns || s->db_path) {
		pthread_setspecific(s->conn_key, NULL);
		pthread_key_delete(s->conn_key);
	}
	while (s->conns) {
		struct conn *next = s->conns->next;

		store_conn_close(s->conns);
		s->conns = next;
	}
	store_cache_free(s->cache);
	store_key_cache_free(s);
	pthread_mutex_destroy(&s->key_cache_lock);
	for (size_t i = 0; i < s->n_keys; i++)
		secbuf_free(s->keys[i].key);
	free(s->keys);
	free(s->db_path);
	pthread_mutex_destroy(&s->conns_lock);
	pthread_rwlock_destroy(&s->keys_lock);
	free(s);
}

static int store_alloc(const char *db_path, struct hsm *hsm, const struct store_options *opt,
		       int flags, struct store **ret)
{
	struct store *s;
	int r;

	/* Memory statistics take a global mutex on every allocation; nothing here reads
	 * them. Effective only before SQLite's first use in the process. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->conns_lock, NULL);
	pthread_mutex_init(&s->key_cache_lock, NULL);
	pthread_rwlock_init(&s->keys_lock, NULL);
	s->hsm = hsm;
	s->opt = *opt;
	s->db_path = strdup(db_path);
	if (!s->db_path || pthread_key_create(&s->conn_key, store_conn_destroy) != 0) {
		free(s->db_path);
		s->db_path = NULL;
		store_free(s);
		return -ENOMEM;
	}
	r = store_conn_open(s, flags);
	if (r < 0) {
		store_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int store_create(const char *db_path, struct hsm *hsm, const struct store_options *opt)
{
	struct store *s = NULL;
	uint8_t id[CRYPTO_VAULT_ID_LEN];
	char label[HSM_TOKEN_LABEL_MAX + 1];
	sqlite3_stmt *st = NULL;
	int64_t now = time_now_us();
	int r, rc;

	if (access(db_path, F_OK) == 0)
		return -EEXIST;
	r = store_alloc(db_path, hsm, opt, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s);
	if (r < 0)
		return r;
	r = store_exec(s, "PRAGMA journal_mode = WAL");
	if (r < 0)
		goto out;
	r = migrate(s, 0);
	if (r < 0)
		goto out;
	r = crypto_random(id, sizeof(id));
	if (r < 0)
		goto out;
	kek_label_for(id, label);
	r = hsm_kek_create(hsm, label, &s->kek);
	if (r < 0)
		goto out;
	r = store_tx_begin(s);
	if (r < 0)
		goto out;
	rc = sqlite3_prepare_v2(store_db(s),
				"INSERT INTO meta (name, value) VALUES ('vault_id', ?1)", -1, &st,
				NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_blob(st, 1, id, sizeof(id), SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	r = rc == SQLITE_DONE ? 0 : store_sql_errno(s, rc, "vault id");
	if (r >= 0)
		r = datakey_add(s, now);
	r = store_tx_end(s, r);
	if (r < 0)
		goto out;
	r = 0;
out:
	sqlite3_finalize(st);
	store_free(s);
	return r;
}

int store_open(const char *db_path, struct hsm *hsm, const struct store_options *opt,
	       struct store **ret)
{
	struct store *s = NULL;
	int64_t version = 0, key_id = 0;
	int r;

	if (access(db_path, F_OK) != 0)
		return -errno;
	r = store_alloc(db_path, hsm, opt, SQLITE_OPEN_READWRITE, &s);
	if (r < 0)
		return r;
	r = check_schema(s, &version);
	if (r < 0)
		goto fail;
	if (version > (int64_t)(sizeof(migrations) / sizeof(migrations[0]))) {
		r = -EPROTO;
		goto fail;
	}
	r = migrate(s, version);
	if (r < 0)
		goto fail;
	r = meta_vault_id(s);
	if (r < 0)
		goto fail;
	{
		char label[HSM_TOKEN_LABEL_MAX + 1];

		kek_label_for(s->vault_id, label);
		r = hsm_key_find(hsm, label, &s->kek);
	}
	if (r < 0)
		goto fail;
	/* Unwrap the current data key now, so that a wrong token fails here, not at a read. */
	r = store_datakey_current(s, &key_id);
	if (r < 0)
		goto fail;
	{
		const struct secbuf *key;

		r = store_datakey_get(s, key_id, &key);
		if (r < 0)
			goto fail;
	}
	r = opt->no_read_cache ? 0 : store_cache_new(db_path, &s->cache);
	if (r < 0)
		log_debug("no read cache for \"%s\": %s", db_path, strerror(-r));
	*ret = s;
	return 0;
fail:
	store_free(s);
	return r;
}

const uint8_t *store_vault_id(const struct store *s)
{
	return s->vault_id;
}

void store_on_commit(struct store *s, store_commit_fn fn, void *userdata)
{
	struct conn *c;

	if (store_enter(s) < 0)
		return; /* the store call that follows fails the same way, before any commit */
	c = pthread_getspecific(s->conn_key);
	c->on_commit = fn;
	c->on_commit_data = userdata;
	c->tx_version = 0;
}

int store_anchor_get(struct store *s, struct store_anchor *ret)
{
	int r;

	r = store_enter(s);
	if (r < 0)
		return r;
	return anchor_read(s, ret);
}

int store_anchor_update(struct store *s, store_commit_fn fn, void *userdata)
{
	int r;

	store_on_commit(s, fn, userdata);
	r = store_enter(s);
	if (r >= 0)
		r = store_tx_begin(s);
	if (r < 0) {
		store_on_commit(s, NULL, NULL);
		return r;
	}
	r = store_tx_end(s, 0);
	return r < 0 ? r : 0;
}

int store_check_plans(struct store *s, char *err, size_t errlen)
{
	int r = 0;

	r = store_enter(s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(read_path) / sizeof(read_path[0]) && r == 0; i++) {
		char sql[1024];
		sqlite3_stmt *st = NULL;
		int rc;

		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", query_sql[read_path[i]]);
		rc = sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL);
		if (rc != SQLITE_OK) {
			r = store_sql_errno(s, rc, sql);
			break;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *detail = (const char *)sqlite3_column_text(st, 3);

			/* "SCAN t" reads a whole table; "SCAN t USING INDEX" and
			 * "SEARCH" do not. */
			if (detail && strncmp(detail, "SCAN ", 5) == 0 &&
			    !strstr(detail, "USING") && !strstr(detail, "CONSTANT")) {
				snprintf(err, errlen, "%s: %s", query_sql[read_path[i]], detail);
				r = -EXDEV;
				break;
			}
		}
		sqlite3_finalize(st);
	}
	return r;
}

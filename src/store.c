/*
 * store: secrets, versions and metadata in SQLite, values sealed under HSM-wrapped data
 * keys.
 *
 * One connection, guarded by store->lock, with every statement prepared once. Writes run
 * in BEGIN IMMEDIATE transactions, so a version is either wholly there or not at all, and
 * the WAL is synced at each commit (synchronous=FULL). Plaintext exists only in secbufs
 * for the length of one call; it never reaches SQLite, a log or an error message.
 *
 * SQLite result codes become errno here; the native message goes to the debug log.
 */
#include "store.h"

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

#define US_PER_DAY (86400LL * 1000000LL)

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
};

enum query {
	Q_SECRET_BY_PATH,
	Q_VERSION_GET,
	Q_VERSION_SIZE,
	Q_VERSION_LIST,
	Q_VERSION_INSERT,
	Q_SECRET_INSERT,
	Q_SECRET_SET_CURRENT,
	Q_SECRET_SET_DELETED,
	Q_FOLDER_GET,
	Q_FOLDER_INSERT,
	Q_FOLDER_DELETE,
	Q_FOLDER_HAS_CHILDREN,
	Q_KEY_GET,
	Q_KEY_CURRENT,
	Q_KEY_INSERT,
	Q_LIST_LIVE,
	Q_LIST_DELETED,
	Q_LIST_LIVE_BELOW,
	Q_LIST_DELETED_BELOW,
	Q_EXPIRED,
	Q_PURGE_VERSIONS,
	Q_PURGE_TAGS,
	Q_PURGE_SECRET,
	Q_TAG_GET,
	Q_TAG_LIST,
	Q_TAG_COUNT,
	Q_TAG_SET,
	Q_TAG_DELETE,
	Q_SET_CONTENT_TYPE,
	Q_SET_ENABLED,
	Q_SET_NOT_BEFORE,
	Q_SET_EXPIRES,
	Q__MAX,
};

static const char *const query_sql[Q__MAX] = {
	[Q_SECRET_BY_PATH] = "SELECT id, current, created, updated, deleted, enabled, not_before,"
			     " expires, content_type FROM secrets WHERE path = ?1",
	[Q_VERSION_GET] = "SELECT key_id, sealed FROM versions WHERE secret_id = ?1 AND version = ?2",
	[Q_VERSION_SIZE] = "SELECT size FROM versions WHERE secret_id = ?1 AND version = ?2",
	[Q_VERSION_LIST] = "SELECT version FROM versions WHERE secret_id = ?1 ORDER BY version",
	[Q_VERSION_INSERT] = "INSERT INTO versions (secret_id, version, created, size, key_id, sealed)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_SECRET_INSERT] = "INSERT INTO secrets (path, folder, name, current, created, updated)"
			    " VALUES (?1, ?2, ?3, 0, ?4, ?4)",
	[Q_SECRET_SET_CURRENT] = "UPDATE secrets SET current = ?2, updated = ?3 WHERE id = ?1",
	[Q_SECRET_SET_DELETED] = "UPDATE secrets SET deleted = ?2 WHERE id = ?1",
	[Q_FOLDER_GET] = "SELECT 1 FROM folders WHERE path = ?1",
	[Q_FOLDER_INSERT] = "INSERT INTO folders (path, parent, name, created) VALUES (?1, ?2, ?3, ?4)",
	[Q_FOLDER_DELETE] = "DELETE FROM folders WHERE path = ?1",
	[Q_FOLDER_HAS_CHILDREN] = "SELECT 1 FROM folders WHERE parent = ?1 UNION ALL"
				  " SELECT 1 FROM secrets WHERE folder = ?1 AND deleted IS NULL LIMIT 1",
	[Q_KEY_GET] = "SELECT wrapped FROM data_keys WHERE id = ?1",
	[Q_KEY_CURRENT] = "SELECT max(id) FROM data_keys",
	[Q_KEY_INSERT] = "INSERT INTO data_keys (wrapped, created) VALUES (?1, ?2)",
	[Q_LIST_LIVE] = "SELECT name, 1 FROM folders WHERE parent = ?1 UNION ALL"
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
};

/* The statements a read through the mount runs; store_check_plans holds them to indexes. */
static const enum query read_path[] = {
	Q_SECRET_BY_PATH, Q_VERSION_GET,	Q_VERSION_SIZE,	      Q_VERSION_LIST,
	Q_FOLDER_GET,	  Q_KEY_GET,		Q_LIST_LIVE,	      Q_LIST_DELETED,
	Q_TAG_GET,	  Q_TAG_LIST,		Q_FOLDER_HAS_CHILDREN, Q_LIST_LIVE_BELOW,
	Q_EXPIRED,
};

struct datakey {
	int64_t id;
	struct secbuf *key;
};

struct store {
	pthread_mutex_t lock;
	sqlite3 *db;		    /* protected by lock */
	sqlite3_stmt *stmts[Q__MAX]; /* protected by lock */
	struct datakey *keys;	    /* unwrapped data keys, protected by lock */
	size_t n_keys;
	struct hsm *hsm;
	CK_OBJECT_HANDLE kek;
	uint8_t vault_id[CRYPTO_VAULT_ID_LEN];
	struct store_options opt;
};

/* A secret's row, as Q_SECRET_BY_PATH gives it. */
struct row {
	int64_t id;
	uint64_t current;
	int64_t created, updated, deleted, not_before, expires;
	int enabled;
	char content_type[STORE_CONTENT_TYPE_MAX + 1];
};

static int sql_errno(struct store *s, int rc, const char *what)
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
	log_debug("sqlite: %s: %s (%d)", what, s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc),
		  rc);
	return r;
}

static int stmt(struct store *s, enum query q, sqlite3_stmt **ret)
{
	int rc;

	if (!s->stmts[q]) {
		rc = sqlite3_prepare_v3(s->db, query_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
					&s->stmts[q], NULL);
		if (rc != SQLITE_OK)
			return sql_errno(s, rc, query_sql[q]);
	}
	*ret = s->stmts[q];
	return 0;
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows. */
static int step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	done(st);
	if (rc != SQLITE_DONE)
		return sql_errno(s, rc, sqlite3_sql(st));
	return 0;
}

static int exec(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_errno(s, rc, sql);
}

static int tx_begin(struct store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

static int tx_end(struct store *s, int r)
{
	if (r < 0) {
		(void)exec(s, "ROLLBACK");
		return r;
	}
	{
		int c = exec(s, "COMMIT");

		if (c < 0) {
			(void)exec(s, "ROLLBACK");
			return c;
		}
	}
	return r;
}

static void split_path(const char *path, char *folder, size_t folder_len, const char **ret_name)
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

static int get_row(struct store *s, const char *path, struct row *ret)
{
	sqlite3_stmt *st;
	int r, rc;

	r = stmt(s, Q_SECRET_BY_PATH, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *ct = sqlite3_column_text(st, 8);

		ret->id = sqlite3_column_int64(st, 0);
		ret->current = (uint64_t)sqlite3_column_int64(st, 1);
		ret->created = sqlite3_column_int64(st, 2);
		ret->updated = sqlite3_column_int64(st, 3);
		ret->deleted = sqlite3_column_int64(st, 4);
		ret->enabled = sqlite3_column_int(st, 5);
		ret->not_before = sqlite3_column_int64(st, 6);
		ret->expires = sqlite3_column_int64(st, 7);
		snprintf(ret->content_type, sizeof(ret->content_type), "%s",
			 ct ? (const char *)ct : "");
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = sql_errno(s, rc, "secret lookup");
	}
	done(st);
	return r;
}

/* The row for @path in state @which: -ENOENT if there is none in that state. */
static int get_row_which(struct store *s, const char *path, enum store_which which,
			 struct row *ret)
{
	struct row row;
	int r = get_row(s, path, &row);

	if (r < 0)
		return r;
	if ((which == STORE_LIVE) != (row.deleted == 0))
		return -ENOENT;
	*ret = row;
	return 0;
}

static int folder_exists(struct store *s, const char *path)
{
	sqlite3_stmt *st;
	int r, rc;

	if (path[0] == '\0')
		return 1;
	r = stmt(s, Q_FOLDER_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	done(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sql_errno(s, rc, "folder lookup");
}

static int folder_insert(struct store *s, const char *path, int64_t now)
{
	char parent[NAME_PATH_MAX];
	const char *name;
	sqlite3_stmt *st;
	int r;

	split_path(path, parent, sizeof(parent), &name);
	r = stmt(s, Q_FOLDER_INSERT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	return step_done(s, st);
}

/*
 * Checks the folders above @path: each must exist (or, with @mkdirs, is made) and none may
 * be a live secret. Runs inside the caller's transaction.
 */
static int ensure_parents(struct store *s, const char *path, int mkdirs, int64_t now)
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
		r = folder_exists(s, prefix);
		if (r < 0)
			return r;
		if (r == 0) {
			r = get_row_which(s, prefix, STORE_LIVE, &row);
			if (r == 0)
				return -ENOTDIR;
			if (r != -ENOENT)
				return r;
			if (!mkdirs)
				return -ENOENT;
			r = folder_insert(s, prefix, now);
			if (r < 0)
				return r;
		}
		p = slash + 1;
	}
}

static int datakey_get(struct store *s, int64_t id, const struct secbuf **ret)
{
	struct datakey *keys;
	struct secbuf *key = NULL;
	sqlite3_stmt *st;
	int r, rc;

	for (size_t i = 0; i < s->n_keys; i++)
		if (s->keys[i].id == id) {
			*ret = s->keys[i].key;
			return 0;
		}
	r = stmt(s, Q_KEY_GET, &st);
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
		r = sql_errno(s, rc, "data key lookup");
	done(st);
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

static int datakey_current(struct store *s, int64_t *ret)
{
	sqlite3_stmt *st;
	int r, rc;

	r = stmt(s, Q_KEY_CURRENT, &st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
		*ret = sqlite3_column_int64(st, 0);
		r = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		r = -EUCLEAN;
	} else {
		r = sql_errno(s, rc, "current data key");
	}
	done(st);
	return r;
}

static int datakey_add(struct store *s, int64_t now)
{
	struct secbuf *key = NULL;
	uint8_t *wrapped = NULL;
	size_t wrapped_len;
	sqlite3_stmt *st;
	int r;

	r = hsm_datakey_new(s->hsm, s->kek, &key, &wrapped, &wrapped_len);
	if (r < 0)
		return r;
	r = stmt(s, Q_KEY_INSERT, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_blob(st, 1, wrapped, (int)wrapped_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	r = step_done(s, st);
	if (r < 0)
		goto out;
	r = 0;
out:
	secbuf_free(key); /* unwrapped again on first use, as on any later open */
	free(wrapped);
	return r;
}

static int value_aad(struct store *s, int64_t key_id, uint64_t version, const char *path,
		     uint8_t *buf, size_t len)
{
	return crypto_value_aad(s->vault_id, (uint32_t)key_id, version, path, buf, len);
}

/* Opens version @version of secret @row at @path into a new secbuf. */
static int version_open(struct store *s, const char *path, int64_t secret_id, uint64_t version,
			struct secbuf **ret)
{
	uint8_t aad[NAME_PATH_MAX + 64];
	const struct secbuf *key;
	sqlite3_stmt *st;
	int64_t key_id;
	int aad_len, r, rc;

	r = stmt(s, Q_VERSION_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, secret_id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : sql_errno(s, rc, "version lookup");
		goto out;
	}
	key_id = sqlite3_column_int64(st, 0);
	r = datakey_get(s, key_id, &key);
	if (r < 0)
		goto out;
	aad_len = value_aad(s, key_id, version, path, aad, sizeof(aad));
	if (aad_len < 0) {
		r = aad_len;
		goto out;
	}
	r = crypto_open(key, aad, (size_t)aad_len, sqlite3_column_blob(st, 1),
			(size_t)sqlite3_column_bytes(st, 1), ret);
out:
	done(st);
	return r;
}

static int version_size(struct store *s, int64_t secret_id, uint64_t version, uint64_t *ret)
{
	sqlite3_stmt *st;
	int r, rc;

	r = stmt(s, Q_VERSION_SIZE, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, secret_id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = (uint64_t)sqlite3_column_int64(st, 0);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -EUCLEAN : sql_errno(s, rc, "version size");
	}
	done(st);
	return r;
}

static int check_schema(struct store *s, int64_t *ret_version)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = sql_errno(s, rc, "schema version");
		/* A readable database without our table is not a vault database. */
		return r == -EIO ? -EUCLEAN : r;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_version = sqlite3_column_int64(st, 0);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -EUCLEAN : sql_errno(s, rc, "schema version");
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
		r = tx_begin(s);
		if (r < 0)
			return r;
		r = exec(s, migrations[v]);
		if (r >= 0) {
			snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %" PRId64,
				 v + 1);
			r = exec(s, sql);
		}
		r = tx_end(s, r);
		if (r < 0)
			return r;
	}
	return 0;
}

static int meta_vault_id(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name = 'vault_id'", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return sql_errno(s, rc, "vault id");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == CRYPTO_VAULT_ID_LEN) {
		memcpy(s->vault_id, sqlite3_column_blob(st, 0), CRYPTO_VAULT_ID_LEN);
		r = 0;
	} else {
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? -EUCLEAN : sql_errno(s, rc, "vault id");
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

static void store_close_db(struct store *s)
{
	for (int i = 0; i < Q__MAX; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close_v2(s->db);
}

void store_free(struct store *s)
{
	if (!s)
		return;
	store_close_db(s);
	for (size_t i = 0; i < s->n_keys; i++)
		secbuf_free(s->keys[i].key);
	free(s->keys);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int store_alloc(const char *db_path, struct hsm *hsm, const struct store_options *opt,
		       int flags, struct store **ret)
{
	struct store *s;
	int rc, r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->hsm = hsm;
	s->opt = *opt;
	rc = sqlite3_open_v2(db_path, &s->db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		r = sql_errno(s, rc, "open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, (int)opt->busy_timeout_ms);
	/* secure_delete: purged pages are zeroed, not left in free space. */
	r = exec(s, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;"
		    " PRAGMA synchronous = FULL");
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	store_free(s);
	return r;
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
	r = exec(s, "PRAGMA journal_mode = WAL");
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
	r = tx_begin(s);
	if (r < 0)
		goto out;
	rc = sqlite3_prepare_v2(s->db, "INSERT INTO meta (name, value) VALUES ('vault_id', ?1)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_blob(st, 1, id, sizeof(id), SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	r = rc == SQLITE_DONE ? 0 : sql_errno(s, rc, "vault id");
	if (r >= 0)
		r = datakey_add(s, now);
	r = tx_end(s, r);
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
	int64_t version, key_id;
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
	r = datakey_current(s, &key_id);
	if (r < 0)
		goto fail;
	{
		const struct secbuf *key;

		r = datakey_get(s, key_id, &key);
		if (r < 0)
			goto fail;
	}
	*ret = s;
	return 0;
fail:
	store_free(s);
	return r;
}

int store_secret_stat(struct store *s, const char *path, enum store_which which,
		      struct store_stat *ret)
{
	struct row row;
	uint64_t size;
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = get_row_which(s, path, which, &row);
	if (r < 0)
		goto out;
	r = version_size(s, row.id, row.current, &size);
	if (r < 0)
		goto out;
	ret->version = row.current;
	ret->size = size;
	ret->created = row.created;
	ret->updated = row.updated;
	ret->deleted = row.deleted;
	ret->purge_at = row.deleted ? row.deleted + (int64_t)s->opt.retention_days * US_PER_DAY : 0;
	ret->enabled = row.enabled;
	ret->not_before = row.not_before;
	ret->expires = row.expires;
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_secret_get(struct store *s, const char *path, uint64_t version, int64_t now,
		     struct secbuf **ret_value, uint64_t *ret_version)
{
	struct row row;
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = get_row_which(s, path, STORE_LIVE, &row);
	if (r == -ENOENT && folder_exists(s, path) == 1)
		r = -EISDIR;
	if (r < 0)
		goto out;
	if (!row.enabled) {
		r = -EACCES;
		goto out;
	}
	if ((row.not_before && now < row.not_before) || (row.expires && now >= row.expires)) {
		r = -EKEYEXPIRED;
		goto out;
	}
	if (version == 0)
		version = row.current;
	if (version > row.current) {
		r = -ENOENT;
		goto out;
	}
	r = version_open(s, path, row.id, version, ret_value);
	if (r < 0)
		goto out;
	if (ret_version)
		*ret_version = version;
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Inside a transaction: adds @value as version @version of secret @id. */
static int version_add(struct store *s, const char *path, int64_t id, uint64_t version,
		       const struct secbuf *value, int64_t now)
{
	uint8_t aad[NAME_PATH_MAX + 64];
	const struct secbuf *key;
	uint8_t *sealed = NULL;
	size_t sealed_len;
	int64_t key_id;
	sqlite3_stmt *st;
	int aad_len, r;

	r = datakey_current(s, &key_id);
	if (r < 0)
		return r;
	r = datakey_get(s, key_id, &key);
	if (r < 0)
		return r;
	aad_len = value_aad(s, key_id, version, path, aad, sizeof(aad));
	if (aad_len < 0)
		return aad_len;
	r = crypto_seal(key, aad, (size_t)aad_len, value, &sealed, &sealed_len);
	if (r < 0)
		return r;
	r = stmt(s, Q_VERSION_INSERT, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, (int64_t)value->len);
	sqlite3_bind_int64(st, 5, key_id);
	sqlite3_bind_blob(st, 6, sealed, (int)sealed_len, SQLITE_STATIC);
	r = step_done(s, st);
	if (r < 0)
		goto out;
	r = stmt(s, Q_SECRET_SET_CURRENT, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	sqlite3_bind_int64(st, 3, now);
	r = step_done(s, st);
out:
	free(sealed);
	return r;
}

static int secret_insert(struct store *s, const char *path, int64_t now, int64_t *ret_id)
{
	char folder[NAME_PATH_MAX];
	const char *name;
	sqlite3_stmt *st;
	int r;

	split_path(path, folder, sizeof(folder), &name);
	r = stmt(s, Q_SECRET_INSERT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	r = step_done(s, st);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int put_locked(struct store *s, const char *path, const struct secbuf *value,
		      unsigned flags, int64_t now, uint64_t *ret_version)
{
	struct secbuf *current = NULL;
	struct row row;
	int64_t id;
	int r;

	r = get_row(s, path, &row);
	if (r == 0) {
		if (row.deleted || (flags & STORE_PUT_EXCL))
			return -EEXIST;
		r = version_open(s, path, row.id, row.current, &current);
		if (r < 0)
			return r;
		r = secbuf_equal(current, value);
		secbuf_free(current);
		if (r) {
			*ret_version = row.current;
			return 0;
		}
		id = row.id;
	} else if (r == -ENOENT) {
		r = folder_exists(s, path);
		if (r != 0)
			return r < 0 ? r : -EISDIR;
		r = ensure_parents(s, path, flags & STORE_PUT_MKDIRS, now);
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

int store_secret_put(struct store *s, const char *path, const struct secbuf *value,
		     unsigned flags, int64_t now, uint64_t *ret_version)
{
	uint64_t version = 0;
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	if (value->len > s->opt.max_secret_size)
		return -EFBIG;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r >= 0)
		r = tx_end(s, put_locked(s, path, value, flags, now, &version));
	pthread_mutex_unlock(&s->lock);
	if (r >= 0 && ret_version)
		*ret_version = version;
	return r;
}

int store_secret_versions(struct store *s, const char *path, enum store_which which,
			  uint64_t **ret, size_t *ret_count)
{
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	struct row row;
	int r, rc;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = get_row_which(s, path, which, &row);
	if (r < 0)
		goto out;
	r = stmt(s, Q_VERSION_LIST, &st);
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
				done(st);
				goto out;
			}
			v = nv;
		}
		v[n++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	done(st);
	if (rc != SQLITE_DONE) {
		r = sql_errno(s, rc, "version list");
		goto out;
	}
	*ret = v;
	*ret_count = n;
	v = NULL;
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	free(v);
	return r;
}

static int set_deleted(struct store *s, int64_t id, int64_t when)
{
	sqlite3_stmt *st;
	int r;

	r = stmt(s, Q_SECRET_SET_DELETED, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	if (when)
		sqlite3_bind_int64(st, 2, when);
	else
		sqlite3_bind_null(st, 2);
	return step_done(s, st);
}

int store_secret_delete(struct store *s, const char *path, int64_t now)
{
	struct row row;
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r < 0)
		goto out;
	r = get_row_which(s, path, STORE_LIVE, &row);
	if (r == -ENOENT && folder_exists(s, path) == 1)
		r = -EISDIR;
	if (r >= 0)
		r = set_deleted(s, row.id, now > 0 ? now : 1);
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_secret_recover(struct store *s, const char *path)
{
	struct row row;
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r < 0)
		goto out;
	r = get_row_which(s, path, STORE_DELETED, &row);
	if (r >= 0) {
		r = folder_exists(s, path);
		if (r > 0)
			r = -EEXIST;
	}
	if (r >= 0)
		r = ensure_parents(s, path, 1, time_now_us());
	if (r >= 0)
		r = set_deleted(s, row.id, 0);
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int purge_id(struct store *s, int64_t id)
{
	static const enum query steps[] = {Q_PURGE_VERSIONS, Q_PURGE_TAGS, Q_PURGE_SECRET};
	sqlite3_stmt *st;
	int r;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		r = stmt(s, steps[i], &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, id);
		r = step_done(s, st);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_secret_purge(struct store *s, const char *path)
{
	struct row row;
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r < 0)
		goto out;
	r = get_row_which(s, path, STORE_DELETED, &row);
	if (r >= 0)
		r = purge_id(s, row.id);
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_purge_expired(struct store *s, int64_t now, unsigned *ret_count)
{
	int64_t limit = now - (int64_t)s->opt.retention_days * US_PER_DAY;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int r, rc;

	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r < 0)
		goto out;
	r = stmt(s, Q_EXPIRED, &st);
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
	done(st);
	r = rc == SQLITE_DONE ? 0 : sql_errno(s, rc, "expired list");
	for (size_t i = 0; i < n && r >= 0; i++)
		r = purge_id(s, ids[i]);
end:
	r = tx_end(s, r);
	if (r >= 0 && ret_count)
		*ret_count = (unsigned)n;
out:
	pthread_mutex_unlock(&s->lock);
	free(ids);
	return r < 0 ? r : 0;
}

/* --- attributes --- */

static int tag_name_check(const char *name)
{
	return name_segment_check(name, strlen(name));
}

static char *fmt_time(int64_t us)
{
	char buf[TIME_RFC3339_MAX];

	time_format(us, 0, buf);
	return strdup(buf);
}

static int attr_get_locked(struct store *s, const char *path, enum store_which which,
			   const char *name, char **ret)
{
	char *v = NULL;
	struct row row;
	int r;

	r = get_row_which(s, path, which, &row);
	if (r < 0)
		return r;
	if (strcmp(name, "version") == 0) {
		if (asprintf(&v, "%" PRIu64, row.current) < 0)
			v = NULL;
	} else if (strcmp(name, "versions") == 0) {
		/* versions run 1..current with no gaps: versions are never removed one by one */
		size_t cap = (size_t)row.current * 21 + 1, off = 0;

		v = malloc(cap);
		if (v) {
			v[0] = '\0';
			for (uint64_t i = 1; i <= row.current; i++)
				off += (size_t)snprintf(v + off, cap - off, i > 1 ? " %" PRIu64 : "%" PRIu64, i);
		}
	} else if (strcmp(name, "created") == 0) {
		v = fmt_time(row.created);
	} else if (strcmp(name, "updated") == 0) {
		v = fmt_time(row.updated);
	} else if (strcmp(name, "content_type") == 0) {
		if (!row.content_type[0])
			return -ENODATA;
		v = strdup(row.content_type);
	} else if (strcmp(name, "enabled") == 0) {
		v = strdup(row.enabled ? "1" : "0");
	} else if (strcmp(name, "not_before") == 0 || strcmp(name, "expires") == 0) {
		int64_t t = name[0] == 'n' ? row.not_before : row.expires;

		if (!t)
			return -ENODATA;
		v = fmt_time(t);
	} else if (strncmp(name, "tag.", 4) == 0) {
		sqlite3_stmt *st;
		int rc;

		if (tag_name_check(name + 4) < 0)
			return -ENODATA;
		r = stmt(s, Q_TAG_GET, &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, row.id);
		sqlite3_bind_text(st, 2, name + 4, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			v = strdup((const char *)sqlite3_column_text(st, 0));
		done(st);
		if (rc == SQLITE_DONE)
			return -ENODATA;
		if (rc != SQLITE_ROW)
			return sql_errno(s, rc, "tag lookup");
	} else {
		return -ENODATA;
	}
	if (!v)
		return -ENOMEM;
	*ret = v;
	return 0;
}

int store_attr_get(struct store *s, const char *path, enum store_which which, const char *name,
		   char **ret_value)
{
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = attr_get_locked(s, path, which, name, ret_value);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int bind_update(struct store *s, enum query q, int64_t id, const char *text,
		       const int64_t *num)
{
	sqlite3_stmt *st;
	int r;

	r = stmt(s, q, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else if (num)
		sqlite3_bind_int64(st, 2, *num);
	else
		sqlite3_bind_null(st, 2);
	return step_done(s, st);
}

/* Attribute values are one line of text: they are printed by tools and logged in audits. */
static int has_control(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

static int is_read_only_attr(const char *name)
{
	return strcmp(name, "version") == 0 || strcmp(name, "versions") == 0 ||
	       strcmp(name, "created") == 0 || strcmp(name, "updated") == 0;
}

static int attr_set_locked(struct store *s, const char *path, const char *name,
			   const char *value)
{
	struct row row;
	int64_t t;
	int r;

	r = get_row_which(s, path, STORE_LIVE, &row);
	if (r < 0)
		return r;
	if (is_read_only_attr(name))
		return -EPERM;
	if (strcmp(name, "content_type") == 0) {
		if (strlen(value) > STORE_CONTENT_TYPE_MAX)
			return -ERANGE;
		if (has_control(value))
			return -EINVAL;
		return bind_update(s, Q_SET_CONTENT_TYPE, row.id, value, NULL);
	}
	if (strcmp(name, "enabled") == 0) {
		int64_t on;

		if (strcmp(value, "1") != 0 && strcmp(value, "0") != 0)
			return -EINVAL;
		on = value[0] == '1';
		return bind_update(s, Q_SET_ENABLED, row.id, NULL, &on);
	}
	if (strcmp(name, "not_before") == 0 || strcmp(name, "expires") == 0) {
		enum query q = name[0] == 'n' ? Q_SET_NOT_BEFORE : Q_SET_EXPIRES;

		if (!*value)
			return bind_update(s, q, row.id, NULL, NULL);
		if (time_parse(value, &t) < 0)
			return -EINVAL;
		if (t == 0)
			t = 1; /* 0 means unset */
		return bind_update(s, q, row.id, NULL, &t);
	}
	if (strncmp(name, "tag.", 4) == 0) {
		sqlite3_stmt *st;
		int rc;

		if (tag_name_check(name + 4) < 0)
			return -EINVAL;
		if (strlen(value) > STORE_TAG_VALUE_MAX)
			return -ERANGE;
		if (has_control(value))
			return -EINVAL;
		r = stmt(s, Q_TAG_GET, &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, row.id);
		sqlite3_bind_text(st, 2, name + 4, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		done(st);
		if (rc == SQLITE_DONE) {
			r = stmt(s, Q_TAG_COUNT, &st);
			if (r < 0)
				return r;
			sqlite3_bind_int64(st, 1, row.id);
			rc = sqlite3_step(st);
			t = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
			done(st);
			if (rc != SQLITE_ROW)
				return sql_errno(s, rc, "tag count");
			if (t >= STORE_TAGS_MAX)
				return -ENOSPC;
		} else if (rc != SQLITE_ROW) {
			return sql_errno(s, rc, "tag lookup");
		}
		r = stmt(s, Q_TAG_SET, &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, row.id);
		sqlite3_bind_text(st, 2, name + 4, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
		return step_done(s, st);
	}
	return -EOPNOTSUPP;
}

int store_attr_set(struct store *s, const char *path, const char *name, const char *value)
{
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r >= 0)
		r = tx_end(s, attr_set_locked(s, path, name, value));
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int attr_remove_locked(struct store *s, const char *path, const char *name)
{
	struct row row;
	char *old = NULL;
	int r;

	r = get_row_which(s, path, STORE_LIVE, &row);
	if (r < 0)
		return r;
	if (is_read_only_attr(name) || strcmp(name, "enabled") == 0)
		return -EPERM;
	r = attr_get_locked(s, path, STORE_LIVE, name, &old);
	if (r < 0)
		return r == -ENODATA && strncmp(name, "tag.", 4) != 0 &&
				       strcmp(name, "content_type") != 0 &&
				       strcmp(name, "not_before") != 0 && strcmp(name, "expires") != 0
			       ? -EOPNOTSUPP
			       : r;
	free(old);
	if (strncmp(name, "tag.", 4) == 0) {
		sqlite3_stmt *st;

		r = stmt(s, Q_TAG_DELETE, &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, row.id);
		sqlite3_bind_text(st, 2, name + 4, -1, SQLITE_STATIC);
		return step_done(s, st);
	}
	return attr_set_locked(s, path, name, "");
}

int store_attr_remove(struct store *s, const char *path, const char *name)
{
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r >= 0)
		r = tx_end(s, attr_remove_locked(s, path, name));
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int append_name(char **buf, size_t *len, size_t *cap, const char *name)
{
	size_t n = strlen(name) + 1;

	if (*len + n > *cap) {
		size_t ncap = (*cap ? *cap * 2 : 256) + n;
		char *nb = realloc(*buf, ncap);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, name, n);
	*len += n;
	return 0;
}

int store_attr_list(struct store *s, const char *path, enum store_which which, char **ret,
		    size_t *ret_len)
{
	static const char *const fixed[] = {"version", "versions",   "created", "updated",
					     "enabled", "content_type", "not_before", "expires"};
	char *buf = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st;
	struct row row;
	int r, rc;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = get_row_which(s, path, which, &row);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if ((strcmp(fixed[i], "content_type") == 0 && !row.content_type[0]) ||
		    (strcmp(fixed[i], "not_before") == 0 && !row.not_before) ||
		    (strcmp(fixed[i], "expires") == 0 && !row.expires))
			continue;
		r = append_name(&buf, &len, &cap, fixed[i]);
		if (r < 0)
			goto out;
	}
	r = stmt(s, Q_TAG_LIST, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, row.id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char tag[NAME_SEGMENT_MAX + 8];

		snprintf(tag, sizeof(tag), "tag.%s", (const char *)sqlite3_column_text(st, 0));
		r = append_name(&buf, &len, &cap, tag);
		if (r < 0)
			break;
	}
	done(st);
	if (r < 0)
		goto out;
	if (rc != SQLITE_DONE) {
		r = sql_errno(s, rc, "tag list");
		goto out;
	}
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	free(buf);
	return r;
}

/* --- folders and listing --- */

int store_folder_exists(struct store *s, const char *path)
{
	int r;

	if (path[0] && name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = folder_exists(s, path);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int folder_create_locked(struct store *s, const char *path, int64_t now)
{
	struct row row;
	int r;

	r = folder_exists(s, path);
	if (r != 0)
		return r < 0 ? r : -EEXIST;
	r = get_row_which(s, path, STORE_LIVE, &row);
	if (r == 0)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	r = ensure_parents(s, path, 0, now);
	if (r < 0)
		return r;
	return folder_insert(s, path, now);
}

int store_folder_create(struct store *s, const char *path, int64_t now)
{
	int r;

	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r >= 0)
		r = tx_end(s, folder_create_locked(s, path, now));
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int folder_remove_locked(struct store *s, const char *path)
{
	sqlite3_stmt *st;
	struct row row;
	int r, rc;

	r = folder_exists(s, path);
	if (r < 0)
		return r;
	if (r == 0)
		return get_row_which(s, path, STORE_LIVE, &row) == 0 ? -ENOTDIR : -ENOENT;
	r = stmt(s, Q_FOLDER_HAS_CHILDREN, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	done(st);
	if (rc == SQLITE_ROW)
		return -ENOTEMPTY;
	if (rc != SQLITE_DONE)
		return sql_errno(s, rc, "folder children");
	r = stmt(s, Q_FOLDER_DELETE, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	return step_done(s, st);
}

int store_folder_remove(struct store *s, const char *path)
{
	int r;

	if (path[0] == '\0')
		return -EBUSY;
	if (name_path_check(path) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r >= 0)
		r = tx_end(s, folder_remove_locked(s, path));
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Binds ?2 and ?3 to the range of paths below @folder. */
static void bind_below(sqlite3_stmt *st, const char *folder, char *lo, char *hi, size_t len)
{
	if (folder[0]) {
		snprintf(lo, len, "%s/", folder);
		snprintf(hi, len, "%s0", folder);
	} else {
		snprintf(lo, len, "%s", "");
		snprintf(hi, len, "%s", "\x7f");
	}
	sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
}

/*
 * The walk copies each name before calling back: @fn runs with the lock held, so it must
 * not call back into the store.
 */
static int list_locked(struct store *s, const char *folder, unsigned flags, store_list_fn fn,
		       void *userdata)
{
	char lo[NAME_PATH_MAX + 2], hi[NAME_PATH_MAX + 2];
	char last[NAME_SEGMENT_MAX + 1] = "";
	size_t skip = folder[0] ? strlen(folder) + 1 : 0;
	unsigned found = 0;
	sqlite3_stmt *st;
	enum query q;
	int r, rc;

	if (flags & STORE_LIST_RECURSIVE)
		q = flags & STORE_LIST_DELETED ? Q_LIST_DELETED_BELOW : Q_LIST_LIVE_BELOW;
	else
		q = flags & STORE_LIST_DELETED ? Q_LIST_DELETED : Q_LIST_LIVE;
	if (!(flags & STORE_LIST_DELETED)) {
		r = folder_exists(s, folder);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
	}
	r = stmt(s, q, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, folder, -1, SQLITE_STATIC);
	if (q != Q_LIST_LIVE)
		bind_below(st, folder, lo, hi, sizeof(lo));
	r = 0;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char seg[NAME_SEGMENT_MAX + 1];
		int is_folder = 0;

		found++;
		if (q == Q_LIST_LIVE) {
			is_folder = sqlite3_column_int(st, 1);
		} else if (q == Q_LIST_DELETED) {
			/* deleted secrets below: show the next segment, once */
			const char *rest = name + skip;
			const char *slash = strchr(rest, '/');

			snprintf(seg, sizeof(seg), "%.*s",
				 (int)(slash ? (size_t)(slash - rest) : strlen(rest)), rest);
			is_folder = slash != NULL;
			if (is_folder && strcmp(seg, last) == 0)
				continue;
			snprintf(last, sizeof(last), "%s", is_folder ? seg : "");
			name = seg;
		}
		r = fn(name, is_folder, userdata);
	}
	done(st);
	if (r != 0)
		return r;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sql_errno(s, rc, "list");
	if ((flags & STORE_LIST_DELETED) && !(flags & STORE_LIST_RECURSIVE) && folder[0] &&
	    !found)
		return -ENOENT;
	return 0;
}

int store_list(struct store *s, const char *folder, unsigned flags, store_list_fn fn,
	       void *userdata)
{
	int r;

	if (folder[0] && name_path_check(folder) < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = list_locked(s, folder, flags, fn, userdata);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_check_plans(struct store *s, char *err, size_t errlen)
{
	int r = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < sizeof(read_path) / sizeof(read_path[0]) && r == 0; i++) {
		char sql[1024];
		sqlite3_stmt *st = NULL;
		int rc;

		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", query_sql[read_path[i]]);
		rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
		if (rc != SQLITE_OK) {
			r = sql_errno(s, rc, sql);
			break;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *detail = (const char *)sqlite3_column_text(st, 3);

			/* "SCAN t" reads a whole table; "SCAN t USING INDEX" and
			 * "SEARCH" do not. */
			if (detail && strncmp(detail, "SCAN ", 5) == 0 && !strstr(detail, "USING") &&
			    !strstr(detail, "CONSTANT")) {
				snprintf(err, errlen, "%s: %s", query_sql[read_path[i]], detail);
				r = -EXDEV;
				break;
			}
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

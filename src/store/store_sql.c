/*
 * store_sql: the only place that speaks SQLite's C interface to the rest of the store —
 * one connection per thread, every statement prepared once from the table below,
 * transactions (BEGIN IMMEDIATE; the commit hook and the trail's head written with each
 * change), and SQLite's result codes as errno (the native message goes to the debug log).
 * It knows no secret, value or key.
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

#define COLS_CERT                                                                                  \
	"issuer, exportable, is_ca, reuse_key, renew_kind, renew_value, subject, sans,"            \
	" validity, type, current, pending, created, updated, deleted"

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
	[Q_HKEY_GET] = "SELECT type, alg, ops, current, created, deleted, rotate_every, expires"
		       " FROM hsm_keys WHERE name = ?1",
	[Q_HKEY_VERSION_GET] = "SELECT version, token_id, public_der, created FROM hsm_key_versions"
			       " WHERE name = ?1 AND version = ?2",
	[Q_HKEY_INSERT] = "INSERT INTO hsm_keys (name, type, alg, ops, current, created,"
			  " rotate_every, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_HKEY_VERSION_INSERT] = "INSERT INTO hsm_key_versions (name, version, token_id,"
				  " public_der, created) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_HKEY_SET_CURRENT] = "UPDATE hsm_keys SET current = ?2 WHERE name = ?1",
	[Q_HKEY_LIST] = "SELECT name FROM hsm_keys WHERE deleted IS NULL ORDER BY name",
	[Q_HKEY_LIST_DELETED] = "SELECT name FROM hsm_keys WHERE deleted IS NOT NULL ORDER BY name",
	[Q_HKEY_SET_DELETED] = "UPDATE hsm_keys SET deleted = ?2 WHERE name = ?1",
	[Q_HKEY_SET_LIFETIME] =
		"UPDATE hsm_keys SET rotate_every = ?2, expires = ?3 WHERE name = ?1",
	[Q_SECRET_EXPIRING] = "SELECT path, expires FROM secrets WHERE deleted IS NULL"
			      " AND expires IS NOT NULL AND expires <= ?1 ORDER BY path",
	[Q_WARNED_GET] = "SELECT day FROM lifetime_warned WHERE path = ?1",
	[Q_WARNED_SET] = "INSERT OR REPLACE INTO lifetime_warned (path, day) VALUES (?1, ?2)",
	[Q_WARNED_DELETE] = "DELETE FROM lifetime_warned WHERE path = ?1",
	[Q_HKEY_VERSION_LIST] = "SELECT version, token_id FROM hsm_key_versions WHERE name = ?1"
				" ORDER BY version",
	[Q_HKEY_DELETE_VERSIONS] = "DELETE FROM hsm_key_versions WHERE name = ?1",
	[Q_HKEY_DELETE] = "DELETE FROM hsm_keys WHERE name = ?1",
	[Q_ANCHOR_SET] = "UPDATE audit_anchor SET seq = ?1, mac = ?2, tag = ?3 WHERE id = 1"
			 " AND seq <= ?1",
	/* max() of no rows is NULL, which reads as 0: a name with no versions */
	[Q_HKEY_VERSION_MAX] = "SELECT max(version) FROM hsm_key_versions WHERE name = ?1",
	/* Certificates: each one's key is the hsm_keys row of the same name (the Q_HKEY_*
	 * statements above); store_certs.c reads the columns of Q_CERT_GET in this order. */
	[Q_CERT_GET] = "SELECT " COLS_CERT " FROM certs WHERE name = ?1",
	[Q_CERT_INSERT] = "INSERT INTO certs (name, " COLS_CERT ") VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
			  " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULL)",
	[Q_CERT_LIST] = "SELECT name FROM certs WHERE deleted IS NULL ORDER BY name",
	[Q_CERT_LIST_DELETED] = "SELECT name FROM certs WHERE deleted IS NOT NULL ORDER BY name",
	[Q_CERT_SET_CURRENT] = "UPDATE certs SET current = ?2, updated = ?3 WHERE name = ?1",
	[Q_CERT_SET_PENDING] = "UPDATE certs SET pending = ?2 WHERE name = ?1",
	[Q_CERT_SET_COMPLETED] =
		"UPDATE certs SET current = ?2, pending = 0, updated = ?3 WHERE name = ?1",
	[Q_CERT_SET_DELETED] = "UPDATE certs SET deleted = ?2 WHERE name = ?1",
	[Q_CERT_DELETE] = "DELETE FROM certs WHERE name = ?1",
	/* the lifetime engine's memory of warnings given on the certificate and its key */
	[Q_CERT_WARNED_DELETE] = "DELETE FROM lifetime_warned WHERE path IN ('certs/' || ?1,"
				 " 'keys/' || ?1, 'certs/' || ?1 || '@renew-failed')",
	[Q_CERT_VERSION_GET] = "SELECT version, key_version, cert, chain, csr, not_before,"
			       " not_after, serial, key_id, sealed, created FROM cert_versions"
			       " WHERE name = ?1 AND version = ?2",
	[Q_CERT_VERSION_INSERT] =
		"INSERT INTO cert_versions (name, version, key_version, cert, chain, csr,"
		" not_before, not_after, serial, key_id, sealed, created)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[Q_CERT_VERSION_COMPLETE] =
		"UPDATE cert_versions SET cert = ?3, chain = ?4, csr = NULL, not_before = ?5,"
		" not_after = ?6, serial = ?7 WHERE name = ?1 AND version = ?2",
	[Q_CERT_VERSION_MAX] = "SELECT max(version) FROM cert_versions WHERE name = ?1",
	[Q_CERT_DELETE_VERSIONS] = "DELETE FROM cert_versions WHERE name = ?1",
};

/* The statements a read through the mount runs; store_check_plans holds them to indexes. */
static const enum query read_path[] = {
	Q_SECRET_BY_PATH,    Q_VERSION_GET, Q_VERSION_SIZE,	Q_VERSION_LIST,
	Q_VERSION_META,	     Q_FOLDER_GET,  Q_KEY_GET,		Q_LIST_LIVE,
	Q_LIST_DELETED,	     Q_TAG_GET,	    Q_TAG_LIST,		Q_FOLDER_HAS_CHILDREN,
	Q_LIST_LIVE_BELOW,   Q_EXPIRED,	    Q_HKEY_GET,		Q_HKEY_VERSION_GET,
	Q_HKEY_VERSION_LIST, Q_CERT_GET,    Q_CERT_VERSION_GET,
	/* not Q_HKEY_LIST nor Q_CERT_LIST: they read every key or certificate, in name order */
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

/* Runs @q with @name as ?1 and, if @at, @when (NULL for 0) as ?2. */
static int run_name(struct store *s, enum query q, const char *name, int at, int64_t when)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = store_stmt(s, q, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (at && when)
		sqlite3_bind_int64(st, 2, when);
	else if (at)
		sqlite3_bind_null(st, 2);
	return store_step_done(s, st);
}

int store_run_name(struct store *s, enum query q, const char *name)
{
	return run_name(s, q, name, 0, 0);
}

int store_run_name_at(struct store *s, enum query q, const char *name, int64_t when)
{
	return run_name(s, q, name, 1, when);
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
	store_undo_fn armed = c ? c->on_undo : NULL, undo = NULL;
	void *data = c ? c->on_commit_data : NULL;
	int rc;

	if (c) {
		c->on_commit = NULL;
		c->on_undo = NULL;
		if (r >= 0 && fn) {
			struct store_anchor cur, next;
			int h = anchor_read(s, &cur);

			if (h >= 0) {
				undo = armed; /* the hook runs: what it did may need undoing */
				h = fn(data, c->tx_version, &cur, &next);
			}
			if (h > 0)
				h = anchor_write(s, &next);
			if (h < 0)
				r = h;
		}
		c->tx_version = 0;
	}
	if (r >= 0) {
		rc = store_exec(s, "COMMIT");
		if (rc >= 0)
			return r;
		r = rc;
	}
	/*
	 * Before ROLLBACK: the write lock is still ours, so no other change commits (and
	 * stores a head past the hook's record) before the undo hook has answered that record.
	 * A COMMIT that failed with SQLITE_FULL or an I/O error may have been rolled back by
	 * SQLite already (autocommit is then back on): the lock is gone before this call.
	 */
	if (undo)
		undo(data, r);
	(void)store_exec(s, "ROLLBACK");
	return r;
}

int store_on_commit_undo(struct store *s, store_commit_fn fn, store_undo_fn undo, void *userdata)
{
	struct conn *c;
	int r;

	r = store_enter(s);
	if (r < 0)
		return r;
	c = pthread_getspecific(s->conn_key);
	c->on_commit = fn;
	c->on_undo = undo;
	c->on_commit_data = userdata;
	c->tx_version = 0;
	return 0;
}

int store_on_commit(struct store *s, store_commit_fn fn, void *userdata)
{
	return store_on_commit_undo(s, fn, NULL, userdata);
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

	r = store_on_commit(s, fn, userdata);
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

#include <errno.h>
#include <stdlib.h>

#include "log.h"

void store_conn_close(struct conn *c)
{
	for (int i = 0; i < Q__MAX; i++)
		sqlite3_finalize(c->stmts[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

/* A thread that exits closes its connection. */
void store_conn_destroy(void *p)
{
	struct conn *c = p;
	struct store *s = c->s;

	pthread_mutex_lock(&s->conns_lock);
	for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&s->conns_lock);
	store_conn_close(c);
}

int store_conn_open(struct store *s, int flags)
{
	struct conn *c = calloc(1, sizeof(*c));
	int rc, r;

	if (!c)
		return -ENOMEM;
	c->s = s;
	rc = sqlite3_open_v2(s->db_path, &c->db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		r = store_rc_errno(rc);
		log_debug("sqlite: open \"%s\": %s", s->db_path,
			  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close_v2(c->db);
		free(c);
		return r;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, (int)s->opt.busy_timeout_ms);
	/* The -wal and -shm files stay when the last connection closes (the WAL cut to
	 * nothing, journal_size_limit): a later open, on a disk that filled up meanwhile,
	 * finds the shared memory already allocated and can still read. */
	(void)sqlite3_file_control(c->db, "main", SQLITE_FCNTL_PERSIST_WAL, &(int){ 1 });
	/* secure_delete: purged pages are zeroed, not left in free space. */
	rc = sqlite3_exec(c->db,
			  "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;"
			  " PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 1048576",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK || pthread_setspecific(s->conn_key, c) != 0) {
		log_debug("sqlite: settings: %s", sqlite3_errmsg(c->db));
		store_conn_close(c);
		return rc == SQLITE_OK ? -ENOMEM : store_rc_errno(rc);
	}
	pthread_mutex_lock(&s->conns_lock);
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->conns_lock);
	return 0;
}

int store_enter(struct store *s)
{
	if (pthread_getspecific(s->conn_key))
		return 0;
	return store_conn_open(s, SQLITE_OPEN_READWRITE);
}

/* The checks of the four below: -EINVAL unless @valid, then store_enter and, with @write,
 * BEGIN IMMEDIATE. */
static int enter_checked(struct store *s, int valid, int write)
{
	int r;

	if (!valid)
		return -EINVAL;
	r = store_enter(s);
	return r < 0 || !write ? r : store_tx_begin(s);
}

int store_enter_path(struct store *s, const char *path)
{
	return enter_checked(s, name_path_check(path) >= 0, 0);
}

int store_enter_write(struct store *s, const char *path)
{
	return enter_checked(s, name_path_check(path) >= 0, 1);
}

int store_enter_name(struct store *s, const char *name)
{
	return enter_checked(s, name_single_check(name) >= 0, 0);
}

int store_enter_write_name(struct store *s, const char *name)
{
	return enter_checked(s, name_single_check(name) >= 0, 1);
}

sqlite3 *store_db(struct store *s)
{
	struct conn *c = pthread_getspecific(s->conn_key);

	return c ? c->db : NULL;
}

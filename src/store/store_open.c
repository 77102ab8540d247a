/*
 * store_open: a vault database made, opened and closed — its schema and the migrations
 * that bring an older one up to date, its vault id, and the key-encryption key looked up
 * in the token (by a label made of the vault id), with the current data key unwrapped at
 * once so that a wrong token fails here and not at a read.
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
	/* 4 -> 5: key lifetimes and soft delete (NULL: none, live), and the day each object
	 * was last warned of its expiry, so that a warning is recorded once a day */
	"ALTER TABLE hsm_keys ADD COLUMN deleted INTEGER;"
	"ALTER TABLE hsm_keys ADD COLUMN rotate_every INTEGER;"
	"ALTER TABLE hsm_keys ADD COLUMN expires INTEGER;"
	"CREATE TABLE lifetime_warned (path TEXT PRIMARY KEY, day INTEGER NOT NULL) WITHOUT ROWID;",
	/* 5 -> 6, the certificates' migration: each certificate (its key is the hsm_keys row of the
	 * same name) with what a renewal repeats, and its versions: the key version each
	 * uses, the DER of the leaf, its chain (certificates end to end) and, while pending,
	 * its request; an exportable one's PKCS#8 key sealed as a secret's value is */
	"CREATE TABLE certs (name TEXT PRIMARY KEY, issuer TEXT NOT NULL,"
	"  exportable INTEGER NOT NULL, is_ca INTEGER NOT NULL, reuse_key INTEGER NOT NULL,"
	"  renew_kind INTEGER NOT NULL, renew_value INTEGER NOT NULL, subject TEXT NOT NULL,"
	"  sans TEXT NOT NULL, validity INTEGER NOT NULL, type TEXT NOT NULL,"
	"  current INTEGER NOT NULL, pending INTEGER NOT NULL, created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL, deleted INTEGER) WITHOUT ROWID;"
	"CREATE TABLE cert_versions (name TEXT NOT NULL REFERENCES certs (name),"
	"  version INTEGER NOT NULL, key_version INTEGER NOT NULL, cert BLOB, chain BLOB,"
	"  csr BLOB, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,"
	"  serial TEXT NOT NULL, key_id INTEGER REFERENCES data_keys (id), sealed BLOB,"
	"  created INTEGER NOT NULL, PRIMARY KEY (name, version)) WITHOUT ROWID;",
};

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
	store_stamper_free(s->stamper); /* after the connections: see struct store_stamper */
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
		r = store_datakey_add(s, now);
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
	r = store_stamper_open(db_path, &s->stamper);
	if (r >= 0 && !opt->no_read_cache)
		r = store_cache_new(&s->cache);
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

/*
 * store_internal: what the store's files share and nothing outside src/store*.c may use —
 * the store's state, its prepared statements, and helpers that run on the calling thread's
 * connection (inside the caller's transaction where they write).
 */
#ifndef VAULTFS_STORE_INTERNAL_H
#define VAULTFS_STORE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "crypto.h"
#include "names.h"
#include "store.h"

#define US_PER_DAY (86400LL * 1000000LL)

enum query {
	Q_SECRET_BY_PATH,
	Q_SECRET_CURRENT,
	Q_VERSION_GET,
	Q_VERSION_SIZE,
	Q_VERSION_META,
	Q_VERSION_RESEAL,
	Q_SECRET_MOVE,
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
	Q_ANCHOR_GET,
	Q_ANCHOR_SET,
	Q_HKEY_GET,
	Q_HKEY_VERSION_GET,
	Q_HKEY_INSERT,
	Q_HKEY_VERSION_INSERT,
	Q_HKEY_SET_CURRENT,
	Q_HKEY_LIST,
	Q_HKEY_VERSION_LIST,
	Q_HKEY_DELETE_VERSIONS,
	Q_HKEY_DELETE,
	Q_HKEY_LIST_DELETED,
	Q_HKEY_SET_DELETED,
	Q_HKEY_SET_LIFETIME,
	Q_SECRET_EXPIRING,
	Q_WARNED_GET,
	Q_WARNED_SET,
	Q_WARNED_DELETE,
	Q_HKEY_VERSION_MAX,
	Q_CERT_GET,
	Q_CERT_INSERT,
	Q_CERT_LIST,
	Q_CERT_LIST_DELETED,
	Q_CERT_SET_CURRENT,
	Q_CERT_SET_PENDING,
	Q_CERT_SET_COMPLETED,
	Q_CERT_SET_DELETED,
	Q_CERT_DELETE,
	Q_CERT_WARNED_DELETE,
	Q_CERT_VERSION_GET,
	Q_CERT_VERSION_INSERT,
	Q_CERT_VERSION_COMPLETE,
	Q_CERT_VERSION_MAX,
	Q_CERT_DELETE_VERSIONS,
	Q__MAX,
};

struct datakey {
	int64_t id;
	struct secbuf *key;
};

/* One thread's connection: SQLite connections and statements are not shared between
 * threads (SQLITE_OPEN_NOMUTEX), so readers in WAL mode never wait for one another. */
struct conn {
	struct store *s;
	sqlite3 *db;
	sqlite3_stmt *stmts[Q__MAX];
	store_commit_fn on_commit; /* for this thread's next write transaction */
	store_undo_fn on_undo; /* for it too, if it does not commit after on_commit ran */
	void *on_commit_data;
	uint64_t tx_version; /* the version the open write transaction made, 0: none */
	struct conn *next; /* protected by s->conns_lock */
};

struct store_cache;
struct store_stamper;

struct store {
	char *db_path;
	struct store_stamper *stamper; /* NULL: no stamp, so nothing is cached */
	struct store_cache *cache; /* NULL: every read goes to SQLite */
	pthread_key_t conn_key;
	pthread_mutex_t conns_lock;
	struct conn *conns; /* protected by conns_lock: every thread's connection */
	pthread_rwlock_t keys_lock;
	struct datakey *keys; /* unwrapped data keys, protected by keys_lock */
	size_t n_keys;
	struct hsm *hsm;
	CK_OBJECT_HANDLE kek;
	uint8_t vault_id[CRYPTO_VAULT_ID_LEN];
	struct store_options opt;
	pthread_mutex_t key_cache_lock;
	struct key_cache *key_cache; /* protected by key_cache_lock; store_keys.c's */
};

/* A secret's row, as Q_SECRET_BY_PATH gives it. */
struct row {
	int64_t id;
	uint64_t current;
	uint64_t size; /* of the current version */
	int64_t created, updated, deleted, not_before, expires;
	int enabled;
	char content_type[STORE_CONTENT_TYPE_MAX + 1];
};

/* Makes sure the calling thread has its connection; every public function starts here. */
int store_enter(struct store *s);
/* store_enter for a function that takes a path: -EINVAL for a bad one. */
int store_enter_path(struct store *s, const char *path);
/* store_enter_path, then the path's row in state @which. */
int store_enter_row(struct store *s, const char *path, enum store_which which, struct row *ret);
/* store_enter_path, then BEGIN IMMEDIATE: end with store_tx_end. */
int store_enter_write(struct store *s, const char *path);
/* store_enter for a function that takes a key's or a certificate's name (one segment):
 * -EINVAL for a bad one. */
int store_enter_name(struct store *s, const char *name);
/* store_enter_name, then BEGIN IMMEDIATE: end with store_tx_end. */
int store_enter_write_name(struct store *s, const char *name);
/* The calling thread's database handle (after store_enter). */
sqlite3 *store_db(struct store *s);

/* store_sql.c: connections. */
int store_conn_open(struct store *s, int flags);
void store_conn_close(struct conn *c);
void store_conn_destroy(void *p); /* the thread-exit destructor */
/* SQLite result code to -errno, without logging. */
int store_rc_errno(int rc);

/* SQLite result code to -errno; the native message goes to the debug log. */
int store_sql_errno(struct store *s, int rc, const char *what);
/* The prepared statement for @q (prepared on first use). */
int store_stmt(struct store *s, enum query q, sqlite3_stmt **ret);
/* Resets a statement and its bindings after use. */
void store_done(sqlite3_stmt *st);
/* Runs a statement that returns no rows, then resets it. */
int store_step_done(struct store *s, sqlite3_stmt *st);
/* Runs @q, a statement of no rows whose ?1 is @name, then resets it. */
int store_run_name(struct store *s, enum query q, const char *name);
/* store_run_name for a statement whose ?2 is a time: @when, or NULL for 0. */
int store_run_name_at(struct store *s, enum query q, const char *name, int64_t when);
int store_exec(struct store *s, const char *sql);
int store_tx_begin(struct store *s);
/* Tells the open write transaction's commit hook which version it made. */
void store_tx_made_version(struct store *s, uint64_t version);
/* Runs the commit hook (store_on_commit), then commits if @r >= 0, else rolls back;
 * returns @r or the hook's or the commit's error. A transaction that does not commit
 * after its hook ran calls the undo hook first, while it still holds the write lock. */
int store_tx_end(struct store *s, int r);
void store_split_path(const char *path, char *folder, size_t folder_len, const char **ret_name);
int store_get_row(struct store *s, const char *path, struct row *ret);
int store_get_row_which(struct store *s, const char *path, enum store_which which, struct row *ret);
/* 1 if the folder exists ("" always does), 0 if not, or -errno. */
int store_folder_exists_locked(struct store *s, const char *path);
int store_folder_insert(struct store *s, const char *path, int64_t now);
/* Runs @q, an INSERT taking (path, parent folder, last segment, time). */
int store_insert_named(struct store *s, enum query q, const char *path, int64_t now);
int store_ensure_parents(struct store *s, const char *path, int mkdirs, int64_t now);
int store_datakey_get(struct store *s, int64_t id, const struct secbuf **ret);
/* Makes a new data key in the token, wrapped under the KEK, and makes it current. */
int store_datakey_add(struct store *s, int64_t now);

int store_datakey_current(struct store *s, int64_t *ret);
int store_value_aad(struct store *s, int64_t key_id, uint64_t version, const char *path,
		    uint8_t *buf, size_t len);
int store_version_open(struct store *s, const char *path, int64_t secret_id, uint64_t version,
		       struct secbuf **ret);
/* Seals @value as @path's version @version under the current data key: the key's id and
 * the malloc'ed sealed bytes, set only on success. */
int store_seal(struct store *s, const char *path, uint64_t version, const struct secbuf *value,
	       int64_t *ret_key_id, uint8_t **ret_sealed, size_t *ret_sealed_len);
/* Opens a sealed value of @path's version @version under data key @key_id. */
int store_open_sealed(struct store *s, const char *path, int64_t key_id, uint64_t version,
		      const void *sealed, size_t sealed_len, struct secbuf **ret);
/* The live secret's row and its current value, in one statement: the read path. -ENOENT
 * (none, or soft-deleted), -EACCES (disabled), or the value's error; *ret_row and
 * *ret_value are set only on success. */
int store_get_current(struct store *s, const char *path, struct row *ret_row,
		      struct secbuf **ret_value);
int store_version_size(struct store *s, int64_t secret_id, uint64_t version, uint64_t *ret);
int store_purge_id(struct store *s, int64_t id);
int store_put_locked(struct store *s, const char *path, const struct secbuf *value, unsigned flags,
		     int64_t now, uint64_t *ret_version);

/* Inside a transaction, for store_keys.c and store_certs.c alike: the row of key @name
 * (version 1 current, its lifetime if any; -EEXIST through SQLite's primary key when the
 * name is held, live or soft-deleted), and the row of its version @version. */
int store_key_row_insert(struct store *s, const char *name, const struct store_key *k, int64_t now);
int store_key_version_insert(struct store *s, const char *name, uint64_t version,
			     const struct store_key_version *v, int64_t now);
/* For key delete and certificate purge: in one transaction (store_enter_write_name), the
 * token ids of every version of key @name, then @forget_locked(s, name), which removes
 * its rows; the ids (malloc'ed, for the caller to destroy in the token) are set only when
 * it commits. */
int store_key_forget(struct store *s, const char *name,
		     int (*forget_locked)(struct store *s, const char *name),
		     uint8_t (**ret)[STORE_KEY_ID_LEN], size_t *ret_count);
/* store_enter, then @fn(name, 1, @userdata) for each row of @q, a list of names (keys/
 * and certs/ hold folders); a non-zero return of @fn stops the walk and is returned. */
int store_list_names(struct store *s, enum query q, store_list_fn fn, void *userdata);

/* store_certs.c, for store_certs_life.c: a certificate's record read on the caller's
 * connection (-ENOENT: none). */
int store_cert_get_locked(struct store *s, const char *name, struct store_cert *ret);

/* store_keys.c: frees the key cache. */
void store_key_cache_free(struct store *s);

/* store_stamp.c: the source of store_stamp, the WAL-index header of @db_path's -shm file,
 * whose descriptor stays open until after the store's connections are closed. */
int store_stamper_open(const char *db_path, struct store_stamper **ret);
void store_stamper_free(struct store_stamper *st);

/* store_cache.c: rows and sealed values, valid while the store's stamp is unchanged. */
int store_cache_new(struct store_cache **ret);
void store_cache_free(struct store_cache *c);
/* A hit (0) only while nothing has committed since the entry was read; with @ret_sealed,
 * only for an entry holding the current value (a malloc'ed copy). -ENOENT otherwise, and
 * always when @s has no cache. */
int store_cache_get(struct store *s, const char *path, struct row *ret_row, int64_t *ret_key_id,
		    uint8_t **ret_sealed, size_t *ret_sealed_len);
/* Keeps what a query read, if the stamp is still @before (taken before the query). */
void store_cache_put(struct store *s, const struct store_stamp *before, const char *path,
		     const struct row *row, int64_t key_id, const void *sealed, size_t sealed_len);

#endif

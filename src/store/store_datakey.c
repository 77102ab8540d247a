/*
 * store_datakey: the data keys that seal values — made in the token, kept wrapped under
 * the vault's key-encryption key in the database, unwrapped once and shared by every
 * thread — and opening a version's sealed value with its key. Plaintext exists only in
 * secbufs for the length of one call.
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

int store_datakey_add(struct store *s, int64_t now)
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

/* Data key @key_id and the associated data that binds a value to @path's version @version:
 * the length of the data in @aad, or -errno. */
static int key_and_aad(struct store *s, int64_t key_id, uint64_t version, const char *path,
		       const struct secbuf **ret_key, uint8_t *aad, size_t aad_len)
{
	int r = store_datakey_get(s, key_id, ret_key);

	return r < 0 ? r : store_value_aad(s, key_id, version, path, aad, aad_len);
}

int store_seal(struct store *s, const char *path, uint64_t version, const struct secbuf *value,
	       int64_t *ret_key_id, uint8_t **ret_sealed, size_t *ret_sealed_len)
{
	uint8_t aad[NAME_PATH_MAX + 64];
	const struct secbuf *key;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	int64_t key_id;
	int n, r;

	r = store_datakey_current(s, &key_id);
	if (r < 0)
		return r;
	n = key_and_aad(s, key_id, version, path, &key, aad, sizeof(aad));
	if (n < 0)
		return n;
	r = crypto_seal(key, aad, (size_t)n, value, &sealed, &sealed_len);
	if (r < 0)
		return r;
	*ret_key_id = key_id;
	*ret_sealed = sealed;
	*ret_sealed_len = sealed_len;
	return 0;
}

int store_open_sealed(struct store *s, const char *path, int64_t key_id, uint64_t version,
		      const void *sealed, size_t sealed_len, struct secbuf **ret)
{
	uint8_t aad[NAME_PATH_MAX + 64];
	const struct secbuf *key;
	int n;

	n = key_and_aad(s, key_id, version, path, &key, aad, sizeof(aad));
	if (n < 0)
		return n;
	return crypto_open(key, aad, (size_t)n, sealed, sealed_len, ret);
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

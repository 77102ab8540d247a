/*
 * store_keys: the vault's record of the keys its token holds — names, types, the
 * operations each allows, versions and the token ids of their objects, and their public
 * halves. Never a private or secret key byte: those stay in the token.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static void copy_word(char *dst, const unsigned char *src)
{
	snprintf(dst, STORE_KEY_WORD_MAX + 1, "%s", src ? (const char *)src : "");
}

/*
 * Each key's record and current version, kept as the read cache keeps secrets' rows:
 * valid only while the store's stamp is the one they were read under, so a change by
 * any process is seen at once. Every use of a key file asks for them several times.
 */
#define KEY_CACHE 32

struct key_cache {
	struct {
		int used;
		struct store_stamp stamp;
		char name[NAME_SEGMENT_MAX + 1];
		struct store_key k;
		struct store_key_version v; /* the current version; public_der owned */
	} e[KEY_CACHE];
};

static size_t cache_slot(const char *name)
{
	size_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	return h % KEY_CACHE;
}

void store_key_cache_free(struct store *s)
{
	if (!s->key_cache)
		return;
	for (size_t i = 0; i < KEY_CACHE; i++)
		store_key_version_clear(&s->key_cache->e[i].v);
	free(s->key_cache);
	s->key_cache = NULL;
}

/* A hit copies the record (and, with @ret_v, the current version) out: 0; else -ENOENT. */
static int cache_get(struct store *s, const char *name, struct store_key *ret_k,
		     struct store_key_version *ret_v)
{
	struct store_stamp now;
	size_t i = cache_slot(name);
	int r = -ENOENT;

	if (!s->cache || store_stamp(s, &now) < 0)
		return -ENOENT;
	pthread_mutex_lock(&s->key_cache_lock);
	if (s->key_cache && s->key_cache->e[i].used &&
	    memcmp(s->key_cache->e[i].stamp.bytes, now.bytes, STORE_STAMP_LEN) == 0 &&
	    strcmp(s->key_cache->e[i].name, name) == 0) {
		r = 0;
		if (ret_k)
			*ret_k = s->key_cache->e[i].k;
		if (ret_v) {
			*ret_v = s->key_cache->e[i].v;
			ret_v->public_der = NULL;
			if (s->key_cache->e[i].v.public_der) {
				ret_v->public_der = malloc(ret_v->public_len);
				if (ret_v->public_der)
					memcpy(ret_v->public_der, s->key_cache->e[i].v.public_der,
					       ret_v->public_len);
				else
					r = -ENOENT;
			}
		}
	}
	pthread_mutex_unlock(&s->key_cache_lock);
	return r;
}

/* Keeps what was read under stamp @before, if it is still the stamp. */
static void cache_put(struct store *s, const struct store_stamp *before, const char *name,
		      const struct store_key *k, const struct store_key_version *v)
{
	struct store_stamp now;
	size_t i = cache_slot(name);
	uint8_t *der = NULL;

	if (store_stamp(s, &now) < 0 || memcmp(now.bytes, before->bytes, STORE_STAMP_LEN) != 0)
		return;
	if (v->public_der) {
		der = malloc(v->public_len);
		if (!der)
			return;
		memcpy(der, v->public_der, v->public_len);
	}
	pthread_mutex_lock(&s->key_cache_lock);
	if (!s->key_cache)
		s->key_cache = calloc(1, sizeof(*s->key_cache));
	if (s->key_cache) {
		store_key_version_clear(&s->key_cache->e[i].v);
		s->key_cache->e[i].used = 1;
		s->key_cache->e[i].stamp = *before;
		snprintf(s->key_cache->e[i].name, sizeof(s->key_cache->e[i].name), "%s", name);
		s->key_cache->e[i].k = *k;
		s->key_cache->e[i].v = *v;
		s->key_cache->e[i].v.public_der = der;
		der = NULL;
	}
	pthread_mutex_unlock(&s->key_cache_lock);
	free(der);
}

static int key_get_locked(struct store *s, const char *name, struct store_key *ret);
static int version_get_locked(struct store *s, const char *name, uint64_t version,
			      struct store_key_version *ret);

/* Fills the cache for @name from SQLite, when the stamp holds still. */
static void cache_fill(struct store *s, const char *name)
{
	struct store_stamp before;
	struct store_key_version v;
	struct store_key k;

	if (!s->cache || store_stamp(s, &before) < 0)
		return;
	if (key_get_locked(s, name, &k) < 0)
		return;
	if (version_get_locked(s, name, k.current, &v) < 0)
		return;
	cache_put(s, &before, name, &k, &v);
	store_key_version_clear(&v);
}

int store_key_get_any(struct store *s, const char *name, struct store_key *ret)
{
	int r;

	r = store_enter_name(s, name);
	if (r < 0)
		return r;
	if (cache_get(s, name, ret, NULL) == 0)
		return 0;
	r = key_get_locked(s, name, ret);
	if (r == 0)
		cache_fill(s, name);
	return r;
}

int store_key_get(struct store *s, const char *name, struct store_key *ret)
{
	struct store_key k;
	int r;

	r = store_key_get_any(s, name, &k);
	if (r < 0)
		return r;
	if (k.deleted)
		return -ENOENT;
	*ret = k;
	return 0;
}

static int key_get_locked(struct store *s, const char *name, struct store_key *ret)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, Q_HKEY_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_word(ret->type, sqlite3_column_text(st, 0));
		copy_word(ret->alg, sqlite3_column_text(st, 1));
		ret->ops = (unsigned)sqlite3_column_int64(st, 2);
		ret->current = (uint64_t)sqlite3_column_int64(st, 3);
		ret->created = sqlite3_column_int64(st, 4);
		ret->deleted = sqlite3_column_int64(st, 5); /* NULL reads as 0 */
		ret->rotate_every = sqlite3_column_int64(st, 6);
		ret->expires = sqlite3_column_int64(st, 7);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_errno(s, rc, "key");
	}
	store_done(st);
	return r;
}

void store_key_version_clear(struct store_key_version *v)
{
	free(v->public_der);
	v->public_der = NULL;
	v->public_len = 0;
}

static int version_get_locked(struct store *s, const char *name, uint64_t version,
			      struct store_key_version *ret)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, Q_HKEY_VERSION_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == STORE_KEY_ID_LEN) {
		int n = sqlite3_column_bytes(st, 2);
		struct store_key_version v = { 0 };

		v.version = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(v.token_id, sqlite3_column_blob(st, 1), STORE_KEY_ID_LEN);
		v.created = sqlite3_column_int64(st, 3);
		r = 0;
		if (n > 0) {
			v.public_der = malloc((size_t)n);
			if (v.public_der) {
				memcpy(v.public_der, sqlite3_column_blob(st, 2), (size_t)n);
				v.public_len = (size_t)n;
			} else {
				r = -ENOMEM;
			}
		}
		if (r == 0) /* *ret untouched on failure */
			*ret = v;
	} else if (rc == SQLITE_ROW) {
		r = -EUCLEAN;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_errno(s, rc, "key version");
	}
	store_done(st);
	return r;
}

static int version_get(struct store *s, const char *name, uint64_t version, int any,
		       struct store_key_version *ret)
{
	struct store_key_version v;
	struct store_key k;
	int r;

	r = store_key_get_any(s, name, &k);
	if (r < 0)
		return r;
	if (k.deleted && !any)
		return -ENOENT;
	if (version == 0) {
		if (cache_get(s, name, NULL, &v) == 0) {
			if (v.version == k.current) {
				*ret = v;
				return 0;
			}
			store_key_version_clear(&v);
		}
		version = k.current;
	}
	return version_get_locked(s, name, version, ret);
}

int store_key_version_get(struct store *s, const char *name, uint64_t version,
			  struct store_key_version *ret)
{
	return version_get(s, name, version, 0, ret);
}

int store_key_version_get_any(struct store *s, const char *name, uint64_t version,
			      struct store_key_version *ret)
{
	return version_get(s, name, version, 1, ret);
}

int store_key_version_insert(struct store *s, const char *name, uint64_t version,
			     const struct store_key_version *v, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = store_stmt(s, Q_HKEY_VERSION_INSERT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)version);
	sqlite3_bind_blob(st, 3, v->token_id, STORE_KEY_ID_LEN, SQLITE_STATIC);
	if (v->public_der)
		sqlite3_bind_blob(st, 4, v->public_der, (int)v->public_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, now);
	return store_step_done(s, st);
}

int store_key_row_insert(struct store *s, const char *name, const struct store_key *k, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = store_stmt(s, Q_HKEY_INSERT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->alg, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, k->ops);
	sqlite3_bind_int64(st, 5, 1);
	sqlite3_bind_int64(st, 6, now);
	if (k->rotate_every > 0)
		sqlite3_bind_int64(st, 7, k->rotate_every);
	else
		sqlite3_bind_null(st, 7);
	if (k->expires > 0)
		sqlite3_bind_int64(st, 8, k->expires);
	else
		sqlite3_bind_null(st, 8);
	return store_step_done(s, st);
}

static int key_add_locked(struct store *s, const char *name, const struct store_key *k,
			  const struct store_key_version *v, int64_t now)
{
	struct store_key existing;
	int r;

	r = store_key_get_any(s, name, &existing);
	if (r == 0)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	r = store_key_row_insert(s, name, k, now);
	if (r >= 0)
		r = store_key_version_insert(s, name, 1, v, now);
	if (r >= 0)
		store_tx_made_version(s, 1);
	return r;
}

int store_key_add(struct store *s, const char *name, const struct store_key *k,
		  const struct store_key_version *v, int64_t now)
{
	int r;

	r = store_enter_write_name(s, name);
	if (r >= 0)
		r = store_tx_end(s, key_add_locked(s, name, k, v, now));
	return r;
}

static int add_version_locked(struct store *s, const char *name, const struct store_key_version *v,
			      int64_t now, uint64_t *ret_version)
{
	struct store_key k;
	sqlite3_stmt *st = NULL;
	int r;

	r = store_key_get(s, name, &k);
	if (r < 0)
		return r;
	r = store_key_version_insert(s, name, k.current + 1, v, now);
	if (r < 0)
		return r;
	r = store_stmt(s, Q_HKEY_SET_CURRENT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)(k.current + 1));
	r = store_step_done(s, st);
	if (r < 0)
		return r;
	*ret_version = k.current + 1;
	store_tx_made_version(s, k.current + 1);
	return 0;
}

int store_key_add_version(struct store *s, const char *name, const struct store_key_version *v,
			  int64_t now, uint64_t *ret_version)
{
	uint64_t version = 0;
	int r;

	r = store_enter_write_name(s, name);
	if (r >= 0)
		r = store_tx_end(s, add_version_locked(s, name, v, now, &version));
	if (r >= 0)
		*ret_version = version;
	return r;
}

int store_key_list(struct store *s, unsigned flags, store_list_fn fn, void *userdata)
{
	return store_list_names(s, (flags & STORE_LIST_DELETED) ? Q_HKEY_LIST_DELETED : Q_HKEY_LIST,
				fn, userdata);
}

/* Within a transaction: the token ids of every version of @name. */
static int token_ids_locked(struct store *s, const char *name, uint8_t (**ret)[STORE_KEY_ID_LEN],
			    size_t *ret_count)
{
	uint8_t(*ids)[STORE_KEY_ID_LEN] = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int r, rc;

	r = store_stmt(s, Q_HKEY_VERSION_LIST, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != STORE_KEY_ID_LEN) {
			r = -EUCLEAN;
			break;
		}
		if (n == cap) {
			void *t;

			cap = cap ? 2 * cap : 8;
			t = realloc(ids, cap * sizeof(*ids));
			if (!t) {
				r = -ENOMEM;
				break;
			}
			ids = t;
		}
		memcpy(ids[n++], sqlite3_column_blob(st, 1), STORE_KEY_ID_LEN);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql_errno(s, rc, "key versions");
	store_done(st);
	if (r < 0) {
		free(ids);
		return r;
	}
	*ret = ids;
	*ret_count = n;
	return 0;
}

static int delete_locked(struct store *s, const char *name)
{
	struct store_key k;
	char path[NAME_SEGMENT_MAX + 8];
	int r;

	r = store_key_get_any(s, name, &k);
	if (r < 0)
		return r;
	if (!k.deleted)
		return -EBUSY; /* only a soft-deleted key is purged */
	snprintf(path, sizeof(path), "keys/%s", name);
	r = store_run_name(s, Q_WARNED_DELETE, path);
	if (r >= 0)
		r = store_run_name(s, Q_HKEY_DELETE_VERSIONS, name);
	if (r >= 0)
		r = store_run_name(s, Q_HKEY_DELETE, name);
	return r;
}

int store_key_forget(struct store *s, const char *name,
		     int (*forget_locked)(struct store *s, const char *name),
		     uint8_t (**ret)[STORE_KEY_ID_LEN], size_t *ret_count)
{
	uint8_t(*ids)[STORE_KEY_ID_LEN] = NULL;
	size_t n = 0;
	int r;

	r = store_enter_write_name(s, name);
	if (r < 0)
		return r;
	/* the ids in the same transaction as the delete: a rotation cannot add a version
	 * between the two whose objects nobody would destroy */
	r = token_ids_locked(s, name, &ids, &n);
	if (r >= 0)
		r = forget_locked(s, name);
	r = store_tx_end(s, r);
	if (r < 0) {
		free(ids);
		return r;
	}
	*ret = ids;
	*ret_count = n;
	return 0;
}

int store_key_delete(struct store *s, const char *name, uint8_t (**ret)[STORE_KEY_ID_LEN],
		     size_t *ret_count)
{
	return store_key_forget(s, name, delete_locked, ret, ret_count);
}

/* Within a transaction: soft-deletes the live key @name at @when, or (@when 0) recovers
 * the soft-deleted one. */
static int set_deleted_locked(struct store *s, const char *name, int64_t when)
{
	struct store_key k;
	int r;

	r = store_key_get_any(s, name, &k);
	if (r < 0)
		return r;
	if (when && k.deleted)
		return -ENOENT; /* no live key of that name */
	if (!when && !k.deleted)
		return -EEXIST; /* the key is live: nothing to recover */
	return store_run_name_at(s, Q_HKEY_SET_DELETED, name, when);
}

static int set_deleted(struct store *s, const char *name, int64_t when)
{
	int r;

	r = store_enter_write_name(s, name);
	if (r >= 0)
		r = store_tx_end(s, set_deleted_locked(s, name, when));
	return r;
}

int store_key_soft_delete(struct store *s, const char *name, int64_t now)
{
	return set_deleted(s, name, now > 0 ? now : 1);
}

int store_key_recover(struct store *s, const char *name)
{
	return set_deleted(s, name, 0);
}

static void bind_lifetime(sqlite3_stmt *st, int i, int64_t value, int64_t old)
{
	if (value == STORE_LIFETIME_KEEP)
		value = old;
	if (value > 0)
		sqlite3_bind_int64(st, i, value);
	else
		sqlite3_bind_null(st, i);
}

static int set_lifetime_locked(struct store *s, const char *name, int64_t rotate_every_s,
			       int64_t expires_us)
{
	sqlite3_stmt *st = NULL;
	struct store_key k;
	int r;

	r = store_key_get(s, name, &k);
	if (r < 0)
		return r;
	r = store_stmt(s, Q_HKEY_SET_LIFETIME, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	bind_lifetime(st, 2, rotate_every_s, k.rotate_every);
	bind_lifetime(st, 3, expires_us, k.expires);
	return store_step_done(s, st);
}

int store_key_set_lifetime(struct store *s, const char *name, int64_t rotate_every_s,
			   int64_t expires_us)
{
	int r;

	if ((rotate_every_s < 0 && rotate_every_s != STORE_LIFETIME_KEEP) ||
	    (expires_us < 0 && expires_us != STORE_LIFETIME_KEEP))
		return -EINVAL;
	r = store_enter_write_name(s, name);
	if (r >= 0)
		r = store_tx_end(s, set_lifetime_locked(s, name, rotate_every_s, expires_us));
	return r;
}

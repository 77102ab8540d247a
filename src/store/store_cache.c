/*
 * store_cache: the read path without SQLite while nothing has changed.
 *
 * The cache keeps rows and current sealed values (metadata and ciphertext, never
 * plaintext) stamped with the store's change stamp (store_stamp) they were read under. An
 * entry is used only while the stamp is still the same, and it is filled only if the
 * stamp was the same before and after the query that read it. No stamp (a commit being
 * written, or a store that cannot give one) makes every lookup a miss. It knows nothing
 * of SQLite: any backend that gives a stamp gets it as it is.
 *
 * What this must never do: serve a row or value older than the last commit that finished
 * before the lookup began. Lookups that race a commit see the state before it, as a read
 * transaction begun at that moment would.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_BUCKETS 1024
#define CACHE_MAX 8192

struct cache_entry {
	char *path;
	struct row row;
	int64_t key_id;
	uint8_t *sealed; /* NULL until a read fills it */
	size_t sealed_len;
	struct cache_entry *next;
};

struct store_cache {
	pthread_rwlock_t lock;
	struct store_stamp stamp; /* protected by lock: what the entries were read under */
	int stamped;
	struct cache_entry *buckets[CACHE_BUCKETS]; /* protected by lock */
	size_t count;
};

static int same(const struct store_stamp *a, const struct store_stamp *b)
{
	return memcmp(a->bytes, b->bytes, STORE_STAMP_LEN) == 0;
}

static size_t bucket(const char *path)
{
	size_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = h * 33 + *p;
	return h % CACHE_BUCKETS;
}

static void clear_locked(struct store_cache *c)
{
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cache_entry *e = c->buckets[i];

		while (e) {
			struct cache_entry *next = e->next;

			free(e->path);
			free(e->sealed);
			free(e);
			e = next;
		}
		c->buckets[i] = NULL;
	}
	c->count = 0;
}

int store_cache_new(struct store_cache **ret)
{
	struct store_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_rwlock_init(&c->lock, NULL);
	*ret = c;
	return 0;
}

void store_cache_free(struct store_cache *c)
{
	if (!c)
		return;
	clear_locked(c);
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

int store_cache_get(struct store *s, const char *path, struct row *ret_row, int64_t *ret_key_id,
		    uint8_t **ret_sealed, size_t *ret_sealed_len)
{
	struct store_cache *c = s->cache;
	struct store_stamp now;
	int r = -ENOENT;

	if (!c || store_stamp(s, &now) < 0)
		return -ENOENT;
	pthread_rwlock_rdlock(&c->lock);
	if (c->stamped && same(&now, &c->stamp)) {
		for (struct cache_entry *e = c->buckets[bucket(path)]; e; e = e->next) {
			if (strcmp(e->path, path) != 0)
				continue;
			if (ret_sealed && !e->sealed)
				break;
			*ret_row = e->row;
			if (ret_sealed) {
				*ret_sealed = malloc(e->sealed_len);
				if (!*ret_sealed)
					break;
				memcpy(*ret_sealed, e->sealed, e->sealed_len);
				*ret_sealed_len = e->sealed_len;
				*ret_key_id = e->key_id;
			}
			r = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&c->lock);
	return r;
}

void store_cache_put(struct store *s, const struct store_stamp *before, const char *path,
		     const struct row *row, int64_t key_id, const void *sealed, size_t sealed_len)
{
	struct store_cache *c = s->cache;
	struct store_stamp now;
	struct cache_entry *e;
	size_t b;

	if (!c || store_stamp(s, &now) < 0 || !same(&now, before))
		return; /* something committed while the row was read */
	pthread_rwlock_wrlock(&c->lock);
	if (!c->stamped || !same(&c->stamp, &now) || c->count >= CACHE_MAX) {
		clear_locked(c);
		c->stamp = now;
		c->stamped = 1;
	}
	b = bucket(path);
	for (e = c->buckets[b]; e; e = e->next)
		if (strcmp(e->path, path) == 0)
			break;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->path = strdup(path))) {
			free(e);
			goto out;
		}
		e->next = c->buckets[b];
		c->buckets[b] = e;
		c->count++;
	}
	e->row = *row;
	if (sealed) {
		uint8_t *copy = malloc(sealed_len);

		if (copy) {
			memcpy(copy, sealed, sealed_len);
			free(e->sealed);
			e->sealed = copy;
			e->sealed_len = sealed_len;
			e->key_id = key_id;
		}
	}
out:
	pthread_rwlock_unlock(&c->lock);
}

/*
 * nodes: two hash tables over one set of nodes — by inode number and by (kind, path,
 * version) — under one mutex. Fixed nodes are never forgotten.
 */
#include "nodes.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

#define NODES_BUCKETS 4096

struct nodes {
	/* Every request looks its inode up; lookups and forgets change the table. */
	pthread_rwlock_t lock;
	uint64_t next_ino; /* protected by lock */
	struct node *by_ino[NODES_BUCKETS]; /* protected by lock */
	struct node *by_key[NODES_BUCKETS]; /* protected by lock */
};

int node_is_dir(enum node_kind kind)
{
	switch (kind) {
	case NODE_SECRET:
	case NODE_VERSION:
	case NODE_TRASH_SECRET:
	case NODE_KEY_FILE:
	case NODE_CERT_FILE:
		return 0;
	default:
		return 1;
	}
}

static int is_fixed(enum node_kind kind)
{
	return kind == NODE_ROOT || kind == NODE_SECRETS || kind == NODE_KEYS ||
	       kind == NODE_CERTS || kind == NODE_TRASH || kind == NODE_TRASH_SECRETS ||
	       kind == NODE_TRASH_KEYS || kind == NODE_TRASH_CERTS;
}

static size_t key_hash(enum node_kind kind, const char *path, uint64_t version)
{
	/* FNV-1a */
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind ^ (version * 0x9e3779b97f4a7c15ULL);

	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (size_t)(h % NODES_BUCKETS);
}

static struct node *find_key(struct nodes *t, enum node_kind kind, const char *path,
			     uint64_t version)
{
	for (struct node *n = t->by_key[key_hash(kind, path, version)]; n; n = n->next_key)
		if (n->kind == kind && n->version == version && strcmp(n->path, path) == 0)
			return n;
	return NULL;
}

static struct node *add(struct nodes *t, enum node_kind kind, const char *path, uint64_t version,
			uint64_t ino)
{
	struct node *n = calloc(1, sizeof(*n));
	size_t kh;

	if (!n)
		return NULL;
	n->path = strdup(path);
	if (!n->path) {
		free(n);
		return NULL;
	}
	n->kind = kind;
	n->version = version;
	n->ino = ino;
	kh = key_hash(kind, path, version);
	n->next_key = t->by_key[kh];
	t->by_key[kh] = n;
	n->next_ino = t->by_ino[ino % NODES_BUCKETS];
	t->by_ino[ino % NODES_BUCKETS] = n;
	return n;
}

int nodes_new(struct nodes **ret)
{
	struct nodes *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_rwlock_init(&t->lock, NULL);
	/* Fixed numbers: the root must be FUSE_ROOT_ID (1). */
	if (!add(t, NODE_ROOT, "", 0, FUSE_ROOT_ID) || !add(t, NODE_SECRETS, "", 0, 2) ||
	    !add(t, NODE_KEYS, "", 0, 3) || !add(t, NODE_TRASH, "", 0, 4) ||
	    !add(t, NODE_TRASH_SECRETS, "", 0, 5) || !add(t, NODE_CERTS, "", 0, 6) ||
	    !add(t, NODE_TRASH_KEYS, "", 0, 7) || !add(t, NODE_TRASH_CERTS, "", 0, 8)) {
		nodes_free(t);
		return -ENOMEM;
	}
	t->next_ino = 16;
	*ret = t;
	return 0;
}

void nodes_free(struct nodes *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < NODES_BUCKETS; i++) {
		struct node *n = t->by_ino[i];

		while (n) {
			struct node *next = n->next_ino;

			free(n->path);
			free(n);
			n = next;
		}
	}
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

struct node *nodes_get(struct nodes *t, uint64_t ino)
{
	struct node *n;

	pthread_rwlock_rdlock(&t->lock);
	for (n = t->by_ino[ino % NODES_BUCKETS]; n; n = n->next_ino)
		if (n->ino == ino)
			break;
	pthread_rwlock_unlock(&t->lock);
	return n;
}

int nodes_lookup(struct nodes *t, enum node_kind kind, const char *path, uint64_t version,
		 struct node **ret)
{
	struct node *n;
	int r = 0;

	pthread_rwlock_wrlock(&t->lock);
	n = find_key(t, kind, path, version);
	if (!n) {
		n = add(t, kind, path, version, t->next_ino);
		if (n)
			t->next_ino++;
		else
			r = -ENOMEM;
	}
	if (n) {
		n->nlookup++;
		*ret = n;
	}
	pthread_rwlock_unlock(&t->lock);
	return r;
}

static void unlink_node(struct nodes *t, struct node *n)
{
	struct node **pp;

	for (pp = &t->by_ino[n->ino % NODES_BUCKETS]; *pp; pp = &(*pp)->next_ino)
		if (*pp == n) {
			*pp = n->next_ino;
			break;
		}
	for (pp = &t->by_key[key_hash(n->kind, n->path, n->version)]; *pp; pp = &(*pp)->next_key)
		if (*pp == n) {
			*pp = n->next_key;
			break;
		}
}

void nodes_forget(struct nodes *t, uint64_t ino, uint64_t count)
{
	struct node *n;

	pthread_rwlock_wrlock(&t->lock);
	for (n = t->by_ino[ino % NODES_BUCKETS]; n; n = n->next_ino)
		if (n->ino == ino)
			break;
	if (n && !is_fixed(n->kind)) {
		n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
		if (n->nlookup == 0) {
			unlink_node(t, n);
			free(n->path);
			free(n);
		}
	}
	pthread_rwlock_unlock(&t->lock);
}

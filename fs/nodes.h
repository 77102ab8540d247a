/*
 * nodes: the inode table of the mount. The tree is named by paths, the kernel by inode
 * numbers; this table gives each (kind, path, version) one number while the kernel holds
 * a lookup on it, and forgets it when the kernel does.
 *
 * A node's fields never change after it is made, so a handler may read them without the
 * lock for as long as the kernel holds the inode (it sends no FORGET while a request on
 * it runs).
 */
#ifndef VAULTFS_NODES_H
#define VAULTFS_NODES_H

#include <stdint.h>

enum node_kind {
	NODE_ROOT, /* the mount root */
	NODE_SECRETS, /* secrets/ */
	NODE_FOLDER, /* secrets/PATH/ */
	NODE_SECRET, /* secrets/PATH, the current version */
	NODE_VERSION, /* secrets/PATH@N */
	NODE_KEYS, /* keys/ */
	NODE_TRASH, /* .deleted/ */
	NODE_TRASH_SECRETS, /* .deleted/secrets/ */
	NODE_TRASH_FOLDER, /* .deleted/secrets/PATH/ */
	NODE_TRASH_SECRET, /* .deleted/secrets/PATH */
	NODE_KEY, /* keys/NAME (version 0) or keys/NAME@N; path NAME */
	NODE_KEY_FILE, /* a file in it; path NAME/FILE, version as its folder's */
	NODE_CERTS, /* certs/ */
	NODE_CERT, /* certs/NAME (version 0) or certs/NAME@N; path NAME */
	NODE_CERT_FILE, /* a file in it; path NAME/FILE, version as its folder's */
	NODE_TRASH_KEYS, /* .deleted/keys/ */
	NODE_TRASH_CERTS, /* .deleted/certs/ */
	NODE_TRASH_KEY, /* .deleted/keys/NAME, an empty folder; path NAME */
	NODE_TRASH_CERT, /* .deleted/certs/NAME, an empty folder; path NAME */
};

struct node {
	uint64_t ino;
	enum node_kind kind;
	uint64_t version; /* NODE_VERSION, NODE_KEY, NODE_KEY_FILE, NODE_CERT, NODE_CERT_FILE */
	char *path; /* below secrets/ ("" for the top folders) */
	uint64_t nlookup; /* protected by nodes->lock */
	struct node *next_ino, *next_key;
};

struct nodes;

/* A table holding the fixed nodes (root, secrets/, keys/, certs/, .deleted/ and its
 * secrets/, keys/ and certs/). */
int nodes_new(struct nodes **ret);
void nodes_free(struct nodes *t);

/* The node with number @ino, or NULL. */
struct node *nodes_get(struct nodes *t, uint64_t ino);

/* Finds or makes the node for (@kind, @path, @version) and counts one kernel lookup. */
int nodes_lookup(struct nodes *t, enum node_kind kind, const char *path, uint64_t version,
		 struct node **ret);

/* The kernel dropped @n lookups of @ino; the node goes when none are left. */
void nodes_forget(struct nodes *t, uint64_t ino, uint64_t n);

/* Whether @kind is a directory. */
int node_is_dir(enum node_kind kind);

#endif

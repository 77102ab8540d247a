/*
 * dirs: directory listings. The whole listing is taken at opendir — one store query under
 * one policy decision — and served by offset from it, so a listing is consistent even
 * while secrets change. Versions (NAME@N) are never listed.
 *
 * That decision is policy_decide(list) on the folder's own policy path and nothing else,
 * for the fixed folders too, so that `vaultfs policy explain` answers as the mount does
 * and the record names the rule that decided: a right beneath a folder lets the caller
 * enter it (lookup), never list it.
 *
 * An open folder is one of its opener's open files under [limits], and its listing's
 * memory counts as bytes it holds: names of a large folder, held open many times, would
 * otherwise be a way to take the daemon's memory.
 */
#include "vfs_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

struct listing {
	char **names;
	unsigned char *is_dir;
	size_t count, cap;
	uint64_t bytes; /* what the names and arrays take on the heap, about */
	struct limits_charge charge;
	struct listing *prev, *next; /* protected by vfs->lock */
};

static int listing_add(struct listing *l, const char *name, int is_dir)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **names = realloc(l->names, cap * sizeof(*names));
		unsigned char *dirs;

		if (!names)
			return -ENOMEM;
		l->names = names;
		dirs = realloc(l->is_dir, cap);
		if (!dirs)
			return -ENOMEM;
		l->is_dir = dirs;
		l->cap = cap;
	}
	l->names[l->count] = strdup(name);
	if (!l->names[l->count])
		return -ENOMEM;
	/* a name's bytes in a malloc chunk (16-byte steps, 8 of header), its pointer, its flag */
	l->bytes += (strlen(name) + 1 + 8 + 15) / 16 * 16 + sizeof(char *) + 1;
	l->is_dir[l->count++] = (unsigned char)is_dir;
	return 0;
}

static void listing_free(struct vfs *v, struct listing *l)
{
	if (!l)
		return;
	vfs_limits_close(v, &l->charge);
	for (size_t i = 0; i < l->count; i++)
		free(l->names[i]);
	free(l->names);
	free(l->is_dir);
	free(l);
}

static int add_cb(const char *name, int is_folder, void *userdata)
{
	return listing_add(userdata, name, is_folder) < 0 ? -ENOMEM : 0;
}

static void track(struct vfs *v, struct listing *l)
{
	pthread_mutex_lock(&v->lock);
	l->next = v->listings;
	if (v->listings)
		v->listings->prev = l;
	v->listings = l;
	pthread_mutex_unlock(&v->lock);
}

static void untrack(struct vfs *v, struct listing *l)
{
	pthread_mutex_lock(&v->lock);
	if (l->prev)
		l->prev->next = l->next;
	else if (v->listings == l)
		v->listings = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
	pthread_mutex_unlock(&v->lock);
}

void vfs_dirs_release_all(struct vfs *v)
{
	while (v->listings) {
		struct listing *l = v->listings;

		v->listings = l->next;
		listing_free(v, l);
	}
}

/* Fills listing @l with folder @n's entries: what the tree holds there, or what the store
 * or the keys and certificates have under it. */
static int listing_fill(struct vfs *v, const struct node *n, struct listing *l)
{
	int r;

	r = listing_add(l, ".", 1);
	if (r >= 0)
		r = listing_add(l, "..", 1);
	switch (n->kind) {
	case NODE_ROOT:
		if (r >= 0)
			r = listing_add(l, "secrets", 1);
		if (r >= 0)
			r = listing_add(l, "keys", 1);
		if (r >= 0)
			r = listing_add(l, "certs", 1);
		if (r >= 0)
			r = listing_add(l, ".deleted", 1);
		break;
	case NODE_TRASH:
		if (r >= 0)
			r = listing_add(l, "secrets", 1);
		if (r >= 0)
			r = listing_add(l, "keys", 1);
		if (r >= 0)
			r = listing_add(l, "certs", 1);
		break;
	case NODE_SECRETS:
	case NODE_FOLDER:
		if (r >= 0)
			r = store_list(v->store, n->path, 0, add_cb, l);
		break;
	case NODE_KEYS:
	case NODE_KEY:
		if (r >= 0)
			r = vfs_keys_list(v, n, add_cb, l);
		break;
	case NODE_CERTS:
	case NODE_CERT:
		if (r >= 0)
			r = vfs_certs_list(v, n, add_cb, l);
		break;
	case NODE_TRASH_KEYS:
	case NODE_TRASH_CERTS:
	case NODE_TRASH_KEY:
	case NODE_TRASH_CERT:
		if (r >= 0)
			r = vfs_trash_list(v, n, add_cb, l);
		break;
	case NODE_TRASH_SECRETS:
	case NODE_TRASH_FOLDER:
		if (r >= 0)
			r = store_list(v->store, n->path, STORE_LIST_DELETED, add_cb, l);
		if (r == -ENOENT && n->kind == NODE_TRASH_SECRETS)
			r = 0;
		break;
	default:
		break;
	}
	return r;
}

void vfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
	char ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct listing *l;
	struct caller c;
	int r = 0;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!node_is_dir(n->kind)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	vfs_caller(req, &c);
	vfs_policy_path(n, ppath, sizeof(ppath));
	if (!vfs_decide(v, &c, POLICY_LIST, ppath, &d)) {
		fuse_reply_err(req, -vfs_deny(v, &c, "readdir", ppath, &d, EACCES));
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = listing_fill(v, n, l);
	if (r >= 0) {
		/* past a cap the refusal is the record of this listing */
		r = vfs_limits_open(v, &c, "readdir", ppath, l->bytes, &l->charge);
		if (r < 0) {
			listing_free(v, l);
			fuse_reply_err(req, -r);
			return;
		}
	}
	if (vfs_record(v, &c, "readdir", ppath, 0, &d, r < 0 ? -r : 0) < 0)
		r = -EIO;
	if (r < 0) {
		listing_free(v, l);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)l;
	track(v, l);
	if (fuse_reply_open(req, fi) != 0) {
		untrack(v, l);
		listing_free(v, l);
	}
}

void vfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct listing *l = (struct listing *)(uintptr_t)fi->fh;
	size_t pos = 0;
	char *buf;

	(void)ino;
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < l->count; i++) {
		struct stat st;
		size_t need;

		memset(&st, 0, sizeof(st));
		st.st_ino = 0xffffffff; /* unknown: the lookup gives the real number */
		st.st_mode = l->is_dir[i] ? S_IFDIR : S_IFREG;
		need = fuse_add_direntry(req, buf + pos, size - pos, l->names[i], &st,
					 (off_t)(i + 1));
		if (need > size - pos)
			break;
		pos += need;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

void vfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct listing *l = (struct listing *)(uintptr_t)fi->fh;

	(void)ino;
	untrack(v, l);
	listing_free(v, l);
	fuse_reply_err(req, 0);
}

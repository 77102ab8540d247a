/*
 * lookup: names to nodes — lookup, forget, getattr — and the attributes a caller is
 * shown: a mode that says what this caller may do, owner the caller where it may write,
 * times of the store. A name the caller has no right on is ENOENT, or EACCES where it may
 * list the folder (SPEC). Entry and attribute timeouts are 0: the kernel never answers a
 * lookup for one caller with another's result.
 */
#include "vfs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "names.h"
#include "timeutil.h"

mode_t vfs_mode_for(enum node_kind kind, unsigned rights)
{
	mode_t m = 0;

	if (node_is_dir(kind)) {
		if (rights & POLICY_BIT(POLICY_LIST))
			m |= 0400;
		if (rights & POLICY_BIT(POLICY_WRITE))
			m |= 0200;
		if (rights)
			m |= 0100;
		return S_IFDIR | m;
	}
	if (kind == NODE_TRASH_SECRET) {
		if (rights & POLICY_BIT(POLICY_RECOVER))
			m |= 0400;
		if (rights & POLICY_BIT(POLICY_PURGE))
			m |= 0200;
		return S_IFREG | m;
	}
	if (rights & POLICY_BIT(POLICY_READ))
		m |= 0400;
	if (kind == NODE_SECRET && (rights & POLICY_BIT(POLICY_WRITE)))
		m |= 0200;
	return S_IFREG | m;
}

static void set_times(struct stat *st, int64_t us)
{
	st->st_mtim.tv_sec = (time_t)(us / 1000000);
	st->st_mtim.tv_nsec = (long)(us % 1000000) * 1000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

int vfs_stat(struct vfs *v, struct caller *c, const struct node *n, struct stat *st)
{
	return vfs_stat_known(v, c, n, NULL, -1, st);
}

int vfs_stat_known(struct vfs *v, struct caller *c, const struct node *n,
		   const struct store_stat *known, int rights, struct stat *st)
{
	struct store_stat ss;
	uint64_t size;
	int64_t created;
	int r;

	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_uid = c->uid;
	st->st_gid = c->gid;
	st->st_blksize = 4096;
	if (n->kind == NODE_KEY || n->kind == NODE_KEY_FILE)
		return vfs_keys_stat(v, n, rights >= 0 ? (unsigned)rights : vfs_rights(v, c, n),
				     st);
	if (n->kind == NODE_CERT || n->kind == NODE_CERT_FILE)
		return vfs_certs_stat(v, n, rights >= 0 ? (unsigned)rights : vfs_rights(v, c, n),
				      st);
	if (n->kind == NODE_TRASH_KEY || n->kind == NODE_TRASH_CERT)
		return vfs_trash_stat(v, n, rights >= 0 ? (unsigned)rights : vfs_rights(v, c, n),
				      st);
	st->st_mode = vfs_mode_for(n->kind, rights >= 0 ? (unsigned)rights : vfs_rights(v, c, n));
	switch (n->kind) {
	case NODE_FOLDER:
		r = store_folder_exists(v->store, n->path);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
		/* fall through */
	case NODE_ROOT:
	case NODE_SECRETS:
	case NODE_KEYS:
	case NODE_CERTS:
	case NODE_TRASH:
	case NODE_TRASH_SECRETS:
	case NODE_TRASH_FOLDER:
	case NODE_TRASH_KEYS:
	case NODE_TRASH_CERTS:
		st->st_nlink = 2;
		set_times(st, v->started);
		return 0;
	case NODE_SECRET:
		if (known) {
			ss = *known;
			r = 0;
		} else {
			r = store_secret_stat(v->store, n->path, STORE_LIVE, &ss);
		}
		if (r == -ENOENT && vfs_pending_size(v, n->path, &size) == 0) {
			st->st_nlink = 1;
			st->st_size = (off_t)size;
			set_times(st, time_now_us());
			return 0;
		}
		if (r == -ENOENT) /* committed between the two looks */
			r = store_secret_stat(v->store, n->path, STORE_LIVE, &ss);
		if (r < 0)
			return r;
		st->st_size = (off_t)ss.size;
		set_times(st, ss.updated);
		break;
	case NODE_VERSION:
		r = store_version_stat(v->store, n->path, n->version, &size, &created);
		if (r < 0)
			return r;
		st->st_size = (off_t)size;
		set_times(st, created);
		break;
	case NODE_KEY:
	case NODE_KEY_FILE:
	case NODE_CERT:
	case NODE_CERT_FILE:
	case NODE_TRASH_KEY:
	case NODE_TRASH_CERT:
		return -EINVAL; /* vfs_keys_stat's, vfs_certs_stat's, vfs_trash_stat's */
	case NODE_TRASH_SECRET:
		r = store_secret_stat(v->store, n->path, STORE_DELETED, &ss);
		if (r < 0)
			return r;
		st->st_size = (off_t)ss.size;
		set_times(st, ss.updated);
		st->st_ctim.tv_sec = (time_t)(ss.deleted / 1000000);
		break;
	}
	st->st_nlink = 1;
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

int vfs_join(const struct node *parent, const char *name, char *buf, size_t len)
{
	size_t need = strlen(parent->path) + 1 + strlen(name) + 1;

	if (need > len)
		return -ENAMETOOLONG;
	if (parent->path[0])
		vfs_concat(buf, len, parent->path, "/", name);
	else
		vfs_concat(buf, len, name, NULL, NULL);
	return 0;
}

int vfs_new_child(struct vfs *v, struct caller *c, const struct node *parent, const char *name,
		  const char *what, char *path, size_t len, struct policy_decision *ret)
{
	char ppath[NAME_PATH_MAX + 16];

	if (name_segment_check(name, strlen(name)) < 0 || vfs_join(parent, name, path, len) < 0 ||
	    name_path_check(path) < 0)
		return -EINVAL;
	vfs_concat(ppath, sizeof(ppath), "secrets/", path, NULL);
	return vfs_check(v, c, what, POLICY_WRITE, ppath, ret);
}

/* The policy path of @name under @parent, for the record of a refusal: @name may be
 * anything the caller sent. */
void vfs_child_policy_path(const struct node *parent, const char *name, char *buf, size_t len)
{
	char ppath[NAME_PATH_MAX + 16];

	vfs_policy_path(parent, ppath, sizeof(ppath));
	vfs_concat(buf, len, ppath, ppath[0] ? "/" : "", name);
}

static int stop_at_first(const char *name, int is_folder, void *userdata)
{
	(void)name;
	(void)is_folder;
	(void)userdata;
	return 1;
}

/* What a caller is told of a name it has no right on under @parent: that it is not there,
 * unless it may list the folder and so knows it is. */
int vfs_hidden_errno(struct vfs *v, struct caller *c, const struct node *parent)
{
	return vfs_rights(v, c, parent) & POLICY_BIT(POLICY_LIST) ? EACCES : ENOENT;
}

/* What a name resolves to (resolve): written out only when it resolves. */
struct resolved {
	enum node_kind kind;
	uint64_t version;
	struct store_stat known; /* the secret's stat, when have_known */
	int have_known;
};

/* A name under secrets/ or one of its folders: a secret (committed or pending), NAME@N,
 * or a folder. */
static int resolve_live(struct vfs *v, const struct node *parent, const char *name, char *path,
			size_t len, struct resolved *res)
{
	char base[NAME_SEGMENT_MAX + 1];
	uint64_t version = 0, size;
	struct store_stat ss;
	size_t name_len;
	int64_t created;
	int r;

	if (name_split_version(name, &name_len, &version) < 0 ||
	    name_segment_check(name, name_len) < 0)
		return -EINVAL;
	memcpy(base, name, name_len);
	base[name_len] = '\0';
	r = vfs_join(parent, base, path, len);
	if (r < 0)
		return r;
	if (name_path_check(path) < 0)
		return -EINVAL;
	if (version) {
		r = store_version_stat(v->store, path, version, &size, &created);
		if (r < 0)
			return r;
		res->kind = NODE_VERSION;
		res->version = version;
		return 0;
	}
	r = store_secret_stat(v->store, path, STORE_LIVE, &ss);
	/* A file made here and not yet committed is pending; its commit may land between the
	 * two looks, so the store is asked once more after the pending list. */
	if (r == -ENOENT && vfs_pending_size(v, path, &size) < 0) {
		r = store_secret_stat(v->store, path, STORE_LIVE, &ss);
	} else if (r == -ENOENT) {
		res->kind = NODE_SECRET;
		return 0;
	}
	if (r == 0) {
		res->known = ss;
		res->have_known = 1;
		res->kind = NODE_SECRET;
		return 0;
	}
	if (r != -ENOENT)
		return r;
	r = store_folder_exists(v->store, path);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	res->kind = NODE_FOLDER;
	return 0;
}

/* A name under .deleted/secrets/ or one of its folders: a deleted secret or a folder that
 * holds some. */
static int resolve_deleted(struct vfs *v, const struct node *parent, const char *name, char *path,
			   size_t len, struct resolved *res)
{
	struct store_stat ss;
	int r;

	if (name_segment_check(name, strlen(name)) < 0)
		return -ENOENT;
	r = vfs_join(parent, name, path, len);
	if (r < 0)
		return r;
	if (name_path_check(path) < 0)
		return -ENOENT;
	r = store_secret_stat(v->store, path, STORE_DELETED, &ss);
	if (r == 0) {
		res->kind = NODE_TRASH_SECRET;
		return 0;
	}
	if (r != -ENOENT)
		return r;
	r = store_list(v->store, path, STORE_LIST_DELETED, stop_at_first, NULL);
	if (r == 1) {
		res->kind = NODE_TRASH_FOLDER;
		return 0;
	}
	return r < 0 ? r : -ENOENT;
}

/* The fixed folders: secrets/, keys/, certs/, .deleted/ and .deleted/secrets/, keys/ and
 * certs/. */
static int resolve_fixed(const struct node *parent, const char *name, char *path,
			 struct resolved *res)
{
	if (parent->kind == NODE_TRASH && strcmp(name, "secrets") == 0)
		res->kind = NODE_TRASH_SECRETS;
	else if (parent->kind == NODE_TRASH && strcmp(name, "keys") == 0)
		res->kind = NODE_TRASH_KEYS;
	else if (parent->kind == NODE_TRASH && strcmp(name, "certs") == 0)
		res->kind = NODE_TRASH_CERTS;
	else if (parent->kind == NODE_ROOT && strcmp(name, "certs") == 0)
		res->kind = NODE_CERTS;
	else if (parent->kind == NODE_ROOT && strcmp(name, "secrets") == 0)
		res->kind = NODE_SECRETS;
	else if (parent->kind == NODE_ROOT && strcmp(name, "keys") == 0)
		res->kind = NODE_KEYS;
	else if (parent->kind == NODE_ROOT && strcmp(name, ".deleted") == 0)
		res->kind = NODE_TRASH;
	else
		return -ENOENT;
	path[0] = '\0';
	return 0;
}

/* Which node @name under @parent is, without regard to the caller: its kind and path (in
 * @path), its version for NAME@N, and the secret's stat when it was read on the way. The
 * ret_* are untouched on failure. */
static int resolve(struct vfs *v, const struct node *parent, const char *name,
		   enum node_kind *ret_kind, char *path, size_t len, uint64_t *ret_version,
		   struct store_stat *ret_known, int *ret_have_known)
{
	struct resolved res = { 0 };
	int r;

	switch (parent->kind) {
	case NODE_ROOT:
	case NODE_TRASH:
		r = resolve_fixed(parent, name, path, &res);
		break;
	case NODE_SECRETS:
	case NODE_FOLDER:
		r = resolve_live(v, parent, name, path, len, &res);
		break;
	case NODE_KEYS:
	case NODE_KEY:
		r = vfs_keys_resolve(v, parent, name, &res.kind, path, len, &res.version);
		break;
	case NODE_CERTS:
	case NODE_CERT:
		r = vfs_certs_resolve(v, parent, name, &res.kind, path, len, &res.version);
		break;
	case NODE_TRASH_KEYS:
	case NODE_TRASH_CERTS:
		r = vfs_trash_resolve(v, parent, name, &res.kind, path, len);
		break;
	case NODE_TRASH_SECRETS:
	case NODE_TRASH_FOLDER:
		r = resolve_deleted(v, parent, name, path, len, &res);
		break;
	default:
		r = -ENOENT;
		break;
	}
	if (r < 0)
		return r;
	*ret_kind = res.kind;
	*ret_version = res.version;
	if (res.have_known) {
		*ret_known = res.known;
		*ret_have_known = 1;
	}
	return 0;
}

static int is_fixed_kind(enum node_kind kind)
{
	return kind == NODE_SECRETS || kind == NODE_KEYS || kind == NODE_CERTS ||
	       kind == NODE_TRASH || kind == NODE_TRASH_SECRETS || kind == NODE_TRASH_KEYS ||
	       kind == NODE_TRASH_CERTS;
}

void vfs_reply_entry(fuse_req_t req, struct vfs *v, struct caller *c, enum node_kind kind,
		     const char *path, uint64_t version)
{
	vfs_reply_entry_known(req, v, c, kind, path, version, NULL, -1);
}

void vfs_reply_entry_known(fuse_req_t req, struct vfs *v, struct caller *c, enum node_kind kind,
			   const char *path, uint64_t version, const struct store_stat *known,
			   int rights)
{
	struct fuse_entry_param e;
	struct node *n;
	int r;

	r = nodes_lookup(v->nodes, kind, path, version, &n);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	memset(&e, 0, sizeof(e));
	r = vfs_stat_known(v, c, n, known, rights, &e.attr);
	if (r < 0) {
		nodes_forget(v->nodes, n->ino, 1);
		fuse_reply_err(req, -r);
		return;
	}
	e.ino = n->ino;
	e.generation = 1;
	/* The fixed folders are the same for every caller, always: the kernel may keep their
	 * names. Everything below them, and every attribute, is asked for each time. */
	e.attr_timeout = 0.0;
	e.entry_timeout = is_fixed_kind(kind) ? 3600.0 : 0.0;
	if (fuse_reply_entry(req, &e) != 0)
		nodes_forget(v->nodes, n->ino, 1);
}

void vfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vfs *v = vfs_data(req);
	char path[NAME_PATH_MAX + 1];
	struct node *p = vfs_node(req, parent), child;
	enum node_kind kind = NODE_ROOT;
	struct store_stat known;
	int have_known = 0;
	uint64_t version;
	struct caller c;
	unsigned rights;
	int r;

	if (!p) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	/* only what the caller sees is decided here: a recent read of it will do */
	c.recent_ok = 1;
	r = resolve(v, p, name, &kind, path, sizeof(path), &version, &known, &have_known);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (vfs_is_guard(v, &c)) {
		vfs_reply_entry_known(req, v, &c, kind, path, version, have_known ? &known : NULL,
				      (int)POLICY_ALL);
		return;
	}
	/* A name the caller has no right on is not there, unless it may list the folder. The
	 * fixed folders are there for everyone: what is in them is policy's to show. */
	child.kind = kind;
	child.path = path;
	child.version = version;
	if (is_fixed_kind(kind)) {
		vfs_reply_entry_known(req, v, &c, kind, path, version, NULL, -1);
		return;
	}
	rights = vfs_rights(v, &c, &child);
	if (!rights) {
		struct policy_decision d;
		char ppath[NAME_PATH_MAX + 16];

		vfs_policy_path(&child, ppath, sizeof(ppath));
		vfs_decide(v, &c, vfs_read_op(&child), ppath, &d);
		fuse_reply_err(req,
			       -vfs_deny(v, &c, "lookup", ppath, &d, vfs_hidden_errno(v, &c, p)));
		return;
	}
	vfs_reply_entry_known(req, v, &c, kind, path, version, have_known ? &known : NULL,
			      (int)rights);
}

void vfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct vfs *v = vfs_data(req);

	nodes_forget(v->nodes, ino, nlookup);
	fuse_reply_none(req);
}

void vfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct vfs *v = vfs_data(req);

	for (size_t i = 0; i < count; i++)
		nodes_forget(v->nodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

void vfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
	struct caller c;
	struct stat st;
	int r;

	(void)fi;
	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	/* only what the caller sees is decided here: a recent read of it will do */
	c.recent_ok = 1;
	r = vfs_stat(v, &c, n, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, 0.0);
}

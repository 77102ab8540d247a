/*
 * vfs: the tree of SPEC — secrets/, keys/, .deleted/ — as FUSE low-level operations.
 *
 * Every request is decided for the live caller: identity from fuse_req_ctx(), rights
 * from policy, and nothing the kernel may reuse for another caller (timeouts 0, direct_io,
 * no keep_cache). Entry, attribute and directory handlers live here; open files (secret
 * values, writes, commits) in files.c; extended attributes in xattr.c.
 *
 * It never logs a value, and it never replies before the store has answered.
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

int vfs_new(struct vault *vault, struct policy *policy, struct vfs **ret)
{
	struct vfs *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	r = nodes_new(&v->nodes);
	if (r < 0) {
		free(v);
		return r;
	}
	r = vfs_limits_new(v, vault->cfg);
	if (r < 0) {
		nodes_free(v->nodes);
		free(v);
		return r;
	}
	pthread_mutex_init(&v->lock, NULL);
	pthread_rwlock_init(&v->policy_lock, NULL);
	v->vault = vault;
	v->store = vault->store;
	v->policy = policy;
	v->max_size = vault->cfg->max_secret_size;
	v->started = time_now_us();
	*ret = v;
	return 0;
}

void vfs_free(struct vfs *v)
{
	if (!v)
		return;
	vfs_files_release_all(v);
	vfs_dirs_release_all(v);
	vfs_limits_free(v);
	nodes_free(v->nodes);
	vfs_token_slots_free(v);
	policy_free(v->policy);
	pthread_rwlock_destroy(&v->policy_lock);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

void vfs_set_policy(struct vfs *v, struct policy *policy)
{
	struct policy *old;

	pthread_rwlock_wrlock(&v->policy_lock);
	old = v->policy;
	v->policy = policy;
	pthread_rwlock_unlock(&v->policy_lock);
	policy_free(old);
}

void vfs_caller(fuse_req_t req, struct caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	caller_init(c, ctx->uid, ctx->gid, ctx->pid);
}

/* Joins up to three parts into @buf (of @len bytes), truncating; on the hot path, where
 * snprintf's format parsing shows in profiles. */
static void concat(char *buf, size_t len, const char *a, const char *b, const char *c)
{
	size_t off = 0;
	const char *parts[3] = { a, b, c };

	for (int i = 0; i < 3; i++) {
		size_t l = parts[i] ? strlen(parts[i]) : 0;

		if (l > len - 1 - off)
			l = len - 1 - off;
		memcpy(buf + off, parts[i] ? parts[i] : "", l);
		off += l;
	}
	buf[off] = '\0';
}

/* The path policy speaks of for a node. */
void vfs_policy_path(const struct node *n, char *buf, size_t len)
{
	switch (n->kind) {
	case NODE_ROOT:
		concat(buf, len, "", NULL, NULL);
		break;
	case NODE_KEYS:
		concat(buf, len, "keys", NULL, NULL);
		break;
	case NODE_KEY:
	case NODE_KEY_FILE:
		vfs_key_policy_path(n, buf, len);
		break;
	case NODE_TRASH:
		/* .deleted/P is decided as P: .deleted itself as the root */
		concat(buf, len, "", NULL, NULL);
		break;
	case NODE_SECRETS:
	case NODE_TRASH_SECRETS:
		/* listing .deleted/secrets is list on secrets */
		concat(buf, len, "secrets", NULL, NULL);
		break;
	default:
		concat(buf, len, "secrets/", n->path, NULL);
	}
}

unsigned vfs_rights(struct vfs *v, struct caller *c, const struct node *n)
{
	const unsigned list = POLICY_BIT(POLICY_LIST);
	char path[NAME_PATH_MAX + 16];
	unsigned rights, reach;

	vfs_policy_path(n, path, sizeof(path));
	pthread_rwlock_rdlock(&v->policy_lock);
	rights = policy_rights(v->policy, c, path, 0);
	if (node_is_dir(n->kind)) {
		/* A right beneath a folder is a way through it, never a listing of it. */
		reach = policy_rights(v->policy, c, path, 1);
		rights = (rights & list) | (reach & ~list) | (reach ? VFS_ENTER : 0);
	}
	pthread_rwlock_unlock(&v->policy_lock);
	return rights;
}

int vfs_decide(struct vfs *v, struct caller *c, enum policy_op op, const char *path,
	       struct policy_decision *ret)
{
	pthread_rwlock_rdlock(&v->policy_lock);
	/* A decision to act is recorded with the caller's exe and cgroup: read them with
	 * what the policy needs, through one look at /proc. */
	if (!c->recent_ok)
		caller_load(c, policy_needs(v->policy) | CALLER_HAVE_EXE | CALLER_HAVE_CGROUP);
	policy_decide(v->policy, c, op, path, ret);
	pthread_rwlock_unlock(&v->policy_lock);
	return ret->allow;
}

void vfs_event(struct caller *c, const char *what, const char *path, uint64_t version,
	       const struct policy_decision *d, int result, struct audit_event *ev)
{
	caller_load(c, CALLER_HAVE_EXE | CALLER_HAVE_CGROUP);
	memset(ev, 0, sizeof(*ev));
	ev->uid = c->uid;
	ev->gid = c->gid;
	ev->pid = c->pid;
	ev->exe = (c->have & CALLER_HAVE_EXE) ? c->exe : NULL;
	ev->cgroup = (c->have & CALLER_HAVE_CGROUP) ? c->cgroup : NULL;
	ev->op = what;
	ev->path = path;
	ev->version = version;
	ev->allow = d ? d->allow : 1;
	ev->rule = d ? d->rule : NULL;
	ev->result = result;
}

int vfs_record(struct vfs *v, struct caller *c, const char *what, const char *path,
	       uint64_t version, const struct policy_decision *d, int result)
{
	struct audit_event ev;

	vfs_event(c, what, path, version, d, result, &ev);
	return vault_record(v->vault, &ev);
}

int vfs_deny(struct vfs *v, struct caller *c, const char *what, const char *path,
	     const struct policy_decision *d, int err)
{
	return vfs_record(v, c, what, path, 0, d, err) < 0 ? -EIO : -err;
}

int vfs_refuse(struct vfs *v, struct caller *c, const char *what, const char *path,
	       const char *why, int err)
{
	struct policy_decision d = { .allow = 0 };

	snprintf(d.rule, sizeof(d.rule), "%s", why);
	return vfs_deny(v, c, what, path, &d, err);
}

const char *vfs_read_only_rule(const struct node *n)
{
	return n->kind == NODE_VERSION ? "history" : "deleted";
}

int vfs_deny_node(struct vfs *v, struct caller *c, const char *what, const struct node *n,
		  int err)
{
	char path[NAME_PATH_MAX + 16];
	struct policy_decision d;

	vfs_policy_path(n, path, sizeof(path));
	vfs_decide(v, c, POLICY_READ, path, &d);
	return vfs_deny(v, c, what, path, &d, err);
}

int vfs_check(struct vfs *v, struct caller *c, const char *what, enum policy_op op,
	      const char *path, struct policy_decision *ret)
{
	if (vfs_decide(v, c, op, path, ret))
		return 0;
	return vfs_deny(v, c, what, path, ret, EACCES);
}


static mode_t mode_for(enum node_kind kind, unsigned rights)
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
		return vfs_keys_stat(v, n, rights >= 0 ? (unsigned)rights : vfs_rights(v, c, n), st);
	st->st_mode = mode_for(n->kind, rights >= 0 ? (unsigned)rights : vfs_rights(v, c, n));
	switch (n->kind) {
	case NODE_FOLDER:
		r = store_folder_exists(v->store, n->path);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
		/* fall through */
	case NODE_ROOT:
	case NODE_SECRETS:
	case NODE_KEYS:
	case NODE_TRASH:
	case NODE_TRASH_SECRETS:
	case NODE_TRASH_FOLDER:
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
		return -EINVAL; /* vfs_keys_stat's */
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
		concat(buf, len, parent->path, "/", name);
	else
		concat(buf, len, name, NULL, NULL);
	return 0;
}

int vfs_new_child(struct vfs *v, struct caller *c, const struct node *parent, const char *name,
		  const char *what, char *path, size_t len, struct policy_decision *ret)
{
	char ppath[NAME_PATH_MAX + 16];

	if (name_segment_check(name, strlen(name)) < 0 || vfs_join(parent, name, path, len) < 0 ||
	    name_path_check(path) < 0)
		return -EINVAL;
	concat(ppath, sizeof(ppath), "secrets/", path, NULL);
	return vfs_check(v, c, what, POLICY_WRITE, ppath, ret);
}

/* The policy path of @name under @parent, for the record of a refusal: @name may be
 * anything the caller sent. */
static void child_policy_path(const struct node *parent, const char *name, char *buf, size_t len)
{
	char ppath[NAME_PATH_MAX + 16];

	vfs_policy_path(parent, ppath, sizeof(ppath));
	concat(buf, len, ppath, ppath[0] ? "/" : "", name);
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
static int hidden_errno(struct vfs *v, struct caller *c, const struct node *parent)
{
	return vfs_rights(v, c, parent) & POLICY_BIT(POLICY_LIST) ? EACCES : ENOENT;
}

/* Which node @name under @parent is, without regard to the caller. */
static int resolve(struct vfs *v, const struct node *parent, const char *name,
		   enum node_kind *ret_kind, char *path, size_t len, uint64_t *ret_version,
		   struct store_stat *ret_known, int *ret_have_known)
{
	struct store_stat ss;
	uint64_t version = 0, size;
	size_t name_len;
	int r;

	*ret_version = 0;
	switch (parent->kind) {
	case NODE_ROOT:
		if (strcmp(name, "secrets") == 0)
			*ret_kind = NODE_SECRETS;
		else if (strcmp(name, "keys") == 0)
			*ret_kind = NODE_KEYS;
		else if (strcmp(name, ".deleted") == 0)
			*ret_kind = NODE_TRASH;
		else
			return -ENOENT;
		path[0] = '\0';
		return 0;
	case NODE_TRASH:
		if (strcmp(name, "secrets") != 0)
			return -ENOENT;
		*ret_kind = NODE_TRASH_SECRETS;
		path[0] = '\0';
		return 0;
	case NODE_SECRETS:
	case NODE_FOLDER:
		if (name_split_version(name, &name_len, &version) < 0 ||
		    name_segment_check(name, name_len) < 0)
			return -EINVAL;
		{
			char base[NAME_SEGMENT_MAX + 1];

			memcpy(base, name, name_len);
			base[name_len] = '\0';
			r = vfs_join(parent, base, path, len);
			if (r < 0)
				return r;
		}
		if (name_path_check(path) < 0)
			return -EINVAL;
		if (version) {
			int64_t created;

			r = store_version_stat(v->store, path, version, &size, &created);
			if (r < 0)
				return r;
			*ret_kind = NODE_VERSION;
			*ret_version = version;
			return 0;
		}
		r = store_secret_stat(v->store, path, STORE_LIVE, &ss);
		/* A file made here and not yet committed is pending; its commit may land between
		 * the two looks, so the store is asked once more after the pending list. */
		if (r == -ENOENT && vfs_pending_size(v, path, &size) < 0)
			r = store_secret_stat(v->store, path, STORE_LIVE, &ss);
		else if (r == -ENOENT) {
			*ret_kind = NODE_SECRET;
			return 0;
		}
		if (r == 0) {
			*ret_known = ss;
			*ret_have_known = 1;
			*ret_kind = NODE_SECRET;
			return 0;
		}
		if (r != -ENOENT)
			return r;
		r = store_folder_exists(v->store, path);
		if (r < 0)
			return r;
		if (r == 0)
			return -ENOENT;
		*ret_kind = NODE_FOLDER;
		return 0;
	case NODE_KEYS:
	case NODE_KEY:
		return vfs_keys_resolve(v, parent, name, ret_kind, path, len, ret_version);
	case NODE_TRASH_SECRETS:
	case NODE_TRASH_FOLDER:
		if (name_segment_check(name, strlen(name)) < 0)
			return -ENOENT;
		r = vfs_join(parent, name, path, len);
		if (r < 0)
			return r;
		if (name_path_check(path) < 0)
			return -ENOENT;
		r = store_secret_stat(v->store, path, STORE_DELETED, &ss);
		if (r == 0) {
			*ret_kind = NODE_TRASH_SECRET;
			return 0;
		}
		if (r != -ENOENT)
			return r;
		r = store_list(v->store, path, STORE_LIST_DELETED, stop_at_first, NULL);
		if (r == 1) {
			*ret_kind = NODE_TRASH_FOLDER;
			return 0;
		}
		return r < 0 ? r : -ENOENT;
	default:
		return -ENOENT;
	}
}

static int is_fixed_kind(enum node_kind kind)
{
	return kind == NODE_SECRETS || kind == NODE_KEYS || kind == NODE_TRASH ||
	       kind == NODE_TRASH_SECRETS;
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

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vfs *v = fuse_req_userdata(req);
	char path[NAME_PATH_MAX + 1];
	struct node *p = nodes_get(v->nodes, parent), child;
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
		vfs_reply_entry_known(req, v, &c, kind, path, version,
				      have_known ? &known : NULL, (int)POLICY_ALL);
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
		vfs_decide(v, &c, POLICY_READ, ppath, &d);
		fuse_reply_err(req, -vfs_deny(v, &c, "lookup", ppath, &d, hidden_errno(v, &c, p)));
		return;
	}
	vfs_reply_entry_known(req, v, &c, kind, path, version, have_known ? &known : NULL,
			      (int)rights);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct vfs *v = fuse_req_userdata(req);

	nodes_forget(v->nodes, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct vfs *v = fuse_req_userdata(req);

	for (size_t i = 0; i < count; i++)
		nodes_forget(v->nodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = fuse_req_userdata(req);
	struct node *n = nodes_get(v->nodes, ino);
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

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct vfs *v = fuse_req_userdata(req);
	struct node *n = nodes_get(v->nodes, ino);
	struct caller c;
	struct stat st;
	int r;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	/*
	 * Access comes from policy, not from mode bits or owners: chmod, chown and utimes are
	 * accepted and change nothing (SPEC), so that install -m, cp -p, tar and tools that
	 * set modes work; stat goes on showing what the caller may do.
	 */
	if (to_set & FUSE_SET_ATTR_SIZE) {
		r = vfs_truncate(v, &c, n, fi, (uint64_t)attr->st_size);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
	}
	r = vfs_stat(v, &c, n, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, 0.0);
}

/*
 * Records a refused access(2) for the first right asked for and missing: what the tree
 * never gives (execute on a file, write on history or a deleted secret) cites the tree;
 * otherwise the rule that decides write (W_OK) or read.
 */
static int access_denied(struct vfs *v, struct caller *c, const struct node *n, int mask,
			 mode_t m)
{
	char ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	int w = (mask & W_OK) && !(m & 0200);

	vfs_policy_path(n, ppath, sizeof(ppath));
	if (w && (n->kind == NODE_VERSION || n->kind == NODE_TRASH_SECRET))
		return vfs_refuse(v, c, "access", ppath,
				  vfs_read_only_rule(n), EACCES);
	if (!w && !node_is_dir(n->kind) && (mask & X_OK) && !(mask & R_OK && !(m & 0400)))
		return vfs_refuse(v, c, "access", ppath, "modes", EACCES);
	vfs_decide(v, c, w ? POLICY_WRITE : POLICY_READ, ppath, &d);
	if (d.allow) /* the mode lacks what policy gives: the tree's own limit */
		return vfs_refuse(v, c, "access", ppath, "modes", EACCES);
	return vfs_deny(v, c, "access", ppath, &d, EACCES);
}

/* Hard links, symbolic links and device nodes have no place in the tree: refused as
 * @what of @name under @parent, and recorded. */
static void refuse_new(fuse_req_t req, fuse_ino_t parent, const char *name, const char *what)
{
	struct vfs *v = fuse_req_userdata(req);
	struct node *p = nodes_get(v->nodes, parent);
	char ppath[NAME_PATH_MAX + 16];
	struct caller c;

	if (!p) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	child_policy_path(p, name, ppath, sizeof(ppath));
	fuse_reply_err(req, -vfs_refuse(v, &c, what, ppath, "tree", EPERM));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	refuse_new(req, newparent, newname, "link");
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	refuse_new(req, parent, name, "symlink");
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	(void)mode;
	(void)rdev;
	refuse_new(req, parent, name, "mknod");
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct vfs *v = fuse_req_userdata(req);
	struct node *n = nodes_get(v->nodes, ino);
	struct caller c;
	mode_t m;
	int r;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	if ((mask & W_OK) && (r = vfs_refuse_mount_helper(v, &c, "access", n)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* only what the caller sees is decided here: a recent read of it will do */
	c.recent_ok = 1;
	m = mode_for(n->kind, vfs_rights(v, &c, n));
	if (((mask & R_OK) && !(m & 0400)) || ((mask & W_OK) && !(m & 0200)) ||
	    ((mask & X_OK) && !(m & 0100)) || (mask == F_OK && !(m & 0777)))
		fuse_reply_err(req, -access_denied(v, &c, n, mask, m));
	else
		fuse_reply_err(req, 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct vfs *v = fuse_req_userdata(req);
	struct node *p = nodes_get(v->nodes, parent);
	char path[NAME_PATH_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct vault_change ch;
	struct audit_event ev;
	struct caller c;
	int r;

	(void)mode;
	if (!p) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	if (p->kind != NODE_SECRETS && p->kind != NODE_FOLDER) {
		child_policy_path(p, name, ppath, sizeof(ppath));
		fuse_reply_err(req, -vfs_refuse(v, &c, "mkdir", ppath, "tree", EPERM));
		return;
	}
	r = vfs_new_child(v, &c, p, name, "mkdir", path, sizeof(path), &d);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	snprintf(ppath, sizeof(ppath), "secrets/%s", path);
	vfs_event(&c, "mkdir", ppath, 0, &d, 0, &ev);
	vault_change_begin(v->vault, &ch, &ev);
	r = vault_change_end(&ch, store_folder_create(v->store, path, time_now_us()));
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	vfs_reply_entry(req, v, &c, NODE_FOLDER, path, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vfs *v = fuse_req_userdata(req);
	struct node *p = nodes_get(v->nodes, parent);
	char path[NAME_PATH_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct vault_change ch;
	struct audit_event ev;
	struct caller c;
	int r;

	if (!p) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	if (p->kind != NODE_SECRETS && p->kind != NODE_FOLDER) {
		child_policy_path(p, name, ppath, sizeof(ppath));
		fuse_reply_err(req, -vfs_refuse(v, &c, "rmdir", ppath, "tree",
						p->kind == NODE_ROOT || p->kind == NODE_TRASH ? EBUSY
											: EPERM));
		return;
	}
	if (vfs_join(p, name, path, sizeof(path)) < 0 || name_path_check(path) < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	snprintf(ppath, sizeof(ppath), "secrets/%s", path);
	if (!vfs_decide(v, &c, POLICY_DELETE, ppath, &d)) {
		fuse_reply_err(req, -vfs_deny(v, &c, "rmdir", ppath, &d, hidden_errno(v, &c, p)));
		return;
	}
	vfs_event(&c, "rmdir", ppath, 0, &d, 0, &ev);
	vault_change_begin(v->vault, &ch, &ev);
	r = vault_change_end(&ch, store_folder_remove(v->store, path));
	fuse_reply_err(req, -r);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vfs *v = fuse_req_userdata(req);
	struct node *p = nodes_get(v->nodes, parent);
	char path[NAME_PATH_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct vault_change ch;
	struct audit_event ev;
	const char *what;
	enum policy_op op;
	size_t name_len;
	uint64_t version;
	struct caller c;
	int r;

	if (!p) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	if (p->kind == NODE_SECRETS || p->kind == NODE_FOLDER) {
		if (name_split_version(name, &name_len, &version) < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		if (version) { /* versions are history: read-only */
			char base[NAME_SEGMENT_MAX + 1];

			snprintf(base, sizeof(base), "%.*s", (int)name_len, name);
			child_policy_path(p, base, ppath, sizeof(ppath));
			fuse_reply_err(req, -vfs_refuse(v, &c, "delete", ppath, "history", EPERM));
			return;
		}
		op = POLICY_DELETE;
	} else if (p->kind == NODE_TRASH_SECRETS || p->kind == NODE_TRASH_FOLDER) {
		op = POLICY_PURGE;
	} else {
		child_policy_path(p, name, ppath, sizeof(ppath));
		fuse_reply_err(req, -vfs_refuse(v, &c, "delete", ppath, "tree", EPERM));
		return;
	}
	if (vfs_join(p, name, path, sizeof(path)) < 0 || name_path_check(path) < 0) {
		fuse_reply_err(req, op == POLICY_PURGE ? ENOENT : EINVAL);
		return;
	}
	snprintf(ppath, sizeof(ppath), "secrets/%s", path);
	what = op == POLICY_PURGE ? "purge" : "delete";
	if (!vfs_decide(v, &c, op, ppath, &d)) {
		fuse_reply_err(req, -vfs_deny(v, &c, what, ppath, &d, hidden_errno(v, &c, p)));
		return;
	}
	vfs_event(&c, what, ppath, 0, &d, 0, &ev);
	vault_change_begin(v->vault, &ch, &ev);
	if (op == POLICY_PURGE)
		r = store_secret_purge(v->store, path);
	else
		r = store_secret_delete(v->store, path, time_now_us());
	r = vault_change_end(&ch, r);
	fuse_reply_err(req, -r);
}

/*
 * The rights a rename within secrets/ amounts to: it reads and removes @pfrom and writes
 * @pto (SPEC). Records the first that is missing. @ret gets the rules that allow it;
 * @ret_recover the decision on recovering @pto, which matters only if @pto is the name of
 * a soft-deleted secret when the change is made, and so is applied in its transaction.
 */
static int rename_check(struct vfs *v, struct caller *c, const char *pfrom, const char *pto,
			struct policy_decision *ret, struct policy_decision *ret_recover)
{
	static const struct {
		enum policy_op op;
		int on_target;
	} need[] = { { POLICY_READ, 0 }, { POLICY_DELETE, 0 }, { POLICY_WRITE, 1 } };
	struct policy_decision d[sizeof(need) / sizeof(need[0])];
	size_t len = 0;
	int r;

	ret->allow = 1;
	ret->rule[0] = '\0';
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		size_t j = 0;

		r = vfs_check(v, c, "rename", need[i].op, need[i].on_target ? pto : pfrom, &d[i]);
		if (r < 0)
			return r;
		/* every rule that gave a part of it, once each */
		while (j < i && strcmp(d[j].rule, d[i].rule) != 0)
			j++;
		if (j == i && len + strlen(d[i].rule) + 2 < sizeof(ret->rule))
			len += (size_t)snprintf(ret->rule + len, sizeof(ret->rule) - len, "%s%s",
						len ? "," : "", d[i].rule);
	}
	vfs_decide(v, c, POLICY_RECOVER, pto, ret_recover);
	return 0;
}

/*
 * mv within secrets/ moves or replaces (an editor's temporary file renamed over its
 * target gives the target a new version and leaves no temporary name); mv from
 * .deleted/secrets/X back to secrets/X recovers; mv of secrets/X to .deleted/secrets/X
 * deletes. Everything else crosses what vaultfs can do in one step: EXDEV.
 */
static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct vfs *v = fuse_req_userdata(req);
	struct node *p = nodes_get(v->nodes, parent), *np = nodes_get(v->nodes, newparent);
	char from[NAME_PATH_MAX + 1], to[NAME_PATH_MAX + 1];
	char pfrom[NAME_PATH_MAX + 16], pto[NAME_PATH_MAX + 16];
	struct policy_decision d, recover;
	int src_live, dst_live, r;
	struct vault_change ch;
	struct audit_event ev;
	struct caller c;

	if (!p || !np) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (flags & ~RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	vfs_caller(req, &c);
	src_live = p->kind == NODE_SECRETS || p->kind == NODE_FOLDER;
	dst_live = np->kind == NODE_SECRETS || np->kind == NODE_FOLDER;
	if ((!src_live && p->kind != NODE_TRASH_SECRETS && p->kind != NODE_TRASH_FOLDER) ||
	    (!dst_live && np->kind != NODE_TRASH_SECRETS && np->kind != NODE_TRASH_FOLDER)) {
		child_policy_path(p, name, pfrom, sizeof(pfrom));
		fuse_reply_err(req, -vfs_refuse(v, &c, "rename", pfrom, "tree", EPERM));
		return;
	}
	if (name_segment_check(name, strlen(name)) < 0 ||
	    name_segment_check(newname, strlen(newname)) < 0 ||
	    vfs_join(p, name, from, sizeof(from)) < 0 ||
	    vfs_join(np, newname, to, sizeof(to)) < 0 || name_path_check(from) < 0 ||
	    name_path_check(to) < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	snprintf(pfrom, sizeof(pfrom), "secrets/%s", from);
	snprintf(pto, sizeof(pto), "secrets/%s", to);
	if (!src_live && dst_live) {
		if (strcmp(from, to) != 0) {
			fuse_reply_err(req, EXDEV); /* recovered under its own name only */
			return;
		}
		r = vfs_check(v, &c, "recover", POLICY_RECOVER, pfrom, &d);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		vfs_event(&c, "recover", pfrom, 0, &d, 0, &ev);
		vault_change_begin(v->vault, &ch, &ev);
		r = vault_change_end(&ch, store_secret_recover(v->store, from));
	} else if (src_live && !dst_live) {
		if (strcmp(from, to) != 0) {
			fuse_reply_err(req, EXDEV);
			return;
		}
		r = vfs_check(v, &c, "delete", POLICY_DELETE, pfrom, &d);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		vfs_event(&c, "delete", pfrom, 0, &d, 0, &ev);
		vault_change_begin(v->vault, &ch, &ev);
		r = vault_change_end(&ch, store_secret_delete(v->store, from, time_now_us()));
	} else if (src_live) {
		r = rename_check(v, &c, pfrom, pto, &d, &recover);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		vfs_event(&c, "rename", pfrom, 0, &d, 0, &ev);
		ev.detail = pto;
		vault_change_begin(v->vault, &ch, &ev);
		if (!recover.allow)
			vault_change_refused(&ch, pto, recover.rule);
		r = store_secret_rename(
			v->store, from, to,
			((flags & RENAME_NOREPLACE) ? STORE_RENAME_NOREPLACE : 0) |
				(recover.allow ? 0 : STORE_RENAME_NO_REVIVE),
			time_now_us());
		r = vault_change_end(&ch, r);
		/* a folder moves by copy and delete, which mv does on EXDEV */
		if (r == -EISDIR && store_folder_exists(v->store, from) == 1)
			r = -EXDEV;
	} else {
		r = vfs_refuse(v, &c, "rename", pfrom, "tree", EPERM);
	}
	fuse_reply_err(req, r < 0 ? -r : 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;

	(void)ino;
	memset(&st, 0, sizeof(st));
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_namemax = NAME_SEGMENT_MAX;
	fuse_reply_statfs(req, &st);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open, not as a separate truncate that would commit an empty
	 * version first. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/*
	 * A close(2) returns before its RELEASE reaches us: the kernel sends it in the
	 * background, at most max_background at a time (12 by default), while every open
	 * goes ahead of them. Under many callers closed files then piled up unreleased —
	 * each holding its value — and counted against [limits]: a uid of 36 readers met
	 * EMFILE with one file open each. With room for many, releases are served in turn.
	 */
	conn->max_background = 1024;
	/* Nothing that lets the kernel answer for us. */
	conn->want &=
		~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
		  FUSE_CAP_EXPORT_SUPPORT | FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_CACHE_SYMLINKS |
		  FUSE_CAP_NO_OPEN_SUPPORT | FUSE_CAP_NO_OPENDIR_SUPPORT | FUSE_CAP_POSIX_ACL |
		  FUSE_CAP_HANDLE_KILLPRIV);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.access = op_access,
	.mkdir = op_mkdir,
	.link = op_link,
	.symlink = op_symlink,
	.mknod = op_mknod,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.rename = op_rename,
	.statfs = op_statfs,
	.open = vfs_op_open,
	.create = vfs_op_create,
	.read = vfs_op_read,
	.write = vfs_op_write,
	.copy_file_range = vfs_op_copy_file_range,
	.flush = vfs_op_flush,
	.fsync = vfs_op_fsync,
	.release = vfs_op_release,
	.opendir = vfs_op_opendir,
	.readdir = vfs_op_readdir,
	.releasedir = vfs_op_releasedir,
	.getxattr = vfs_op_getxattr,
	.setxattr = vfs_op_setxattr,
	.listxattr = vfs_op_listxattr,
	.removexattr = vfs_op_removexattr,
};

const struct fuse_lowlevel_ops *vfs_ops(void)
{
	return &ops;
}

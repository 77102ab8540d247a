/*
 * xattr: a secret's metadata as user.vault.* extended attributes, so that getfattr and
 * setfattr work on it. Reading needs any right on the secret, changing it needs write;
 * history (NAME@N) and deleted secrets are read-only. Other names do not exist here.
 */
#include "vfs_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "names.h"

#define PREFIX "user.vault."
#define PREFIX_LEN (sizeof(PREFIX) - 1)

/* The store record behind a node, or -ENODATA for nodes without attributes. */
static int target(const struct node *n, enum store_which *ret)
{
	switch (n->kind) {
	case NODE_SECRET:
	case NODE_VERSION:
		*ret = STORE_LIVE;
		return 0;
	case NODE_TRASH_SECRET:
		*ret = STORE_DELETED;
		return 0;
	default:
		return -ENODATA;
	}
}

static void reply_value(fuse_req_t req, const char *value, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

void vfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
	enum store_which which;
	char *value = NULL;
	struct caller c;
	int r;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	if (!vfs_rights(v, &c, n)) {
		fuse_reply_err(req, -vfs_deny_node(v, &c, "getxattr", n, EACCES));
		return;
	}
	if (strncmp(name, PREFIX, PREFIX_LEN) != 0 || target(n, &which) < 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	r = store_attr_get(v->store, n->path, which, name + PREFIX_LEN, &value);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	reply_value(req, value, strlen(value), size);
	free(value);
}

void vfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
	char *names = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	enum store_which which;
	struct caller c;
	int r;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	if (!vfs_rights(v, &c, n)) {
		fuse_reply_err(req, -vfs_deny_node(v, &c, "listxattr", n, EACCES));
		return;
	}
	if (target(n, &which) < 0) {
		reply_value(req, "", 0, size);
		return;
	}
	r = store_attr_list(v->store, n->path, which, &names, &len);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	out = malloc(len + (len ? len : 1) * PREFIX_LEN + 1);
	if (!out) {
		free(names);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
		size_t l = strlen(names + off) + 1;

		memcpy(out + out_len, PREFIX, PREFIX_LEN);
		memcpy(out + out_len + PREFIX_LEN, names + off, l);
		out_len += PREFIX_LEN + l;
	}
	reply_value(req, out, out_len, size);
	free(out);
	free(names);
}

/* Checks that @n's attributes may change for @c (recording a denial) and starts the
 * action's record in @act: @ppath (NAME_PATH_MAX + 16 bytes) and @d must live as long as
 * @act, for the record points into them. */
static int writable(struct vfs *v, struct caller *c, const struct node *n, const char *what,
		    const char *name, char *ppath, struct policy_decision *d, struct vault_act *act)
{
	struct audit_event ev;
	int r;

	vfs_policy_path(n, ppath, NAME_PATH_MAX + 16);
	if (n->kind == NODE_VERSION || n->kind == NODE_TRASH_SECRET)
		return vfs_refuse(v, c, what, ppath, vfs_read_only_rule(n), EPERM);
	if (n->kind != NODE_SECRET)
		return -ENOTSUP;
	r = vfs_check(v, c, what, POLICY_WRITE, ppath, d);
	if (r < 0)
		return r;
	vfs_event(c, what, ppath, 0, d, 0, &ev);
	ev.detail = name;
	vault_act_init(act, &ev);
	return 0;
}

/* An attribute name vaultfs keeps: user.vault.NAME; -@err for any other. */
static int own_name(const char *name, int err)
{
	return strncmp(name, PREFIX, PREFIX_LEN) == 0 ? 0 : -err;
}

void vfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		     size_t size, int flags)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
	char *copy = NULL, ppath[NAME_PATH_MAX + 16];
	unsigned vflags = ((flags & XATTR_CREATE) ? VAULT_ATTR_CREATE : 0) |
			  ((flags & XATTR_REPLACE) ? VAULT_ATTR_REPLACE : 0);
	struct policy_decision d;
	struct vault_act act;
	struct caller c;
	int r;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	r = writable(v, &c, n, "setxattr", name, ppath, &d, &act);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = own_name(name, ENOTSUP);
	if (r >= 0 && memchr(value, '\0', size))
		r = -EINVAL;
	if (r >= 0 && !(copy = strndup(value, size)))
		r = -ENOMEM;
	if (r >= 0) /* XATTR_CREATE and XATTR_REPLACE are checked in the change's transaction */
		r = vault_attr_set(v->vault, &act, n->path, name + PREFIX_LEN, copy, vflags);
	else
		r = vault_act_failed(v->vault, &act, r);
	free(copy);
	fuse_reply_err(req, r == -EOPNOTSUPP ? ENOTSUP : -r);
}

void vfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
	char ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct vault_act act;
	struct caller c;
	int r;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	r = writable(v, &c, n, "removexattr", name, ppath, &d, &act);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = own_name(name, ENODATA);
	if (r >= 0)
		r = vault_attr_remove(v->vault, &act, n->path, name + PREFIX_LEN,
				      VAULT_ATTR_UNKNOWN_NODATA);
	else
		r = vault_act_failed(v->vault, &act, r);
	fuse_reply_err(req, -r);
}

/*
 * tree: the operations that change the tree's shape — mkdir, rmdir, unlink (a soft
 * delete, or a purge under .deleted/), rename (move, recover, rename over a secret) —
 * and those it refuses (link, symlink, mknod) or accepts and ignores (chmod, chown, times:
 * access comes from policy). Each is decided for the live caller and recorded before the
 * reply.
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

void vfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		    struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
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
static int access_denied(struct vfs *v, struct caller *c, const struct node *n, int mask, mode_t m)
{
	char ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	int w = (mask & W_OK) && !(m & 0200);

	vfs_policy_path(n, ppath, sizeof(ppath));
	if (w &&
	    (n->kind == NODE_VERSION || n->kind == NODE_TRASH_SECRET || n->kind == NODE_CERT_FILE))
		return vfs_refuse(v, c, "access", ppath, vfs_read_only_rule(n), EACCES);
	if (!w && !node_is_dir(n->kind) && (mask & X_OK) && !(mask & R_OK && !(m & 0400)))
		return vfs_refuse(v, c, "access", ppath, "modes", EACCES);
	vfs_decide(v, c, w ? POLICY_WRITE : vfs_read_op(n), ppath, &d);
	if (d.allow) /* the mode lacks what policy gives: the tree's own limit */
		return vfs_refuse(v, c, "access", ppath, "modes", EACCES);
	return vfs_deny(v, c, "access", ppath, &d, EACCES);
}

/* Hard links, symbolic links and device nodes have no place in the tree: refused as
 * @what of @name under @parent, and recorded. */
static void refuse_new(fuse_req_t req, fuse_ino_t parent, const char *name, const char *what)
{
	struct vfs *v = vfs_data(req);
	struct node *p = vfs_node(req, parent);
	char ppath[NAME_PATH_MAX + 16];
	struct caller c;

	if (!p) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	vfs_child_policy_path(p, name, ppath, sizeof(ppath));
	fuse_reply_err(req, -vfs_refuse(v, &c, what, ppath, "tree", EPERM));
}

void vfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	refuse_new(req, newparent, newname, "link");
}

void vfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	refuse_new(req, parent, name, "symlink");
}

void vfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)mode;
	(void)rdev;
	refuse_new(req, parent, name, "mknod");
}

void vfs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
	unsigned rights;
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
	rights = vfs_rights(v, &c, n);
	m = vfs_mode_for(n->kind, rights);
	if (n->kind == NODE_CERT_FILE) /* key.pem is read with export */
		m = S_IFREG | (rights & POLICY_BIT(vfs_read_op(n)) ? 0400 : 0);
	if (((mask & R_OK) && !(m & 0400)) || ((mask & W_OK) && !(m & 0200)) ||
	    ((mask & X_OK) && !(m & 0100)) || (mask == F_OK && !(m & 0777)))
		fuse_reply_err(req, -access_denied(v, &c, n, mask, m));
	else
		fuse_reply_err(req, 0);
}

void vfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct vfs *v = vfs_data(req);
	struct node *p = vfs_node(req, parent);
	char path[NAME_PATH_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct vault_act act;
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
		vfs_child_policy_path(p, name, ppath, sizeof(ppath));
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
	vault_act_init(&act, &ev);
	r = vault_folder_create(v->vault, &act, path);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	vfs_reply_entry(req, v, &c, NODE_FOLDER, path, 0);
}

void vfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vfs *v = vfs_data(req);
	struct node *p = vfs_node(req, parent);
	char path[NAME_PATH_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct vault_act act;
	struct audit_event ev;
	struct caller c;

	if (!p) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	if (p->kind == NODE_TRASH_KEYS || p->kind == NODE_TRASH_CERTS) {
		fuse_reply_err(req, -vfs_trash_purge(v, &c, p, name));
		return;
	}
	/* keys/NAME and certs/NAME are not removed by rmdir (nor by rm -r, which empties a
	 * folder first): deleting one is `vaultfs key|cert delete`, or mv to .deleted/ */
	if (p->kind != NODE_SECRETS && p->kind != NODE_FOLDER) {
		vfs_child_policy_path(p, name, ppath, sizeof(ppath));
		fuse_reply_err(
			req,
			-vfs_refuse(v, &c, "rmdir", ppath, "tree",
				    p->kind == NODE_ROOT || p->kind == NODE_TRASH ? EBUSY : EPERM));
		return;
	}
	if (vfs_join(p, name, path, sizeof(path)) < 0 || name_path_check(path) < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	snprintf(ppath, sizeof(ppath), "secrets/%s", path);
	if (!vfs_decide(v, &c, POLICY_DELETE, ppath, &d)) {
		fuse_reply_err(req,
			       -vfs_deny(v, &c, "rmdir", ppath, &d, vfs_hidden_errno(v, &c, p)));
		return;
	}
	vfs_event(&c, "rmdir", ppath, 0, &d, 0, &ev);
	vault_act_init(&act, &ev);
	fuse_reply_err(req, -vault_folder_remove(v->vault, &act, path));
}

void vfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vfs *v = vfs_data(req);
	struct node *p = vfs_node(req, parent);
	char path[NAME_PATH_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct vault_act act;
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
			vfs_child_policy_path(p, base, ppath, sizeof(ppath));
			fuse_reply_err(req, -vfs_refuse(v, &c, "delete", ppath, "history", EPERM));
			return;
		}
		op = POLICY_DELETE;
	} else if (p->kind == NODE_TRASH_SECRETS || p->kind == NODE_TRASH_FOLDER) {
		op = POLICY_PURGE;
	} else {
		vfs_child_policy_path(p, name, ppath, sizeof(ppath));
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
		fuse_reply_err(req, -vfs_deny(v, &c, what, ppath, &d, vfs_hidden_errno(v, &c, p)));
		return;
	}
	vfs_event(&c, what, ppath, 0, &d, 0, &ev);
	vault_act_init(&act, &ev);
	if (op == POLICY_PURGE)
		r = vault_secret_purge(v->vault, &act, path);
	else
		r = vault_secret_delete(v->vault, &act, path);
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

/* mv of .deleted/secrets/X back to secrets/X (@recover), or of secrets/X to
 * .deleted/secrets/X (a soft delete): under its own name only. */
static int rename_across(struct vfs *v, struct caller *c, const char *from, const char *to,
			 const char *pfrom, int recover)
{
	const char *what = recover ? "recover" : "delete";
	struct policy_decision d;
	struct audit_event ev;
	struct vault_act act;
	int r;

	if (strcmp(from, to) != 0)
		return -EXDEV;
	r = vfs_check(v, c, what, recover ? POLICY_RECOVER : POLICY_DELETE, pfrom, &d);
	if (r < 0)
		return r;
	vfs_event(c, what, pfrom, 0, &d, 0, &ev);
	vault_act_init(&act, &ev);
	if (recover)
		return vault_secret_recover(v->vault, &act, from);
	return vault_secret_delete(v->vault, &act, from);
}

/* mv within secrets/: a move, or a new version of a live @to (an editor's save). */
static int rename_move(struct vfs *v, struct caller *c, const char *from, const char *to,
		       const char *pfrom, const char *pto, unsigned int flags)
{
	struct policy_decision d, recover;
	struct audit_event ev;
	struct vault_act act;
	int r;

	r = rename_check(v, c, pfrom, pto, &d, &recover);
	if (r < 0)
		return r;
	vfs_event(c, "rename", pfrom, 0, &d, 0, &ev);
	ev.detail = pto;
	vault_act_init(&act, &ev);
	if (!recover.allow)
		vault_act_no_recover(&act, pto, recover.rule);
	r = vault_secret_rename(v->vault, &act, from, to,
				(flags & RENAME_NOREPLACE) ? VAULT_RENAME_NOREPLACE : 0);
	/* a folder moves by copy and delete, which mv does on EXDEV */
	if (r == -EISDIR && store_folder_exists(v->store, from) == 1)
		r = -EXDEV;
	return r;
}

static int live_kind(enum node_kind k)
{
	return k == NODE_SECRETS || k == NODE_FOLDER;
}

static int trash_kind(enum node_kind k)
{
	return k == NODE_TRASH_SECRETS || k == NODE_TRASH_FOLDER;
}

/*
 * mv within secrets/ moves or replaces (an editor's temporary file renamed over its
 * target gives the target a new version and leaves no temporary name); mv from
 * .deleted/secrets/X back to secrets/X recovers; mv of secrets/X to .deleted/secrets/X
 * deletes; the same between keys/ or certs/ and .deleted/keys/ or .deleted/certs/ (trash.c).
 * Everything else crosses what vaultfs can do in one step: EXDEV.
 */
void vfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		   const char *newname, unsigned int flags)
{
	struct vfs *v = vfs_data(req);
	struct node *p = vfs_node(req, parent), *np = vfs_node(req, newparent);
	char from[NAME_PATH_MAX + 1], to[NAME_PATH_MAX + 1];
	char pfrom[NAME_PATH_MAX + 16], pto[NAME_PATH_MAX + 16];
	struct caller c;
	int r;

	if (!p || !np) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (flags & ~RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	vfs_caller(req, &c);
	if (vfs_trash_move_kind(p, np)) {
		r = vfs_trash_move(v, &c, p, name, np, newname);
		fuse_reply_err(req, r < 0 ? -r : 0);
		return;
	}
	if (!(live_kind(p->kind) || trash_kind(p->kind)) ||
	    !(live_kind(np->kind) || trash_kind(np->kind))) {
		vfs_child_policy_path(p, name, pfrom, sizeof(pfrom));
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
	if (trash_kind(p->kind) && live_kind(np->kind))
		r = rename_across(v, &c, from, to, pfrom, 1);
	else if (live_kind(p->kind) && trash_kind(np->kind))
		r = rename_across(v, &c, from, to, pfrom, 0);
	else if (live_kind(p->kind))
		r = rename_move(v, &c, from, to, pfrom, pto, flags);
	else
		r = vfs_refuse(v, &c, "rename", pfrom, "tree", EPERM);
	fuse_reply_err(req, r < 0 ? -r : 0);
}

void vfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;

	(void)ino;
	memset(&st, 0, sizeof(st));
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_namemax = NAME_SEGMENT_MAX;
	fuse_reply_statfs(req, &st);
}

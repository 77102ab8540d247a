/*
 * vfs: the tree of SPEC — secrets/, keys/, .deleted/ — as FUSE low-level operations.
 *
 * Every request is decided for the live caller: identity from fuse_req_ctx(), rights
 * from policy, and nothing the kernel may reuse for another caller (timeouts 0, direct_io,
 * no keep_cache). This file holds the mount's state and the operations table; the
 * handlers live by concern: access.c (caller, decision, record), lookup.c (names and
 * attributes), tree.c (mkdir, rmdir, unlink, rename), files.c and writes.c (open secrets),
 * keyfiles.c (keys/), dirs.c (listings), xattr.c (attributes).
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
	.lookup = vfs_op_lookup,
	.forget = vfs_op_forget,
	.forget_multi = vfs_op_forget_multi,
	.getattr = vfs_op_getattr,
	.setattr = vfs_op_setattr,
	.access = vfs_op_access,
	.mkdir = vfs_op_mkdir,
	.link = vfs_op_link,
	.symlink = vfs_op_symlink,
	.mknod = vfs_op_mknod,
	.rmdir = vfs_op_rmdir,
	.unlink = vfs_op_unlink,
	.rename = vfs_op_rename,
	.statfs = vfs_op_statfs,
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

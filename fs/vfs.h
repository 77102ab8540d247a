/*
 * vfs: the FUSE low-level operations of a mounted vault. Handlers are thin: they name the
 * node, ask policy for the live caller, call the store, and reply. Nothing is cached in
 * the kernel: entry and attribute timeouts are 0 and every secret is opened direct_io,
 * so every open is decided here.
 */
#ifndef VAULTFS_VFS_H
#define VAULTFS_VFS_H

#include <stddef.h>
#include <stdint.h>

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312 /* fuse_loop_cfg_* needs 312 or later */
#endif
#include <fuse_lowlevel.h>

#include "policy.h"
#include "vault.h"

struct vfs;

/* State for one mount of @vault under @policy; the vault is not owned, the policy is. */
int vfs_new(struct vault *vault, struct policy *policy, struct vfs **ret);
void vfs_free(struct vfs *v);

/* Puts @policy in force for every request from now on; the old one is freed. */
void vfs_set_policy(struct vfs *v, struct policy *policy);

/*
 * Lets at most @slots key operations (keys/NAME/sign, decrypt, ...) into the token at once:
 * the daemon gives its worker count less one, so that a stalled token never takes every
 * worker and lookups, listings and reads still answer. An operation that finds every slot
 * taken waits up to @wait_ms for one, then fails with EBUSY (recorded); once such a wait
 * has timed out, the next ones fail at once until an operation in the token finishes.
 * Called once, before the mount serves. Returns 0 or -ENOMEM.
 */
int vfs_set_token_slots(struct vfs *v, unsigned slots, unsigned wait_ms);

/* What the mount's open files and folders hold now, against their caps in all ([limits]). */
struct vfs_usage {
	unsigned open_files; /* files and folders open through the mount */
	uint64_t buffered_bytes; /* locked memory their values and buffers hold */
	unsigned open_files_max;
	uint64_t buffered_bytes_max;
};
void vfs_usage(struct vfs *v, struct vfs_usage *ret);

/* The operations table; pass the vfs as userdata to fuse_session_new. */
const struct fuse_lowlevel_ops *vfs_ops(void);

#endif

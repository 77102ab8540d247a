/*
 * guard: nobody mounts another filesystem over any part of a mounted vault, and so hides
 * it or stands in for it (SPEC). The daemon starts the guard once its mount is made and
 * stops it once that is unmounted; what the guard does to mount helpers' requests is in
 * vfs_internal.h (vfs_refuse_mount_helper, vfs_is_guard).
 */
#ifndef VAULTFS_GUARD_H
#define VAULTFS_GUARD_H

#include "vfs.h"

struct guard;

/*
 * Told of each mount found over the vault, on the guard's thread: @path is where, as
 * policy names it ("secrets/a"; "" for the mount's root), @result 0 if it was detached,
 * else a positive errno; @detail what was mounted — type, source and options, where a
 * FUSE mount's user_id= names the user who mounted it.
 */
typedef void (*guard_record_fn)(void *userdata, const char *path, int result, const char *detail);

/*
 * Watches the mount table for mounts over the vault mounted by @v on @mountpoint
 * (canonical), detaching each at once and telling @record. Called right after the mount is
 * made and before it serves: it asks nothing of the mount itself. Returns 0, or -errno
 * (-ENOENT: the vault's mount is not on @mountpoint).
 */
int guard_start(struct vfs *v, const char *mountpoint, guard_record_fn record, void *userdata,
		struct guard **ret);

/* Stops the guard; call it after the mount is unmounted, when no lookup of the guard's can
 * wait for a worker any more. Accepts NULL. */
void guard_stop(struct guard *g);

#endif

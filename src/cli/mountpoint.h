/*
 * mountpoint: where a vault may be mounted, decided by `vaultfs mount` before it forks or
 * mounts anything.
 */
#ifndef VAULTFS_MOUNTPOINT_H
#define VAULTFS_MOUNTPOINT_H

#include <stddef.h>

/*
 * Resolves @arg, the MOUNTPOINT given for the vault whose canonical directory is @dir,
 * into its canonical path in @ret_mp (PATH_MAX bytes). A FUSE mount left dead there by a
 * daemon that died ("Transport endpoint is not connected") is unmounted first, lazily as
 * `fusermount3 -uz` does, and *@ret_cleaned set to 1 (else 0). Returns 0, or -errno with
 * a one-line reason in @err (@ret_mp and *@ret_cleaned untouched):
 *   -ELOOP    @arg is DIR, inside it or above it — by path or by identity (device and
 *             inode), so that a symbolic link or a bind mount of DIR does not get through;
 *   -EBUSY    a filesystem is already mounted on @arg;
 *   -ENOTDIR  @arg is not a directory;
 *   other     @arg cannot be resolved, or a dead mount there cannot be unmounted.
 */
int mountpoint_prepare(const char *dir, const char *arg, char *ret_mp, int *ret_cleaned, char *err,
		       size_t errlen);

#endif

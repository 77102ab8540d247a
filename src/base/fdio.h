/*
 * fdio: whole writes to a file descriptor.
 */
#ifndef VAULTFS_FDIO_H
#define VAULTFS_FDIO_H

#include <stddef.h>

/* Writes all @len bytes of @buf to @fd, going on after short writes and EINTR.
 * Returns 0, or -errno (-EIO if the kernel accepts nothing); after an error part of
 * @buf may have been written. */
int fd_write_all(int fd, const void *buf, size_t len);

#endif

/*
 * mountwatch: the daemon serves only while its own mount is mounted. Once that is gone from
 * the daemon's mount namespace — `fusermount3 -u`, `umount`, a lazy unmount — a copy of
 * the mount elsewhere (a container's bind mount of it, a file still open in a lazily
 * detached mount) would otherwise keep the FUSE connection, and so the daemon and its lock
 * on the vault, alive for as long as it lasts. The watch ends the connection instead.
 */
#ifndef VAULTFS_MOUNTWATCH_H
#define VAULTFS_MOUNTWATCH_H

struct fuse_session;
struct mountwatch;

/* What the watch did, as mountwatch_stop tells it. */
enum {
	MOUNTWATCH_NOTHING = 0, /* the mount stayed, or its connection ended by itself */
	MOUNTWATCH_ENDED = 1, /* the mount was gone while the connection lived on: ended */
};

/*
 * Watches the mount that @se has just made on @mountpoint (canonical), from a thread of its
 * own. Called by the thread that will run @se's loop, after the mount is made and before it
 * serves: it asks nothing of the mount. When the mount has left the daemon's mount
 * namespace and its connection does not end by itself within a second, the watch ends
 * @se's loop (fuse_session_exit, and a signal that wakes this thread) and aborts the
 * connection through /sys/fs/fuse/connections where that is mounted, or else leaves it to
 * the closing of the session's device, so that every copy of the mount answers ENOTCONN.
 * Returns 0, or -errno (-ENOENT: no FUSE mount of ours on @mountpoint).
 */
int mountwatch_start(struct fuse_session *se, const char *mountpoint, struct mountwatch **ret);

/*
 * Stops the watch and waits for its thread; call it when @se's loop has returned and before
 * the session is unmounted, so that the daemon's own unmount is not taken for one from
 * outside. Returns MOUNTWATCH_ENDED when the watch ended the connection — the session's
 * mount point then holds no mount of the daemon's, and must not be unmounted by path — else
 * MOUNTWATCH_NOTHING. Accepts NULL.
 */
int mountwatch_stop(struct mountwatch *w);

#endif

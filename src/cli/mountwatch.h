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
	MOUNTWATCH_ENDED, /* the mount was gone while the connection lived on: ended */
	MOUNTWATCH_ENDED_KEEP, /* ended the same, but the session must not be unmounted */
};

/*
 * Watches the mount that @se has just made on @mountpoint (canonical), from a thread of its
 * own. Called by the thread that will run @se's loop, after the mount is made and before it
 * serves: it asks nothing of the mount. When the mount has left the daemon's mount
 * namespace and its connection does not end by itself within a second, the watch ends
 * @se's loop (fuse_session_exit, and a signal that wakes this thread) and aborts the
 * connection through the fusectl filesystem — systemd's, or one of its own as root — or
 * else leaves it to the closing of the session's device, so that every copy of the mount
 * answers ENOTCONN. Returns 0, or -errno (-ENOENT: no FUSE mount of ours on @mountpoint).
 */
int mountwatch_start(struct fuse_session *se, const char *mountpoint, struct mountwatch **ret);

/*
 * Stops the watch and waits for its thread; call it when @se's loop has returned and before
 * the session is unmounted, so that the daemon's own unmount is not taken for one from
 * outside. Returns MOUNTWATCH_NOTHING, or MOUNTWATCH_ENDED when the watch ended the
 * connection, or MOUNTWATCH_ENDED_KEEP when it did but could not abort it as root: then
 * fuse_session_unmount() would find the device still connected and detach whatever is on
 * the mount point now, so it must not be called (fuse_session_destroy() closes the device,
 * which ends the connection). Accepts NULL.
 */
int mountwatch_stop(struct mountwatch *w);

#endif

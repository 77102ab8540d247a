/*
 * mountinfo: the mount table of the calling process's mount namespace, as
 * /proc/self/mountinfo gives it (proc(5)), parsed. Reading it asks nothing of any mounted
 * filesystem, so it is safe where a FUSE mount may be dead or not serving yet.
 */
#ifndef VAULTFS_MOUNTINFO_H
#define VAULTFS_MOUNTINFO_H

#include <stddef.h>

/* One mount. Paths are unescaped ("\040" is a space again). */
struct mountinfo_entry {
	int id; /* the mount ID, as /proc/PID/fdinfo's mnt_id names it */
	int parent; /* the mount it is mounted on (itself for the namespace's root) */
	unsigned major, minor; /* st_dev of its filesystem */
	const char *root; /* the directory of its filesystem that it shows */
	const char *mountpoint; /* where, relative to the process's root */
	const char *fstype; /* "ext4", "fuse.vaultfs" */
	const char *source;
	const char *super_opts; /* a FUSE mount's user_id= names who mounted it */
};

struct mountinfo {
	char *buf;
	struct mountinfo_entry *e;
	size_t n;
};

/*
 * Reads the whole table from @fd, an open /proc/self/mountinfo (from its start, whatever
 * its offset), or from a fresh open if @fd is -1. Returns 0, -ENOMEM, -EIO for a line
 * that does not parse, or another -errno of the read.
 */
int mountinfo_read(int fd, struct mountinfo **ret);
void mountinfo_free(struct mountinfo *m);

/* The entry of mount @id, or NULL. */
const struct mountinfo_entry *mountinfo_find(const struct mountinfo *m, int id);

/* The last entry mounted on @path — the top of what is stacked there — or NULL. */
const struct mountinfo_entry *mountinfo_at(const struct mountinfo *m, const char *path);

/* Whether @id is a mount stacked somewhere on mount @ancestor (at any depth). */
int mountinfo_is_below(const struct mountinfo *m, int id, int ancestor);

/* The mount ID of the mount that descriptor @fd is on (its fdinfo's mnt_id), or -errno. */
int mountinfo_fd_mount_id(int fd);

/*
 * The FUSE mount just made on @mountpoint, before it serves: an O_PATH open of its root
 * (which looks the name up in the filesystem below and asks the mount nothing) gives its
 * mount id, and /proc/self/mountinfo — opened into *@ret_table_fd for the caller to keep,
 * read into *@ret_m (mountinfo_free) — must list that id on @mountpoint as fuse. Returns
 * the mount id with its entry in *@ret_e, -ENOENT when it is not such a mount, or -errno;
 * on failure *@ret_table_fd may still be open (the caller closes what is >= 0).
 */
int mountinfo_fuse_at(const char *mountpoint, int *ret_table_fd, struct mountinfo **ret_m,
		      const struct mountinfo_entry **ret_e);

#endif

/*
 * mountpoint: the checks `vaultfs mount` makes on MOUNTPOINT before anything is mounted.
 *
 * A mount point that is the vault's directory, inside it (DIR/tokens) or above it would
 * put the daemon's own files behind its own mount: the daemon reaches them (a worker's
 * database connection, the token's files) before that mount serves, and waits for itself
 * in the kernel for good. So those are refused, by canonical path and by identity — the
 * mount point's directory and each one above it, up to the root by "..", compared by
 * device and inode with DIR, and the other way round — so that neither a symbolic link
 * nor a bind mount of DIR (or of a directory above it) gets one through. A mount point
 * where a filesystem is already mounted is refused: a vault mounted there would hide it,
 * or be hidden under a second one. One left dead by a daemon that died is unmounted
 * lazily, as `fusermount3 -uz` does, so that the next mount just works.
 *
 * Nothing here may reach a file through a FUSE mount that could be dead or hung: a dead
 * mount point is known by stat's ENOTCONN and then looked up only in the mount table.
 */
#include "mountpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mountinfo.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000 /* Linux 5.8 */
#endif

/* Dead mounts stacked on one another are unmounted one by one, up to this many. */
#define DEAD_MAX 8

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Whether the directory @target is @path or one of the directories above it, going up
 * by ".." as the kernel does (out of a mount, or a bind mount, to where it is mounted).
 */
static int at_or_below(const char *path, const struct stat *target)
{
	struct stat st, up_st;
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC), up, found = 0;

	for (int depth = 0; fd >= 0 && depth < PATH_MAX / 2; depth++) {
		if (fstat(fd, &st) < 0)
			break;
		if (same_file(&st, target)) {
			found = 1;
			break;
		}
		up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = up;
		if (fd >= 0 && (fstat(fd, &up_st) < 0 || same_file(&up_st, &st)))
			break; /* the root is its own parent */
	}
	if (fd >= 0)
		close(fd);
	return found;
}

/* Whether canonical @a is canonical @b or below it. */
static int path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (strcmp(b, "/") == 0)
		return 1;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* @arg made absolute with every directory above it resolved, but not its last part: the
 * path a mount on @arg is listed under, found without looking @arg itself up. */
static int absolute_unresolved(const char *arg, char *ret, size_t len)
{
	char copy[PATH_MAX], parent[PATH_MAX];
	const char *base, *dir;
	char *slash;
	size_t n = strlen(arg);

	if (n == 0 || n >= sizeof(copy))
		return -EINVAL;
	memcpy(copy, arg, n + 1);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	slash = strrchr(copy, '/');
	if (!slash) {
		dir = ".";
		base = copy;
	} else if (slash == copy) {
		dir = "/";
		base = copy + 1;
	} else {
		*slash = '\0';
		dir = copy;
		base = slash + 1;
	}
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -EINVAL;
	if (!realpath(dir, parent))
		return -errno;
	if (snprintf(ret, len, "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", base) >=
	    (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int is_fuse(const char *fstype)
{
	return strcmp(fstype, "fuse") == 0 || strcmp(fstype, "fuseblk") == 0 ||
	       strncmp(fstype, "fuse.", 5) == 0 || strncmp(fstype, "fuseblk.", 8) == 0;
}

/* Lazily unmounts the FUSE mount on @path: itself as root, else through fusermount3, which
 * lets a user unmount only what that user mounted. */
static int unmount_lazy(const char *path)
{
	int status;
	pid_t pid;

	if (geteuid() == 0)
		return umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 ? -errno : 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "-q", "--", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

/* @arg answered ENOTCONN: unmounts the dead FUSE mount on it. */
static int clean_dead(const char *arg, char *err, size_t errlen)
{
	const struct mountinfo_entry *e;
	struct mountinfo *m = NULL;
	char path[PATH_MAX];
	int r;

	r = absolute_unresolved(arg, path, sizeof(path));
	if (r == 0)
		r = mountinfo_read(-1, &m);
	if (r < 0) {
		snprintf(err, errlen, "not connected, and cannot tell what is mounted there: %s",
			 strerror(-r));
		return r;
	}
	e = mountinfo_at(m, path);
	if (!e || !is_fuse(e->fstype)) {
		snprintf(err, errlen, "not connected, and not a FUSE mount (%s)",
			 e ? e->fstype : "not in the mount table");
		r = -ENOTCONN;
		goto out;
	}
	r = unmount_lazy(path);
	if (r < 0)
		snprintf(err, errlen,
			 "left dead by a daemon that died, and cannot be unmounted: %s",
			 strerror(-r));
out:
	mountinfo_free(m);
	return r;
}

/* Whether a filesystem is mounted on @mp (canonical): a mount's root, or in the table. */
static int mounted_on(const char *mp, char *what, size_t len)
{
	const struct mountinfo_entry *e = NULL;
	struct mountinfo *m = NULL;
	struct statx stx;
	int root = -1;

	if (statx(AT_FDCWD, mp, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		root = (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	if (mountinfo_read(-1, &m) == 0)
		e = mountinfo_at(m, mp);
	if (root < 0)
		root = e != NULL;
	if (root && e)
		snprintf(what, len, "%s (%s)", e->fstype, e->source);
	else if (root)
		snprintf(what, len, "a filesystem");
	mountinfo_free(m);
	return root;
}

int mountpoint_prepare(const char *dir, const char *arg, char *ret_mp, int *ret_cleaned, char *err,
		       size_t errlen)
{
	char mp[PATH_MAX], what[PATH_MAX + 64];
	struct stat mp_st, dir_st;
	int cleaned = 0, r;

	for (int i = 0; stat(arg, &mp_st) < 0; i++) {
		r = -errno;
		if (r != -ENOTCONN || i == DEAD_MAX) {
			snprintf(err, errlen, "%s", strerror(-r));
			return r;
		}
		r = clean_dead(arg, err, errlen);
		if (r < 0)
			return r;
		cleaned = 1;
	}
	if (!realpath(arg, mp)) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	if (!S_ISDIR(mp_st.st_mode)) {
		snprintf(err, errlen, "not a directory");
		return -ENOTDIR;
	}
	if (stat(dir, &dir_st) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot stat the vault directory \"%s\": %s", dir,
			 strerror(-r));
		return r;
	}
	if (strcmp(mp, dir) == 0 || same_file(&mp_st, &dir_st)) {
		snprintf(err, errlen,
			 "is the vault directory itself: the daemon would wait on "
			 "its own mount for its own files; mount it elsewhere");
		return -ELOOP;
	}
	if (path_within(mp, dir) || at_or_below(mp, &dir_st)) {
		snprintf(err, errlen,
			 "is inside the vault directory \"%s\": the daemon would "
			 "wait on its own mount for its own files; mount it elsewhere",
			 dir);
		return -ELOOP;
	}
	if (path_within(dir, mp) || at_or_below(dir, &mp_st)) {
		snprintf(err, errlen,
			 "is above the vault directory \"%s\": the daemon would wait "
			 "on its own mount for its own files; mount it elsewhere",
			 dir);
		return -ELOOP;
	}
	if (mounted_on(mp, what, sizeof(what))) {
		snprintf(err, errlen,
			 "%s is already mounted there; unmount it first, or choose "
			 "another mount point",
			 what);
		return -EBUSY;
	}
	memcpy(ret_mp, mp, strlen(mp) + 1);
	*ret_cleaned = cleaned;
	return 0;
}

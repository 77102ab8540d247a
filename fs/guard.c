/*
 * guard: nobody mounts another filesystem over any part of a mounted vault (SPEC).
 *
 * A caller with write on a folder or a file is shown as its owner, with write access:
 * everything fusermount3's check_perm asks before it mounts a user's FUSE filesystem
 * over a path (it also takes FUSE itself as a filesystem to mount on). Mounted there, that
 * filesystem hides the vault's files from every other user and root, or, with
 * user_allow_other, serves its own values in their place. Two layers stop it:
 *
 * - Mount helpers are told no. A set-user-ID root program acting for its user — real and
 *   filesystem uid the user's, effective uid 0, as fusermount3 (and fuse 2's fusermount)
 *   is while it checks — is refused write access to anything in the vault: access(W_OK)
 *   on a folder and an open for writing of a file, the two questions check_perm asks. It
 *   then refuses to mount. The refusal is recorded like any denial, with the rule
 *   "mount-helper". No other set-user-ID program has a reason to write into a vault as
 *   its user.
 * - Whatever gets mounted all the same — by root, by another helper, by propagation from
 *   another namespace — is undone at once. A thread waits for the mount table to change
 *   (POLLPRI on /proc/self/mountinfo), and detaches (MNT_DETACH) every mount whose parent
 *   is the vault's mount, with everything stacked on it, telling the daemon of each.
 *
 * The thread never waits on a filesystem other than the vault, and never on the vault in
 * a way that needs itself: it reaches a mount through descriptors — the vault's root
 * (after detaching what is stacked on it), a walk inside the vault that refuses to cross
 * any mount (RESOLVE_NO_XDEV), and one last step onto the mount point, which crosses into
 * the mount without asking its filesystem anything — and detaches the mount that
 * descriptor is on through /proc/self/fd/N, so no path is looked up in a foreign
 * filesystem and the vault's own mount is never the one detached. Its lookups in the
 * vault are answered by the workers like anyone's, without policy (vfs_is_guard): the
 * daemon's own walk is not a caller's. It holds no descriptor on the mount between
 * sweeps, so that `fusermount3 -u` never finds the mount busy because of it.
 */
#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mountinfo.h"
#include "names.h"
#include "vfs_internal.h"

/* Mounts detached at one place in one sweep, stacked on one another, at most. */
#define STACK_MAX 16
/* Mounts the guard failed to detach, remembered so that each is recorded once. */
#define FAILED_MAX 64
/* A sweep that could not finish is tried again this soon. */
#define RETRY_MS 100

struct guard {
	struct vfs *vfs;
	guard_record_fn record;
	void *userdata;
	char mountpoint[PATH_MAX]; /* as the mount table lists it */
	int mount_id; /* the vault's mount */
	int table_fd; /* /proc/self/mountinfo */
	int stop_fd; /* an eventfd: written to stop */
	pthread_t thread;
	int running;
	/* only the guard's thread touches these */
	int failed[FAILED_MAX];
	size_t nfailed;
};

int vfs_is_guard(const struct vfs *v, const struct caller *c)
{
	pid_t tid = __atomic_load_n(&v->guard_tid, __ATOMIC_ACQUIRE);

	return tid > 0 && c->pid == tid && c->uid == geteuid();
}

int vfs_refuse_mount_helper(struct vfs *v, struct caller *c, const char *what, const struct node *n)
{
	char ppath[NAME_PATH_MAX + 16];

	/* what cannot be told is let through: the guard's thread undoes a mount all the same */
	if (caller_setuid_root(c) != 1)
		return 0;
	vfs_policy_path(n, ppath, sizeof(ppath));
	return vfs_refuse(v, c, what, ppath, "mount-helper", EACCES);
}

static void tell(struct guard *g, const struct mountinfo_entry *e, const char *path, int r)
{
	char detail[1024];

	snprintf(detail, sizeof(detail), "%s %s %s", e ? e->fstype : "?", e ? e->source : "?",
		 e ? e->super_opts : "");
	g->record(g->userdata, path, r < 0 ? -r : 0, detail);
}

/* Whether a failure to detach mount @id was recorded already; remembers it if not. */
static int failed_before(struct guard *g, int id)
{
	for (size_t i = 0; i < g->nfailed; i++)
		if (g->failed[i] == id)
			return 1;
	if (g->nfailed < FAILED_MAX)
		g->failed[g->nfailed++] = id;
	return 0;
}

static int detach_fd(int fd)
{
	char proc[64];

	/* the magic link is the mount the descriptor is on, not whatever its path shows */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return umount2(proc, MNT_DETACH) < 0 ? -errno : 0;
}

/* Records a failure to clear mount @id once; returns -ECANCELED, "recorded". */
static int failed(struct guard *g, const struct mountinfo_entry *e, int id, const char *path, int r)
{
	if (!failed_before(g, id))
		tell(g, e, path, r);
	return -ECANCELED;
}

/*
 * Detaches, one by one, the mounts over the vault that @open_top reaches at @path (policy's
 * name for the place), until the one it reaches is the vault's own. Returns the descriptor
 * of that, with the count detached in *@ret_n; or -EAGAIN when a mount is newer than @m
 * (the next sweep sees it), -ECANCELED when a failure was recorded, or another -errno.
 */
static int clear_stack(struct guard *g, const struct mountinfo *m, const char *path,
		       int (*open_top)(struct guard *, const void *), const void *arg, int *ret_n)
{
	int fd, id, r;

	for (int i = 0; i <= STACK_MAX; i++) {
		fd = open_top(g, arg);
		if (fd < 0)
			return fd;
		id = mountinfo_fd_mount_id(fd);
		if (id == g->mount_id) {
			*ret_n = i;
			return fd;
		}
		if (id < 0 || !mountinfo_is_below(m, id, g->mount_id) || i == STACK_MAX) {
			close(fd);
			return id < 0 ? id : i == STACK_MAX ? -EBUSY : -EAGAIN;
		}
		r = detach_fd(fd);
		close(fd);
		if (r < 0)
			return failed(g, mountinfo_find(m, id), id, path, r);
		tell(g, mountinfo_find(m, id), path, 0);
	}
	return -EBUSY;
}

/* The top of what is mounted on the vault's mount point: a walk through the filesystems
 * below it only. */
static int open_mountpoint(struct guard *g, const void *unused)
{
	int fd;

	(void)unused;
	fd = open(g->mountpoint, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct walk {
	int parent_fd;
	const char *name;
};

/* The top of what is mounted on one name in a folder of the vault. */
static int open_child(struct guard *g, const void *arg)
{
	const struct walk *w = arg;
	int fd;

	(void)g;
	fd = openat(w->parent_fd, w->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Clears mount @e, on @rel below the root of the vault, whose root is @root_fd. */
static int clear_at(struct guard *g, const struct mountinfo *m, int root_fd,
		    const struct mountinfo_entry *e, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_BENEATH,
	};
	char dir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	struct walk w = { .parent_fd = root_fd, .name = rel };
	int fd, n = 0, r;

	if (slash) {
		if ((size_t)(slash - rel) >= sizeof(dir))
			return failed(g, e, e->id, rel, -ENAMETOOLONG);
		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = '\0';
		/* never into another mount: one above this one is cleared first (or is newer
		 * than this sweep, and then so is the next sweep) */
		w.parent_fd = (int)syscall(SYS_openat2, root_fd, dir, &how, sizeof(how));
		if (w.parent_fd < 0)
			return errno == EXDEV ? -EAGAIN : failed(g, e, e->id, rel, -errno);
		w.name = slash + 1;
	}
	fd = clear_stack(g, m, rel, open_child, &w, &n);
	if (fd >= 0)
		close(fd);
	r = fd < 0 ? fd : 0;
	/* gone before the guard reached it (its own user unmounted it, or its name left the
	 * vault and the kernel dropped it): there was a mount over the vault all the same */
	if (r == 0 && n == 0)
		r = -ENOENT;
	if (r < 0 && r != -EAGAIN && r != -ECANCELED)
		r = failed(g, e, e->id, rel, r);
	if (w.parent_fd != root_fd)
		close(w.parent_fd);
	return r;
}

static size_t depth(const char *path)
{
	size_t n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

/* One pass over the table; returns how many mounts over the vault may still be there. */
static int sweep(struct guard *g)
{
	const struct mountinfo_entry **over = NULL;
	struct mountinfo *m = NULL;
	size_t n = 0, mp_len = strlen(g->mountpoint);
	int root_fd = -1, left = 0;

	if (mountinfo_read(g->table_fd, &m) < 0)
		return 1;
	/* a mount ID is reused once its mount is gone: forget the failures of those gone */
	for (size_t i = 0; i < g->nfailed;)
		if (g->failed[i] != g->mount_id && !mountinfo_find(m, g->failed[i]))
			g->failed[i] = g->failed[--g->nfailed];
		else
			i++;
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].parent == g->mount_id && m->e[i].id != g->mount_id)
			n++;
	if (n == 0)
		goto out; /* nothing to do, and no descriptor on the mount */
	over = calloc(n, sizeof(*over));
	if (!over) {
		left = 1;
		goto out;
	}
	n = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].parent == g->mount_id && m->e[i].id != g->mount_id)
			over[n++] = &m->e[i];
	/* the shallowest first: a walk to a deeper one must not cross it */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i;
		     j > 0 && depth(over[j]->mountpoint) < depth(over[j - 1]->mountpoint); j--) {
			const struct mountinfo_entry *t = over[j];

			over[j] = over[j - 1];
			over[j - 1] = t;
		}
	root_fd = clear_stack(g, m, "", open_mountpoint, NULL, &(int){ 0 });
	if (root_fd < 0) {
		/* keyed by the vault's own mount ID, which no mount over it has */
		if (root_fd != -EAGAIN && root_fd != -ECANCELED)
			failed(g, NULL, g->mount_id, "", root_fd);
		left = root_fd == -EAGAIN;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *mp = over[i]->mountpoint, *rel;

		if (strcmp(mp, g->mountpoint) == 0)
			continue; /* stacked on the root: cleared above */
		if (strcmp(g->mountpoint, "/") == 0)
			rel = mp + 1;
		else if (strncmp(mp, g->mountpoint, mp_len) == 0 && mp[mp_len] == '/')
			rel = mp + mp_len + 1;
		else
			continue; /* listed elsewhere than below the mount point: not reachable */
		if (clear_at(g, m, root_fd, over[i], rel) == -EAGAIN)
			left++;
	}
out:
	if (root_fd >= 0)
		close(root_fd);
	free(over);
	mountinfo_free(m);
	return left;
}

static void *guard_main(void *arg)
{
	struct guard *g = arg;
	struct pollfd pfd[2] = {
		{ .fd = g->table_fd, .events = POLLPRI },
		{ .fd = g->stop_fd, .events = POLLIN },
	};
	int left;

	__atomic_store_n(&g->vfs->guard_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (;;) {
		left = sweep(g);
		/* the table changes on every mount anywhere in the namespace; a sweep that finds
		 * nothing over the vault is one read of it */
		if (poll(pfd, 2, left ? RETRY_MS : -1) < 0 && errno != EINTR)
			poll(NULL, 0, RETRY_MS);
		if (pfd[1].revents)
			break;
	}
	return NULL;
}

int guard_start(struct vfs *v, const char *mountpoint, guard_record_fn record, void *userdata,
		struct guard **ret)
{
	const struct mountinfo_entry *e;
	struct mountinfo *m = NULL;
	struct guard *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->vfs = v;
	g->record = record;
	g->userdata = userdata;
	g->table_fd = g->stop_fd = -1;
	if (strlen(mountpoint) >= sizeof(g->mountpoint)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	strcpy(g->mountpoint, mountpoint);
	/* the mount is made and does not serve yet: found without asking it anything */
	r = mountinfo_fuse_at(mountpoint, &g->table_fd, &m, &e);
	if (r < 0)
		goto out;
	g->mount_id = r;
	g->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (g->stop_fd < 0) {
		r = -errno;
		goto out;
	}
	r = -pthread_create(&g->thread, NULL, guard_main, g);
	if (r < 0)
		goto out;
	g->running = 1;
	*ret = g;
	g = NULL;
	r = 0;
out:
	mountinfo_free(m);
	guard_stop(g);
	return r;
}

void guard_stop(struct guard *g)
{
	uint64_t one = 1;

	if (!g)
		return;
	if (g->running) {
		(void)!write(g->stop_fd, &one, sizeof(one));
		pthread_join(g->thread, NULL);
		__atomic_store_n(&g->vfs->guard_tid, 0, __ATOMIC_RELEASE);
	}
	if (g->table_fd >= 0)
		close(g->table_fd);
	if (g->stop_fd >= 0)
		close(g->stop_fd);
	free(g);
}

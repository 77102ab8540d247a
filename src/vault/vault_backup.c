/*
 * vault_backup: a vault copied while it is in use, and a copy put back into place.
 *
 * A backup is a vault directory at rest: the database as it stood at one instant (SQLite's
 * online backup, store_backup.c), then the trail — its rotated files, which never change,
 * and then the live file under the trail's own lock (so no record is half-copied and no
 * rotation happens in between: the trail reaches the head the copied database holds, and
 * goes past it) — the settings, the policy, and for
 * the embedded token its PIN and token files, copied under the token's guard (no login is
 * half-way through rewriting token.object). Restore copies a backup into a new directory
 * and proves it before saying so: the vault opens (its token holds its key), SQLite finds
 * the database whole, and the trail verifies to its head. Whatever fails, what was made
 * is removed, and the source is never written.
 */
#include "vault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fdio.h"
#include "log.h"
#include "timeutil.h"
#include "token_guard.h"

/* How long a backup waits for the trail's writers and for a login in progress. */
#define BACKUP_LOCK_WAIT_MS 5000

static int path_join(char *buf, const char *dir, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Copies file @src to @dst (created, never overwritten) with @mode, and syncs it. With
 * @whole_lines, a last line without its newline (a record being written) stays behind. */
static int copy_file(const char *src, const char *dst, mode_t mode, int whole_lines)
{
	char buf[65536];
	off_t keep = -1, done = 0;
	int in, out = -1, r;
	ssize_t n;

	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (out < 0) {
		r = -errno;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		char *nl = memrchr(buf, '\n', (size_t)n);

		if (nl)
			keep = done + (nl - buf) + 1;
		r = fd_write_all(out, buf, (size_t)n);
		if (r < 0)
			goto out;
		done += n;
	}
	if (n < 0) {
		r = -errno;
		goto out;
	}
	if (whole_lines && keep != done && ftruncate(out, keep < 0 ? 0 : keep) < 0) {
		r = -errno;
		goto out;
	}
	r = fsync(out) < 0 ? -errno : 0;
out:
	if (out >= 0 && close(out) < 0 && r == 0)
		r = -errno;
	close(in);
	return r;
}

/* Copies every regular file of folder @src into a new folder @dst (mode 0700), skipping
 * @skip; @prefix (if set) picks only the names that start with it, into @dst as it is,
 * leaving a file already there (copied by an earlier call) as it is. */
static int copy_dir(const char *src, const char *dst, const char *prefix, const char *skip,
		    int whole_lines)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int r = 0;

	d = opendir(src);
	if (!d)
		return -errno;
	if (!prefix && mkdir(dst, 0700) < 0) {
		r = -errno;
		goto out;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || strcmp(e->d_name, "..") == 0))
			continue;
		if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (skip && strcmp(e->d_name, skip) == 0)
			continue;
		r = path_join(from, src, e->d_name);
		if (r == 0)
			r = path_join(to, dst, e->d_name);
		if (r < 0)
			goto out;
		if (lstat(from, &st) < 0) {
			r = -errno;
			goto out;
		}
		if (S_ISDIR(st.st_mode))
			r = copy_dir(from, to, NULL, skip, 0);
		else if (S_ISREG(st.st_mode))
			r = copy_file(from, to, st.st_mode & 0600, whole_lines);
		else
			r = 0; /* a socket or link has no place in a vault: left out */
		if (r == -EEXIST && prefix)
			r = 0;
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	closedir(d);
	return r;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Holds the trail's file lock shared: no writer appends, and none rotates, meanwhile. */
static int trail_lock(const char *dir, int *ret_fd)
{
	int64_t until = time_mono_us() + (int64_t)BACKUP_LOCK_WAIT_MS * 1000;
	char path[PATH_MAX];
	struct stat a, b;
	int fd, r;

	r = path_join(path, dir, VAULT_AUDIT);
	if (r < 0)
		return r;
	for (;;) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
			/* still the file by that name, not one a rotation just moved away */
			if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
			    a.st_dev == b.st_dev) {
				*ret_fd = fd;
				return 0;
			}
		} else if (errno != EWOULDBLOCK) {
			r = -errno;
			close(fd);
			return r;
		}
		close(fd);
		if (time_mono_us() >= until)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	(void)nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The files every vault has, copied as they are (after the database and the trail). */
static int copy_small_files(const char *from, const char *to)
{
	static const struct {
		const char *name;
		int optional;
	} files[] = {
		{ CONFIG_FILE, 0 },
		{ VAULT_POLICY, 0 },
		{ VAULT_PIN, 1 },
		{ VAULT_SOFTHSM_CONF, 1 },
	};
	char a[PATH_MAX], b[PATH_MAX];
	struct stat st;
	int r;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		r = path_join(a, from, files[i].name);
		if (r == 0)
			r = path_join(b, to, files[i].name);
		if (r < 0)
			return r;
		if (lstat(a, &st) < 0) {
			if (errno == ENOENT && files[i].optional)
				continue;
			return -errno;
		}
		r = copy_file(a, b, st.st_mode & 0600, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The token's files, under its guard: no process is half-way through a login. */
static int copy_tokens(const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct token_guard *g = NULL;
	unsigned restored = 0;
	int r;

	r = path_join(a, from, VAULT_TOKENS);
	if (r == 0)
		r = path_join(b, to, VAULT_TOKENS);
	if (r < 0)
		return r;
	r = token_guard_begin(a, BACKUP_LOCK_WAIT_MS, &restored, &g);
	if (r < 0)
		return r;
	r = copy_dir(a, b, NULL, TOKEN_GUARD_LOCK, 0);
	(void)token_guard_end(g, 0);
	return r;
}

int vault_backup(struct vault *v, const char *dest, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int r, lock = -1;

	if (mkdir(dest, 0700) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s",
			 r == -EEXIST ? "already exists: a backup goes to a "
					"new directory"
				      : strerror(-r));
		return r;
	}
	r = path_join(path, dest, VAULT_DB);
	if (r == 0)
		r = store_backup(v->store, path);
	if (r < 0) {
		snprintf(err, errlen, "copying the database: %s", strerror(-r));
		goto out;
	}
	/* after the database: the trail copied reaches the head the copy holds. Rotated
	 * files never change: they are copied first, without the lock, so that writers wait
	 * for no more than the live file's copy (and the files rotated meanwhile). */
	r = copy_dir(v->dir, dest, VAULT_AUDIT "-", NULL, 1);
	if (r == 0)
		r = trail_lock(v->dir, &lock);
	if (r == 0) {
		r = copy_dir(v->dir, dest, VAULT_AUDIT, NULL, 1);
		close(lock);
	}
	if (r < 0) {
		snprintf(err, errlen, "copying the audit trail: %s", strerror(-r));
		goto out;
	}
	r = copy_small_files(v->dir, dest);
	if (r < 0) {
		snprintf(err, errlen, "copying the settings, policy and PIN: %s", strerror(-r));
		goto out;
	}
	if (v->cfg->softhsm2_conf) {
		r = copy_tokens(v->dir, dest);
		if (r < 0) {
			snprintf(err, errlen, "copying the embedded token: %s", strerror(-r));
			goto out;
		}
	}
	r = sync_dir(dest);
out:
	if (r < 0)
		remove_tree(dest);
	return r;
}

int vault_restore(const char *backup, const char *dir, char *err, size_t errlen)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct stat st;
	int r;

	r = path_join(a, backup, VAULT_DB);
	if (r == 0 && (lstat(a, &st) < 0 || !S_ISREG(st.st_mode)))
		r = -ENOENT;
	if (r < 0) {
		snprintf(err, errlen, "\"%s\" is not a vault backup (no %s in it)", backup,
			 VAULT_DB);
		return r;
	}
	if (mkdir(dir, 0700) < 0) {
		r = -errno;
		snprintf(err, errlen, "\"%s\": %s", dir,
			 r == -EEXIST ? "already exists: a vault is restored into a new directory"
				      : strerror(-r));
		return r;
	}
	r = path_join(b, dir, VAULT_DB);
	if (r == 0)
		r = copy_file(a, b, 0600, 0);
	if (r == 0)
		r = copy_dir(backup, dir, VAULT_AUDIT, NULL, 1);
	if (r == 0)
		r = copy_small_files(backup, dir);
	if (r == 0 && path_join(a, backup, VAULT_TOKENS) == 0 && lstat(a, &st) == 0) {
		r = path_join(b, dir, VAULT_TOKENS);
		if (r == 0)
			r = copy_dir(a, b, NULL, TOKEN_GUARD_LOCK, 0);
	}
	if (r == 0)
		r = sync_dir(dir);
	if (r < 0) {
		snprintf(err, errlen, "copying \"%s\": %s", backup, strerror(-r));
		remove_tree(dir);
	}
	return r;
}

void vault_restore_undo(const char *dir)
{
	remove_tree(dir);
}

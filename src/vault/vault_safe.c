/*
 * vault_safe: whether a vault directory can be trusted, as sshd's StrictModes decides
 * whether an authorized_keys file can (OpenSSH's safe_path()).
 *
 * Everything vaultfs trusts lives in DIR: the policy that decides every access, the
 * settings that name the token, the PIN, the token's files, the database and the trail.
 * If another user could change any of them — or rename DIR, or a directory above it, and
 * put another in its place — that user could grant themselves anything. So DIR, each
 * directory above it up to /, and each of those files must be owned by the user running
 * vaultfs or by root, and writable by nobody else. A directory above DIR that others may
 * write is accepted only with the sticky bit (as /tmp): there nobody but an entry's owner
 * (checked to be us or root) can rename or remove it. A trusted file that is a symbolic
 * link is refused: it would make the vault depend on a place outside it.
 *
 * The PIN file is judged the same way when it is read (vault_read_pin): as ssh refuses a
 * private key that others may read.
 *
 * This only reads: it never changes a mode or an owner, and it never logs.
 */
#include "vault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The files of DIR that vaultfs trusts (the store's companions of vault.db with them). */
static const char *const trusted[] = {
	CONFIG_FILE, VAULT_DB,	STORE_COMPANIONS(VAULT_DB), VAULT_POLICY,
	VAULT_AUDIT, VAULT_PIN, VAULT_SOFTHSM_CONF,	    VAULT_TOKENS,
};

/* How deep tokens/ goes: SoftHSM2 keeps one folder per token, its files inside. */
#define TOKENS_DEPTH 3

static const char *writers(mode_t mode)
{
	if ((mode & S_IWGRP) && (mode & S_IWOTH))
		return "its group and others";
	return (mode & S_IWGRP) ? "its group" : "others";
}

/*
 * The verdict on one thing: 0, or -EPERM with the reason. @what is "the vault directory",
 * "a directory above the vault" or "a vault file"; @sticky_ok accepts others' write on a
 * sticky directory.
 */
static int judge(const char *path, const struct stat *st, const char *what, int sticky_ok,
		 char *err, size_t errlen)
{
	uid_t me = geteuid();

	if (S_ISLNK(st->st_mode)) {
		snprintf(err, errlen,
			 "%s \"%s\" is a symbolic link: refused, a vault trusts only its own files",
			 what, path);
		return -EPERM;
	}
	if (st->st_uid != me && st->st_uid != 0) {
		if (me == 0)
			snprintf(err, errlen,
				 "%s \"%s\" is owned by uid %u, not by root (who runs vaultfs): "
				 "refused, its owner could change the vault",
				 what, path, (unsigned)st->st_uid);
		else
			snprintf(err, errlen,
				 "%s \"%s\" is owned by uid %u, not by uid %u (who runs vaultfs) "
				 "or root: refused, its owner could change the vault",
				 what, path, (unsigned)st->st_uid, (unsigned)me);
		return -EPERM;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(sticky_ok && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))) {
		snprintf(err, errlen,
			 "%s \"%s\" is writable by %s (mode %04o): refused, another user could "
			 "change the vault (chmod go-w it)",
			 what, path, writers(st->st_mode), (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Each directory above @absdir, from its parent up to /. */
static int check_above(const char *absdir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	if (snprintf(path, sizeof(path), "%s", absdir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (;;) {
		char *slash = strrchr(path, '/');

		if (!slash || slash == path) {
			if (strcmp(path, "/") == 0)
				return 0;
			strcpy(path, "/");
		} else {
			*slash = '\0';
		}
		if (lstat(path, &st) < 0) {
			r = -errno;
			snprintf(err, errlen, "cannot check \"%s\": %s", path, strerror(-r));
			return r;
		}
		r = judge(path, &st, "the directory above the vault", 1, err, errlen);
		if (r < 0)
			return r;
	}
}

/* @dfd/@name (already stat'ed into @st) and, for a directory, what it holds. */
static int check_tree(int dfd, const char *name, const char *path, const struct stat *st, int depth,
		      char *err, size_t errlen)
{
	struct dirent *e;
	DIR *d;
	int fd, r;

	r = judge(path, st, "the vault file", 0, err, errlen);
	if (r < 0 || !S_ISDIR(st->st_mode))
		return r;
	if (depth >= TOKENS_DEPTH) {
		snprintf(err, errlen, "\"%s\" is nested deeper than a token's files: refused",
			 path);
		return -EPERM;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot check \"%s\": %s", path, strerror(-r));
		return r;
	}
	r = 0;
	while (r == 0 && (errno = 0, e = readdir(d))) {
		char sub[PATH_MAX];
		struct stat sst;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= (int)sizeof(sub)) {
			r = -ENAMETOOLONG;
			snprintf(err, errlen, "cannot check \"%s\": %s", path, strerror(-r));
		} else if (fstatat(dirfd(d), e->d_name, &sst, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			snprintf(err, errlen, "cannot check \"%s\": %s", sub, strerror(-r));
		} else {
			r = check_tree(dirfd(d), e->d_name, sub, &sst, depth + 1, err, errlen);
		}
	}
	if (r == 0 && errno) {
		r = -errno;
		snprintf(err, errlen, "cannot check \"%s\": %s", path, strerror(-r));
	}
	closedir(d);
	return r;
}

int vault_check_safe(const char *absdir, char *err, size_t errlen)
{
	struct stat st;
	int dfd = -1, r;

	r = check_above(absdir, err, errlen);
	if (r < 0)
		return r;
	if (lstat(absdir, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "\"%s\": %s", absdir, strerror(-r));
		return r;
	}
	r = judge(absdir, &st, "the vault directory", 0, err, errlen);
	if (r < 0)
		return r;
	dfd = open(absdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		snprintf(err, errlen, "\"%s\": %s", absdir, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++) {
		char path[PATH_MAX];

		if (fstatat(dfd, trusted[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* a missing file is told by whoever needs it */
			r = -errno;
			snprintf(err, errlen, "cannot check \"%s/%s\": %s", absdir, trusted[i],
				 strerror(-r));
			goto out;
		}
		if (snprintf(path, sizeof(path), "%s/%s", absdir, trusted[i]) >=
		    (int)sizeof(path)) {
			r = -ENAMETOOLONG;
			snprintf(err, errlen, "\"%s\": %s", absdir, strerror(-r));
			goto out;
		}
		r = check_tree(dfd, trusted[i], path, &st, 0, err, errlen);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	close(dfd);
	return r;
}

int vault_resolve_safe(const char *dir, char *ret_absdir, char *err, size_t errlen)
{
	char absdir[PATH_MAX];
	int r;

	if (!realpath(dir, absdir)) {
		r = -errno;
		snprintf(err, errlen, "\"%s\": %s", dir, strerror(-r));
		return r;
	}
	r = vault_check_safe(absdir, err, errlen);
	if (r < 0)
		return r;
	memcpy(ret_absdir, absdir, strlen(absdir) + 1);
	return 0;
}

int vault_read_pin(const char *path, struct secbuf **ret, char *err, size_t errlen)
{
	struct secbuf *pin = NULL;
	struct stat st;
	size_t n;
	int fd, r;

	/* O_NONBLOCK: a FIFO put there must not hang the command; only a regular file is read */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open PIN file \"%s\": %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot stat PIN file \"%s\": %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EPERM;
		snprintf(err, errlen, "PIN file \"%s\" is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 0077) {
		r = -EPERM;
		snprintf(err, errlen,
			 "PIN file \"%s\" is open to others (mode %04o): chmod 0400 it", path,
			 (unsigned)(st.st_mode & 07777));
		goto out;
	}
	r = secbuf_read_fd(fd, VAULT_PIN_MAX, &pin);
	if (r < 0) {
		snprintf(err, errlen, "cannot read PIN file \"%s\": %s", path,
			 r == -EFBIG ? "longer than 256 bytes" : strerror(-r));
		goto out;
	}
	n = secbuf_len(pin);
	if (n && secbuf_data(pin)[n - 1] == '\n')
		secbuf_truncate(pin, --n);
	if (n && secbuf_data(pin)[n - 1] == '\r')
		secbuf_truncate(pin, --n);
	if (n == 0) {
		r = -EINVAL;
		snprintf(err, errlen, "PIN file \"%s\" is empty", path);
		goto out;
	}
	*ret = pin;
	pin = NULL;
	r = 0;
out:
	secbuf_free(pin);
	close(fd);
	return r;
}

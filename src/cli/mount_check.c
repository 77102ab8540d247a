/*
 * mount_check: the device and the mount helper's own words (mount_check.h).
 *
 * A mount as a user who cannot open /dev/fuse (mode 0600, as here; Debian's udev rule
 * makes it 0666) used to fail after the fork, with libfuse's "fuse: failed to open
 * /dev/fuse" in the log and "cannot mount" on the terminal; fusermount3's refusals ("user
 * has no write access to mountpoint") went the same way. Both are said here, in one line,
 * where the operator is looking.
 */
#include "mount_check.h"

#include <limits.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "policy.h"

#define FUSE_DEVICE "/dev/fuse"

int mount_check_fuse_device(char *err, size_t errlen)
{
	int fd = open(FUSE_DEVICE, O_RDWR | O_CLOEXEC), r;

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	r = -errno;
	if (r == -EACCES || r == -EPERM)
		snprintf(err, errlen,
			 "cannot open %s: %s (mount as root, or let users open it: mode 0666, "
			 "as Debian's fuse3 sets it)",
			 FUSE_DEVICE, strerror(-r));
	else if (r == -ENOENT || r == -ENODEV || r == -ENXIO)
		snprintf(err, errlen,
			 "cannot open %s: %s (load the fuse module: modprobe fuse; in a "
			 "container, pass the device in)",
			 FUSE_DEVICE, strerror(-r));
	else
		snprintf(err, errlen, "cannot open %s: %s", FUSE_DEVICE, strerror(-r));
	return r;
}

void capture_start(struct stderr_capture *c)
{
	c->saved = -1;
	c->fd = memfd_create("vaultfs-mount-stderr", MFD_CLOEXEC);
	if (c->fd < 0)
		return;
	fflush(stderr);
	c->saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	/* the memory file itself is close-on-exec; the helper gets its copy as fd 2 */
	if (c->saved < 0 || dup2(c->fd, STDERR_FILENO) < 0) {
		if (c->saved >= 0)
			close(c->saved);
		c->saved = -1;
		close(c->fd);
	}
}

/* Whether the captured line @line (without its newline) is libfuse's or its helper's. */
static int from_fuse(const char *line)
{
	return strncmp(line, "fuse: ", 6) == 0 || strncmp(line, "fusermount3: ", 13) == 0 ||
	       strncmp(line, "fusermount: ", 12) == 0;
}

void capture_end(struct stderr_capture *c, char *why, size_t whylen)
{
	struct stat now, ours;
	char *text = NULL;
	off_t size;

	why[0] = '\0';
	if (c->saved < 0)
		return;
	fflush(stderr);
	if (fstat(STDERR_FILENO, &now) == 0 && fstat(c->fd, &ours) == 0 &&
	    now.st_dev == ours.st_dev && now.st_ino == ours.st_ino)
		dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	size = lseek(c->fd, 0, SEEK_END);
	if (size > 0 && size < 1024 * 1024 && (text = calloc(1, (size_t)size + 1)) &&
	    pread(c->fd, text, (size_t)size, 0) == size) {
		size_t used = 0;

		for (char *line = text, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (from_fuse(line) && used < whylen)
				used += (size_t)snprintf(why + used, whylen - used, "%s%s",
							 used ? "; " : "", line);
			else if (*line)
				fprintf(stderr, "%s\n", line);
		}
	}
	free(text);
	close(c->fd);
}

void mount_check_policy(const struct policy *p, const char *dir, int serves_others,
			void (*say)(const char *msg))
{
	char msg[768], named[sizeof(msg) + PATH_MAX];

	for (size_t i = 0; i < policy_warning_count(p); i++) {
		snprintf(named, sizeof(named), "%s/%s", dir, policy_warning(p, i));
		say(named);
	}
	if (serves_others && cli_exe_warning(p, "the daemon", msg, sizeof(msg))) {
		snprintf(named, sizeof(named), "%s/%s", dir, msg);
		say(named);
	}
}

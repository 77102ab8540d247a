/*
 * log: stderr or syslog, filtered by level. It formats what it is given and nothing more;
 * callers are responsible for never passing secret bytes.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeutil.h"

static int max_level = -1;
static int use_syslog;
static int stamp;
static char file_path[PATH_MAX]; /* log_to_file's; set before threads start, then read-only */

void log_set_level(int level)
{
	max_level = level;
}

void log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = 1;
}

void log_use_timestamps(void)
{
	stamp = 1;
}

static int open_onto_stderr(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = 0;

	if (fd < 0)
		return -errno;
	fflush(stderr);
	/* dup2 swaps the descriptor at once: a line being written goes wholly to one file */
	if (dup2(fd, STDERR_FILENO) < 0)
		r = -errno;
	close(fd);
	return r;
}

int log_to_file(const char *path)
{
	int r;

	if (strlen(path) >= sizeof(file_path))
		return -ENAMETOOLONG;
	r = open_onto_stderr(path);
	if (r == 0)
		strcpy(file_path, path);
	return r;
}

int log_reopen(void)
{
	int r;

	if (!file_path[0])
		return 0;
	r = open_onto_stderr(file_path);
	return r < 0 ? r : 1;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (max_level < 0) {
		const char *d = getenv("VAULTFS_DEBUG");

		max_level = (d && *d && strcmp(d, "0") != 0) ? LOG_DEBUG : LOG_INFO;
	}
	if (level > max_level)
		return;
	if (use_syslog) {
		va_start(ap, fmt);
		vsyslog(level, fmt, ap);
		va_end(ap);
	}
	if (stamp) {
		char buf[TIME_RFC3339_MAX];

		time_format(time_now_us(), 1, buf);
		fprintf(stderr, "%s [%d] ", buf, (int)getpid());
	}
	va_start(ap, fmt);
	fputs("vaultfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	va_end(ap);
}

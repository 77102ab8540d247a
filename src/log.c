/*
 * log: stderr or syslog, filtered by level. It formats what it is given and nothing more;
 * callers are responsible for never passing secret bytes.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeutil.h"

static int max_level = -1;
static int use_syslog;
static int stamp;

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

/*
 * log: stderr or syslog, filtered by level. It formats what it is given and nothing more;
 * callers are responsible for never passing secret bytes.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeutil.h"

static int max_level = -1;
static int use_syslog;
static int stamp;
static char file_path[PATH_MAX]; /* log_to_file's; set before threads start, then read-only */
/* stderr is the journal: -1 not known yet, 0 no, 1 yes; found again when stderr changes */
static volatile int journal = -1;

/* systemd's own test (sd_journal_stream_fd(3), JOURNAL_STREAM in systemd.exec(5)): the
 * variable names the stream the manager connected, and it must still be our stderr — a
 * child whose stderr was redirected inherits the variable, not the stream. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static int in_journal(void)
{
	if (journal < 0)
		journal = stderr_is_journal();
	return journal;
}

const char *log_line_start(int level)
{
	static const char *const prefixes[] = { "<0>", "<1>", "<2>", "<3>",
						"<4>", "<5>", "<6>", "<7>" };

	if (!in_journal())
		return "vaultfs: ";
	return prefixes[level & 7];
}

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
	journal = -1;
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
	fputs(log_line_start(level), stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	va_end(ap);
}

/* The signals on_fatal handlers catch, by name, without strsignal (not async-signal-safe). */
static const char *fatal_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGABRT:
		return "SIGABRT";
	case SIGILL:
		return "SIGILL";
	case SIGFPE:
		return "SIGFPE";
	default:
		return "a fatal signal";
	}
}

void log_fatal_signal(const char *what, int sig)
{
	/* journal is read, never found out, here: getenv and fstat are no business of a
	 * signal handler. Unknown, the line goes out without a priority. */
	const char *parts[] = { journal > 0 ? "<2>" : "vaultfs: ", what, ": ", fatal_name(sig),
				"\n" };
	int saved = errno;

	/* write(2) only: stderr is the daemon's log file when it is detached */
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (write(STDERR_FILENO, parts[i], strlen(parts[i])) < 0)
			break;
	if (use_syslog)
		syslog(LOG_CRIT, "%s: %s", what, fatal_name(sig)); /* best effort, see log.h */
	errno = saved;
}

/*
 * log: the daemon's and the command line's one way to speak. Messages go to stderr — the
 * terminal, or DIR/vaultfs.log once the daemon has detached — and to syslog as well. Nothing logged
 * may contain a secret value, a key or a PIN; names that users chose are quoted by the caller.
 *
 * When stderr is the journal (a systemd service's: $JOURNAL_STREAM names its device and
 * inode), each line starts with its syslog priority, "<3>" for an error, which journald
 * takes as the line's priority (SyslogLevelPrefix=, on by default), instead of "vaultfs: ":
 * the journal names the program itself.
 */
#ifndef VAULTFS_LOG_H
#define VAULTFS_LOG_H

#include <syslog.h>

/* Sets the most verbose level shown (LOG_ERR … LOG_DEBUG); VAULTFS_DEBUG=1 sets LOG_DEBUG. */
void log_set_level(int level);

/* Sends messages to syslog as well as to stderr (after daemonising). */
void log_use_syslog(const char *ident);

/* Starts each line on stderr with the time and pid (when stderr is a log file). */
void log_use_timestamps(void);

/*
 * Makes the file at @path (appended to, made 0600 if missing) stderr — every log line, and
 * what else a dying process prints — and keeps @path for log_reopen. Returns 0, or -errno
 * with stderr as it was. Called once, before any thread starts.
 */
int log_to_file(const char *path);

/*
 * Opens log_to_file's path again and makes it stderr, so that a log moved away by
 * logrotate stops growing and the new file takes the lines. Returns 1 when reopened, 0
 * when stderr is no file of ours (the foreground), or -errno with stderr as it was.
 */
int log_reopen(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How a line of @level (LOG_EMERG … LOG_DEBUG) starts on stderr: "<N>" when stderr is the
 * journal, else "vaultfs: ". For messages printed without log_msg (the commands' errors). */
const char *log_line_start(int level);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)

/*
 * For a handler of a fatal signal: "vaultfs: WHAT: SIGNAME" on stderr (the daemon's log
 * file once detached) with write(2) alone, which is async-signal-safe; then to syslog if
 * it is in use — not async-signal-safe, and tried last, when the process is going anyway.
 */
void log_fatal_signal(const char *what, int sig);

#endif

/*
 * cli: what every command of the command line shares — its one-line errors, usage
 * errors, opening a vault (and saying what a DIR that is none is instead), and the record
 * of an inspection (cli.h). It sits below the commands and the mount daemon, and calls
 * none of them.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caller.h"
#include "config.h"
#include "log.h"
#include "mountinfo.h"
#include "policy.h"
#include "vault.h"

/* The command line in the order it was given (getopt reorders argv), for a "did you
 * mean"; a longer one gets none. */
#define ARGS_MAX 64
static int args_count;
static char *args[ARGS_MAX];

void cli_args(int argc, char **argv)
{
	args_count = argc <= ARGS_MAX ? argc : 0;
	for (int i = 0; i < args_count; i++)
		args[i] = argv[i];
}

/* Whether @path is a directory that holds vaultfs.conf: 1, 0 when it is not, -errno when
 * that cannot be told (a directory this user may not search). Reads nothing of it; on a
 * mounted vault this is one lookup, of a name its root never has. */
static int is_vault_dir(const char *path)
{
	char conf[PATH_MAX];
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (snprintf(conf, sizeof(conf), "%s/%s", path, CONFIG_FILE) >= (int)sizeof(conf))
		return -ENAMETOOLONG;
	if (lstat(conf, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* Whether the directory @path has no entry but "." and "..". */
static int is_empty_dir(const char *path)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int empty = 1;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* Appends @s to @buf (of @len, holding @used bytes) as a shell word, quoted if need be. */
static size_t shell_word(char *buf, size_t len, size_t used, const char *s)
{
	int plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789_-+./:=@,%") == strlen(s);

	if (used >= len)
		return used;
	if (plain)
		return used + (size_t)snprintf(buf + used, len - used, " %s", s);
	used += (size_t)snprintf(buf + used, len - used, " '");
	for (; *s && used < len; s++)
		used += (size_t)(*s == '\'' ? snprintf(buf + used, len - used, "'\\''")
					    : snprintf(buf + used, len - used, "%c", *s));
	return used < len ? used + (size_t)snprintf(buf + used, len - used, "'") : used;
}

/* Whether the last suggest() found another argument that is a vault directory. */
static int swapped;

/*
 * "; "OTHER" is a vault directory (did you mean: vaultfs ...?)" into @buf when an argument
 * of the command line other than @dir is a vault directory: the command line with the two
 * swapped. With @instead (the vault mounted at @dir), that vault's directory stands in
 * for @dir when no argument is one. Empty when there is nothing to suggest.
 */
static void suggest(const char *dir, const char *instead, char *buf, size_t len)
{
	int at = -1, other = -1;
	size_t used;

	buf[0] = '\0';
	swapped = 0;
	for (int i = 2; i < args_count; i++)
		if (at < 0 && (args[i] == dir || strcmp(args[i], dir) == 0))
			at = i;
	for (int i = 2; at >= 0 && i < args_count && other < 0; i++)
		if (i != at && args[i][0] != '-' && is_vault_dir(args[i]) > 0)
			other = i;
	if (at < 0 || (other < 0 && !instead))
		return;
	swapped = other >= 0;
	if (other >= 0)
		used = (size_t)snprintf(buf, len,
					"; \"%s\" is a vault directory (did you mean: vaultfs",
					args[other]);
	else
		used = (size_t)snprintf(buf, len, " (did you mean: vaultfs");
	for (int i = 1; i < args_count; i++)
		used = shell_word(buf, len, used,
				  i == at      ? (other >= 0 ? args[other] : instead)
				  : i == other ? args[at]
					       : args[i]);
	if (used < len)
		snprintf(buf + used, len - used, "?)");
}

/* What is mounted at the canonical @path, if anything: its type and source into @fstype
 * and @source (from the mount table, so nothing asks the mount). 1 when a mount is there. */
static int mounted_at(const char *path, char *fstype, size_t fstype_len, char *source, size_t len)
{
	const struct mountinfo_entry *e;
	struct mountinfo *m = NULL;
	int found = 0;

	if (mountinfo_read(-1, &m) < 0)
		return 0;
	e = mountinfo_at(m, path);
	if (e) {
		snprintf(fstype, fstype_len, "%s", e->fstype);
		snprintf(source, len, "%s", e->source);
		found = 1;
	}
	mountinfo_free(m);
	return found;
}

int cli_vault_dir(const char *dir, char *err, size_t errlen)
{
	char abs[PATH_MAX], fstype[256], source[PATH_MAX], hint[2 * PATH_MAX + 256];
	const char *instead = NULL;
	struct stat st;
	int r;

	/* what cannot be told here (no right to look) is told by the checks that follow */
	if (is_vault_dir(dir) != 0)
		return 0;
	if (stat(dir, &st) < 0 || !realpath(dir, abs)) {
		r = -errno;
		suggest(dir, NULL, hint, sizeof(hint));
		snprintf(err, errlen, "\"%s\": %s%s", dir, strerror(-r), hint);
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		suggest(dir, NULL, hint, sizeof(hint));
		snprintf(err, errlen, "\"%s\" is %s, not a vault directory%s", dir,
			 S_ISREG(st.st_mode) ? "a file" : "a device, FIFO or socket", hint);
		return -ENOTDIR;
	}
	if (mounted_at(abs, fstype, sizeof(fstype), source, sizeof(source))) {
		if (strcmp(fstype, "fuse.vaultfs") == 0 && strncmp(source, "vaultfs:", 8) == 0) {
			instead = is_vault_dir(source + 8) > 0 ? source + 8 : NULL;
			suggest(dir, instead, hint, sizeof(hint));
			snprintf(err, errlen,
				 "\"%s\" is where the vault \"%s\" is mounted, not a vault "
				 "directory%s",
				 dir, source + 8, hint);
		} else {
			suggest(dir, NULL, hint, sizeof(hint));
			snprintf(err, errlen,
				 "\"%s\" is where a %s filesystem is mounted, not a vault "
				 "directory (no %s)%s",
				 dir, fstype, CONFIG_FILE, hint);
		}
		return -ENOENT;
	}
	suggest(dir, NULL, hint, sizeof(hint));
	if (is_empty_dir(dir))
		snprintf(err, errlen, "\"%s\" is an empty directory, not a vault%s", dir, hint);
	else
		snprintf(err, errlen, "\"%s\" is not a vault (no %s)%s", dir, CONFIG_FILE, hint);
	return -ENOENT;
}

int cli_swapped(const char *dir, char *err, size_t errlen)
{
	char msg[2 * PATH_MAX + 512];

	swapped = 0;
	if (cli_vault_dir(dir, msg, sizeof(msg)) == 0 || !swapped)
		return 0;
	snprintf(err, errlen, "%s", msg);
	return 1;
}

int cli_exe_warning(const struct policy *p, const char *who, char *buf, size_t len)
{
	const char *first = NULL;
	size_t n = policy_exe_rules(p, &first);
	int can = caller_exe_readable();

	if (n == 0 || can > 0)
		return 0;
	snprintf(buf, len,
		 "%s: warning: %s lacks CAP_SYS_PTRACE%s, so exe= cannot be checked for callers "
		 "of other users nor for set-user-ID programs: for them an allow with exe= "
		 "fails and a deny with exe= holds (%zu rule%s)",
		 first, who, can < 0 ? " (or its capabilities cannot be read)" : "", n,
		 n == 1 ? "" : "s");
	return 1;
}

/* The trail tells; the daemon's log, or a command's stderr, says it. */
static void audit_notice(void *userdata, const struct audit_notice *n)
{
	(void)userdata;
	switch (n->kind) {
	case AUDIT_NOTICE_STALLED:
		log_error("The audit trail \"%s\" is stalled: %s within %lld ms; every operation "
			  "fails with EIO until it answers",
			  n->path, n->detail, n->value);
		break;
	case AUDIT_NOTICE_HOLDER:
		log_error("The lock on \"%s\" is held by pid %lld", n->path, n->value);
		break;
	case AUDIT_NOTICE_RESUMED:
		log_warn("The audit trail \"%s\" answers again: %s", n->path, n->detail);
		break;
	case AUDIT_NOTICE_TORN:
		log_warn("Cutting a torn record (%lld bytes) off the end of \"%s\"", n->value,
			 n->path);
		break;
	case AUDIT_NOTICE_ROTATED:
		log_info("Rotated \"%s\" to \"%s\"", n->path, n->detail);
		break;
	}
}

int cli_vault_open(const char *dir, struct vault **ret, char *err, size_t errlen)
{
	int r = cli_vault_dir(dir, err, errlen);

	if (r < 0)
		return r;
	r = vault_open(dir, ret, err, errlen);

	if (r >= 0)
		audit_set_notify((*ret)->audit, audit_notice, NULL);
	return r;
}

int cli_error(const char *cmd, const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s: ", log_line_start(LOG_ERR), cmd);
	if (name)
		fprintf(stderr, "\"%s\": ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_inspection(const char *cmd, struct vault *v, const struct audit_event *ev)
{
	int r = vault_record_inspection(v, ev);

	if (r == 1) {
		fprintf(stderr,
			"vaultfs: %s: \"%s/%s\": the disk is full: this inspection is noted in "
			"the system log, not in the audit trail\n",
			cmd, v->dir, VAULT_AUDIT);
		return 0;
	}
	return r < 0 ? -EIO : 0;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s: ", log_line_start(LOG_ERR), cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'vaultfs %s --help')\n", cmd);
	return EXIT_USAGE;
}

/*
 * config: parsing and writing vaultfs.conf with inih. The parser keeps the first error
 * with its line number and refuses the whole file; it never guesses.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

struct parse_state {
	struct vault_config *c;
	char msg[200];
	int failed;
	unsigned seen; /* a bit per setting, by its place in settings[] */
};

/* Every setting, by section and name: each may be given once. */
static const char *const settings[][2] = {
	{ "vault", "max_secret_size" },
	{ "vault", "retention_days" },
	{ "vault", "busy_timeout_ms" },
	{ "audit", "rotate_size" },
	{ "audit", "timeout_ms" },
	{ "hsm", "module" },
	{ "hsm", "token" },
	{ "hsm", "pin_file" },
	{ "hsm", "softhsm2_conf" },
	{ "hsm", "busy_timeout_ms" },
	{ "limits", "open_files_per_uid" },
	{ "limits", "open_files" },
	{ "limits", "buffered_bytes_per_uid" },
	{ "limits", "buffered_bytes" },
	{ "metrics", "file" },
	{ "metrics", "interval" },
	{ "metrics", "format" },
	{ "lifetime", "interval" },
	{ "lifetime", "warn_days" },
};

int config_value_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > CONFIG_VALUE_MAX || v[0] == ' ' || v[n - 1] == ' ' || v[0] == ';')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
		if (v[i] == ';' && v[i - 1] == ' ') /* i > 0: v[0] is not ';' */
			return 0;
	}
	return 1;
}

int config_set_string(char **field, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

int config_new(struct vault_config **ret)
{
	struct vault_config *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->max_secret_size = CONFIG_SECRET_SIZE_DEFAULT;
	c->retention_days = 90;
	c->busy_timeout_ms = 5000;
	c->audit_rotate_size = CONFIG_ROTATE_SIZE_DEFAULT;
	c->audit_timeout_ms = 3000;
	c->hsm_busy_timeout_ms = 1000;
	c->open_files_per_uid = CONFIG_OPEN_FILES_PER_UID_DEFAULT;
	c->open_files = CONFIG_OPEN_FILES_DEFAULT;
	c->buffered_per_uid = CONFIG_BUFFERED_PER_UID_DEFAULT;
	c->buffered = CONFIG_BUFFERED_DEFAULT;
	c->metrics_interval = CONFIG_METRICS_INTERVAL_DEFAULT;
	c->lifetime_interval = CONFIG_LIFETIME_INTERVAL_DEFAULT;
	c->warn_days = CONFIG_WARN_DAYS_DEFAULT;
	c->metrics_file = strdup(CONFIG_METRICS_FILE_DEFAULT);
	if (!c->metrics_file) {
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void config_free(struct vault_config *c)
{
	if (!c)
		return;
	free(c->hsm_module);
	free(c->token_label);
	free(c->pin_file);
	free(c->softhsm2_conf);
	free(c->metrics_file);
	free(c);
}

static int parse_uint(const char *v, unsigned long long min, unsigned long long max,
		      unsigned long long *ret)
{
	unsigned long long n;
	char *end;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -EINVAL;
	*ret = n;
	return 0;
}

/* Keeps the first error's message; inih reports its line as ini_parse_file's result. */
static int fail(struct parse_state *s, const char *msg, const char *name, const char *value)
{
	if (!s->failed) {
		snprintf(s->msg, sizeof(s->msg), "%s \"%s\"%s%s%s", msg, name, value ? ": \"" : "",
			 value ? value : "", value ? "\"" : "");
		s->failed = 1;
	}
	return 0;
}

/* [limits]: an open-files cap or a buffered-bytes cap, per uid or in all. */
static int on_limit(struct parse_state *s, const char *name, const char *value)
{
	struct vault_config *c = s->c;
	unsigned long long *bytes = NULL, n;
	unsigned *files = NULL;

	if (strcmp(name, "open_files_per_uid") == 0)
		files = &c->open_files_per_uid;
	else if (strcmp(name, "open_files") == 0)
		files = &c->open_files;
	else if (strcmp(name, "buffered_bytes_per_uid") == 0)
		bytes = &c->buffered_per_uid;
	else if (strcmp(name, "buffered_bytes") == 0)
		bytes = &c->buffered;
	else
		return fail(s, "unknown setting", name, NULL);
	if (files) {
		if (parse_uint(value, 1, CONFIG_OPEN_FILES_LIMIT, &n) < 0)
			return fail(s, "out of range (1 to 65536):", name, value);
		*files = (unsigned)n;
	} else {
		if (parse_uint(value, CONFIG_BUFFERED_MIN, CONFIG_BUFFERED_LIMIT, &n) < 0)
			return fail(s, "out of range (2097152 to 1099511627776):", name, value);
		*bytes = n;
	}
	return 1;
}

/* Whether @v can name the metrics file: a plain name (in the vault directory) or an
 * absolute path, never "." or ".." or a path relative to somewhere else. */
int config_metrics_file_ok(const char *v)
{
	if (!config_value_ok(v))
		return 0;
	if (v[0] == '/')
		return v[1] != '\0';
	return !strchr(v, '/') && strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
}

/* [metrics]: where the mount writes its metrics, how often, and in which format. */
static int on_metrics(struct parse_state *s, const char *name, const char *value)
{
	struct vault_config *c = s->c;
	unsigned long long n;

	if (strcmp(name, "file") == 0) {
		if (*value == '\0') {
			free(c->metrics_file);
			c->metrics_file = NULL;
			return 1;
		}
		if (!config_metrics_file_ok(value))
			return fail(s,
				    "not a file name in the vault directory or an absolute path:",
				    name, NULL);
		if (config_set_string(&c->metrics_file, value) < 0)
			return fail(s, "out of memory at", name, NULL);
	} else if (strcmp(name, "interval") == 0) {
		if (parse_uint(value, 1, 3600, &n) < 0)
			return fail(s, "out of range (1 to 3600):", name, value);
		c->metrics_interval = (unsigned)n;
	} else if (strcmp(name, "format") == 0) {
		if (strcmp(value, "prometheus") == 0)
			c->metrics_openmetrics = 0;
		else if (strcmp(value, "openmetrics") == 0)
			c->metrics_openmetrics = 1;
		else
			return fail(s, "neither prometheus nor openmetrics:", name, value);
	} else {
		return fail(s, "unknown setting", name, NULL);
	}
	return 1;
}

/* [lifetime]: how often a mount checks lifetimes, and how early it warns of an expiry. */
static int on_lifetime(struct parse_state *s, const char *name, const char *value)
{
	struct vault_config *c = s->c;
	unsigned long long n;

	if (strcmp(name, "interval") == 0) {
		if (parse_uint(value, 1, CONFIG_LIFETIME_INTERVAL_LIMIT, &n) < 0)
			return fail(s, "out of range (1 to 86400):", name, value);
		c->lifetime_interval = (unsigned)n;
	} else if (strcmp(name, "warn_days") == 0) {
		if (parse_uint(value, 0, CONFIG_WARN_DAYS_LIMIT, &n) < 0)
			return fail(s, "out of range (0 to 3650):", name, value);
		c->warn_days = (unsigned)n;
	} else {
		return fail(s, "unknown setting", name, NULL);
	}
	return 1;
}

/* [vault]: the size of a secret, how long deleted ones are kept, how long a write waits. */
static int on_vault(struct parse_state *s, const char *name, const char *value)
{
	struct vault_config *c = s->c;
	unsigned long long n;

	if (strcmp(name, "max_secret_size") == 0) {
		if (parse_uint(value, 1, CONFIG_SECRET_SIZE_LIMIT, &n) < 0)
			return fail(s, "out of range (1 to 1048576):", name, value);
		c->max_secret_size = (size_t)n;
	} else if (strcmp(name, "retention_days") == 0) {
		if (parse_uint(value, 1, 36500, &n) < 0)
			return fail(s, "out of range (1 to 36500):", name, value);
		c->retention_days = (unsigned)n;
	} else if (strcmp(name, "busy_timeout_ms") == 0) {
		if (parse_uint(value, 0, 600000, &n) < 0)
			return fail(s, "out of range (0 to 600000):", name, value);
		c->busy_timeout_ms = (unsigned)n;
	} else {
		return fail(s, "unknown setting", name, NULL);
	}
	return 1;
}

/* [audit]: when the trail is rotated, how long a record waits. */
static int on_audit(struct parse_state *s, const char *name, const char *value)
{
	struct vault_config *c = s->c;
	unsigned long long n;

	if (strcmp(name, "rotate_size") == 0) {
		if (parse_uint(value, 0, CONFIG_ROTATE_SIZE_LIMIT, &n) < 0 ||
		    (n > 0 && n < CONFIG_ROTATE_SIZE_MIN))
			return fail(s, "out of range (0, or 65536 to 1099511627776):", name, value);
		c->audit_rotate_size = n;
	} else if (strcmp(name, "timeout_ms") == 0) {
		if (parse_uint(value, 10, 600000, &n) < 0)
			return fail(s, "out of range (10 to 600000):", name, value);
		c->audit_timeout_ms = (unsigned)n;
	} else {
		return fail(s, "unknown setting", name, NULL);
	}
	return 1;
}

/* [hsm]: the token (strings) and how long a key operation waits for it. */
static int on_hsm(struct parse_state *s, const char *name, const char *value)
{
	struct vault_config *c = s->c;
	unsigned long long n;
	char **field;

	if (strcmp(name, "busy_timeout_ms") == 0) {
		if (parse_uint(value, 0, 600000, &n) < 0)
			return fail(s, "out of range (0 to 600000):", name, value);
		c->hsm_busy_timeout_ms = (unsigned)n;
		return 1;
	}
	if (strcmp(name, "module") == 0)
		field = &c->hsm_module;
	else if (strcmp(name, "token") == 0)
		field = &c->token_label;
	else if (strcmp(name, "pin_file") == 0)
		field = &c->pin_file;
	else if (strcmp(name, "softhsm2_conf") == 0)
		field = &c->softhsm2_conf;
	else
		return fail(s, "unknown setting", name, NULL);
	if (*value == '\0' && field == &c->softhsm2_conf)
		return 1;
	if (*value == '\0')
		return fail(s, "empty setting", name, NULL);
	/* what could not be written back the same (config_write) is not read either */
	if (!config_value_ok(value))
		return fail(s, "not a value vaultfs.conf can hold:", name, NULL);
	if (config_set_string(field, value) < 0)
		return fail(s, "out of memory at", name, NULL);
	return 1;
}

/*
 * 1 if @name of @section was seen before. inih hands an indented line on as another value
 * of the setting above it: a setting given twice is refused, whichever way, rather than
 * the last one silently winning.
 */
static int given_twice(struct parse_state *s, const char *section, const char *name)
{
	for (unsigned i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		if (strcmp(section, settings[i][0]) || strcmp(name, settings[i][1]))
			continue;
		if (s->seen & (1u << i))
			return 1;
		s->seen |= 1u << i;
	}
	return 0;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *s = user;

	if (s->failed)
		return 0;
	if (!name)
		return 1; /* a section header alone */
	if (given_twice(s, section, name))
		return fail(s, "given twice (or continued on an indented line):", name, NULL);
	if (strcmp(section, "vault") == 0)
		return on_vault(s, name, value);
	if (strcmp(section, "audit") == 0)
		return on_audit(s, name, value);
	if (strcmp(section, "hsm") == 0)
		return on_hsm(s, name, value);
	if (strcmp(section, "limits") == 0)
		return on_limit(s, name, value);
	if (strcmp(section, "metrics") == 0)
		return on_metrics(s, name, value);
	if (strcmp(section, "lifetime") == 0)
		return on_lifetime(s, name, value);
	return fail(s, "unknown section", section, NULL);
}

/*
 * Reads all of @f into *@ret (NUL-terminated) and checks what inih would otherwise take
 * silently: a line too long for its buffer (the rest would be read as a line of its own)
 * and a NUL byte (the rest of its line would be dropped). Returns 0, -EINVAL with the
 * message in @err, -EIO or -ENOMEM.
 */
static int read_text(FILE *f, char **ret, char *err, size_t errlen)
{
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t n, line = 1, len = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		r = -EIO;
		goto out;
	}
	if (n > CONFIG_FILE_MAX) {
		snprintf(err, errlen, CONFIG_FILE ": larger than %d bytes", CONFIG_FILE_MAX);
		r = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\0' || (buf[i] != '\n' && ++len > CONFIG_LINE_MAX)) {
			snprintf(err, errlen, CONFIG_FILE ":%zu: %s", line,
				 buf[i] ? "line longer than " CONFIG_LINE_MAX_TEXT " characters"
					: "a NUL byte");
			r = -EINVAL;
			goto out;
		}
		if (buf[i] == '\n')
			line++, len = 0;
	}
	buf[n] = '\0';
	*ret = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}

int config_parse(FILE *f, struct vault_config **ret, char *err, size_t errlen)
{
	struct parse_state s = { 0 };
	char *text = NULL;
	int r;

	r = read_text(f, &text, err, errlen);
	if (r < 0)
		return r;
	r = config_new(&s.c);
	if (r < 0)
		goto out;
	r = ini_parse_string(text, on_value, &s);
	if (r < 0) {
		r = -EIO;
		goto out;
	}
	if (r > 0)
		snprintf(err, errlen, CONFIG_FILE ":%d: %s", r,
			 s.failed ? s.msg : "not a setting or section");
	if (r > 0) {
		r = -EINVAL;
		goto out;
	}
	if (!s.c->hsm_module || !s.c->token_label || !s.c->pin_file) {
		snprintf(err, errlen, CONFIG_FILE ": [hsm] needs module, token and pin_file");
		r = -EINVAL;
		goto out;
	}
	*ret = s.c;
	s.c = NULL;
	r = 0;
out:
	config_free(s.c);
	free(text);
	return r;
}

int config_load(const char *path, struct vault_config **ret, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	int fd, r;

	/* nothing but a regular file is read: a FIFO put there must not hang the command */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, CONFIG_FILE ": not a regular file");
		close(fd);
		return -EINVAL;
	}
	f = fdopen(fd, "re");
	if (!f) {
		r = -errno;
		close(fd);
		return r;
	}
	r = config_parse(f, ret, err, errlen);
	fclose(f);
	return r;
}

/* Every setting of @c with its comment, as init writes them: the file documents itself. */
static void write_settings(FILE *f, const struct vault_config *c)
{
	fprintf(f,
		"# vaultfs settings. Every setting is written out with its value in force.\n"
		"# Changes take effect at the next mount or command.\n"
		"\n"
		"[vault]\n"
		"# Largest secret value in bytes (at most 1048576). Larger writes fail with "
		"EFBIG.\n"
		"max_secret_size = %zu\n"
		"# Days a deleted secret stays under .deleted/ before it is purged.\n"
		"retention_days = %u\n"
		"# How long to wait for another process's lock on vault.db, in milliseconds.\n"
		"busy_timeout_ms = %u\n"
		"\n"
		"[audit]\n"
		"# audit.log is moved to audit.log-SEQ once it reaches this many bytes (0: never;\n"
		"# then rotate with logrotate and SIGHUP). Rotated files are never deleted.\n"
		"rotate_size = %llu\n"
		"# The longest a record waits for the lock on audit.log (another process may hold\n"
		"# it) or for the token's next epoch key, in milliseconds. Past it the operation\n"
		"# fails with EIO, and the trail records the stall once it answers again.\n"
		"timeout_ms = %u\n"
		"\n"
		"[hsm]\n"
		"# The PKCS#11 module and token that hold the vault's key-encryption key.\n"
		"module = %s\n"
		"token = %s\n"
		"# The token's user PIN; a relative path is taken from the vault directory.\n"
		"pin_file = %s\n"
		"# SoftHSM2 configuration of the embedded token (in the vault; it names the token\n"
		"# folder relative to itself); empty for any other token.\n"
		"softhsm2_conf = %s\n"
		"# The mount lets at most one worker fewer than it has into the token at once, so\n"
		"# a stalled token never takes them all. A key operation waits this long, in\n"
		"# milliseconds, for its turn; past it the read fails with EBUSY.\n"
		"busy_timeout_ms = %u\n",
		c->max_secret_size, c->retention_days, c->busy_timeout_ms,
		(unsigned long long)c->audit_rotate_size, c->audit_timeout_ms, c->hsm_module,
		c->token_label, c->pin_file, c->softhsm2_conf ? c->softhsm2_conf : "",
		c->hsm_busy_timeout_ms);
	fprintf(f,
		"\n"
		"[limits]\n"
		"# What the mount's open files and folders may hold, so that no caller can take\n"
		"# the daemon's memory from the others. Past a uid's own cap an open fails with\n"
		"# EMFILE, past the cap in all with ENFILE; a write that would buffer past either\n"
		"# fails with ENOSPC. Refusals are recorded in the audit trail (rule \"limits\").\n"
		"# Files and folders one uid may have open through the mount (1 to 65536).\n"
		"open_files_per_uid = %u\n"
		"# Files and folders all uids together may have open.\n"
		"open_files = %u\n"
		"# Bytes one uid's open files may hold in locked memory: values read or being\n"
		"# written, key operations' input and results (2097152 to 1099511627776).\n"
		"buffered_bytes_per_uid = %llu\n"
		"# Bytes all open files together may hold.\n"
		"buffered_bytes = %llu\n",
		c->open_files_per_uid, c->open_files, c->buffered_per_uid, c->buffered);
	fprintf(f,
		"\n"
		"[metrics]\n"
		"# The mount's metrics, rewritten whole (a temporary file renamed over it) every\n"
		"# interval seconds while it serves, and removed when it unmounts. A file name is\n"
		"# taken in the vault directory; an absolute path puts it elsewhere, such as\n"
		"# /var/lib/prometheus/node-exporter/NAME.prom for node_exporter's textfile\n"
		"# collector. Empty: no metrics file. It holds counts, never a name or a value.\n"
		"file = %s\n"
		"# Seconds between writes (1 to 3600).\n"
		"interval = %u\n"
		"# prometheus (the text format 0.0.4, which node_exporter and promtool read) or\n"
		"# openmetrics (OpenMetrics 1.0).\n"
		"format = %s\n",
		c->metrics_file ? c->metrics_file : "", c->metrics_interval,
		c->metrics_openmetrics ? "openmetrics" : "prometheus");
	fprintf(f,
		"\n"
		"[lifetime]\n"
		"# A mount checks lifetimes when it mounts and then every interval seconds (1 to\n"
		"# 86400): it rotates keys whose --rotate-every is due and records, once a day,\n"
		"# every secret and key that expires within warn_days days (0 to 3650), or has\n"
		"# expired, as \"expiring\".\n"
		"interval = %u\n"
		"warn_days = %u\n",
		c->lifetime_interval, c->warn_days);
}

int config_write(const char *path, const struct vault_config *c)
{
	char tmp[PATH_MAX];
	FILE *f = NULL;
	int fd = -1, r;

	if (!config_value_ok(c->hsm_module) || !config_value_ok(c->token_label) ||
	    !config_value_ok(c->pin_file) ||
	    (c->softhsm2_conf && !config_value_ok(c->softhsm2_conf)) ||
	    (c->metrics_file && !config_metrics_file_ok(c->metrics_file)))
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		goto fail;
	}
	write_settings(f, c);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		r = -errno;
		fclose(f);
		goto fail;
	}
	if (fclose(f) != 0) {
		r = -errno;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return r;
}

/*
 * config: DIR/vaultfs.conf, an INI file. Every setting has a default, and init writes
 * them all out so that an operator sees what is in force. Unknown sections or keys and
 * values out of range are errors that name the line: a typo never silently becomes a
 * default.
 */
#ifndef VAULTFS_CONFIG_H
#define VAULTFS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_FILE "vaultfs.conf"
#define CONFIG_SECRET_SIZE_DEFAULT 25600
#define CONFIG_SECRET_SIZE_LIMIT (1024 * 1024)
#define CONFIG_ROTATE_SIZE_DEFAULT (64ULL << 20)
#define CONFIG_ROTATE_SIZE_MIN 65536ULL
#define CONFIG_ROTATE_SIZE_LIMIT (1ULL << 40)
/* [limits]: what the mount's open files and folders may hold (see vfs_limits) */
#define CONFIG_OPEN_FILES_PER_UID_DEFAULT 1024
#define CONFIG_OPEN_FILES_DEFAULT 8192
#define CONFIG_OPEN_FILES_LIMIT 65536
#define CONFIG_BUFFERED_PER_UID_DEFAULT (64ULL << 20)
#define CONFIG_BUFFERED_DEFAULT (256ULL << 20)
#define CONFIG_BUFFERED_MIN (2ULL << 20) /* room for one value of the largest size */
#define CONFIG_BUFFERED_LIMIT (1ULL << 40)
/* [metrics]: the mount's metrics file */
#define CONFIG_METRICS_FILE_DEFAULT "metrics.prom"
#define CONFIG_METRICS_INTERVAL_DEFAULT 5
/* [lifetime]: how often a mount checks rotations, renewals and expiry, and how many days
 * ahead of an expiry it warns */
#define CONFIG_LIFETIME_INTERVAL_DEFAULT 3600
#define CONFIG_LIFETIME_INTERVAL_LIMIT 86400
#define CONFIG_WARN_DAYS_DEFAULT 30
#define CONFIG_WARN_DAYS_LIMIT 3650
#define CONFIG_FILE_MAX 65536
/* inih reads a line into 200 bytes with its newline and NUL: longer ones are refused */
#define CONFIG_LINE_MAX 198
#define CONFIG_LINE_MAX_TEXT "198"
/* the longest string setting that fits a line as config_write writes it */
#define CONFIG_VALUE_MAX 180

struct vault_config {
	size_t max_secret_size; /* bytes, 1 .. CONFIG_SECRET_SIZE_LIMIT */
	unsigned retention_days; /* 1 .. 36500 */
	unsigned busy_timeout_ms; /* how long to wait for the database lock */
	unsigned long long audit_rotate_size; /* bytes; 0: audit.log is never rotated here */
	unsigned audit_timeout_ms; /* longest wait of a record for the trail's lock or key */
	unsigned hsm_busy_timeout_ms; /* longest wait of a key operation for a token slot */
	char *hsm_module; /* path of the PKCS#11 module */
	char *token_label;
	char *pin_file; /* absolute, or relative to the vault directory */
	char *softhsm2_conf; /* the embedded token's SoftHSM2 config, or NULL */
	/* [limits] of a mount: 1 .. CONFIG_OPEN_FILES_LIMIT open files and folders, and
	 * CONFIG_BUFFERED_MIN .. CONFIG_BUFFERED_LIMIT bytes buffered, per uid and in all */
	unsigned open_files_per_uid;
	unsigned open_files;
	unsigned long long buffered_per_uid;
	unsigned long long buffered;
	/* [metrics]: a file name in the vault directory or an absolute path, rewritten every
	 * metrics_interval seconds (1 .. 3600) while mounted; NULL: no metrics file */
	char *metrics_file;
	unsigned metrics_interval;
	int metrics_openmetrics; /* 1: OpenMetrics 1.0; 0: the Prometheus text format 0.0.4 */
	/* [lifetime]: seconds between a mount's lifetime runs (1 .. 86400), and the days
	 * before an expiry from which it is warned (0 .. 3650) */
	unsigned lifetime_interval;
	unsigned warn_days;
};

/* A config with every default and no HSM settings. Returns 0 or -ENOMEM. */
int config_new(struct vault_config **ret);

/*
 * Reads @path. Returns 0, -ENOENT if it does not exist, -EINVAL with a message
 * "vaultfs.conf:LINE: ..." in @err for a bad file, or another -errno.
 */
int config_load(const char *path, struct vault_config **ret, char *err, size_t errlen);

/* The same for an open stream (read to its end): 0, -EINVAL with the message, or -EIO. */
int config_parse(FILE *f, struct vault_config **ret, char *err, size_t errlen);

/*
 * Returns 1 if @value can be a string setting: it reads back from the file exactly as
 * written — 1 to CONFIG_VALUE_MAX bytes, no control character, no space at either end, and no ';'
 * first or after a space (where inih would see a comment).
 */
int config_value_ok(const char *value);

/* Returns 1 if @value can be [metrics] file: config_value_ok, and a plain file name (taken
 * in the vault directory) or an absolute path. */
int config_metrics_file_ok(const char *value);

/* Writes @c to @path atomically (temporary file, fsync, rename), mode 0600; -EINVAL, and
 * nothing written, if a string setting fails config_value_ok. */
int config_write(const char *path, const struct vault_config *c);

/* Sets *@field to a copy of @value. Returns 0 or -ENOMEM. */
int config_set_string(char **field, const char *value);

void config_free(struct vault_config *c);

#endif

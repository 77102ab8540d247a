/*
 * fuzz_config: libFuzzer target for the settings file, vaultfs.conf, read through inih at
 * every command and mount — a file anyone who can write the vault directory may shape,
 * and that a mistyped edit must never turn into a default. The input is the file. A file
 * that parses must hold only values in range, and what config_write makes of it must
 * parse back to the same settings.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char path[PATH_MAX];

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A scratch directory for the written copy, made once per process and removed at exit. */
static void cleanup(void)
{
	char dir[PATH_MAX];

	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

static const char *scratch(void)
{
	if (!path[0]) {
		const char *tmp = getenv("TMPDIR");
		char dir[PATH_MAX - 32];

		snprintf(dir, sizeof(dir), "%s/fuzz-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/vaultfs.conf", dir);
		atexit(cleanup);
	}
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_config *c = NULL, *back = NULL;
	char err[256] = "", err2[256] = "";
	FILE *f;
	int r;

	if (size == 0)
		return 0; /* fmemopen refuses an empty buffer */
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	r = config_parse(f, &c, err, sizeof(err));
	fclose(f);
	if (r != 0) {
		/* a refusal names the file, on one line */
		if (strncmp(err, CONFIG_FILE, strlen(CONFIG_FILE)) || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (c->max_secret_size < 1 || c->max_secret_size > CONFIG_SECRET_SIZE_LIMIT ||
	    c->retention_days < 1 || c->retention_days > 36500 || c->busy_timeout_ms > 600000 ||
	    (c->audit_rotate_size && c->audit_rotate_size < CONFIG_ROTATE_SIZE_MIN) ||
	    c->audit_rotate_size > CONFIG_ROTATE_SIZE_LIMIT || c->open_files_per_uid < 1 ||
	    c->open_files_per_uid > CONFIG_OPEN_FILES_LIMIT || c->open_files < 1 ||
	    c->open_files > CONFIG_OPEN_FILES_LIMIT || c->buffered_per_uid < CONFIG_BUFFERED_MIN ||
	    c->buffered_per_uid > CONFIG_BUFFERED_LIMIT || c->buffered < CONFIG_BUFFERED_MIN ||
	    c->buffered > CONFIG_BUFFERED_LIMIT || !*c->hsm_module || !*c->token_label ||
	    !*c->pin_file || c->metrics_interval < 1 || c->metrics_interval > 3600 ||
	    (c->metrics_file && !config_metrics_file_ok(c->metrics_file)))
		abort();
	if (config_write(scratch(), c) != 0)
		abort();
	if (config_load(path, &back, err2, sizeof(err2)) != 0) {
		fprintf(stderr, "written settings do not parse back: %s\n", err2);
		abort();
	}
	if (back->max_secret_size != c->max_secret_size ||
	    back->retention_days != c->retention_days ||
	    back->busy_timeout_ms != c->busy_timeout_ms ||
	    back->audit_rotate_size != c->audit_rotate_size ||
	    back->open_files_per_uid != c->open_files_per_uid ||
	    back->open_files != c->open_files || back->buffered_per_uid != c->buffered_per_uid ||
	    back->buffered != c->buffered || !same(back->hsm_module, c->hsm_module) ||
	    !same(back->token_label, c->token_label) || !same(back->pin_file, c->pin_file) ||
	    !same(back->softhsm2_conf, c->softhsm2_conf) ||
	    !same(back->metrics_file, c->metrics_file) ||
	    back->metrics_interval != c->metrics_interval ||
	    back->metrics_openmetrics != c->metrics_openmetrics) {
		fprintf(stderr, "written settings parse back different\n");
		abort();
	}
	config_free(back);
	config_free(c);
	return 0;
}

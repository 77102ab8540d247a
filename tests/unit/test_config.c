/*
 * Unit tests for config: what init writes reads back the same, and every bad file is
 * refused with the line that is wrong.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char dir[PATH_MAX];
static char path[PATH_MAX + 32];

static int setup(void **state)
{
	(void)state;
	test_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/vaultfs.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_rmtree(dir);
	return 0;
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_roundtrip(void **state)
{
	struct vault_config *c = NULL, *back = NULL;
	char err[256] = "";
	struct stat st;

	(void)state;
	assert_int_equal(config_new(&c), 0);
	assert_int_equal(c->max_secret_size, 25600);
	assert_int_equal(c->retention_days, 90);
	assert_int_equal(config_set_string(&c->hsm_module, "/usr/lib/x.so"), 0);
	assert_int_equal(config_set_string(&c->token_label, "tok"), 0);
	assert_int_equal(config_set_string(&c->pin_file, "pin"), 0);
	assert_int_equal(config_write(path, c), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(config_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back->max_secret_size, 25600);
	assert_int_equal(back->retention_days, 90);
	assert_int_equal(back->busy_timeout_ms, 5000);
	assert_string_equal(back->hsm_module, "/usr/lib/x.so");
	assert_string_equal(back->token_label, "tok");
	assert_string_equal(back->pin_file, "pin");
	assert_null(back->softhsm2_conf);
	/* every default is spelled out */
	assert_true(test_file_contains(path, "max_secret_size = 25600", 23));
	assert_true(test_file_contains(path, "retention_days = 90", 19));
	assert_true(test_file_contains(path, "busy_timeout_ms = 5000", 22));
	/* the bounds on stalls: the trail's lock and key, the token's turns */
	assert_int_equal(back->audit_timeout_ms, 3000);
	assert_int_equal(back->hsm_busy_timeout_ms, 1000);
	assert_true(test_file_contains(path, "timeout_ms = 3000", 17));
	assert_true(test_file_contains(path, "busy_timeout_ms = 1000", 22));
	/* the caps on what the mount's open files may hold */
	assert_int_equal(back->open_files_per_uid, 1024);
	assert_int_equal(back->open_files, 8192);
	assert_true(back->buffered_per_uid == 64ULL << 20);
	assert_true(back->buffered == 256ULL << 20);
	assert_true(test_file_contains(path, "[limits]", 8));
	assert_true(test_file_contains(path, "open_files_per_uid = 1024", 25));
	assert_true(test_file_contains(path, "open_files = 8192", 17));
	assert_true(test_file_contains(path, "buffered_bytes_per_uid = 67108864", 33));
	assert_true(test_file_contains(path, "buffered_bytes = 268435456", 26));
	config_free(c);
	config_free(back);
}

/* A vault made before [limits] existed gets every cap's default; set ones read back. */
static void test_limits(void **state)
{
	struct vault_config *c = NULL, *back = NULL;
	char err[256] = "";

	(void)state;
	write_file("[vault]\nmax_secret_size = 100\n[hsm]\nmodule = m\ntoken = t\npin_file = p\n");
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c->open_files_per_uid, 1024);
	assert_int_equal(c->open_files, 8192);
	assert_true(c->buffered_per_uid == 64ULL << 20);
	assert_true(c->buffered == 256ULL << 20);
	config_free(c);
	write_file("[hsm]\nmodule = m\ntoken = t\npin_file = p\n[limits]\n"
		   "open_files_per_uid = 1\nopen_files = 65536\n"
		   "buffered_bytes_per_uid = 2097152\nbuffered_bytes = 1099511627776\n");
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c->open_files_per_uid, 1);
	assert_int_equal(c->open_files, 65536);
	assert_true(c->buffered_per_uid == 2097152);
	assert_true(c->buffered == 1ULL << 40);
	assert_int_equal(config_write(path, c), 0);
	assert_int_equal(config_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back->open_files_per_uid, 1);
	assert_int_equal(back->open_files, 65536);
	assert_true(back->buffered_per_uid == 2097152);
	assert_true(back->buffered == 1ULL << 40);
	config_free(c);
	config_free(back);
}

static void expect_error(const char *text, const char *message)
{
	struct vault_config *c = NULL;
	char err[256] = "";

	write_file(text);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	if (!strstr(err, message))
		fail_msg("expected \"%s\" in \"%s\"", message, err);
}

static void test_errors(void **state)
{
	static const char hsm[] = "[hsm]\nmodule = m\ntoken = t\npin_file = p\n";
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), "%s[vault]\nmax_secret_size = 2000000\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range");
	snprintf(text, sizeof(text), "%s[vault]\nmax_secret_size = -1\n", hsm);
	expect_error(text, "vaultfs.conf:6:");
	snprintf(text, sizeof(text), "%s[vault]\nmax_secret_size = 12abc\n", hsm);
	expect_error(text, "vaultfs.conf:6:");
	snprintf(text, sizeof(text), "%s[vault]\nretention_days = 0\n", hsm);
	expect_error(text, "vaultfs.conf:6:");
	snprintf(text, sizeof(text), "%s[audit]\ntimeout_ms = 5\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range (10 to 600000): \"timeout_ms\"");
	snprintf(text, sizeof(text), "%s[audit]\ntimeout_ms = 600001\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range");
	snprintf(text, sizeof(text),
		 "[hsm]\nbusy_timeout_ms = 1s\nmodule = m\ntoken = t\npin_file = p\n");
	expect_error(text, "vaultfs.conf:2: out of range (0 to 600000): \"busy_timeout_ms\"");
	snprintf(text, sizeof(text), "%s[limits]\nopen_files_per_uid = 0\n", hsm);
	expect_error(text,
		     "vaultfs.conf:6: out of range (1 to 65536): \"open_files_per_uid\": \"0\"");
	snprintf(text, sizeof(text), "%s[limits]\nopen_files = 65537\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range (1 to 65536): \"open_files\"");
	snprintf(text, sizeof(text), "%s[limits]\nopen_files = -1\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range (1 to 65536)");
	snprintf(text, sizeof(text), "%s[limits]\nbuffered_bytes_per_uid = 2097151\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range (2097152 to 1099511627776): "
			   "\"buffered_bytes_per_uid\"");
	snprintf(text, sizeof(text), "%s[limits]\nbuffered_bytes = 1099511627777\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range (2097152 to 1099511627776): "
			   "\"buffered_bytes\"");
	snprintf(text, sizeof(text), "%s[limits]\nbuffered_bytes = 64M\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range");
	snprintf(text, sizeof(text), "%s[limits]\nopen_files = 10\nopen_files = 20\n", hsm);
	expect_error(text, "vaultfs.conf:7: given twice");
	snprintf(text, sizeof(text), "%s[limits]\nopen_file = 10\n", hsm);
	expect_error(text, "vaultfs.conf:6: unknown setting \"open_file\"");
	snprintf(text, sizeof(text), "%s[vault]\nopen_files = 10\n", hsm);
	expect_error(text, "vaultfs.conf:6: unknown setting \"open_files\"");
	snprintf(text, sizeof(text), "%s[vault]\nmax_secrets_size = 10\n", hsm);
	expect_error(text, "vaultfs.conf:6: unknown setting \"max_secrets_size\"");
	snprintf(text, sizeof(text), "%s[vaults]\nx = 1\n", hsm);
	expect_error(text, "vaultfs.conf:6: unknown section \"vaults\"");
	snprintf(text, sizeof(text), "%sthis line is junk\n", hsm);
	expect_error(text, "vaultfs.conf:5:");
	expect_error("[hsm]\nmodule = m\n", "needs module, token and pin_file");
	expect_error("[hsm]\nmodule =\ntoken = t\npin_file = p\n", "vaultfs.conf:2: empty setting");
	/* the last of two values silently winning would hide a typo */
	expect_error("[hsm]\nmodule = m\ntoken = t\npin_file = p\ntoken = u\n",
		     "vaultfs.conf:5: given twice");
	/* inih reads an indented line as another value of the setting above */
	expect_error("[hsm]\nmodule = m\ntoken = t\n  pin_file = p\n",
		     "vaultfs.conf:4: given twice");
	/* found by tests/fuzz/fuzz_config.c: written back as "token = ;x", read as a comment */
	expect_error("[hsm]\nmodule = m\ntoken=;x\npin_file = p\n",
		     "vaultfs.conf:3: not a value vaultfs.conf can hold: \"token\"");
	expect_error("[hsm]\nmodule = m\x01\ntoken=t\npin_file = p\n",
		     "vaultfs.conf:2: not a value");
	/* found by tests/fuzz/fuzz_config.c: inih read the rest of a long line as a line of its
	 * own (here a comment), so the token was cut short without a word */
	snprintf(text, sizeof(text), "%stoken = %0190d;rest\n", hsm, 7);
	expect_error(text, "vaultfs.conf:5: line longer than 198 characters");
	{
		FILE *f = fopen(path, "w");
		struct vault_config *c = NULL;
		char err[256] = "";

		assert_non_null(f);
		fwrite("[hsm]\nmodule = m\0x\ntoken = t\npin_file = p\n", 1, 41, f);
		fclose(f);
		assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "vaultfs.conf:2: a NUL byte");
	}
}

/* config_write refuses what would not read back the same, and writes nothing. */
static void test_write_refuses(void **state)
{
	static const char *const bad[] = { ";x", "a ;b", " a", "a ", "a\nb", "a\tb", "" };
	struct vault_config *c = NULL;

	(void)state;
	unlink(path);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(config_new(&c), 0);
		assert_int_equal(config_set_string(&c->hsm_module, "/m.so"), 0);
		assert_int_equal(config_set_string(&c->token_label, bad[i]), 0);
		assert_int_equal(config_set_string(&c->pin_file, "pin"), 0);
		assert_int_equal(config_value_ok(bad[i]), 0);
		assert_int_equal(config_write(path, c), -EINVAL);
		assert_int_equal(access(path, F_OK), -1);
		config_free(c);
	}
	assert_int_equal(config_value_ok("a;b"), 1);
	assert_int_equal(config_value_ok("/usr/lib/softhsm/libsofthsm2.so"), 1);
}

/* [metrics]: the default file in the vault, an absolute path, none, the formats; a name
 * that is not a plain file name or an absolute path is refused with its line. */
static void test_metrics(void **state)
{
	static const char hsm[] = "[hsm]\nmodule = m\ntoken = t\npin_file = p\n";
	struct vault_config *c = NULL, *back = NULL;
	char err[256] = "", text[512];

	(void)state;
	write_file(hsm);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c->metrics_file, "metrics.prom");
	assert_int_equal(c->metrics_interval, 5);
	assert_int_equal(c->metrics_openmetrics, 0);
	config_free(c);
	snprintf(text, sizeof(text),
		 "%s[metrics]\nfile = /var/lib/prometheus/node-exporter/v.prom\n"
		 "interval = 3600\nformat = openmetrics\n",
		 hsm);
	write_file(text);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c->metrics_file, "/var/lib/prometheus/node-exporter/v.prom");
	assert_int_equal(c->metrics_interval, 3600);
	assert_int_equal(c->metrics_openmetrics, 1);
	assert_int_equal(config_write(path, c), 0);
	assert_int_equal(config_load(path, &back, err, sizeof(err)), 0);
	assert_string_equal(back->metrics_file, c->metrics_file);
	assert_int_equal(back->metrics_openmetrics, 1);
	config_free(c);
	config_free(back);
	snprintf(text, sizeof(text), "%s[metrics]\nfile =\n", hsm);
	write_file(text);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_null(c->metrics_file);
	assert_int_equal(config_write(path, c), 0);
	config_free(c);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_null(c->metrics_file);
	config_free(c);
	snprintf(text, sizeof(text), "%s[metrics]\nfile = ../x.prom\n", hsm);
	expect_error(text, "vaultfs.conf:6: not a file name");
	snprintf(text, sizeof(text), "%s[metrics]\nfile = sub/x.prom\n", hsm);
	expect_error(text, "vaultfs.conf:6: not a file name");
	snprintf(text, sizeof(text), "%s[metrics]\nfile = ..\n", hsm);
	expect_error(text, "vaultfs.conf:6: not a file name");
	snprintf(text, sizeof(text), "%s[metrics]\ninterval = 0\n", hsm);
	expect_error(text, "vaultfs.conf:6: out of range (1 to 3600)");
	snprintf(text, sizeof(text), "%s[metrics]\nformat = json\n", hsm);
	expect_error(text, "vaultfs.conf:6: neither prometheus nor openmetrics");
	snprintf(text, sizeof(text), "%s[metrics]\nport = 9100\n", hsm);
	expect_error(text, "vaultfs.conf:6: unknown setting \"port\"");
}

static void test_missing(void **state)
{
	struct vault_config *c = NULL;
	char err[256];

	(void)state;
	unlink(path);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_refuses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

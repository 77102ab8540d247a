/*
 * Unit tests of the embedded token's configuration (src/vault_token.c): what SoftHSM2 is
 * handed for a vault's softhsm2.conf — every other line as it is, the token folder last
 * and absolute, read the way SoftHSM2 reads a line — where a vault of an older vaultfs
 * (an absolute folder) is taken to be now and how its file is rewritten, a file outside
 * the vault left as it says, SOFTHSM2_CONF put back afterwards, and the refusals. A real
 * SoftHSM2 then opens a token through a configuration made this way.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "vault_token.h"

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* What vault_softhsm_begin hands SoftHSM2 for @conf in @dir, read back through
 * SOFTHSM2_CONF; NULL (and the error in @err) if it refuses. */
static char *handed(const char *dir, const char *conf, char *err, size_t errlen)
{
	struct vault_softhsm s;
	char *text = NULL;
	const char *name;
	FILE *f;
	long n;

	if (vault_softhsm_begin(dir, conf, &s, err, errlen) < 0) {
		vault_softhsm_end(&s);
		return NULL;
	}
	name = getenv("SOFTHSM2_CONF");
	assert_non_null(name);
	assert_int_equal(strncmp(name, "/proc/self/fd/", 14), 0);
	f = fopen(name, "r");
	assert_non_null(f);
	text = calloc(1, 65536);
	assert_non_null(text);
	n = (long)fread(text, 1, 65535, f);
	assert_true(n > 0);
	fclose(f);
	vault_softhsm_end(&s);
	return text;
}

static void test_relative_and_new(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX * 2], err[512] = "", *got;

	(void)state;
	test_tmpdir(dir);
	write_file(dir, "softhsm2.conf", vault_softhsm_conf);
	got = handed(dir, "softhsm2.conf", err, sizeof(err));
	assert_non_null(got);
	snprintf(want, sizeof(want),
		 "# SoftHSM2 configuration of this vault's embedded token. Its token folder is\n"
		 "# named relative to this file; vaultfs hands SoftHSM2 its absolute path.\n"
		 "objectstore.backend = file\n"
		 "log.level = ERROR\n"
		 "slots.removable = false\n"
		 "directories.tokendir = %s/tokens\n",
		 dir);
	assert_string_equal(got, want);
	free(got);
	test_rmtree(dir);
}

/* Lines as SoftHSM2 reads them: '#' ends a line, '=' splits, spaces are trimmed, a
 * leading '=' is skipped, the last setting counts; the rest is copied as it is. */
static void test_softhsm_reading(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX * 2], err[512] = "", *got;

	(void)state;
	test_tmpdir(dir);
	write_file(dir, "softhsm2.conf",
		   "directories.tokendir = /elsewhere/tokens\n"
		   "  directories.tokendir=first   # a comment\n"
		   "# directories.tokendir = commented-out\n"
		   "log.level = INFO\r\n"
		   "=directories.tokendir = sub/dir\n"
		   "slots.removable = false");
	got = handed(dir, "softhsm2.conf", err, sizeof(err));
	assert_non_null(got);
	snprintf(want, sizeof(want),
		 "# directories.tokendir = commented-out\n"
		 "log.level = INFO\r\n"
		 "slots.removable = false\n"
		 "directories.tokendir = %s/sub/dir\n",
		 dir);
	assert_string_equal(got, want);
	free(got);
	test_rmtree(dir);
}

/* A vault of an older vaultfs: an absolute folder is where the vault was made. It is
 * never used; the file is rewritten to name the folder relative, its other lines kept. */
static void test_old_vault(void **state)
{
	static const char rewritten[] = "# old\ndirectories.tokendir = tokens\nlog.level = ERROR\n";
	char dir[PATH_MAX], want[PATH_MAX * 2], err[512] = "", path[PATH_MAX + 32], *got;
	struct stat st;

	(void)state;
	test_tmpdir(dir);
	write_file(dir, "softhsm2.conf",
		   "# old\ndirectories.tokendir = /srv/made-here/tokens\nlog.level = ERROR\n");
	got = handed(dir, "softhsm2.conf", err, sizeof(err));
	assert_non_null(got);
	snprintf(want, sizeof(want), "# old\nlog.level = ERROR\ndirectories.tokendir = %s/tokens\n",
		 dir);
	assert_string_equal(got, want);
	free(got);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
	assert_true(test_file_contains(path, rewritten, sizeof(rewritten) - 1));
	assert_false(test_file_contains(path, "/srv", 4));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	test_rmtree(dir);
}

/* A file outside the vault (an absolute softhsm2_conf) is used as it says and never
 * rewritten; a relative folder in it is taken from its own folder. */
static void test_outside(void **state)
{
	char dir[PATH_MAX], other[PATH_MAX], conf[PATH_MAX + 32], want[PATH_MAX * 2];
	char err[512] = "", *got;

	(void)state;
	test_tmpdir(dir);
	test_tmpdir(other);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", other);
	write_file(other, "softhsm2.conf", "directories.tokendir = /var/lib/x/tokens\n");
	got = handed(dir, conf, err, sizeof(err));
	assert_non_null(got);
	assert_string_equal(got, "directories.tokendir = /var/lib/x/tokens\n");
	free(got);
	assert_true(test_file_contains(conf, "/var/lib/x/tokens", 17));
	write_file(other, "softhsm2.conf", "directories.tokendir = t\n");
	got = handed(dir, conf, err, sizeof(err));
	assert_non_null(got);
	snprintf(want, sizeof(want), "directories.tokendir = %s/t\n", other);
	assert_string_equal(got, want);
	free(got);
	test_rmtree(dir);
	test_rmtree(other);
}

/* SOFTHSM2_CONF is put back as it was, set or not, on success and on failure. */
static void test_env_restored(void **state)
{
	char dir[PATH_MAX], err[512] = "";
	struct vault_softhsm s;

	(void)state;
	test_tmpdir(dir);
	write_file(dir, "softhsm2.conf", vault_softhsm_conf);
	assert_int_equal(setenv("SOFTHSM2_CONF", "/before", 1), 0);
	assert_int_equal(vault_softhsm_begin(dir, "softhsm2.conf", &s, err, sizeof(err)), 0);
	assert_string_not_equal(getenv("SOFTHSM2_CONF"), "/before");
	vault_softhsm_end(&s);
	assert_string_equal(getenv("SOFTHSM2_CONF"), "/before");
	assert_int_equal(vault_softhsm_begin(dir, "missing.conf", &s, err, sizeof(err)), -ENOENT);
	vault_softhsm_end(&s);
	assert_string_equal(getenv("SOFTHSM2_CONF"), "/before");
	assert_int_equal(unsetenv("SOFTHSM2_CONF"), 0);
	assert_int_equal(vault_softhsm_begin(dir, "softhsm2.conf", &s, err, sizeof(err)), 0);
	vault_softhsm_end(&s);
	assert_null(getenv("SOFTHSM2_CONF"));
	test_rmtree(dir);
}

/* Refused with one line naming the file or the folder: a missing file, and a place whose
 * path a SoftHSM2 configuration line cannot hold. */
static void test_refusals(void **state)
{
	char dir[PATH_MAX], bad[PATH_MAX + 32], err[512] = "";

	(void)state;
	test_tmpdir(dir);
	assert_null(handed(dir, "softhsm2.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "softhsm2.conf\": No such file or directory"));
	snprintf(bad, sizeof(bad), "%s/a=b", dir);
	assert_int_equal(mkdir(bad, 0700), 0);
	write_file(bad, "softhsm2.conf", vault_softhsm_conf);
	assert_null(handed(bad, "softhsm2.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "SoftHSM2 cannot be given this path"));
	assert_null(strchr(err, '\n'));
	test_rmtree(dir);
}

/* SoftHSM2 itself opens a token through a configuration made this way: one made in a
 * vault's tokens/ with the file's folder relative, wherever the test runs from. */
static void test_softhsm_opens(void **state)
{
	char dir[PATH_MAX], tokens[PATH_MAX + 16], err[512] = "", cmd[PATH_MAX * 2];
	struct vault_softhsm s;

	(void)state;
	test_tmpdir(dir);
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	assert_int_equal(mkdir(tokens, 0700), 0);
	write_file(dir, "softhsm2.conf", vault_softhsm_conf);
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(vault_softhsm_begin(dir, "softhsm2.conf", &s, err, sizeof(err)), 0);
	assert_string_equal(s.tokens, tokens);
	/* a child reads the memfd through its own /proc/self/fd: pass it the same number */
	snprintf(cmd, sizeof(cmd),
		 "softhsm2-util --init-token --free --label reloc --pin 1234 --so-pin 5678 "
		 ">/dev/null 2>&1 && test -n \"$(ls '%s')\"",
		 tokens);
	{
		int fl = fcntl(s.fd, F_GETFD);

		assert_int_equal(fcntl(s.fd, F_SETFD, fl & ~FD_CLOEXEC), 0);
	}
	assert_int_equal(system(cmd), 0);
	vault_softhsm_end(&s);
	test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relative_and_new), cmocka_unit_test(test_softhsm_reading),
		cmocka_unit_test(test_old_vault),	 cmocka_unit_test(test_outside),
		cmocka_unit_test(test_env_restored),	 cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_softhsm_opens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

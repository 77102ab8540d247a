/*
 * testutil: fresh SoftHSM2 tokens and temporary directories for the unit tests.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vault.h"
#include "vault_ops.h"

void test_tmpdir(char *buf)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, PATH_MAX, "%s/vaultfs-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void test_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int test_file_contains(const char *path, const void *needle, size_t len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int found = 0;

	if (!f)
		return 0;
	for (;;) {
		size_t got;

		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	if (len <= n && memmem(buf, n, needle, len))
		found = 1;
	free(buf);
	return found;
}

static int run(const char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void test_token_setup(struct test_token *t)
{
	char conf[PATH_MAX + 32], tokens[PATH_MAX + 32];
	FILE *f;
	int r;

	if (access(SOFTHSM2_MODULE, R_OK) != 0) {
		fprintf(stderr, "SoftHSM2 module %s missing: skipped\n", SOFTHSM2_MODULE);
		exit(77);
	}
	memset(t, 0, sizeof(*t));
	test_tmpdir(t->dir);
	snprintf(tokens, sizeof(tokens), "%s/tokens", t->dir);
	assert_int_equal(mkdir(tokens, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", t->dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f,
		"directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
		"slots.removable = false\n",
		tokens);
	fclose(f);
	assert_int_equal(setenv("SOFTHSM2_CONF", conf, 1), 0);
	snprintf(t->label, sizeof(t->label), "test-%d", (int)getpid());
	{
		const char *argv[] = {
			"softhsm2-util", "--init-token", "--free",   "--label",	  t->label,
			"--pin",	 TEST_PIN,	 "--so-pin", TEST_SO_PIN, NULL
		};

		r = run(argv);
		if (r == 127) {
			fprintf(stderr, "softhsm2-util missing: skipped\n");
			exit(77);
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(secbuf_from(TEST_PIN, strlen(TEST_PIN), &t->pin), 0);
	assert_int_equal(hsm_open(SOFTHSM2_MODULE, t->label, t->pin, &t->hsm), 0);
}

void test_token_teardown(struct test_token *t)
{
	hsm_free(t->hsm);
	t->hsm = NULL;
	secbuf_free(t->pin);
	t->pin = NULL;
	test_rmtree(t->dir);
}

int test_vault_setup(void **state)
{
	struct vault_init_options o = { 0 };
	struct test_vault *f = calloc(1, sizeof(*f));
	char err[512] = "";

	assert_non_null(f);
	test_tmpdir(f->dir);
	strcat(f->dir, "/v");
	if (vault_init(f->dir, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "vault init: %s\n", err);
		exit(77); /* no SoftHSM2 here */
	}
	assert_int_equal(vault_open(f->dir, &f->v, err, sizeof(err)), 0);
	snprintf(f->trail, sizeof(f->trail), "%s/audit.log", f->dir);
	*state = f;
	return 0;
}

int test_vault_teardown(void **state)
{
	struct test_vault *f = *state;

	vault_free(f->v);
	*strrchr(f->dir, '/') = '\0';
	test_rmtree(f->dir);
	free(f);
	return 0;
}

void test_admin_act(struct vault_act *a, const char *op, const char *path)
{
	struct audit_event ev = { 0 };

	ev.op = op;
	ev.path = path;
	ev.allow = 1;
	ev.rule = "admin";
	vault_act_init(a, &ev);
}

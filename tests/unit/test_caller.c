/*
 * test_caller: the caller's identity as the daemon reads it from the real /proc
 * (policy/caller.c), for real processes made here: another uid and gid with supplementary
 * groups, its cgroup and executable, a set-user-ID root task acting for its user, a live
 * task that is not on its way out, and a pid that is gone (nothing read, nothing made up,
 * outputs untouched). Needs root (to be another user); skipped without. (A task on its way
 * out is seen only while the kernel closes its files: mount.t_writers covers it.)
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caller.h"

/* A child that takes @uid, @gid and groups {@g1, @g2} (and, with @setuid_root, keeps an
 * effective uid of 0 as a set-user-ID root program does), says so on @pipe and waits to
 * be killed. */
static pid_t child(uid_t uid, gid_t gid, gid_t g1, gid_t g2, int setuid_root)
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		gid_t groups[] = { g1, g2 };

		close(p[0]);
		if (setgroups(2, groups) < 0 || setresgid(gid, gid, gid) < 0)
			_exit(2);
		if (setuid_root) {
			if (setresuid(uid, 0, 0) < 0)
				_exit(2);
			setfsuid(uid);
		} else if (setresuid(uid, uid, uid) < 0) {
			_exit(2);
		}
		if (write(p[1], "x", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_identity(void **state)
{
	char want_exe[PATH_MAX], line[CALLER_CGROUP_MAX + 16], *nl;
	struct caller c;
	pid_t pid;
	ssize_t n;
	FILE *f;

	(void)state;
	pid = child(4321, 4322, 4323, 4324, 0);
	caller_init(&c, 4321, 4322, pid);
	caller_load(&c, CALLER_HAVE_GROUPS | CALLER_HAVE_CGROUP | CALLER_HAVE_EXE);
	assert_int_equal(c.have, CALLER_HAVE_GROUPS | CALLER_HAVE_CGROUP | CALLER_HAVE_EXE);
	assert_true(caller_in_group(&c, 4322)); /* primary */
	assert_true(caller_in_group(&c, 4323));
	assert_true(caller_in_group(&c, 4324));
	assert_false(caller_in_group(&c, 0));
	assert_false(caller_in_group(&c, 4325));
	/* the executable: this test's own binary, as the kernel names it */
	n = readlink("/proc/self/exe", want_exe, sizeof(want_exe) - 1);
	assert_true(n > 0);
	want_exe[n] = '\0';
	assert_string_equal(c.exe, want_exe);
	assert_false(c.exe_unverified);
	/* the cgroup v2 path, as /proc/PID/cgroup has it (the "0::" line) */
	f = fopen("/proc/self/cgroup", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0)
			break;
	fclose(f);
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	if (strncmp(line, "0::", 3) == 0)
		assert_string_equal(c.cgroup, line + 3);
	/* the task is alive: not on its way out */
	{
		int code = -1;

		assert_int_equal(caller_exit_code(&c, &code), 0);
		assert_int_equal(code, -1);
		assert_int_equal(caller_setuid_root(&c), 0);
	}
	reap(pid);
}

static void test_setuid_root(void **state)
{
	struct caller c;
	pid_t pid;

	(void)state;
	pid = child(4321, 4322, 4323, 4324, 1);
	caller_init(&c, 4321, 4322, pid);
	assert_int_equal(caller_setuid_root(&c), 1);
	/* a request whose uid is not the task's real one is no such helper */
	caller_init(&c, 4999, 4322, pid);
	assert_true(caller_setuid_root(&c) <= 0);
	reap(pid);
}

static void test_gone(void **state)
{
	struct caller c;
	int code = -1;
	pid_t pid;

	(void)state;
	pid = child(4321, 4322, 4323, 4324, 0);
	reap(pid);
	caller_init(&c, 4321, 4322, pid);
	assert_true(caller_exit_code(&c, &code) < 0);
	assert_int_equal(code, -1); /* untouched */
	assert_true(caller_setuid_root(&c) < 0);
	caller_load(&c, CALLER_HAVE_GROUPS | CALLER_HAVE_EXE | CALLER_HAVE_CGROUP);
	assert_int_equal(c.have, 0); /* nothing read, nothing made up */
	assert_false(caller_in_group(&c, 4323));
	/* no pid at all: the kernel, or another pid namespace */
	caller_init(&c, 0, 0, 0);
	assert_int_equal(caller_exit_code(&c, &code), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_setuid_root),
		cmocka_unit_test(test_gone),
	};

	if (geteuid() != 0) {
		printf("test_caller needs root: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for what the guard against mounts over the vault does without a mount
 * (fs/guard.c), on a real vault whose trail is read back and real processes made here: a
 * set-user-ID root helper acting for its user (as fusermount3 is while it checks) is refused
 * write with the rule "mount-helper" and recorded, the same user's plain process and root
 * are not, nor a caller that cannot be told; the guard's own thread is known by its thread
 * id and uid only; and the guard does not start on a place that is not the vault's FUSE
 * mount. Its sweeps detach what is mounted over a FUSE mount, so they need one:
 * mount.t_overmount covers them. Needs root (to be another user, and a mount namespace);
 * skipped without.
 *
 * The test runs in a mount namespace of its own, every mount private: a guard that started
 * where it must not (on "/") detaches every mount over it, and must reach no one's but the
 * test's own view of them.
 */
#include "vfsutil.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"

static int setup(void **state)
{
	struct test_vfs *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	test_vfs_setup(t, "allow read,write secrets/** uid=1001\nallow * ** uid=0\n", NULL);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct test_vfs *t = *state;

	test_vfs_teardown(t);
	free(t);
	return 0;
}

/* A child of uid @uid — with @setuid_root, keeping an effective uid of 0 as a set-user-ID
 * root program does — that waits to be killed. */
static pid_t child(uid_t uid, int setuid_root)
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (setresgid(uid, uid, uid) < 0)
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

static void test_mount_helper(void **state)
{
	struct test_vfs *t = *state;
	struct node n = { .kind = NODE_FOLDER, .path = (char *)"app" };
	struct caller c;
	pid_t helper = child(1001, 1), plain = child(1001, 0);

	caller_init(&c, 1001, 1001, helper);
	assert_int_equal(vfs_refuse_mount_helper(t->vfs, &c, "access", &n), -EACCES);
	assert_int_equal(test_vfs_records(t, 1001, "access", "secrets/app", "deny", "mount-helper",
					  "EACCES", NULL),
			 1);
	/* the same user's own process, and root, mount nothing through a helper */
	caller_init(&c, 1001, 1001, plain);
	assert_int_equal(vfs_refuse_mount_helper(t->vfs, &c, "open", &n), 0);
	caller_init(&c, 0, 0, helper);
	assert_int_equal(vfs_refuse_mount_helper(t->vfs, &c, "open", &n), 0);
	/* what cannot be told is let through (the guard's sweeps undo a mount all the same):
	 * a task that is gone, no pid, a pid that is not the caller's */
	reap(helper);
	caller_init(&c, 1001, 1001, helper);
	assert_int_equal(vfs_refuse_mount_helper(t->vfs, &c, "open", &n), 0);
	caller_init(&c, 1001, 1001, 0);
	assert_int_equal(vfs_refuse_mount_helper(t->vfs, &c, "open", &n), 0);
	caller_init(&c, 1002, 1002, plain);
	assert_int_equal(vfs_refuse_mount_helper(t->vfs, &c, "open", &n), 0);
	reap(plain);
	assert_int_equal(test_vfs_records(t, -1, NULL, NULL, "deny", NULL, NULL, NULL), 1);
}

/* The guard's own lookups: its thread id and the daemon's uid, nothing else. */
static void test_is_guard(void **state)
{
	struct test_vfs *t = *state;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct caller c;

	caller_init(&c, geteuid(), getegid(), tid);
	assert_false(vfs_is_guard(t->vfs, &c)); /* no guard running */
	__atomic_store_n(&t->vfs->guard_tid, tid, __ATOMIC_RELEASE);
	assert_true(vfs_is_guard(t->vfs, &c));
	caller_init(&c, 1001, 1001, tid); /* its thread id, another uid */
	assert_false(vfs_is_guard(t->vfs, &c));
	caller_init(&c, geteuid(), getegid(), tid + 1);
	assert_false(vfs_is_guard(t->vfs, &c));
	caller_init(&c, geteuid(), getegid(), 0);
	assert_false(vfs_is_guard(t->vfs, &c));
	__atomic_store_n(&t->vfs->guard_tid, 0, __ATOMIC_RELEASE);
}

static void record(void *userdata, const char *path, int result, const char *detail)
{
	(void)path;
	(void)result;
	(void)detail;
	(*(int *)userdata)++;
}

/* Only on the vault's own FUSE mount: not on another filesystem's mount, not on a folder
 * that is no mount point, not on a path too long or missing; nothing started then. */
static void test_start_refused(void **state)
{
	struct test_vfs *t = *state;
	struct guard *g = (struct guard *)&g;
	char longer[PATH_MAX + 8];
	int told = 0;

	assert_int_equal(guard_start(t->vfs, "/", record, &told, &g), -ENOENT);
	assert_int_equal(guard_start(t->vfs, t->vault_dir, record, &told, &g), -ENOENT);
	assert_int_equal(guard_start(t->vfs, "/nonexistent/vaultfs", record, &told, &g), -ENOENT);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[0] = '/';
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(guard_start(t->vfs, longer, record, &told, &g), -ENAMETOOLONG);
	assert_ptr_equal(g, (struct guard *)&g); /* untouched */
	assert_int_equal(told, 0);
	assert_int_equal(__atomic_load_n(&t->vfs->guard_tid, __ATOMIC_ACQUIRE), 0);
	guard_stop(NULL);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "needs root (to be another user): skipped\n");
		return 77;
	}
	/* before any thread: unshare refuses a process that has more than one */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		perror("a mount namespace of its own: skipped");
		return 77;
	}

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mount_helper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_is_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

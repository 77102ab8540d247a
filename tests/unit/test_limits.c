/*
 * Unit tests for [limits] (fs/limits.c), without FUSE, on a real vault whose trail is read
 * back: open files and locked bytes charged per uid and in all, EMFILE past a uid's own
 * caps and ENFILE past the caps in all, growth refused with ENOSPC before it is taken and
 * shrinking always allowed; the first refusal of a run recorded as it happens, the rest
 * counted and recorded as one record when something is given back — at most SUMMARIES at
 * one close, the rest at unmount — and a refusal that cannot be recorded (the trail's lock
 * held elsewhere) is EIO, and leaves the next one first of its run. Counters come back to
 * zero under threads that open, grow and close at once.
 */
#include "vfsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MIB (1024ULL * 1024)

/* [limits] small enough to reach: 2 files and 2 MiB a uid, 3 files and 3 MiB in all; a
 * record waits 50 ms for the trail. */
static void small_caps(struct vault_config *cfg)
{
	cfg->open_files_per_uid = 2;
	cfg->open_files = 3;
	cfg->buffered_per_uid = 2 * MIB;
	cfg->buffered = 3 * MIB;
	cfg->audit_timeout_ms = 50;
}

static int setup_small(void **state)
{
	struct test_vfs *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	test_vfs_setup(t, "allow * ** uid=0\n", small_caps);
	*state = t;
	return 0;
}

static int setup_default(void **state)
{
	struct test_vfs *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	test_vfs_setup(t, "allow * ** uid=0\n", NULL);
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

/* Opens a file of @uid holding @bytes on secrets/@name: the errno, @ch charged on success. */
static int open_as(struct test_vfs *t, uid_t uid, const char *name, uint64_t bytes,
		   struct limits_charge *ch)
{
	struct caller c;
	char path[64];

	caller_init(&c, uid, uid, 0);
	snprintf(path, sizeof(path), "secrets/%s", name);
	return vfs_limits_open(t->vfs, &c, "open", path, bytes, ch);
}

/* The refusals of @uid recorded as they happened, past @detail. */
static int refusals(struct test_vfs *t, long uid, const char *result, const char *detail)
{
	return test_vfs_records(t, uid, "open", NULL, "deny", "limits", result, detail);
}

/* The records of refusals counted and recorded afterwards. */
static int summaries(struct test_vfs *t, long uid, const char *result, const char *detail)
{
	return test_vfs_records(t, uid, "limits", NULL, "deny", "limits", result, detail);
}

static void test_files(void **state)
{
	struct test_vfs *t = *state;
	struct limits_charge a1 = { 0 }, a2 = { 0 }, b1 = { 0 }, poison;

	assert_int_equal(open_as(t, 1001, "a", 0, &a1), 0);
	assert_int_equal(a1.uid, 1001);
	assert_int_equal(a1.open, 1);
	assert_int_equal(open_as(t, 1001, "a", 0, &a2), 0);
	/* the uid's own cap: EMFILE, recorded once with the cap that refused it */
	memset(&poison, 0x5a, sizeof(poison));
	assert_int_equal(open_as(t, 1001, "a", 0, &poison), -EMFILE);
	assert_int_equal(poison.open, 0x5a5a5a5a); /* untouched */
	assert_int_equal(refusals(t, 1001, "EMFILE", "open_files_per_uid=2"), 1);
	assert_int_equal(
		test_vfs_records(t, 1001, "open", "secrets/a", "deny", "limits", "EMFILE", NULL),
		1);
	assert_int_equal(open_as(t, 1001, "b", 0, &poison), -EMFILE);
	assert_int_equal(open_as(t, 1001, "c", 0, &poison), -EMFILE);
	assert_int_equal(refusals(t, 1001, NULL, NULL), 1);

	/* another uid has its own share, up to the cap in all: ENFILE past it */
	assert_int_equal(open_as(t, 1002, "b", 0, &b1), 0);
	assert_int_equal(open_as(t, 1002, "b", 0, &poison), -ENFILE);
	assert_int_equal(refusals(t, 1002, "ENFILE", "open_files=3"), 1);
	assert_int_equal(open_as(t, 1003, "c", 0, &poison), -ENFILE);
	assert_int_equal(open_as(t, 1003, "c", 0, &poison), -ENFILE);
	assert_int_equal(refusals(t, 1003, NULL, NULL), 0);
	assert_int_equal(summaries(t, -1, NULL, NULL), 0);

	/* a close ends both runs: each uid's counted refusals become one record */
	vfs_limits_close(t->vfs, &a1);
	assert_int_equal(a1.open, 0);
	assert_int_equal(summaries(t, 1001, "EMFILE",
				   "2 more opens refused past open_files_per_uid=2 from *"),
			 1);
	assert_int_equal(
		summaries(t, 1003, "ENFILE", "2 more opens refused past open_files=3 from *"), 1);
	assert_int_equal(summaries(t, 1002, NULL, NULL), 0); /* its one refusal was recorded */
	/* and the next refusal of each kind is the first of a new run */
	assert_int_equal(open_as(t, 1001, "a", 0, &a1), 0);
	assert_int_equal(open_as(t, 1001, "a", 0, &poison), -EMFILE);
	assert_int_equal(refusals(t, 1001, "EMFILE", "open_files_per_uid=2"), 2);
	assert_int_equal(open_as(t, 1003, "c", 0, &poison), -ENFILE);
	assert_int_equal(refusals(t, 1003, "ENFILE", "open_files=3"), 1);
	vfs_limits_close(t->vfs, &a1);
	vfs_limits_close(t->vfs, &a2);
	vfs_limits_close(t->vfs, &b1);
	/* closing what was never charged, or twice, gives nothing back */
	vfs_limits_close(t->vfs, &a1);
	vfs_limits_close(t->vfs, &(struct limits_charge){ 0 });
	assert_int_equal(open_as(t, 1001, "a", 0, &a1), 0);
	assert_int_equal(open_as(t, 1001, "a", 0, &a2), 0);
	assert_int_equal(open_as(t, 1002, "a", 0, &b1), 0);
	vfs_limits_close(t->vfs, &a1);
	vfs_limits_close(t->vfs, &a2);
	vfs_limits_close(t->vfs, &b1);
}

static void test_bytes(void **state)
{
	struct test_vfs *t = *state;
	struct limits_charge a = { 0 }, b = { 0 }, poison, unopened = { 0 };
	const char *cap = "untouched";
	uint64_t value = 42;

	assert_int_equal(open_as(t, 1001, "a", MIB, &a), 0);
	assert_int_equal(a.bytes, MIB);
	/* up to the cap exactly, and not a byte past it: nothing changes then */
	assert_int_equal(vfs_limits_hold(t->vfs, &a, 2 * MIB, &cap, &value), 0);
	assert_int_equal(a.bytes, 2 * MIB);
	assert_int_equal(vfs_limits_hold(t->vfs, &a, 2 * MIB + 1, &cap, &value), -ENOSPC);
	assert_string_equal(cap, "buffered_bytes_per_uid");
	assert_int_equal(value, 2 * MIB);
	assert_int_equal(a.bytes, 2 * MIB);
	/* growth is refused, and recorded by no one here: the caller records it */
	assert_int_equal(test_vfs_records(t, 1001, NULL, NULL, "deny", NULL, NULL, NULL), 0);
	/* shrinking always works */
	assert_int_equal(vfs_limits_hold(t->vfs, &a, 4096, &cap, &value), 0);
	assert_int_equal(a.bytes, 4096);
	/* an open that would bring its bytes past the uid's cap: EMFILE, that cap named */
	assert_int_equal(open_as(t, 1001, "b", 2 * MIB, &poison), -EMFILE);
	assert_int_equal(refusals(t, 1001, "EMFILE", "buffered_bytes_per_uid=2097152"), 1);

	/* memory already taken is charged past the caps; then the uid may open nothing */
	vfs_limits_set(t->vfs, &a, 2 * MIB + 100);
	assert_int_equal(a.bytes, 2 * MIB + 100);
	assert_int_equal(open_as(t, 1001, "b", 0, &poison), -EMFILE);
	/* and the others share what is left in all */
	assert_int_equal(open_as(t, 1002, "b", MIB - 100, &b), 0);
	assert_int_equal(vfs_limits_hold(t->vfs, &b, MIB - 99, &cap, &value), -ENOSPC);
	assert_string_equal(cap, "buffered_bytes");
	assert_int_equal(value, 3 * MIB);
	assert_int_equal(open_as(t, 1003, "c", 1, &poison), -ENFILE);
	assert_int_equal(refusals(t, 1003, "ENFILE", "buffered_bytes=3145728"), 1);

	/* a charge never opened holds nothing and is never refused */
	assert_int_equal(vfs_limits_hold(t->vfs, &unopened, 100 * MIB, &cap, &value), 0);
	vfs_limits_set(t->vfs, &unopened, 100 * MIB);
	assert_int_equal(unopened.bytes, 0);

	vfs_limits_close(t->vfs, &a);
	vfs_limits_close(t->vfs, &b);
	/* all given back: a uid may hold its cap again */
	assert_int_equal(open_as(t, 1003, "c", 2 * MIB, &a), 0);
	vfs_limits_close(t->vfs, &a);
}

static void test_refuse_write(void **state)
{
	struct test_vfs *t = *state;
	struct caller c;

	caller_init(&c, 1001, 1001, 0);
	assert_int_equal(
		vfs_limits_refuse_write(t->vfs, &c, "secrets/w", "buffered_bytes_per_uid", 2 * MIB),
		-ENOSPC);
	assert_int_equal(test_vfs_records(t, 1001, "write", "secrets/w", "deny", "limits", "ENOSPC",
					  "buffered_bytes_per_uid=2097152"),
			 1);
}

/* At most SUMMARIES (16) runs are recorded at one close; the others wait, and are recorded
 * at unmount at the latest. */
static void test_summaries_bounded(void **state)
{
	struct test_vfs *t = *state;
	struct limits_charge a1 = { 0 }, a2 = { 0 }, b = { 0 }, poison;

	assert_int_equal(open_as(t, 1001, "a", 0, &a1), 0);
	assert_int_equal(open_as(t, 1001, "a", 0, &a2), 0);
	assert_int_equal(open_as(t, 1002, "b", 0, &b), 0);
	for (uid_t uid = 2000; uid < 2018; uid++)
		assert_int_equal(open_as(t, uid, "x", 0, &poison), -ENFILE);
	assert_int_equal(refusals(t, -1, "ENFILE", NULL), 1);
	vfs_limits_close(t->vfs, &b);
	assert_int_equal(
		summaries(t, -1, "ENFILE", "1 more opens refused past open_files=3 from *"), 16);
	vfs_limits_close(t->vfs, &a1);
	vfs_limits_close(t->vfs, &a2);
	assert_int_equal(summaries(t, -1, "ENFILE", NULL), 16);
	vfs_free(t->vfs);
	t->vfs = NULL;
	assert_int_equal(summaries(t, -1, "ENFILE", NULL), 17);
	for (uid_t uid = 2001; uid < 2018; uid++)
		assert_int_equal(summaries(t, uid, "ENFILE", NULL), 1);
}

/* Another process holds the trail's lock: a refusal that cannot be recorded is EIO, and
 * the next one, once the trail answers, is recorded as the first of its run. */
static void test_unrecorded(void **state)
{
	struct test_vfs *t = *state;
	struct limits_charge a1 = { 0 }, a2 = { 0 }, poison;
	char trail[PATH_MAX + 32];
	struct caller c;
	int fd;

	assert_int_equal(open_as(t, 1001, "a", 0, &a1), 0);
	assert_int_equal(open_as(t, 1001, "a", 0, &a2), 0);
	snprintf(trail, sizeof(trail), "%s/%s", t->vault_dir, VAULT_AUDIT);
	fd = open(trail, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(open_as(t, 1001, "a", 0, &poison), -EIO);
	assert_int_equal(open_as(t, 1001, "a", 0, &poison), -EIO);
	caller_init(&c, 1001, 1001, 0);
	assert_int_equal(vfs_limits_refuse_write(t->vfs, &c, "secrets/a", "buffered_bytes", 1),
			 -EIO);
	assert_int_equal(flock(fd, LOCK_UN), 0);
	close(fd);
	assert_int_equal(open_as(t, 1001, "a", 0, &poison), -EMFILE);
	assert_int_equal(refusals(t, 1001, "EMFILE", NULL), 1);
	vfs_limits_close(t->vfs, &a1);
	vfs_limits_close(t->vfs, &a2);
	assert_int_equal(summaries(t, 1001, NULL, NULL), 0);
}

struct worker {
	struct test_vfs *t;
	uid_t uid;
	int failures;
};

static void *churn(void *arg)
{
	struct worker *w = arg;
	const char *cap;
	uint64_t value;

	for (int i = 0; i < 2000; i++) {
		struct limits_charge ch = { 0 };

		if (open_as(w->t, w->uid, "x", 4096, &ch) < 0 ||
		    vfs_limits_hold(w->t->vfs, &ch, 8192 + (uint64_t)i, &cap, &value) < 0)
			w->failures++;
		vfs_limits_set(w->t->vfs, &ch, 100);
		vfs_limits_close(w->t->vfs, &ch);
	}
	return NULL;
}

/* Threads of one uid and of several at once: afterwards every count is back to zero, so a
 * uid gets exactly its caps again. */
static void test_threads(void **state)
{
	struct test_vfs *t = *state;
	struct worker w[6];
	pthread_t th[6];
	struct limits_charge *ch = calloc(1025, sizeof(*ch)), big = { 0 }, poison;
	const struct vault_config *cfg = t->vault->cfg;

	assert_non_null(ch);
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ t, i < 3 ? 3000 : 3001 + (uid_t)i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	for (unsigned i = 0; i < cfg->open_files_per_uid; i++)
		assert_int_equal(open_as(t, 3000, "x", 0, &ch[i]), 0);
	assert_int_equal(open_as(t, 3000, "x", 0, &poison), -EMFILE);
	for (unsigned i = 0; i < cfg->open_files_per_uid; i++)
		vfs_limits_close(t->vfs, &ch[i]);
	assert_int_equal(open_as(t, 3000, "x", cfg->buffered_per_uid, &big), 0);
	assert_int_equal(open_as(t, 3000, "x", 1, &poison), -EMFILE);
	vfs_limits_close(t->vfs, &big);
	free(ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_files, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_bytes, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_write, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_summaries_bounded, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_unrecorded, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup_default, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

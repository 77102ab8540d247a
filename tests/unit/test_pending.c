/*
 * Unit tests for the new secrets being written (fs/pending.c), without FUSE, on a mount's
 * real state: a created secret is found by its path with the length written so far, until
 * it leaves the list at its commit; several are kept apart, one removed twice or never
 * added changes nothing.
 */
#include "vfsutil.h"

#include <errno.h>
#include <string.h>

static int setup(void **state)
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

static void test_pending(void **state)
{
	struct test_vfs *t = *state;
	struct handle a = { .path = (char *)"a" }, b = { .path = (char *)"dir/b" };
	struct handle c = { .path = (char *)"c" };
	uint64_t size = 99;

	assert_int_equal(secbuf_from("12345", 5, &a.value), 0);
	assert_int_equal(secbuf_new(0, &b.value), 0);
	assert_int_equal(secbuf_new(0, &c.value), 0);
	assert_int_equal(vfs_pending_size(t->vfs, "a", &size), -ENOENT);
	assert_int_equal(size, 99); /* untouched */
	vfs_pending_add(t->vfs, &a);
	vfs_pending_add(t->vfs, &b);
	assert_true(a.pending);
	assert_int_equal(vfs_pending_size(t->vfs, "a", &size), 0);
	assert_int_equal(size, 5);
	assert_int_equal(vfs_pending_size(t->vfs, "dir/b", &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(secbuf_append(b.value, "xyz", 3), 0);
	assert_int_equal(vfs_pending_size(t->vfs, "dir/b", &size), 0);
	assert_int_equal(size, 3);
	/* by whole path only */
	assert_int_equal(vfs_pending_size(t->vfs, "dir", &size), -ENOENT);
	assert_int_equal(vfs_pending_size(t->vfs, "b", &size), -ENOENT);

	vfs_pending_remove(t->vfs, &a);
	assert_false(a.pending);
	assert_int_equal(vfs_pending_size(t->vfs, "a", &size), -ENOENT);
	assert_int_equal(vfs_pending_size(t->vfs, "dir/b", &size), 0);
	/* removed again, or never added: nothing else moves */
	vfs_pending_remove(t->vfs, &a);
	vfs_pending_remove(t->vfs, &c);
	assert_int_equal(vfs_pending_size(t->vfs, "dir/b", &size), 0);
	assert_int_equal(size, 3);
	vfs_pending_add(t->vfs, &c);
	vfs_pending_remove(t->vfs, &b);
	assert_int_equal(vfs_pending_size(t->vfs, "dir/b", &size), -ENOENT);
	assert_int_equal(vfs_pending_size(t->vfs, "c", &size), 0);
	vfs_pending_remove(t->vfs, &c);
	assert_int_equal(vfs_pending_size(t->vfs, "c", &size), -ENOENT);
	secbuf_free(a.value);
	secbuf_free(b.value);
	secbuf_free(c.value);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

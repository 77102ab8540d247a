/*
 * test_nodes: the mount's inode table (fs/nodes.c), without FUSE: fixed numbers for the
 * fixed folders, one number per (kind, path, version) while the kernel holds lookups on
 * it, counted lookups, forgetting, and numbers never reused for another node while held.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nodes.h"

static int setup(void **state)
{
	struct nodes *t = NULL;

	assert_int_equal(nodes_new(&t), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	nodes_free(*state);
	return 0;
}

static void test_fixed(void **state)
{
	struct nodes *t = *state;
	static const struct {
		uint64_t ino;
		enum node_kind kind;
	} fixed[] = {
		{ 1, NODE_ROOT },	{ 2, NODE_SECRETS },	   { 3, NODE_KEYS },
		{ 4, NODE_TRASH },	{ 5, NODE_TRASH_SECRETS }, { 6, NODE_CERTS },
		{ 7, NODE_TRASH_KEYS }, { 8, NODE_TRASH_CERTS },
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		struct node *n = nodes_get(t, fixed[i].ino);

		assert_non_null(n);
		assert_int_equal(n->kind, fixed[i].kind);
		assert_string_equal(n->path, "");
		/* the kernel forgetting them changes nothing */
		nodes_forget(t, fixed[i].ino, 1000);
		assert_ptr_equal(nodes_get(t, fixed[i].ino), n);
	}
	assert_null(nodes_get(t, 9));
	assert_null(nodes_get(t, 0));
}

static void test_lookup_counts(void **state)
{
	struct nodes *t = *state;
	struct node *a, *b, *again;
	uint64_t ino;

	assert_int_equal(nodes_lookup(t, NODE_SECRET, "db/conn", 0, &a), 0);
	assert_true(a->ino >= 16);
	ino = a->ino;
	assert_int_equal(a->nlookup, 1);
	/* the same (kind, path, version): the same node, one more lookup */
	assert_int_equal(nodes_lookup(t, NODE_SECRET, "db/conn", 0, &again), 0);
	assert_ptr_equal(again, a);
	assert_int_equal(a->nlookup, 2);
	/* another version, another kind, another path: other nodes */
	assert_int_equal(nodes_lookup(t, NODE_VERSION, "db/conn", 3, &b), 0);
	assert_int_not_equal(b->ino, ino);
	assert_int_equal(b->version, 3);
	assert_int_equal(nodes_lookup(t, NODE_FOLDER, "db/conn", 0, &again), 0);
	assert_int_not_equal(again->ino, ino);
	assert_int_not_equal(again->ino, b->ino);
	assert_int_equal(nodes_lookup(t, NODE_SECRET, "db/conn2", 0, &again), 0);
	assert_int_not_equal(again->ino, ino);
	/* forgetting one of two lookups keeps it; the second lets it go */
	nodes_forget(t, ino, 1);
	assert_ptr_equal(nodes_get(t, ino), a);
	assert_int_equal(a->nlookup, 1);
	nodes_forget(t, ino, 1);
	assert_null(nodes_get(t, ino));
	/* looked up again: a node of its own, never an old number held by another */
	assert_int_equal(nodes_lookup(t, NODE_SECRET, "db/conn", 0, &again), 0);
	assert_int_not_equal(again->ino, b->ino);
	assert_string_equal(again->path, "db/conn");
}

static void test_forget_more_than_held(void **state)
{
	struct nodes *t = *state;
	struct node *n;
	uint64_t ino;

	assert_int_equal(nodes_lookup(t, NODE_KEY, "release", 0, &n), 0);
	ino = n->ino;
	nodes_forget(t, ino, 5); /* more than it holds: gone, not wrapped around */
	assert_null(nodes_get(t, ino));
	nodes_forget(t, ino, 1); /* a number no longer held: nothing */
	nodes_forget(t, 999999, 1);
	assert_null(nodes_get(t, ino));
}

static void test_many(void **state)
{
	struct nodes *t = *state;
	char path[32];
	uint64_t inos[2000];

	for (size_t i = 0; i < 2000; i++) {
		struct node *n;

		snprintf(path, sizeof(path), "s%zu", i);
		assert_int_equal(nodes_lookup(t, NODE_SECRET, path, 0, &n), 0);
		inos[i] = n->ino;
		for (size_t j = 0; j < i; j += 97)
			assert_int_not_equal(inos[j], n->ino);
	}
	for (size_t i = 0; i < 2000; i++) {
		struct node *n = nodes_get(t, inos[i]);

		snprintf(path, sizeof(path), "s%zu", i);
		assert_non_null(n);
		assert_string_equal(n->path, path);
		nodes_forget(t, inos[i], 1);
		assert_null(nodes_get(t, inos[i]));
	}
}

static void test_is_dir(void **state)
{
	(void)state;
	assert_true(node_is_dir(NODE_ROOT));
	assert_true(node_is_dir(NODE_FOLDER));
	assert_true(node_is_dir(NODE_KEY));
	assert_true(node_is_dir(NODE_TRASH_FOLDER));
	assert_false(node_is_dir(NODE_SECRET));
	assert_false(node_is_dir(NODE_VERSION));
	assert_false(node_is_dir(NODE_KEY_FILE));
	assert_false(node_is_dir(NODE_TRASH_SECRET));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_more_than_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test(test_is_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

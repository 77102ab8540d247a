/*
 * Unit tests for the attributes a caller is shown (fs/lookup.c), without FUSE, on a real
 * vault: the mode that says what this caller may do on each kind of node, sizes and times
 * from the store (a version's own, a deleted secret's deletion time, a secret still being
 * written with the length written so far), the caller as owner, ENOENT for what is not
 * there; joining names and the checks on a new child's name and right, with the denial
 * recorded; and ENOENT or EACCES for a name a caller has no right on, as SPEC says. The
 * handlers that reply (lookup, getattr, forget) are FUSE's: the mounted tests cover them.
 */
#include "vfsutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "names.h"
#include "timeutil.h"

static const char policy[] = "allow read,write   secrets/app/**  uid=1001\n" /* policy:1 */
			     "allow list         secrets/app     uid=1001\n" /* policy:2 */
			     "allow recover      secrets/old     uid=1002\n" /* policy:3 */
			     "allow purge        secrets/old     uid=1003\n" /* policy:4 */
			     "allow *            **              uid=0\n"; /* policy:5 */

static int setup(void **state)
{
	struct test_vfs *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	test_vfs_setup(t, policy, NULL);
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

static struct node node_of(enum node_kind kind, const char *path, uint64_t version)
{
	return (struct node){ .ino = 77, .kind = kind, .path = (char *)path, .version = version };
}

static struct caller caller_of(uid_t uid)
{
	struct caller c;

	caller_init(&c, uid, uid + 100, getpid());
	return c;
}

static void put(struct test_vfs *t, const char *path, const char *value, int64_t now)
{
	struct secbuf *b = NULL;

	assert_int_equal(secbuf_from(value, strlen(value), &b), 0);
	assert_true(store_secret_put(t->vault->store, path, b, STORE_PUT_MKDIRS, now, NULL) >= 0);
	secbuf_free(b);
}

static void test_modes(void **state)
{
	const unsigned list = POLICY_BIT(POLICY_LIST), read = POLICY_BIT(POLICY_READ),
		       write = POLICY_BIT(POLICY_WRITE);

	(void)state;
	/* folders: r to list, w to make and remove in it, x for any way in */
	assert_int_equal(vfs_mode_for(NODE_FOLDER, list | write), S_IFDIR | 0700);
	assert_int_equal(vfs_mode_for(NODE_FOLDER, read), S_IFDIR | 0100);
	assert_int_equal(vfs_mode_for(NODE_ROOT, 0), S_IFDIR);
	assert_int_equal(vfs_mode_for(NODE_TRASH, list), S_IFDIR | 0500);
	/* secrets: r to read, w to write; a version is never writable */
	assert_int_equal(vfs_mode_for(NODE_SECRET, read | write), S_IFREG | 0600);
	assert_int_equal(vfs_mode_for(NODE_SECRET, write), S_IFREG | 0200);
	assert_int_equal(vfs_mode_for(NODE_VERSION, read | write), S_IFREG | 0400);
	assert_int_equal(vfs_mode_for(NODE_SECRET, list), S_IFREG);
	/* a deleted secret: r to recover it, w to purge it */
	assert_int_equal(vfs_mode_for(NODE_TRASH_SECRET, POLICY_BIT(POLICY_RECOVER)),
			 S_IFREG | 0400);
	assert_int_equal(vfs_mode_for(NODE_TRASH_SECRET, POLICY_BIT(POLICY_PURGE) | read),
			 S_IFREG | 0200);
}

static void test_stat(void **state)
{
	struct test_vfs *t = *state;
	struct node secret = node_of(NODE_SECRET, "app/db", 0);
	struct node v1 = node_of(NODE_VERSION, "app/db", 1),
		    v9 = node_of(NODE_VERSION, "app/db", 9);
	struct node folder = node_of(NODE_FOLDER, "app", 0),
		    gone = node_of(NODE_SECRET, "app/x", 0);
	struct node nofolder = node_of(NODE_FOLDER, "nope", 0);
	struct node trash = node_of(NODE_TRASH_SECRET, "old", 0);
	struct node live_old = node_of(NODE_SECRET, "old", 0);
	struct caller a = caller_of(1001), b = caller_of(1002), c = caller_of(1003);
	struct stat st;
	int64_t t1 = 1700000000123456, t2 = 1700000100000000;

	put(t, "app/db", "one", t1);
	put(t, "app/db", "second", t2);
	assert_int_equal(vfs_stat(t->vfs, &a, &secret, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	assert_int_equal(st.st_uid, 1001); /* the caller is shown as owner */
	assert_int_equal(st.st_gid, 1101);
	assert_int_equal(st.st_ino, 77);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_blocks, 1);
	assert_int_equal(st.st_mtim.tv_sec, t2 / 1000000);
	assert_int_equal(st.st_mtim.tv_nsec, 0);
	/* another caller sees the same secret with its own rights */
	assert_int_equal(vfs_stat(t->vfs, &b, &secret, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG);
	assert_int_equal(st.st_uid, 1002);
	/* a version: its own size and time, read-only */
	assert_int_equal(vfs_stat(t->vfs, &a, &v1, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(st.st_mtim.tv_sec, t1 / 1000000);
	assert_int_equal(st.st_mtim.tv_nsec, 123456000);
	assert_int_equal(st.st_mode, S_IFREG | 0400);
	assert_int_equal(vfs_stat(t->vfs, &a, &v9, &st), -ENOENT);
	assert_int_equal(vfs_stat(t->vfs, &a, &gone, &st), -ENOENT);
	/* folders exist as the store has them */
	assert_int_equal(vfs_stat(t->vfs, &a, &folder, &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 0700);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(vfs_stat(t->vfs, &a, &nofolder, &st), -ENOENT);

	/* a deleted secret: its deletion is its change time; recover reads, purge writes */
	put(t, "old", "was here", t1);
	assert_int_equal(store_secret_delete(t->vault->store, "old", t2), 0);
	assert_int_equal(vfs_stat(t->vfs, &b, &trash, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0400);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(st.st_ctim.tv_sec, t2 / 1000000);
	assert_int_equal(st.st_mtim.tv_sec, t1 / 1000000);
	assert_int_equal(vfs_stat(t->vfs, &c, &trash, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0200);
	assert_int_equal(vfs_stat(t->vfs, &c, &live_old, &st), -ENOENT);
}

/* A new secret being written is there, with the length written so far, until its commit. */
static void test_stat_pending(void **state)
{
	struct test_vfs *t = *state;
	struct node n = node_of(NODE_SECRET, "app/new", 0);
	struct caller a = caller_of(1001);
	struct handle h = { .path = (char *)"app/new" };
	struct stat st;

	assert_int_equal(vfs_stat(t->vfs, &a, &n, &st), -ENOENT);
	assert_int_equal(secbuf_from("abcd", 4, &h.value), 0);
	vfs_pending_add(t->vfs, &h);
	assert_int_equal(vfs_stat(t->vfs, &a, &n, &st), 0);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	assert_int_equal(secbuf_append(h.value, "ef", 2), 0);
	assert_int_equal(vfs_stat(t->vfs, &a, &n, &st), 0);
	assert_int_equal(st.st_size, 6);
	/* committed: the store's answer, not the handle's */
	put(t, "app/new", "committed", time_now_us());
	assert_int_equal(vfs_stat(t->vfs, &a, &n, &st), 0);
	assert_int_equal(st.st_size, 9);
	vfs_pending_remove(t->vfs, &h);
	secbuf_free(h.value);
}

static void test_names(void **state)
{
	struct test_vfs *t = *state;
	struct node root = node_of(NODE_SECRETS, "", 0), app = node_of(NODE_FOLDER, "app", 0);
	struct node top = node_of(NODE_ROOT, "", 0), trash = node_of(NODE_TRASH, "", 0);
	struct caller a = caller_of(1001), b = caller_of(1002);
	char path[NAME_PATH_MAX + 1], small[8];
	struct policy_decision d;

	assert_int_equal(vfs_join(&root, "db", path, sizeof(path)), 0);
	assert_string_equal(path, "db");
	assert_int_equal(vfs_join(&app, "db", path, sizeof(path)), 0);
	assert_string_equal(path, "app/db");
	assert_int_equal(vfs_join(&app, "dbx", small, sizeof(small)), 0);
	assert_int_equal(vfs_join(&app, "dbxy", small, sizeof(small)), -ENAMETOOLONG);

	vfs_child_policy_path(&app, "x y", path, sizeof(path));
	assert_string_equal(path, "secrets/app/x y"); /* anything the caller sent */
	vfs_child_policy_path(&top, "secrets", path, sizeof(path));
	assert_string_equal(path, "secrets");
	vfs_child_policy_path(&trash, "secrets", path, sizeof(path));
	assert_string_equal(path, "secrets");

	/* a new child: a good name, and the right to write it */
	assert_int_equal(vfs_new_child(t->vfs, &a, &app, "db", "create", path, sizeof(path), &d),
			 0);
	assert_string_equal(path, "app/db");
	assert_string_equal(d.rule, "policy:1");
	assert_int_equal(vfs_new_child(t->vfs, &b, &app, "db", "create", path, sizeof(path), &d),
			 -EACCES);
	assert_int_equal(test_vfs_records(t, 1002, "create", "secrets/app/db", "deny",
					  "default-deny", "EACCES", NULL),
			 1);
	assert_int_equal(
		vfs_new_child(t->vfs, &a, &app, ".hidden", "create", path, sizeof(path), &d),
		-EINVAL);
	assert_int_equal(vfs_new_child(t->vfs, &a, &app, "a@2", "create", path, sizeof(path), &d),
			 -EINVAL);
	assert_int_equal(vfs_new_child(t->vfs, &a, &app, "", "mkdir", path, sizeof(path), &d),
			 -EINVAL);
	{
		/* a name no folder may hold: past the depth SPEC allows */
		char deep[NAME_PATH_MAX];
		struct node n;

		deep[0] = '\0';
		for (int i = 0; i < 15; i++)
			strcat(deep, i ? "/d" : "app/d");
		n = node_of(NODE_FOLDER, deep, 0);
		assert_int_equal(
			vfs_new_child(t->vfs, &a, &n, "x", "mkdir", path, sizeof(path), &d),
			-EINVAL);
	}
	/* refused names are refused before policy: nothing recorded */
	assert_int_equal(test_vfs_records(t, 1001, NULL, NULL, NULL, NULL, NULL, NULL), 0);

	/* what a caller without a right on a name is told: EACCES where it may list the
	 * folder (it knows the name), ENOENT where it may not */
	assert_int_equal(vfs_hidden_errno(t->vfs, &a, &app), EACCES);
	assert_int_equal(vfs_hidden_errno(t->vfs, &a, &root), ENOENT);
	assert_int_equal(vfs_hidden_errno(t->vfs, &b, &app), ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test_setup_teardown(test_stat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stat_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

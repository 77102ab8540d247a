/*
 * Unit tests for the store's secrets, on a real SoftHSM2 token made for each test: SPEC's
 * version model, size limits and names, folders, soft delete and retention, listing, and
 * renames that keep history. Attributes are in test_store_attr.c, key records in
 * test_store_keys.c, the database underneath (the envelope seen from outside, errors at
 * open, locks, other connections) in test_store_db.c.
 */
#include "storeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

static void test_versions(void **state)
{
	struct fixture *f = *state;
	struct store_stat st;
	uint64_t *list = NULL;
	size_t n = 0;

	test_store_put(f->s, "db-conn", "one", 1, 1);
	test_store_put(f->s, "db-conn", "two", 1, 2);
	test_store_put(f->s, "db-conn", "two", 0, 2); /* identical bytes: no version */
	test_store_put(f->s, "db-conn", "three", 1, 3);
	test_store_check_value(f->s, "db-conn", 0, "three");
	test_store_check_value(f->s, "db-conn", 1, "one");
	test_store_check_value(f->s, "db-conn", 2, "two");
	{
		struct secbuf *b = NULL;

		assert_int_equal(store_secret_get(f->s, "db-conn", 4, time_now_us(), &b, NULL),
				 -ENOENT);
		assert_int_equal(store_secret_get(f->s, "nope", 0, time_now_us(), &b, NULL),
				 -ENOENT);
		assert_null(b);
	}
	assert_int_equal(store_secret_versions(f->s, "db-conn", STORE_LIVE, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[2], 3);
	free(list);
	assert_int_equal(store_secret_stat(f->s, "db-conn", STORE_LIVE, &st), 0);
	assert_int_equal(st.version, 3);
	assert_int_equal(st.size, 5);
	assert_true(st.updated >= st.created);
	/* an empty value is a value, and a change */
	test_store_put(f->s, "db-conn", "", 1, 4);
	test_store_check_value(f->s, "db-conn", 0, "");
}

static void test_limits_and_names(void **state)
{
	struct fixture *f = *state;
	struct secbuf *big = NULL, *b = NULL;
	uint64_t v = 99;

	test_store_put(f->s, "k", "keep", 1, 1);
	assert_int_equal(secbuf_new(25601, &big), 0);
	assert_int_equal(secbuf_resize(big, 25601), 0);
	memset(secbuf_mutable_data(big), 'A', 25601);
	assert_int_equal(store_secret_put(f->s, "k", big, 0, time_now_us(), &v), -EFBIG);
	assert_int_equal(v, 99);
	assert_int_equal(secbuf_set_len(big, 25600), 0);
	assert_int_equal(store_secret_put(f->s, "k", big, 0, time_now_us(), &v), 1);
	assert_int_equal(v, 2);
	secbuf_free(big);

	assert_int_equal(secbuf_from("x", 1, &b), 0);
	assert_int_equal(store_secret_put(f->s, ".hidden", b, 0, 1, NULL), -EINVAL);
	assert_int_equal(store_secret_put(f->s, "a b", b, 0, 1, NULL), -EINVAL);
	assert_int_equal(store_secret_put(f->s, "a@2", b, 0, 1, NULL), -EINVAL);
	assert_int_equal(store_secret_put(f->s, "", b, 0, 1, NULL), -EINVAL);
	/* EXCL on an existing secret */
	assert_int_equal(store_secret_put(f->s, "k", b, STORE_PUT_EXCL, 1, NULL), -EEXIST);
	assert_int_equal(store_secret_put(f->s, "new", b, STORE_PUT_EXCL, 1, &v), 1);
	/* folders: missing parent without MKDIRS, a secret as parent, a folder as name */
	assert_int_equal(store_secret_put(f->s, "nofolder/x", b, 0, 1, NULL), -ENOENT);
	assert_int_equal(store_secret_put(f->s, "k/x", b, STORE_PUT_MKDIRS, 1, NULL), -ENOTDIR);
	assert_int_equal(store_folder_create(f->s, "dir", 1), 0);
	assert_int_equal(store_folder_create(f->s, "dir", 1), -EEXIST);
	assert_int_equal(store_folder_create(f->s, "k", 1), -EEXIST);
	assert_int_equal(store_secret_put(f->s, "dir", b, 0, 1, NULL), -EISDIR);
	assert_int_equal(store_secret_put(f->s, "dir/x", b, 0, 1, &v), 1);
	assert_int_equal(store_folder_remove(f->s, "dir"), -ENOTEMPTY);
	assert_int_equal(store_folder_remove(f->s, "k"), -ENOTDIR);
	assert_int_equal(store_folder_remove(f->s, "nothing"), -ENOENT);
	secbuf_free(b);
	/* nothing of the failed calls is left behind */
	assert_int_equal(store_folder_exists(f->s, "nofolder"), 0);
	test_store_check_value(f->s, "k", 1, "keep");
}

static void test_soft_delete(void **state)
{
	struct fixture *f = *state;
	struct store_stat st;
	struct secbuf *b = NULL;
	uint64_t *list = NULL;
	size_t n;

	test_store_put(f->s, "app/token", "v1", 1, 1);
	test_store_put(f->s, "app/token", "v2", 1, 2);
	assert_int_equal(store_secret_delete(f->s, "app/token", time_now_us()), 0);
	assert_int_equal(store_secret_get(f->s, "app/token", 0, time_now_us(), &b, NULL), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "app/token", STORE_LIVE, &st), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "app/token", STORE_DELETED, &st), 0);
	assert_true(st.deleted > 0);
	assert_int_equal(st.purge_at - st.deleted, 90LL * 86400 * 1000000);
	assert_int_equal(store_secret_delete(f->s, "app/token", time_now_us()), -ENOENT);
	/* the folder can go while only deleted secrets are in it; recover remakes it */
	assert_int_equal(store_folder_remove(f->s, "app"), 0);
	assert_int_equal(store_secret_recover(f->s, "app/token"), 0);
	assert_int_equal(store_folder_exists(f->s, "app"), 1);
	test_store_check_value(f->s, "app/token", 0, "v2");
	test_store_check_value(f->s, "app/token", 1, "v1");
	assert_int_equal(store_secret_versions(f->s, "app/token", STORE_LIVE, &list, &n), 0);
	assert_int_equal(n, 2);
	free(list);
	assert_int_equal(store_secret_recover(f->s, "app/token"), -ENOENT);
	assert_int_equal(store_secret_purge(f->s, "app/token"), -ENOENT);

	assert_int_equal(store_secret_delete(f->s, "app/token", time_now_us()), 0);
	assert_int_equal(store_secret_purge(f->s, "app/token"), 0);
	assert_int_equal(store_secret_stat(f->s, "app/token", STORE_DELETED, &st), -ENOENT);
	/* purged: the name is free again, and history starts over */
	test_store_put(f->s, "app/token", "fresh", 1, 1);
	/* writing a deleted secret's name brings it back with its history */
	assert_int_equal(store_secret_delete(f->s, "app/token", time_now_us()), 0);
	test_store_put(f->s, "app/token", "again", 1, 2);
	test_store_check_value(f->s, "app/token", 1, "fresh");
	assert_int_equal(store_secret_stat(f->s, "app/token", STORE_DELETED, &st), -ENOENT);
	/* ... even with the same bytes, and with no new version then */
	assert_int_equal(store_secret_delete(f->s, "app/token", time_now_us()), 0);
	test_store_put(f->s, "app/token", "again", 1, 2);
	assert_int_equal(store_secret_stat(f->s, "app/token", STORE_LIVE, &st), 0);
	assert_int_equal(st.version, 2);
}

static void test_retention(void **state)
{
	struct fixture *f = *state;
	int64_t day = 86400LL * 1000000;
	int64_t now = time_now_us();
	struct store_stat st;
	unsigned count = 99;

	test_store_put(f->s, "old", "x", 1, 1);
	test_store_put(f->s, "recent", "y", 1, 1);
	assert_int_equal(store_secret_delete(f->s, "old", now - 91 * day), 0);
	assert_int_equal(store_secret_delete(f->s, "recent", now - 89 * day), 0);
	assert_int_equal(store_purge_expired(f->s, now, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_secret_stat(f->s, "old", STORE_DELETED, &st), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "recent", STORE_DELETED, &st), 0);
}

static int collect(const char *name, int is_folder, void *userdata)
{
	char *buf = userdata;

	strcat(buf, name);
	strcat(buf, is_folder ? "/ " : " ");
	return 0;
}

static void test_listing(void **state)
{
	struct fixture *f = *state;
	char buf[1024] = "";

	test_store_put(f->s, "b", "1", 1, 1);
	test_store_put(f->s, "a/x", "1", 1, 1);
	test_store_put(f->s, "a/y", "1", 1, 1);
	test_store_put(f->s, "a/z/deep", "1", 1, 1);
	test_store_put(f->s, "a-c", "1", 1, 1);
	assert_int_equal(store_folder_create(f->s, "empty", 1), 0);
	assert_int_equal(store_list(f->s, "", 0, collect, buf), 0);
	assert_string_equal(buf, "a/ a-c b empty/ ");
	buf[0] = '\0';
	assert_int_equal(store_list(f->s, "a", 0, collect, buf), 0);
	assert_string_equal(buf, "x y z/ ");
	buf[0] = '\0';
	assert_int_equal(store_list(f->s, "a", STORE_LIST_RECURSIVE, collect, buf), 0);
	assert_string_equal(buf, "a/x a/y a/z/deep ");
	buf[0] = '\0';
	assert_int_equal(store_list(f->s, "none", 0, collect, buf), -ENOENT);

	assert_int_equal(store_secret_delete(f->s, "a/x", time_now_us()), 0);
	assert_int_equal(store_secret_delete(f->s, "a/z/deep", time_now_us()), 0);
	assert_int_equal(store_secret_delete(f->s, "b", time_now_us()), 0);
	assert_int_equal(store_list(f->s, "", STORE_LIST_DELETED, collect, buf), 0);
	assert_string_equal(buf, "a/ b ");
	buf[0] = '\0';
	assert_int_equal(store_list(f->s, "a", STORE_LIST_DELETED, collect, buf), 0);
	assert_string_equal(buf, "x z/ ");
	buf[0] = '\0';
	assert_int_equal(
		store_list(f->s, "", STORE_LIST_DELETED | STORE_LIST_RECURSIVE, collect, buf), 0);
	assert_string_equal(buf, "a/x a/z/deep b ");
	buf[0] = '\0';
	assert_int_equal(store_list(f->s, "", 0, collect, buf), 0);
	assert_string_equal(buf, "a/ a-c empty/ ");
}

/* A rename never destroys history: over a secret, the source's older versions go to
 * .deleted/ with it; a one-version source leaves nothing behind. Its checks are made in
 * its own transaction. */
static void test_rename_keeps_history(void **state)
{
	struct fixture *f = *state;
	uint64_t *vs = NULL;
	size_t n = 0;
	struct store_stat ss;

	test_store_put(f->s, "target", "t1", 1, 1);
	test_store_put(f->s, "src", "s1", 1, 1);
	test_store_put(f->s, "src", "s2", 1, 2);
	assert_int_equal(store_secret_rename(f->s, "src", "target", 0, time_now_us()), 1);
	test_store_check_value(f->s, "target", 2, "s2");
	test_store_check_value(f->s, "target", 1, "t1");
	assert_int_equal(store_secret_stat(f->s, "src", STORE_LIVE, &ss), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "src", STORE_DELETED, &ss), 0);
	assert_int_equal(store_secret_versions(f->s, "src", STORE_DELETED, &vs, &n), 0);
	assert_int_equal(n, 2);
	free(vs);

	/* an editor's temporary: one version, which is now the target's */
	test_store_put(f->s, "tmp", "t3", 1, 1);
	assert_int_equal(store_secret_rename(f->s, "tmp", "target", 0, time_now_us()), 1);
	test_store_check_value(f->s, "target", 3, "t3");
	assert_int_equal(store_secret_stat(f->s, "tmp", STORE_LIVE, &ss), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "tmp", STORE_DELETED, &ss), -ENOENT);

	/* a value that may not be read now does not move over another secret */
	test_store_put(f->s, "off", "x1", 1, 1);
	assert_int_equal(store_attr_set(f->s, "off", "enabled", "0", 0), 0);
	assert_int_equal(store_secret_rename(f->s, "off", "target", 0, time_now_us()), -EACCES);
	assert_int_equal(store_attr_set(f->s, "off", "enabled", "1", 0), 0);
	assert_int_equal(store_attr_set(f->s, "off", "expires", "2020-01-01T00:00:00Z", 0), 0);
	assert_int_equal(store_secret_rename(f->s, "off", "target", 0, time_now_us()),
			 -EKEYEXPIRED);
	test_store_check_value(f->s, "target", 0, "t3");

	/* RENAME_NOREPLACE, decided in the transaction */
	test_store_put(f->s, "other", "o1", 1, 1);
	assert_int_equal(
		store_secret_rename(f->s, "other", "target", STORE_RENAME_NOREPLACE, time_now_us()),
		-EEXIST);
	test_store_check_value(f->s, "target", 0, "t3");
	test_store_check_value(f->s, "other", 0, "o1");

	/* onto a deleted name: its history comes back, unless the caller may not recover */
	test_store_put(f->s, "gone", "g1", 1, 1);
	assert_int_equal(store_secret_delete(f->s, "gone", time_now_us()), 0);
	assert_int_equal(
		store_secret_rename(f->s, "other", "gone", STORE_RENAME_NO_REVIVE, time_now_us()),
		STORE_NO_REVIVE_ERR);
	test_store_check_value(f->s, "other", 0, "o1");
	assert_int_equal(store_secret_stat(f->s, "gone", STORE_DELETED, &ss), 0);
	assert_int_equal(
		store_secret_rename(f->s, "other", "gone", STORE_RENAME_NOREPLACE, time_now_us()),
		1);
	test_store_check_value(f->s, "gone", 1, "g1");
	test_store_check_value(f->s, "gone", 2, "o1");
}

/* A write onto a deleted name brings its history back only for a writer who may recover. */
static void test_put_no_revive(void **state)
{
	struct fixture *f = *state;
	struct secbuf *b = NULL;
	struct store_stat ss;
	uint64_t v = 0;

	test_store_put(f->s, "d", "one", 1, 1);
	assert_int_equal(store_secret_delete(f->s, "d", time_now_us()), 0);
	assert_int_equal(secbuf_from("two", 3, &b), 0);
	assert_int_equal(store_secret_put(f->s, "d", b, STORE_PUT_NO_REVIVE, time_now_us(), &v),
			 STORE_NO_REVIVE_ERR);
	assert_int_equal(store_secret_put(f->s, "d", b, STORE_PUT_NO_REVIVE | STORE_PUT_EXCL,
					  time_now_us(), &v),
			 STORE_NO_REVIVE_ERR);
	assert_int_equal(store_secret_stat(f->s, "d", STORE_DELETED, &ss), 0);
	assert_int_equal(ss.version, 1);
	/* a live secret is written as ever */
	test_store_put(f->s, "live", "one", 1, 1);
	assert_int_equal(store_secret_put(f->s, "live", b, STORE_PUT_NO_REVIVE, time_now_us(), &v),
			 1);
	assert_int_equal(v, 2);
	assert_int_equal(store_secret_put(f->s, "d", b, 0, time_now_us(), &v), 1);
	assert_int_equal(v, 2);
	secbuf_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_versions, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_names, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_soft_delete, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_retention, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_listing, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_rename_keeps_history, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_put_no_revive, test_store_setup,
						test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

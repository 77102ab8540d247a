/*
 * Unit tests for the store, on a real SoftHSM2 token made for each test: SPEC's version
 * model, attributes, soft delete, folders, key records, and the envelope seen from outside — no
 * plaintext in vault.db or its WAL, and a ciphertext moved to another row does not open.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "keys.h"
#include "store.h"

#define STR_(x) #x
#define TOSTR(x) STR_(x)
#include "timeutil.h"

struct fixture {
	struct test_token tok;
	char db[PATH_MAX + 16];
	struct store *s;
	struct store_options opt;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_token_setup(&f->tok);
	snprintf(f->db, sizeof(f->db), "%s/vault.db", f->tok.dir);
	f->opt.max_secret_size = 25600;
	f->opt.retention_days = 90;
	f->opt.busy_timeout_ms = 100;
	assert_int_equal(store_create(f->db, f->tok.hsm, &f->opt), 0);
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->s);
	test_token_teardown(&f->tok);
	free(f);
	return 0;
}

static void put(struct store *s, const char *path, const char *value, int expect,
		uint64_t expect_version)
{
	struct secbuf *b = NULL;
	uint64_t v = 0;

	assert_int_equal(secbuf_from(value, strlen(value), &b), 0);
	assert_int_equal(store_secret_put(s, path, b, STORE_PUT_MKDIRS, time_now_us(), &v), expect);
	if (expect >= 0)
		assert_int_equal(v, expect_version);
	secbuf_free(b);
}

static void check_value(struct store *s, const char *path, uint64_t version, const char *value)
{
	struct secbuf *b = NULL;
	uint64_t got;

	assert_int_equal(store_secret_get(s, path, version, time_now_us(), &b, &got), 0);
	assert_int_equal(secbuf_len(b), strlen(value));
	assert_memory_equal(secbuf_data(b), value, secbuf_len(b));
	if (version)
		assert_int_equal(got, version);
	secbuf_free(b);
}

static void test_versions(void **state)
{
	struct fixture *f = *state;
	struct store_stat st;
	uint64_t *list = NULL;
	size_t n = 0;

	put(f->s, "db-conn", "one", 1, 1);
	put(f->s, "db-conn", "two", 1, 2);
	put(f->s, "db-conn", "two", 0, 2); /* identical bytes: no version */
	put(f->s, "db-conn", "three", 1, 3);
	check_value(f->s, "db-conn", 0, "three");
	check_value(f->s, "db-conn", 1, "one");
	check_value(f->s, "db-conn", 2, "two");
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
	put(f->s, "db-conn", "", 1, 4);
	check_value(f->s, "db-conn", 0, "");
}

static void test_limits_and_names(void **state)
{
	struct fixture *f = *state;
	struct secbuf *big = NULL, *b = NULL;
	uint64_t v = 99;

	put(f->s, "k", "keep", 1, 1);
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
	check_value(f->s, "k", 1, "keep");
}

static void test_soft_delete(void **state)
{
	struct fixture *f = *state;
	struct store_stat st;
	struct secbuf *b = NULL;
	uint64_t *list = NULL;
	size_t n;

	put(f->s, "app/token", "v1", 1, 1);
	put(f->s, "app/token", "v2", 1, 2);
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
	check_value(f->s, "app/token", 0, "v2");
	check_value(f->s, "app/token", 1, "v1");
	assert_int_equal(store_secret_versions(f->s, "app/token", STORE_LIVE, &list, &n), 0);
	assert_int_equal(n, 2);
	free(list);
	assert_int_equal(store_secret_recover(f->s, "app/token"), -ENOENT);
	assert_int_equal(store_secret_purge(f->s, "app/token"), -ENOENT);

	assert_int_equal(store_secret_delete(f->s, "app/token", time_now_us()), 0);
	assert_int_equal(store_secret_purge(f->s, "app/token"), 0);
	assert_int_equal(store_secret_stat(f->s, "app/token", STORE_DELETED, &st), -ENOENT);
	/* purged: the name is free again, and history starts over */
	put(f->s, "app/token", "fresh", 1, 1);
	/* writing a deleted secret's name brings it back with its history */
	assert_int_equal(store_secret_delete(f->s, "app/token", time_now_us()), 0);
	put(f->s, "app/token", "again", 1, 2);
	check_value(f->s, "app/token", 1, "fresh");
	assert_int_equal(store_secret_stat(f->s, "app/token", STORE_DELETED, &st), -ENOENT);
	/* ... even with the same bytes, and with no new version then */
	assert_int_equal(store_secret_delete(f->s, "app/token", time_now_us()), 0);
	put(f->s, "app/token", "again", 1, 2);
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

	put(f->s, "old", "x", 1, 1);
	put(f->s, "recent", "y", 1, 1);
	assert_int_equal(store_secret_delete(f->s, "old", now - 91 * day), 0);
	assert_int_equal(store_secret_delete(f->s, "recent", now - 89 * day), 0);
	assert_int_equal(store_purge_expired(f->s, now, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_secret_stat(f->s, "old", STORE_DELETED, &st), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "recent", STORE_DELETED, &st), 0);
}

static void expect_attr(struct store *s, const char *path, const char *name, const char *value)
{
	char *v = NULL;

	assert_int_equal(store_attr_get(s, path, STORE_LIVE, name, &v), 0);
	assert_string_equal(v, value);
	free(v);
}

static void test_attributes(void **state)
{
	struct fixture *f = *state;
	struct secbuf *b = NULL;
	char *names = NULL, *v = NULL, name[32];
	size_t len;

	put(f->s, "s", "a", 1, 1);
	put(f->s, "s", "b", 1, 2);
	expect_attr(f->s, "s", "version", "2");
	expect_attr(f->s, "s", "versions", "1 2");
	expect_attr(f->s, "s", "enabled", "1");
	assert_int_equal(store_attr_get(f->s, "s", STORE_LIVE, "content_type", &v), -ENODATA);
	assert_int_equal(store_attr_set(f->s, "s", "content_type", "text/plain", 0), 0);
	expect_attr(f->s, "s", "content_type", "text/plain");
	assert_int_equal(store_attr_set(f->s, "s", "version", "7", 0), -EPERM);
	assert_int_equal(store_attr_set(f->s, "s", "bogus", "1", 0), -EOPNOTSUPP);
	assert_int_equal(store_attr_set(f->s, "s", "enabled", "yes", 0), -EINVAL);
	assert_int_equal(store_attr_set(f->s, "s", "expires", "next week", 0), -EINVAL);
	assert_int_equal(store_attr_set(f->s, "s", "content_type", "a\nb", 0), -EINVAL);

	/* disabled: reads refused, the outputs left as they were (from SQLite, then the cache) */
	assert_int_equal(store_attr_set(f->s, "s", "enabled", "0", 0), 0);
	for (int i = 0; i < 2; i++) {
		uint64_t ver = 99;

		assert_int_equal(store_secret_get(f->s, "s", 0, time_now_us(), &b, &ver), -EACCES);
		assert_null(b);
		assert_int_equal(ver, 99);
	}
	assert_int_equal(store_secret_get(f->s, "s", 1, time_now_us(), &b, NULL), -EACCES);
	assert_int_equal(store_attr_set(f->s, "s", "enabled", "1", 0), 0);
	check_value(f->s, "s", 0, "b");

	/* the validity window */
	assert_int_equal(store_attr_set(f->s, "s", "expires", "2000-01-01T00:00:00Z", 0), 0);
	expect_attr(f->s, "s", "expires", "2000-01-01T00:00:00Z");
	assert_int_equal(store_secret_get(f->s, "s", 0, time_now_us(), &b, NULL), -EKEYEXPIRED);
	assert_int_equal(store_attr_set(f->s, "s", "expires", "", 0), 0);
	assert_int_equal(store_attr_set(f->s, "s", "not_before", "2999-01-01T00:00:00+02:00", 0),
			 0);
	expect_attr(f->s, "s", "not_before", "2998-12-31T22:00:00Z");
	assert_int_equal(store_secret_get(f->s, "s", 0, time_now_us(), &b, NULL), -EKEYEXPIRED);
	assert_int_equal(store_attr_remove(f->s, "s", "not_before"), 0);
	assert_int_equal(store_attr_get(f->s, "s", STORE_LIVE, "not_before", &v), -ENODATA);
	check_value(f->s, "s", 0, "b");
	assert_null(b);

	/* tags: fifteen, then no room; a long value; removal */
	for (int i = 0; i < 15; i++) {
		snprintf(name, sizeof(name), "tag.t%d", i);
		assert_int_equal(store_attr_set(f->s, "s", name, "v", 0), 0);
	}
	assert_int_equal(store_attr_set(f->s, "s", "tag.one-more", "v", 0), -ENOSPC);
	assert_int_equal(store_attr_set(f->s, "s", "tag.t3", "replaced", 0), 0);
	expect_attr(f->s, "s", "tag.t3", "replaced");
	{
		char longv[258];

		memset(longv, 'v', sizeof(longv));
		longv[256] = '\0';
		assert_int_equal(store_attr_set(f->s, "s", "tag.t4", longv, 0), 0);
		longv[256] = 'v';
		longv[257] = '\0';
		assert_int_equal(store_attr_set(f->s, "s", "tag.t4", longv, 0), -ERANGE);
	}
	assert_int_equal(store_attr_set(f->s, "s", "tag.bad name", "v", 0), -EINVAL);
	assert_int_equal(store_attr_remove(f->s, "s", "tag.t0"), 0);
	assert_int_equal(store_attr_remove(f->s, "s", "tag.t0"), -ENODATA);
	assert_int_equal(store_attr_set(f->s, "s", "tag.one-more", "v", 0), 0);
	assert_int_equal(store_attr_remove(f->s, "s", "version"), -EPERM);

	assert_int_equal(store_attr_list(f->s, "s", STORE_LIVE, &names, &len), 0);
	{
		int tags = 0, has_ct = 0;

		for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
			tags += strncmp(names + off, "tag.", 4) == 0;
			has_ct |= strcmp(names + off, "content_type") == 0;
		}
		assert_int_equal(tags, 15);
		assert_true(has_ct);
	}
	free(names);
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

	put(f->s, "b", "1", 1, 1);
	put(f->s, "a/x", "1", 1, 1);
	put(f->s, "a/y", "1", 1, 1);
	put(f->s, "a/z/deep", "1", 1, 1);
	put(f->s, "a-c", "1", 1, 1);
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

/* Values never reach vault.db or its WAL in plaintext. */
static void test_no_plaintext_on_disk(void **state)
{
	struct fixture *f = *state;
	static const char marker[] = "PLAINTEXT-MARKER-7f3a9c-do-not-store";
	char wal[PATH_MAX + 32];

	put(f->s, "marked", marker, 1, 1);
	put(f->s, "marked", "PLAINTEXT-MARKER-second-version", 1, 2);
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	assert_int_equal(access(wal, F_OK), 0);
	assert_false(test_file_contains(f->db, marker, strlen(marker)));
	assert_false(test_file_contains(wal, marker, strlen(marker)));
	assert_false(test_file_contains(wal, "PLAINTEXT-MARKER", 16));
	/* the check itself can see a string that is there: the secret's name */
	assert_true(test_file_contains(wal, "marked", 6) || test_file_contains(f->db, "marked", 6));
	store_free(f->s); /* checkpoint into vault.db */
	f->s = NULL;
	assert_false(test_file_contains(f->db, "PLAINTEXT-MARKER", 16));
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &f->s), 0);
	check_value(f->s, "marked", 1, marker);
}

static void sql(const char *db, const char *stmt)
{
	sqlite3 *h = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_exec(h, stmt, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", stmt, err);
	sqlite3_close(h);
}

/* A ciphertext copied into another secret's or version's row fails to open. */
static void test_moved_ciphertext(void **state)
{
	struct fixture *f = *state;
	struct secbuf *b = NULL;

	put(f->s, "one", "value-one", 1, 1);
	put(f->s, "two", "value-two", 1, 1);
	put(f->s, "two", "value-two-b", 1, 2);
	sql(f->db,
	    "UPDATE versions SET sealed = (SELECT sealed FROM versions v JOIN secrets s"
	    " ON v.secret_id = s.id WHERE s.path = 'one' AND v.version = 1)"
	    " WHERE secret_id = (SELECT id FROM secrets WHERE path = 'two') AND version = 1");
	assert_int_equal(store_secret_get(f->s, "two", 1, time_now_us(), &b, NULL), -EBADMSG);
	sql(f->db,
	    "UPDATE versions SET sealed = (SELECT sealed FROM versions v JOIN secrets s"
	    " ON v.secret_id = s.id WHERE s.path = 'two' AND v.version = 2)"
	    " WHERE secret_id = (SELECT id FROM secrets WHERE path = 'one') AND version = 1");
	assert_int_equal(store_secret_get(f->s, "one", 0, time_now_us(), &b, NULL), -EBADMSG);
	/* a renamed row does not open under its new name either */
	sql(f->db, "UPDATE secrets SET path = 'three', name = 'three' WHERE path = 'two'");
	assert_int_equal(store_secret_get(f->s, "three", 2, time_now_us(), &b, NULL), -EBADMSG);
	assert_null(b);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = NULL;
	char path[PATH_MAX + 32];
	FILE *fp;

	/* no file */
	snprintf(path, sizeof(path), "%s/none.db", f->tok.dir);
	assert_int_equal(store_open(path, f->tok.hsm, &f->opt, &s2), -ENOENT);
	/* create refuses an existing file */
	assert_int_equal(store_create(f->db, f->tok.hsm, &f->opt), -EEXIST);
	/* garbage */
	snprintf(path, sizeof(path), "%s/garbage.db", f->tok.dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 1000; i++)
		fputs("this is not a database ", fp);
	fclose(fp);
	assert_int_equal(store_open(path, f->tok.hsm, &f->opt, &s2), -EUCLEAN);
	/* an SQLite database that is not a vault */
	snprintf(path, sizeof(path), "%s/other.db", f->tok.dir);
	sql(path, "CREATE TABLE t (x)");
	assert_int_equal(store_open(path, f->tok.hsm, &f->opt, &s2), -EUCLEAN);
	/* a newer schema */
	store_free(f->s);
	f->s = NULL;
	sql(f->db, "UPDATE schema_version SET version = 99");
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &s2), -EPROTO);
	sql(f->db, "UPDATE schema_version SET version = " TOSTR(STORE_SCHEMA_VERSION));
	/* the token lost the vault's key-encryption key */
	{
		CK_FUNCTION_LIST *p11 = hsm_functions(f->tok.hsm);
		CK_SESSION_HANDLE sess;
		CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
		CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
		CK_OBJECT_HANDLE obj;
		CK_ULONG n;

		assert_int_equal(hsm_session(f->tok.hsm, &sess), 0);
		assert_int_equal(p11->C_FindObjectsInit(sess, tmpl, 1), CKR_OK);
		assert_int_equal(p11->C_FindObjects(sess, &obj, 1, &n), CKR_OK);
		assert_int_equal(n, 1);
		p11->C_FindObjectsFinal(sess);
		assert_int_equal(p11->C_DestroyObject(sess, obj), CKR_OK);
	}
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &s2), -ENOKEY);
	assert_null(s2);
}

/* A writer holding the database makes a put fail with -EBUSY after the timeout, and
 * changes nothing. */
static void test_locked(void **state)
{
	struct fixture *f = *state;
	sqlite3 *h = NULL;

	put(f->s, "l", "before", 1, 1);
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	put(f->s, "l", "after", -EBUSY, 0);
	assert_int_equal(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	check_value(f->s, "l", 0, "before");
	put(f->s, "l", "after", 1, 2);
}

/* The change stamp: the same while only reads happen, another after every commit —
 * through this store, another one, or plain SQL as another program would — and the same
 * again once nothing more commits. */
static void test_stamp(void **state)
{
	struct fixture *f = *state;
	struct store_stamp a, b, c;
	struct store *other = NULL;

	put(f->s, "s", "one", 1, 1);
	assert_int_equal(store_stamp(f->s, &a), 0);
	check_value(f->s, "s", 0, "one");
	assert_int_equal(store_stamp(f->s, &b), 0);
	assert_memory_equal(a.bytes, b.bytes, STORE_STAMP_LEN);
	put(f->s, "s", "two", 1, 2);
	assert_int_equal(store_stamp(f->s, &b), 0);
	assert_memory_not_equal(a.bytes, b.bytes, STORE_STAMP_LEN);
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &other), 0);
	assert_int_equal(store_stamp(other, &c), 0);
	assert_memory_equal(b.bytes, c.bytes, STORE_STAMP_LEN); /* one database, one stamp */
	put(other, "s", "three", 1, 3);
	assert_int_equal(store_stamp(f->s, &c), 0);
	assert_memory_not_equal(b.bytes, c.bytes, STORE_STAMP_LEN);
	sql(f->db, "UPDATE secrets SET enabled = 0 WHERE path = 's'");
	assert_int_equal(store_stamp(f->s, &a), 0);
	assert_memory_not_equal(a.bytes, c.bytes, STORE_STAMP_LEN);
	assert_int_equal(store_stamp(f->s, &b), 0);
	assert_memory_equal(a.bytes, b.bytes, STORE_STAMP_LEN);
	store_free(other);
}

/* Reads never serve what another connection (another process) has changed since. */
static void test_no_stale_reads(void **state)
{
	struct fixture *f = *state;
	struct store *other = NULL;
	struct store_stat st;
	struct secbuf *b = NULL;
	char value[32];

	put(f->s, "c", "first", 1, 1);
	check_value(f->s, "c", 0, "first");
	check_value(f->s, "c", 0, "first"); /* from the cache now */
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &other), 0);
	for (int i = 2; i < 40; i++) {
		snprintf(value, sizeof(value), "value-%d", i);
		put(other, "c", value, 1, (uint64_t)i);
		check_value(f->s, "c", 0, value);
		assert_int_equal(store_secret_stat(f->s, "c", STORE_LIVE, &st), 0);
		assert_int_equal(st.version, (uint64_t)i);
		assert_int_equal(st.size, strlen(value));
	}
	/* a change made with plain SQL, as any other program could */
	sql(f->db, "UPDATE secrets SET enabled = 0 WHERE path = 'c'");
	assert_int_equal(store_secret_get(f->s, "c", 0, time_now_us(), &b, NULL), -EACCES);
	sql(f->db, "UPDATE secrets SET enabled = 1 WHERE path = 'c'");
	check_value(f->s, "c", 0, "value-39");
	assert_int_equal(store_secret_delete(other, "c", time_now_us()), 0);
	assert_int_equal(store_secret_get(f->s, "c", 0, time_now_us(), &b, NULL), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "c", STORE_LIVE, &st), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "c", STORE_DELETED, &st), 0);
	/* a checkpoint that restarts the WAL changes nothing that is read */
	sql(f->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	assert_int_equal(store_secret_recover(other, "c"), 0);
	check_value(f->s, "c", 0, "value-39");
	store_free(other);
	assert_null(b);
}

/* The read path is answered through indexes, also with many secrets. */
static void test_plans(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", name[32];

	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "f%d/s%d", i % 20, i);
		put(f->s, name, "v", 1, 1);
	}
	if (store_check_plans(f->s, err, sizeof(err)) != 0)
		fail_msg("full scan on the read path: %s", err);
}

/* A key's delete forgets every version and gives back all their token ids, in version
 * order, from the same transaction; a second delete finds nothing. */
static void test_key_delete_ids(void **state)
{
	struct fixture *f = *state;
	struct store_key k = { .type = "ec-p256", .alg = "ecdsa", .ops = 1 };
	struct store_key_version v = { 0 };
	uint8_t(*ids)[STORE_KEY_ID_LEN] = NULL;
	size_t n = 99;
	uint64_t version = 0;

	memset(v.token_id, 1, sizeof(v.token_id));
	assert_int_equal(store_key_add(f->s, "k", &k, &v, 1), 0);
	memset(v.token_id, 2, sizeof(v.token_id));
	assert_int_equal(store_key_add_version(f->s, "k", &v, 2, &version), 0);
	assert_int_equal(version, 2);
	memset(v.token_id, 3, sizeof(v.token_id));
	assert_int_equal(store_key_add_version(f->s, "k", &v, 3, &version), 0);
	/* only a soft-deleted key is purged */
	assert_int_equal(store_key_delete(f->s, "k", &ids, &n), -EBUSY);
	assert_null(ids);
	assert_int_equal(store_key_soft_delete(f->s, "k", 4), 0);
	assert_int_equal(store_key_delete(f->s, "k", &ids, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < STORE_KEY_ID_LEN; j++)
			assert_int_equal(ids[i][j], i + 1);
	free(ids);
	assert_int_equal(store_key_get(f->s, "k", &k), -ENOENT);
	ids = NULL;
	n = 99;
	assert_int_equal(store_key_delete(f->s, "k", &ids, &n), -ENOENT);
	assert_null(ids);
	assert_int_equal(n, 99);
	assert_int_equal(store_key_delete(f->s, "../k", &ids, &n), -EINVAL);
}

/* An older version of a key only decrypts and unwraps, even when asked for by number
 * (NAME@N opened just after a rotation made N old); the current one, by number or not,
 * does all the key allows. */
static void test_key_old_version_ops(void **state)
{
	struct fixture *f = *state;
	struct store_key k = { .type = "aes-256",
			       .alg = "aes-gcm",
			       .ops = KEY_BIT(KEY_ENCRYPT) | KEY_BIT(KEY_DECRYPT) };
	struct store_key_version v = { 0 };
	struct keys_input *in = NULL;
	uint64_t version = 0;

	assert_int_equal(store_key_add(f->s, "k", &k, &v, 1), 0);
	assert_int_equal(store_key_add_version(f->s, "k", &v, 2, &version), 0);
	assert_int_equal(keys_input_new(f->s, "k", 1, KEY_ENCRYPT, &in), -EOPNOTSUPP);
	assert_null(in);
	assert_int_equal(keys_input_new(f->s, "k", 1, KEY_DECRYPT, &in), 0);
	keys_input_free(in);
	assert_int_equal(keys_input_new(f->s, "k", 2, KEY_ENCRYPT, &in), 0);
	keys_input_free(in);
	assert_int_equal(keys_input_new(f->s, "k", 0, KEY_ENCRYPT, &in), 0);
	keys_input_free(in);
	assert_int_equal(keys_input_new(f->s, "k", 3, KEY_DECRYPT, &in), -ENOENT);
}

/* An AES key whose version no longer fits the ciphertext header's 32 bits encrypts
 * nothing: EOVERFLOW, before the token is asked. */
static void test_key_version_past_header(void **state)
{
	struct fixture *f = *state;
	struct store_key k = { .type = "aes-256",
			       .alg = "aes-gcm",
			       .ops = KEY_BIT(KEY_ENCRYPT) | KEY_BIT(KEY_DECRYPT) };
	struct store_key_version v = { 0 };
	struct keys_input *in = NULL;
	struct secbuf *out = NULL;
	uint64_t version = 0;
	sqlite3 *db = NULL;

	assert_int_equal(store_key_add(f->s, "k", &k, &v, 1), 0);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE hsm_key_versions SET version = 4294967296;"
				      "UPDATE hsm_keys SET current = 4294967296;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(keys_input_new(f->s, "k", 0, KEY_ENCRYPT, &in), 0);
	assert_int_equal(keys_input_add(in, "plain", 5), 0);
	assert_int_equal(keys_input_run(in, f->tok.hsm, &out, &version), -EOVERFLOW);
	assert_null(out);
	keys_input_free(in);
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

	put(f->s, "target", "t1", 1, 1);
	put(f->s, "src", "s1", 1, 1);
	put(f->s, "src", "s2", 1, 2);
	assert_int_equal(store_secret_rename(f->s, "src", "target", 0, time_now_us()), 1);
	check_value(f->s, "target", 2, "s2");
	check_value(f->s, "target", 1, "t1");
	assert_int_equal(store_secret_stat(f->s, "src", STORE_LIVE, &ss), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "src", STORE_DELETED, &ss), 0);
	assert_int_equal(store_secret_versions(f->s, "src", STORE_DELETED, &vs, &n), 0);
	assert_int_equal(n, 2);
	free(vs);

	/* an editor's temporary: one version, which is now the target's */
	put(f->s, "tmp", "t3", 1, 1);
	assert_int_equal(store_secret_rename(f->s, "tmp", "target", 0, time_now_us()), 1);
	check_value(f->s, "target", 3, "t3");
	assert_int_equal(store_secret_stat(f->s, "tmp", STORE_LIVE, &ss), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "tmp", STORE_DELETED, &ss), -ENOENT);

	/* a value that may not be read now does not move over another secret */
	put(f->s, "off", "x1", 1, 1);
	assert_int_equal(store_attr_set(f->s, "off", "enabled", "0", 0), 0);
	assert_int_equal(store_secret_rename(f->s, "off", "target", 0, time_now_us()), -EACCES);
	assert_int_equal(store_attr_set(f->s, "off", "enabled", "1", 0), 0);
	assert_int_equal(store_attr_set(f->s, "off", "expires", "2020-01-01T00:00:00Z", 0), 0);
	assert_int_equal(store_secret_rename(f->s, "off", "target", 0, time_now_us()),
			 -EKEYEXPIRED);
	check_value(f->s, "target", 0, "t3");

	/* RENAME_NOREPLACE, decided in the transaction */
	put(f->s, "other", "o1", 1, 1);
	assert_int_equal(
		store_secret_rename(f->s, "other", "target", STORE_RENAME_NOREPLACE, time_now_us()),
		-EEXIST);
	check_value(f->s, "target", 0, "t3");
	check_value(f->s, "other", 0, "o1");

	/* onto a deleted name: its history comes back, unless the caller may not recover */
	put(f->s, "gone", "g1", 1, 1);
	assert_int_equal(store_secret_delete(f->s, "gone", time_now_us()), 0);
	assert_int_equal(
		store_secret_rename(f->s, "other", "gone", STORE_RENAME_NO_REVIVE, time_now_us()),
		STORE_NO_REVIVE_ERR);
	check_value(f->s, "other", 0, "o1");
	assert_int_equal(store_secret_stat(f->s, "gone", STORE_DELETED, &ss), 0);
	assert_int_equal(
		store_secret_rename(f->s, "other", "gone", STORE_RENAME_NOREPLACE, time_now_us()),
		1);
	check_value(f->s, "gone", 1, "g1");
	check_value(f->s, "gone", 2, "o1");
}

/* A write onto a deleted name brings its history back only for a writer who may recover. */
static void test_put_no_revive(void **state)
{
	struct fixture *f = *state;
	struct secbuf *b = NULL;
	struct store_stat ss;
	uint64_t v = 0;

	put(f->s, "d", "one", 1, 1);
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
	put(f->s, "live", "one", 1, 1);
	assert_int_equal(store_secret_put(f->s, "live", b, STORE_PUT_NO_REVIVE, time_now_us(), &v),
			 1);
	assert_int_equal(v, 2);
	assert_int_equal(store_secret_put(f->s, "d", b, 0, time_now_us(), &v), 1);
	assert_int_equal(v, 2);
	secbuf_free(b);
}

/* not_before and expires read back as they were accepted: any year 0000-9999, the epoch
 * itself (which is not "unset"), and a fraction. */
static void test_attr_times_round_trip(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z" },
		{ "0999-05-01T10:00:00.5Z", "0999-05-01T10:00:00.500000Z" },
		{ "0042-01-01T01:00:00+01:00", "0042-01-01T00:00:00Z" },
		{ "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z" },
	};
	struct fixture *f = *state;
	char *value = NULL;

	put(f->s, "s", "v", 1, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(store_attr_set(f->s, "s", "expires", cases[i].in, 0), 0);
		assert_int_equal(store_attr_get(f->s, "s", STORE_LIVE, "expires", &value), 0);
		assert_string_equal(value, cases[i].out);
		free(value);
	}
	assert_int_equal(store_attr_set(f->s, "s", "not_before", "1970-01-01T00:00:00Z", 0), 0);
	assert_int_equal(store_attr_get(f->s, "s", STORE_LIVE, "not_before", &value), 0);
	assert_string_equal(value, "1970-01-01T00:00:00Z");
	free(value);
	assert_int_equal(store_attr_set(f->s, "s", "not_before", "2016-12-31T23:59:60Z", 0),
			 -EINVAL);
	assert_int_equal(store_attr_set(f->s, "s", "not_before", "", 0), 0);
	assert_int_equal(store_attr_get(f->s, "s", STORE_LIVE, "not_before", &value), -ENODATA);
}

/* XATTR_CREATE and XATTR_REPLACE, in the change's transaction. */
static void test_attr_flags(void **state)
{
	struct fixture *f = *state;
	char *value = NULL;

	put(f->s, "s", "v", 1, 1);
	assert_int_equal(store_attr_set(f->s, "s", "tag.a", "1", STORE_ATTR_REPLACE), -ENODATA);
	assert_int_equal(store_attr_set(f->s, "s", "content_type", "x", STORE_ATTR_REPLACE),
			 -ENODATA);
	assert_int_equal(store_attr_set(f->s, "s", "tag.a", "1", STORE_ATTR_CREATE), 0);
	assert_int_equal(store_attr_set(f->s, "s", "tag.a", "2", STORE_ATTR_CREATE), -EEXIST);
	assert_int_equal(store_attr_set(f->s, "s", "tag.a", "3", STORE_ATTR_REPLACE), 0);
	assert_int_equal(store_attr_get(f->s, "s", STORE_LIVE, "tag.a", &value), 0);
	assert_string_equal(value, "3");
	free(value);
	/* enabled is always set */
	assert_int_equal(store_attr_set(f->s, "s", "enabled", "1", STORE_ATTR_CREATE), -EEXIST);
	assert_int_equal(store_attr_set(f->s, "s", "enabled", "1", STORE_ATTR_REPLACE), 0);
}

/* What the undo hook saw: whether it was called, with which error, and whether another
 * connection could take the write lock meanwhile (it must not: the undo comes first). */
struct undo_seen {
	const char *db;
	int hook_result; /* what the commit hook returns */
	int calls;
	int err;
	int other_rc; /* another connection's BEGIN IMMEDIATE inside the undo hook */
};

static int undo_test_hook(void *userdata, uint64_t version, const struct store_anchor *cur,
			  struct store_anchor *ret)
{
	struct undo_seen *u = userdata;

	(void)version;
	(void)cur;
	(void)ret;
	return u->hook_result;
}

static void undo_test_undo(void *userdata, int err)
{
	struct undo_seen *u = userdata;
	sqlite3 *h = NULL;

	u->calls++;
	u->err = err;
	assert_int_equal(sqlite3_open(u->db, &h), SQLITE_OK);
	u->other_rc = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (u->other_rc == SQLITE_OK)
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(h);
}

/* A change whose commit hook ran and failed calls the undo hook before its rollback, with
 * the write lock still held; one that commits, or fails before its hook, does not. */
static void test_undo_hook(void **state)
{
	struct fixture *f = *state;
	struct undo_seen u = { .db = f->db, .hook_result = -ENODEV };

	assert_int_equal(store_on_commit_undo(f->s, undo_test_hook, undo_test_undo, &u), 0);
	put(f->s, "u", "rolled-back", -ENODEV, 0);
	assert_int_equal(u.calls, 1);
	assert_int_equal(u.err, -ENODEV);
	assert_int_equal(u.other_rc, SQLITE_BUSY);
	{
		struct secbuf *b = NULL;
		uint64_t got;

		assert_int_equal(store_secret_get(f->s, "u", 0, time_now_us(), &b, &got), -ENOENT);
	}

	u = (struct undo_seen){ .db = f->db, .hook_result = 0 };
	assert_int_equal(store_on_commit_undo(f->s, undo_test_hook, undo_test_undo, &u), 0);
	put(f->s, "u", "committed", 1, 1);
	assert_int_equal(u.calls, 0);

	/* refused inside its transaction before its hook (it exists): nothing to undo */
	u = (struct undo_seen){ .db = f->db, .hook_result = -ENODEV };
	assert_int_equal(store_on_commit_undo(f->s, undo_test_hook, undo_test_undo, &u), 0);
	{
		struct secbuf *b = NULL;

		assert_int_equal(secbuf_from("v", 1, &b), 0);
		assert_int_equal(
			store_secret_put(f->s, "u", b, STORE_PUT_EXCL, time_now_us(), NULL),
			-EEXIST);
		secbuf_free(b);
	}
	assert_int_equal(u.calls, 0);
	assert_int_equal(store_on_commit(f->s, NULL, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_soft_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_plaintext_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved_ciphertext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_stale_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stamp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_delete_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_old_version_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_version_past_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_keeps_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_no_revive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attr_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attr_times_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_hook, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

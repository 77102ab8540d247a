/*
 * Unit tests for the store's database, on a real SoftHSM2 token made for each test: the
 * envelope seen from outside — no plaintext in vault.db or its WAL, and a ciphertext moved
 * to another row does not open —, refusals at open, a locked database, the change stamp,
 * no stale reads after another connection's change, query plans, and the undo hook of a
 * commit that failed.
 */
#include "storeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "timeutil.h"

#define STR_(x) #x
#define TOSTR(x) STR_(x)

/* Values never reach vault.db or its WAL in plaintext. */
static void test_no_plaintext_on_disk(void **state)
{
	struct fixture *f = *state;
	static const char marker[] = "PLAINTEXT-MARKER-7f3a9c-do-not-store";
	char wal[PATH_MAX + 32];

	test_store_put(f->s, "marked", marker, 1, 1);
	test_store_put(f->s, "marked", "PLAINTEXT-MARKER-second-version", 1, 2);
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
	test_store_check_value(f->s, "marked", 1, marker);
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

	test_store_put(f->s, "one", "value-one", 1, 1);
	test_store_put(f->s, "two", "value-two", 1, 1);
	test_store_put(f->s, "two", "value-two-b", 1, 2);
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

	test_store_put(f->s, "l", "before", 1, 1);
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	test_store_put(f->s, "l", "after", -EBUSY, 0);
	assert_int_equal(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	test_store_check_value(f->s, "l", 0, "before");
	test_store_put(f->s, "l", "after", 1, 2);
}

/* The change stamp: the same while only reads happen, another after every commit —
 * through this store, another one, or plain SQL as another program would — and the same
 * again once nothing more commits. */
static void test_stamp(void **state)
{
	struct fixture *f = *state;
	struct store_stamp a, b, c;
	struct store *other = NULL;

	test_store_put(f->s, "s", "one", 1, 1);
	assert_int_equal(store_stamp(f->s, &a), 0);
	test_store_check_value(f->s, "s", 0, "one");
	assert_int_equal(store_stamp(f->s, &b), 0);
	assert_memory_equal(a.bytes, b.bytes, STORE_STAMP_LEN);
	test_store_put(f->s, "s", "two", 1, 2);
	assert_int_equal(store_stamp(f->s, &b), 0);
	assert_memory_not_equal(a.bytes, b.bytes, STORE_STAMP_LEN);
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &other), 0);
	assert_int_equal(store_stamp(other, &c), 0);
	assert_memory_equal(b.bytes, c.bytes, STORE_STAMP_LEN); /* one database, one stamp */
	test_store_put(other, "s", "three", 1, 3);
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

	test_store_put(f->s, "c", "first", 1, 1);
	test_store_check_value(f->s, "c", 0, "first");
	test_store_check_value(f->s, "c", 0, "first"); /* from the cache now */
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &other), 0);
	for (int i = 2; i < 40; i++) {
		snprintf(value, sizeof(value), "value-%d", i);
		test_store_put(other, "c", value, 1, (uint64_t)i);
		test_store_check_value(f->s, "c", 0, value);
		assert_int_equal(store_secret_stat(f->s, "c", STORE_LIVE, &st), 0);
		assert_int_equal(st.version, (uint64_t)i);
		assert_int_equal(st.size, strlen(value));
	}
	/* a change made with plain SQL, as any other program could */
	sql(f->db, "UPDATE secrets SET enabled = 0 WHERE path = 'c'");
	assert_int_equal(store_secret_get(f->s, "c", 0, time_now_us(), &b, NULL), -EACCES);
	sql(f->db, "UPDATE secrets SET enabled = 1 WHERE path = 'c'");
	test_store_check_value(f->s, "c", 0, "value-39");
	assert_int_equal(store_secret_delete(other, "c", time_now_us()), 0);
	assert_int_equal(store_secret_get(f->s, "c", 0, time_now_us(), &b, NULL), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "c", STORE_LIVE, &st), -ENOENT);
	assert_int_equal(store_secret_stat(f->s, "c", STORE_DELETED, &st), 0);
	/* a checkpoint that restarts the WAL changes nothing that is read */
	sql(f->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	assert_int_equal(store_secret_recover(other, "c"), 0);
	test_store_check_value(f->s, "c", 0, "value-39");
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
		test_store_put(f->s, name, "v", 1, 1);
	}
	if (store_check_plans(f->s, err, sizeof(err)) != 0)
		fail_msg("full scan on the read path: %s", err);
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
	test_store_put(f->s, "u", "rolled-back", -ENODEV, 0);
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
	test_store_put(f->s, "u", "committed", 1, 1);
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
		cmocka_unit_test_setup_teardown(test_no_plaintext_on_disk, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_moved_ciphertext, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_locked, test_store_setup, test_store_teardown),
		cmocka_unit_test_setup_teardown(test_no_stale_reads, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_stamp, test_store_setup, test_store_teardown),
		cmocka_unit_test_setup_teardown(test_plans, test_store_setup, test_store_teardown),
		cmocka_unit_test_setup_teardown(test_undo_hook, test_store_setup,
						test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the recorded operations (src/vault/vault_ops.c) on a real vault: an
 * embedded SoftHSM2 token, vault.db and audit.log in a temporary directory. Each action
 * leaves exactly one record, with the version it made or the error it met; the checks
 * that depend on the store at that instant (O_EXCL, RENAME_NOREPLACE, XATTR_CREATE and
 * XATTR_REPLACE, a deleted secret's name) are made in the change's transaction; and a
 * change whose record cannot be written — the trail's disk full, as /dev/full is — does
 * not happen at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json-c/json.h>

#include "testutil.h"
#include "timeutil.h"
#include "vault.h"
#include "vault_ops.h"

/* An action by uid 1001 on @path, as fs/ or the command line would start it. */
static void act_for(struct vault_act *a, const char *op, const char *path)
{
	struct audit_event ev = { 0 };

	ev.uid = 1001;
	ev.gid = 1001;
	ev.pid = getpid();
	ev.op = op;
	ev.path = path;
	ev.allow = 1;
	ev.rule = "test-rule";
	vault_act_init(a, &ev);
}

/* The trail's last record, parsed. */
static json_object *last_record(const struct test_vault *f)
{
	char line[AUDIT_LINE_MAX + 2], last[AUDIT_LINE_MAX + 2] = "";
	FILE *fp = fopen(f->trail, "r");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		memcpy(last, line, sizeof(line));
	fclose(fp);
	assert_true(last[0] == '{');
	return json_tokener_parse(last);
}

static long record_count(const struct test_vault *f)
{
	char line[AUDIT_LINE_MAX + 2];
	FILE *fp = fopen(f->trail, "r");
	long n = 0;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		n++;
	fclose(fp);
	return n;
}

static const char *field(json_object *o, const char *name)
{
	json_object *x;

	if (!json_object_object_get_ex(o, name, &x) || json_object_is_type(x, json_type_null))
		return NULL;
	return json_object_get_string(x);
}

/* The last record is @op on @path with @result (and @version, when not 0). */
static void assert_recorded(const struct test_vault *f, const char *op, const char *path,
			    const char *decision, int result, uint64_t version)
{
	json_object *o = last_record(f);
	char want[32];

	assert_non_null(o);
	assert_string_equal(field(o, "op"), op);
	assert_string_equal(field(o, "path"), path);
	assert_string_equal(field(o, "decision"), decision);
	/* the trail names an error as errno does: "EEXIST" */
	assert_string_equal(field(o, "result"), result ? strerrorname_np(result) : "0");
	if (version) {
		snprintf(want, sizeof(want), "%llu", (unsigned long long)version);
		assert_string_equal(field(o, "version"), want);
	}
	json_object_put(o);
}

static struct secbuf *buf(const char *s)
{
	struct secbuf *b = NULL;

	assert_int_equal(secbuf_new(strlen(s) + 1, &b), 0);
	assert_int_equal(secbuf_append(b, s, strlen(s)), 0);
	return b;
}

/* Secret @path's current value is @want. */
static void assert_value(const struct test_vault *f, const char *path, const char *want)
{
	struct secbuf *got = NULL;

	assert_int_equal(store_secret_get(f->v->store, path, 0, time_now_us(), &got, NULL), 0);
	assert_int_equal(secbuf_len(got), strlen(want));
	assert_memory_equal(secbuf_data(got), want, strlen(want));
	secbuf_free(got);
}

static int write_value(const struct test_vault *f, const char *path, const char *value,
		       unsigned flags, uint64_t *ret_version)
{
	struct secbuf *b = buf(value);
	struct vault_act a;
	int r;

	act_for(&a, "write", path);
	r = vault_secret_write(f->v, &a, path, b, flags, ret_version);
	secbuf_free(b);
	return r;
}

static void test_write_versions(void **state)
{
	struct test_vault *f = *state;
	uint64_t version = 0;

	assert_int_equal(write_value(f, "w", "one", 0, &version), 0);
	assert_int_equal(version, 1);
	assert_recorded(f, "write", "w", "allow", 0, 1);
	assert_int_equal(write_value(f, "w", "two", 0, &version), 0);
	assert_int_equal(version, 2);
	assert_recorded(f, "write", "w", "allow", 0, 2);
	/* an equal value makes no version, and says which one it is */
	assert_int_equal(write_value(f, "w", "two", 0, &version), 0);
	assert_int_equal(version, 2);
	assert_recorded(f, "write", "w", "allow", 0, 0);
	assert_value(f, "w", "two");
	/* no parent folder without MKDIRS; made with it */
	assert_int_equal(write_value(f, "d1/d2/w", "x", 0, NULL), -ENOENT);
	assert_recorded(f, "write", "d1/d2/w", "allow", ENOENT, 0);
	assert_int_equal(write_value(f, "d1/d2/w", "x", VAULT_WRITE_MKDIRS, NULL), 0);
	assert_value(f, "d1/d2/w", "x");
}

static void test_write_excl(void **state)
{
	struct test_vault *f = *state;

	assert_int_equal(write_value(f, "x", "first", VAULT_WRITE_EXCL, NULL), 0);
	assert_int_equal(write_value(f, "x", "second", VAULT_WRITE_EXCL, NULL), -EEXIST);
	assert_recorded(f, "write", "x", "allow", EEXIST, 0);
	assert_value(f, "x", "first");
	/* bad input: recorded, nothing made */
	assert_int_equal(write_value(f, ".hidden", "v", 0, NULL), -EINVAL);
	assert_recorded(f, "write", ".hidden", "allow", EINVAL, 0);
}

/* Writing onto a deleted secret's name is a recover too: refused, as a denial, when the
 * actor may not recover; with the right, the history comes back. */
static void test_write_deleted_name(void **state)
{
	struct test_vault *f = *state;
	struct secbuf *b = buf("back");
	struct vault_act a;
	uint64_t version = 0;

	assert_int_equal(write_value(f, "gone", "old", 0, NULL), 0);
	act_for(&a, "delete", "gone");
	assert_int_equal(vault_secret_delete(f->v, &a, "gone"), 0);
	assert_recorded(f, "delete", "gone", "allow", 0, 0);

	act_for(&a, "write", "gone");
	vault_act_no_recover(&a, "secrets/gone", "no-recover-rule");
	assert_int_equal(vault_secret_write(f->v, &a, "gone", b, 0, NULL), -EACCES);
	assert_recorded(f, "write", "secrets/gone", "deny", EACCES, 0);
	{
		json_object *o = last_record(f);

		assert_string_equal(field(o, "rule"), "no-recover-rule");
		json_object_put(o);
	}
	assert_int_equal(store_secret_get(f->v->store, "gone", 0, time_now_us(), &b, NULL),
			 -ENOENT);

	act_for(&a, "write", "gone");
	assert_int_equal(vault_secret_write(f->v, &a, "gone", b, 0, &version), 0);
	assert_int_equal(version, 2); /* on top of the history it brought back */
	assert_value(f, "gone", "back");
	secbuf_free(b);
}

static void test_lifecycle(void **state)
{
	struct test_vault *f = *state;
	struct vault_act a;

	assert_int_equal(write_value(f, "life", "v", 0, NULL), 0);
	act_for(&a, "recover", "life");
	assert_int_equal(vault_secret_recover(f->v, &a, "life"), -ENOENT);
	assert_recorded(f, "recover", "life", "allow", ENOENT, 0);
	act_for(&a, "delete", "life");
	assert_int_equal(vault_secret_delete(f->v, &a, "life"), 0);
	act_for(&a, "delete", "life");
	assert_int_equal(vault_secret_delete(f->v, &a, "life"), -ENOENT);
	assert_recorded(f, "delete", "life", "allow", ENOENT, 0);
	act_for(&a, "recover", "life");
	assert_int_equal(vault_secret_recover(f->v, &a, "life"), 0);
	assert_value(f, "life", "v");
	act_for(&a, "purge", "life");
	assert_int_equal(vault_secret_purge(f->v, &a, "life"), -ENOENT); /* live: not purged */
	act_for(&a, "delete", "life");
	assert_int_equal(vault_secret_delete(f->v, &a, "life"), 0);
	act_for(&a, "purge", "life");
	assert_int_equal(vault_secret_purge(f->v, &a, "life"), 0);
	assert_recorded(f, "purge", "life", "allow", 0, 0);
	act_for(&a, "recover", "life");
	assert_int_equal(vault_secret_recover(f->v, &a, "life"), -ENOENT);
}

static void test_rename(void **state)
{
	struct test_vault *f = *state;
	struct vault_act a;

	assert_int_equal(write_value(f, "r1", "one", 0, NULL), 0);
	assert_int_equal(write_value(f, "r2", "two", 0, NULL), 0);
	/* RENAME_NOREPLACE, decided in the transaction */
	act_for(&a, "rename", "r1");
	assert_int_equal(vault_secret_rename(f->v, &a, "r1", "r2", VAULT_RENAME_NOREPLACE),
			 -EEXIST);
	assert_recorded(f, "rename", "r1", "allow", EEXIST, 0);
	assert_value(f, "r1", "one");
	assert_value(f, "r2", "two");
	/* over a live secret: its new version, and no r1 left */
	act_for(&a, "rename", "r1");
	assert_int_equal(vault_secret_rename(f->v, &a, "r1", "r2", 0), 0);
	assert_recorded(f, "rename", "r1", "allow", 0, 0);
	assert_value(f, "r2", "one");
	act_for(&a, "rename", "r1");
	assert_int_equal(vault_secret_rename(f->v, &a, "r1", "r3", VAULT_RENAME_NOREPLACE),
			 -ENOENT);
	/* onto a deleted name without the right to recover it */
	act_for(&a, "delete", "r2");
	assert_int_equal(vault_secret_delete(f->v, &a, "r2"), 0);
	assert_int_equal(write_value(f, "r4", "four", 0, NULL), 0);
	act_for(&a, "rename", "r4");
	vault_act_no_recover(&a, "secrets/r2", "no-recover");
	assert_int_equal(vault_secret_rename(f->v, &a, "r4", "r2", 0), -EACCES);
	assert_recorded(f, "rename", "secrets/r2", "deny", EACCES, 0);
	assert_value(f, "r4", "four");
}

static void test_attributes(void **state)
{
	struct test_vault *f = *state;
	struct vault_act a;
	char *value = NULL;

	assert_int_equal(write_value(f, "at", "v", 0, NULL), 0);
	act_for(&a, "setxattr", "at");
	assert_int_equal(
		vault_attr_set(f->v, &a, "at", "content_type", "text/plain", VAULT_ATTR_REPLACE),
		-ENODATA);
	assert_recorded(f, "setxattr", "at", "allow", ENODATA, 0);
	act_for(&a, "setxattr", "at");
	assert_int_equal(
		vault_attr_set(f->v, &a, "at", "content_type", "text/plain", VAULT_ATTR_CREATE), 0);
	assert_recorded(f, "setxattr", "at", "allow", 0, 0);
	act_for(&a, "setxattr", "at");
	assert_int_equal(vault_attr_set(f->v, &a, "at", "content_type", "x/y", VAULT_ATTR_CREATE),
			 -EEXIST);
	assert_int_equal(store_attr_get(f->v->store, "at", STORE_LIVE, "content_type", &value), 0);
	assert_string_equal(value, "text/plain");
	free(value);
	act_for(&a, "removexattr", "at");
	assert_int_equal(vault_attr_remove(f->v, &a, "at", "content_type", 0), 0);
	act_for(&a, "removexattr", "at");
	assert_int_equal(vault_attr_remove(f->v, &a, "at", "content_type", 0), -ENODATA);
	assert_recorded(f, "removexattr", "at", "allow", ENODATA, 0);
	/* an unknown attribute: EOPNOTSUPP, or ENODATA as removexattr(2) says it */
	act_for(&a, "removexattr", "at");
	assert_int_equal(vault_attr_remove(f->v, &a, "at", "nonesuch", 0), -EOPNOTSUPP);
	assert_recorded(f, "removexattr", "at", "allow", EOPNOTSUPP, 0);
	act_for(&a, "removexattr", "at");
	assert_int_equal(vault_attr_remove(f->v, &a, "at", "nonesuch", VAULT_ATTR_UNKNOWN_NODATA),
			 -ENODATA);
	assert_recorded(f, "removexattr", "at", "allow", ENODATA, 0);
	/* an action refused before the store: recorded all the same */
	act_for(&a, "setxattr", "at");
	assert_int_equal(vault_act_failed(f->v, &a, -EINVAL), -EINVAL);
	assert_recorded(f, "setxattr", "at", "allow", EINVAL, 0);
}

static void test_resize(void **state)
{
	struct test_vault *f = *state;
	struct vault_act a;
	struct secbuf *got = NULL;
	uint64_t version = 0;

	assert_int_equal(write_value(f, "t", "abcdef", 0, NULL), 0);
	act_for(&a, "truncate", "t");
	assert_int_equal(vault_secret_resize(f->v, &a, "t", 3), 0);
	assert_value(f, "t", "abc");
	act_for(&a, "truncate", "t");
	assert_int_equal(vault_secret_resize(f->v, &a, "t", 10000), 0);
	assert_int_equal(store_secret_get(f->v->store, "t", 0, time_now_us(), &got, &version), 0);
	assert_int_equal(version, 3);
	assert_int_equal(secbuf_len(got), 10000);
	assert_memory_equal(secbuf_data(got), "abc", 3);
	for (size_t i = 3; i < secbuf_len(got); i++)
		assert_int_equal(secbuf_data(got)[i], 0);
	secbuf_free(got);
	assert_recorded(f, "truncate", "t", "allow", 0, 3);
	act_for(&a, "truncate", "t");
	assert_int_equal(vault_secret_resize(f->v, &a, "t", f->v->cfg->max_secret_size + 1),
			 -EFBIG);
	assert_recorded(f, "truncate", "t", "allow", EFBIG, 0);
	act_for(&a, "truncate", "nothing");
	assert_int_equal(vault_secret_resize(f->v, &a, "nothing", 0), -ENOENT);
	/* a disabled secret cannot be read, so it cannot be cut either */
	act_for(&a, "setxattr", "t");
	assert_int_equal(vault_attr_set(f->v, &a, "t", "enabled", "0", 0), 0);
	act_for(&a, "truncate", "t");
	assert_int_equal(vault_secret_resize(f->v, &a, "t", 0), -EACCES);
	assert_recorded(f, "truncate", "t", "allow", EACCES, 0);
}

static void test_folders(void **state)
{
	struct test_vault *f = *state;
	struct vault_act a;

	act_for(&a, "mkdir", "fold");
	assert_int_equal(vault_folder_create(f->v, &a, "fold"), 0);
	assert_recorded(f, "mkdir", "fold", "allow", 0, 0);
	act_for(&a, "mkdir", "fold");
	assert_int_equal(vault_folder_create(f->v, &a, "fold"), -EEXIST);
	assert_int_equal(write_value(f, "fold/s", "v", 0, NULL), 0);
	act_for(&a, "rmdir", "fold");
	assert_int_equal(vault_folder_remove(f->v, &a, "fold"), -ENOTEMPTY);
	assert_recorded(f, "rmdir", "fold", "allow", ENOTEMPTY, 0);
}

static void test_keys(void **state)
{
	struct test_vault *f = *state;
	struct keys_options o = { .type = "ec-p256" };
	struct vault_act a;
	uint64_t version = 0;

	act_for(&a, "key-create", "keys/k");
	assert_int_equal(vault_key_create(f->v, &a, "k", &o), 0);
	assert_recorded(f, "key-create", "keys/k", "allow", 0, 0);
	act_for(&a, "key-create", "keys/k");
	assert_int_equal(vault_key_create(f->v, &a, "k", &o), -EEXIST);
	assert_recorded(f, "key-create", "keys/k", "allow", EEXIST, 0);
	act_for(&a, "key-rotate", "keys/k");
	assert_int_equal(vault_key_rotate(f->v, &a, "k", &version), 0);
	assert_int_equal(version, 2);
	assert_recorded(f, "key-rotate", "keys/k", "allow", 0, 2);
	act_for(&a, "key-delete", "keys/k");
	assert_int_equal(vault_key_delete(f->v, &a, "k"), 0);
	act_for(&a, "key-delete", "keys/k");
	assert_int_equal(vault_key_delete(f->v, &a, "k"), -ENOENT);
}

/* The trail's file descriptor in this process. */
static int trail_fd(const struct test_vault *f)
{
	char link[64], target[PATH_MAX];

	for (int fd = 3; fd < 1024; fd++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, f->trail) == 0)
			return fd;
	}
	return -1;
}

/* With the trail's disk full (its descriptor on /dev/full), no change happens: each
 * action fails with EIO and says that its record is what failed. */
static void test_unrecorded_changes_nothing(void **state)
{
	struct test_vault *f = *state;
	struct secbuf *b = buf("new");
	struct keys_options o = { .type = "ec-p256" };
	struct vault_act a;
	int fd, saved, full;
	long before;

	assert_int_equal(write_value(f, "u", "old", 0, NULL), 0);
	before = record_count(f);
	fd = trail_fd(f);
	assert_true(fd >= 0);
	saved = dup(fd);
	full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	assert_true(saved >= 0 && full >= 0);
	assert_true(dup2(full, fd) == fd);

	act_for(&a, "write", "u");
	assert_int_equal(vault_secret_write(f->v, &a, "u", b, 0, NULL), -EIO);
	assert_int_equal(a.unrecorded, 1);
	act_for(&a, "delete", "u");
	assert_int_equal(vault_secret_delete(f->v, &a, "u"), -EIO);
	assert_int_equal(a.unrecorded, 1);
	act_for(&a, "rename", "u");
	assert_int_equal(vault_secret_rename(f->v, &a, "u", "u2", 0), -EIO);
	act_for(&a, "mkdir", "nf");
	assert_int_equal(vault_folder_create(f->v, &a, "nf"), -EIO);
	act_for(&a, "setxattr", "u");
	assert_int_equal(vault_attr_set(f->v, &a, "u", "content_type", "a/b", 0), -EIO);
	act_for(&a, "key-create", "keys/nk");
	assert_int_equal(vault_key_create(f->v, &a, "nk", &o), -EIO);
	assert_int_equal(a.unrecorded, 1);

	assert_true(dup2(saved, fd) == fd);
	close(saved);
	close(full);
	assert_int_equal(record_count(f), before);
	assert_value(f, "u", "old");
	assert_int_equal(store_secret_get(f->v->store, "u2", 0, time_now_us(), &b, NULL), -ENOENT);
	assert_int_equal(store_folder_exists(f->v->store, "nf"), 0);
	{
		struct store_key k;

		assert_int_equal(store_key_get(f->v->store, "nk", &k), -ENOENT);
	}
	/* and the trail goes on once its disk has room */
	act_for(&a, "write", "u");
	assert_int_equal(vault_secret_write(f->v, &a, "u", b, 0, NULL), 0);
	assert_recorded(f, "write", "u", "allow", 0, 2);
	assert_value(f, "u", "new");
	secbuf_free(b);
}

struct no_conn {
	struct test_vault *f;
	int r;
};

/* On a thread of its own, whose first store call must open a connection: with no
 * descriptor left for it, the write cannot arm its record and must not happen. */
static void *write_without_fds(void *arg)
{
	struct no_conn *nc = arg;
	struct rlimit old, low;
	int fd;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	fd = dup(0); /* the lowest free descriptor: none above it may open */
	assert_true(fd > 0);
	close(fd);
	low = old;
	low.rlim_cur = (rlim_t)fd;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	nc->r = write_value(nc->f, "nofd", "v", 0, NULL);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	return NULL;
}

static void test_no_connection_no_change(void **state)
{
	struct test_vault *f = *state;
	struct no_conn nc = { .f = f };
	struct secbuf *b = NULL;
	pthread_t t;

	long before = record_count(f);

	assert_int_equal(pthread_create(&t, NULL, write_without_fds, &nc), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(nc.r < 0);
	/* whatever it recorded is a failure, never a write that happened */
	if (record_count(f) > before) {
		json_object *o = last_record(f);

		assert_string_equal(field(o, "path"), "nofd");
		assert_string_not_equal(field(o, "result"), "0");
		json_object_put(o);
	}
	assert_int_equal(store_secret_get(f->v->store, "nofd", 0, time_now_us(), &b, NULL),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_versions),
		cmocka_unit_test(test_write_excl),
		cmocka_unit_test(test_write_deleted_name),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_rename),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_folders),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_unrecorded_changes_nothing),
		cmocka_unit_test(test_no_connection_no_change),
	};

	return cmocka_run_group_tests(tests, test_vault_setup, test_vault_teardown);
}

/*
 * Unit tests for the path from a caller to its answer (fs/access.c), without FUSE, on a
 * real vault whose trail is read back: the policy path of every kind of node (.deleted/P
 * decided as P, a key's files as the key), the rights a folder shows (a right beneath it is
 * a way in, never a listing), decisions that record nothing, denials and refusals recorded
 * with the rule that decided them — and EIO, not the denial, when the record cannot be
 * written — the caller's executable and cgroup read from the real /proc for a record,
 * and a reloaded policy in force at once. (vfs_caller, which reads fuse_req_ctx(), is
 * FUSE's: the mounted tests cover it.)
 */
#include "vfsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "names.h"

static const char policy[] = "allow read,write secrets/app/**   uid=1001\n" /* policy:1 */
			     "allow list       secrets          uid=1001\n" /* policy:2 */
			     "deny  read       secrets/app/admin uid=1001\n" /* policy:3 */
			     "allow recover    secrets/old      uid=1002\n" /* policy:4 */
			     "allow sign       keys/release     uid=1003\n" /* policy:5 */
			     "allow *          **               uid=0\n"; /* policy:6 */

static void quick_trail(struct vault_config *cfg)
{
	cfg->audit_timeout_ms = 50;
}

static int setup(void **state)
{
	struct test_vfs *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	test_vfs_setup(t, policy, quick_trail);
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
	return (struct node){ .kind = kind, .path = (char *)path, .version = version };
}

static void check_policy_path(enum node_kind kind, const char *path, const char *want)
{
	struct node n = node_of(kind, path, 3);
	char buf[NAME_PATH_MAX + 16];

	memset(buf, 'x', sizeof(buf));
	vfs_policy_path(&n, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_policy_paths(void **state)
{
	char name[8], small[6];
	const char *file = NULL;

	(void)state;
	check_policy_path(NODE_ROOT, "", "");
	check_policy_path(NODE_SECRETS, "", "secrets");
	check_policy_path(NODE_FOLDER, "app", "secrets/app");
	check_policy_path(NODE_SECRET, "app/db", "secrets/app/db");
	check_policy_path(NODE_VERSION, "app/db", "secrets/app/db");
	check_policy_path(NODE_KEYS, "", "keys");
	check_policy_path(NODE_KEY, "release", "keys/release");
	check_policy_path(NODE_KEY_FILE, "release/sign", "keys/release");
	/* .deleted/ is the root again; .deleted/secrets/P is decided as secrets/P */
	check_policy_path(NODE_TRASH, "", "");
	check_policy_path(NODE_TRASH_SECRETS, "", "secrets");
	check_policy_path(NODE_TRASH_FOLDER, "app", "secrets/app");
	check_policy_path(NODE_TRASH_SECRET, "old", "secrets/old");
	/* certs/NAME covers its folder, every version and every file in them */
	check_policy_path(NODE_CERTS, "", "certs");
	check_policy_path(NODE_CERT, "web", "certs/web");
	check_policy_path(NODE_CERT_FILE, "web/key.pem", "certs/web");
	/* a soft-deleted key or certificate keeps its path; listing is list on the folder */
	check_policy_path(NODE_TRASH_KEYS, "", "keys");
	check_policy_path(NODE_TRASH_CERTS, "", "certs");
	check_policy_path(NODE_TRASH_KEY, "old", "keys/old");
	check_policy_path(NODE_TRASH_CERT, "old", "certs/old");

	vfs_key_split("release/public.pem", name, sizeof(name), &file);
	assert_string_equal(name, "release");
	assert_string_equal(file, "public.pem");
	vfs_key_split("release", name, sizeof(name), &file);
	assert_string_equal(file, "");
	vfs_key_split("longer-than-eight/sign", name, sizeof(name), &file);
	assert_string_equal(name, "longer-"); /* cut to the buffer, never past it */
	assert_string_equal(file, "sign");

	vfs_concat(small, sizeof(small), "secrets/", "x", NULL);
	assert_string_equal(small, "secre");
	vfs_concat(small, sizeof(small), NULL, "ab", "cd");
	assert_string_equal(small, "abcd");

	assert_string_equal(vfs_read_only_rule(&(struct node){ .kind = NODE_VERSION }), "history");
	assert_string_equal(vfs_read_only_rule(&(struct node){ .kind = NODE_TRASH_SECRET }),
			    "deleted");
}

static unsigned rights_of(struct test_vfs *t, uid_t uid, enum node_kind kind, const char *path)
{
	struct node n = node_of(kind, path, 0);
	struct caller c;

	caller_init(&c, uid, uid, getpid());
	return vfs_rights(t->vfs, &c, &n);
}

/* What a caller may do on a node; for a folder, list on it and the rest on or beneath it,
 * with VFS_ENTER beside any of them. */
static void test_rights(void **state)
{
	const unsigned rw = POLICY_BIT(POLICY_READ) | POLICY_BIT(POLICY_WRITE);
	const unsigned list = POLICY_BIT(POLICY_LIST);
	struct test_vfs *t = *state;

	assert_int_equal(rights_of(t, 1001, NODE_SECRET, "app/db"), rw);
	assert_int_equal(rights_of(t, 1001, NODE_SECRET, "app/admin"), POLICY_BIT(POLICY_WRITE));
	assert_int_equal(rights_of(t, 1001, NODE_SECRET, "other"), 0);
	/* secrets/: listed by rule 2, entered for what lies beneath */
	assert_int_equal(rights_of(t, 1001, NODE_SECRETS, ""), list | rw | VFS_ENTER);
	/* the root and secrets/app: a way in, no listing */
	assert_int_equal(rights_of(t, 1001, NODE_ROOT, "") & (list | VFS_ENTER), VFS_ENTER);
	assert_int_equal(rights_of(t, 1001, NODE_FOLDER, "app") & (list | VFS_ENTER), VFS_ENTER);
	assert_int_equal(rights_of(t, 1001, NODE_KEYS, ""), 0);
	/* .deleted/secrets/old as secrets/old */
	assert_int_equal(rights_of(t, 1002, NODE_TRASH_SECRET, "old"), POLICY_BIT(POLICY_RECOVER));
	assert_int_equal(rights_of(t, 1002, NODE_TRASH, "") & (list | VFS_ENTER), VFS_ENTER);
	/* a key's files are decided as the key */
	assert_int_equal(rights_of(t, 1003, NODE_KEY_FILE, "release/sign"),
			 POLICY_BIT(POLICY_SIGN));
	assert_int_equal(rights_of(t, 1003, NODE_KEY_FILE, "other/sign"), 0);
	assert_true(rights_of(t, 1003, NODE_KEYS, "") & VFS_ENTER);
	/* nobody */
	assert_int_equal(rights_of(t, 1004, NODE_ROOT, ""), 0);
	assert_int_equal(rights_of(t, 0, NODE_SECRET, "app/admin") & POLICY_ALL, POLICY_ALL);
}

/* Decisions record nothing; a denial through vfs_check is recorded with its rule. */
static void test_check_records(void **state)
{
	struct test_vfs *t = *state;
	struct policy_decision d;
	struct caller c;

	caller_init(&c, 1001, 1001, getpid());
	assert_true(vfs_decide(t->vfs, &c, POLICY_READ, "secrets/app/db", &d));
	assert_string_equal(d.rule, "policy:1");
	assert_false(vfs_decide(t->vfs, &c, POLICY_READ, "secrets/app/admin", &d));
	assert_string_equal(d.rule, "policy:3");
	assert_int_equal(test_vfs_records(t, 1001, NULL, NULL, NULL, NULL, NULL, NULL), 0);

	assert_int_equal(vfs_check(t->vfs, &c, "open", POLICY_WRITE, "secrets/app/db", &d), 0);
	assert_int_equal(test_vfs_records(t, 1001, NULL, NULL, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(vfs_check(t->vfs, &c, "open", POLICY_READ, "secrets/app/admin", &d),
			 -EACCES);
	assert_int_equal(test_vfs_records(t, 1001, "open", "secrets/app/admin", "deny", "policy:3",
					  "EACCES", NULL),
			 1);
	assert_int_equal(vfs_check(t->vfs, &c, "unlink", POLICY_DELETE, "secrets/app/db", &d),
			 -EACCES);
	assert_int_equal(test_vfs_records(t, 1001, "unlink", "secrets/app/db", "deny",
					  "default-deny", "EACCES", NULL),
			 1);
}

/* Refusals of the tree, and a denial told as another errno, recorded as such. */
static void test_refusals(void **state)
{
	struct test_vfs *t = *state;
	struct node version = node_of(NODE_VERSION, "app/admin", 2);
	struct policy_decision d = { .allow = 0, .rule = "policy:3" };
	struct caller c;

	caller_init(&c, 1001, 1001, getpid());
	assert_int_equal(vfs_refuse(t->vfs, &c, "write", "secrets/app/db", "history", EROFS),
			 -EROFS);
	assert_int_equal(test_vfs_records(t, 1001, "write", "secrets/app/db", "deny", "history",
					  "EROFS", NULL),
			 1);
	assert_int_equal(vfs_deny(t->vfs, &c, "lookup", "secrets/x", &d, ENOENT), -ENOENT);
	assert_int_equal(test_vfs_records(t, 1001, "lookup", "secrets/x", "deny", "policy:3",
					  "ENOENT", NULL),
			 1);
	/* a node refused: the rule that decides read on it is cited */
	assert_int_equal(vfs_deny_node(t->vfs, &c, "getxattr", &version, EACCES), -EACCES);
	assert_int_equal(test_vfs_records(t, 1001, "getxattr", "secrets/app/admin", "deny",
					  "policy:3", "EACCES", NULL),
			 1);
	/* an allowed act, recorded with its version */
	d = (struct policy_decision){ .allow = 1, .rule = "policy:1" };
	assert_int_equal(vfs_record(t->vfs, &c, "read", "secrets/app/db", 7, &d, 0), 0);
	assert_int_equal(
		test_vfs_records(t, 1001, "read", "secrets/app/db", "allow", "policy:1", "0", NULL),
		1);
}

/* With the trail's lock held elsewhere, nothing can be recorded: the caller is told EIO,
 * never the denial it could not record. */
static void test_unrecordable(void **state)
{
	struct test_vfs *t = *state;
	struct policy_decision d;
	char trail[PATH_MAX + 32];
	struct caller c;
	int fd;

	caller_init(&c, 1001, 1001, getpid());
	snprintf(trail, sizeof(trail), "%s/%s", t->vault_dir, VAULT_AUDIT);
	fd = open(trail, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(vfs_check(t->vfs, &c, "open", POLICY_READ, "secrets/app/admin", &d), -EIO);
	assert_int_equal(vfs_refuse(t->vfs, &c, "write", "secrets/a", "history", EROFS), -EIO);
	/* what needs no record is answered all the same */
	assert_int_equal(vfs_check(t->vfs, &c, "open", POLICY_READ, "secrets/app/db", &d), 0);
	assert_int_equal(flock(fd, LOCK_UN), 0);
	close(fd);
	assert_int_equal(test_vfs_records(t, 1001, NULL, NULL, "deny", NULL, NULL, NULL), 0);
	assert_int_equal(vfs_check(t->vfs, &c, "open", POLICY_READ, "secrets/app/admin", &d),
			 -EACCES);
}

/* A record names the live caller's executable and cgroup, read from /proc; a caller
 * without a pid (the kernel, another pid namespace) has none. */
static void test_event_identity(void **state)
{
	struct test_vfs *t = *state;
	char exe[PATH_MAX] = "";
	struct audit_event ev;
	struct handle h = { 0 };
	struct policy_decision d = { .allow = 1, .rule = "policy:1" };
	struct caller c;
	ssize_t n;
	int before;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	caller_init(&c, getuid(), getgid(), getpid());
	vfs_event(&c, "read", "secrets/app/db", 4, &d, 0, &ev);
	assert_non_null(ev.exe);
	assert_string_equal(ev.exe, exe);
	assert_non_null(ev.cgroup);
	assert_int_equal(ev.pid, getpid());
	assert_int_equal(ev.version, 4);
	assert_true(ev.allow);
	assert_string_equal(ev.rule, "policy:1");
	/* in the record too (vault_init's own record names this program as well) */
	before = test_vfs_records_with(t, "exe", exe);
	assert_int_equal(vfs_record(t->vfs, &c, "read", "secrets/app/db", 4, &d, 0), 0);
	assert_int_equal(test_vfs_records(t, (long)getuid(), "read", NULL, NULL, NULL, NULL, NULL),
			 1);
	assert_int_equal(test_vfs_records_with(t, "exe", exe), before + 1);

	caller_init(&c, 1001, 1001, 0);
	vfs_event(&c, "read", "secrets/app/db", 0, NULL, EACCES, &ev);
	assert_null(ev.exe);
	assert_null(ev.cgroup);
	assert_true(ev.allow); /* no decision: an act of the daemon's own */
	assert_null(ev.rule);
	assert_int_equal(ev.result, EACCES);

	/* the opener of a file is kept, with what /proc said at the open */
	caller_init(&c, getuid(), getgid(), getpid());
	assert_int_equal(vfs_opener_set(&h, &c, &d), 0);
	assert_string_equal(h.opener->c.exe, exe);
	assert_string_equal(h.opener->d.rule, "policy:1");
	free(h.opener);
}

/* A policy put in force (a reload) decides every request from then on. */
static void test_set_policy(void **state)
{
	static const char text[] = "allow read secrets/other uid=1001\n";
	struct test_vfs *t = *state;
	struct policy_decision d;
	struct policy *p = NULL;
	char err[256];
	struct caller c;

	caller_init(&c, 1001, 1001, getpid());
	assert_true(vfs_decide(t->vfs, &c, POLICY_READ, "secrets/app/db", &d));
	assert_int_equal(policy_parse(text, strlen(text), "policy", &p, err, sizeof(err)), 0);
	vfs_set_policy(t->vfs, p);
	assert_false(vfs_decide(t->vfs, &c, POLICY_READ, "secrets/app/db", &d));
	assert_string_equal(d.rule, "default-deny");
	assert_true(vfs_decide(t->vfs, &c, POLICY_READ, "secrets/other", &d));
	assert_string_equal(d.rule, "policy:1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_paths),
		cmocka_unit_test_setup_teardown(test_rights, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unrecordable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_policy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

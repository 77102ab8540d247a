/*
 * Unit tests of the audit trail's writers on a real SoftHSM2 token: torn records, two
 * writers on one file, a write cut short (RLIMIT_FSIZE) that leaves no partial record, the
 * lock and its timeout, and rotation — by size, and by others (moved, moved out of the
 * directory, truncated) after another writer wrote last; what the trail tells its owner of
 * each (audit_set_notify), since it logs nothing itself; and the names of a rotated trail's
 * files.
 */
#include "auditutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_internal.h"
#include "timeutil.h"

/* What the trail told (audit_set_notify): how often each kind, and the last one's fields. */
struct notices {
	int count[AUDIT_NOTICE_ROTATED + 1];
	long long value[AUDIT_NOTICE_ROTATED + 1];
	char detail[AUDIT_NOTICE_ROTATED + 1][PATH_MAX + 64];
	char path[PATH_MAX + 16];
};

static void collect(void *userdata, const struct audit_notice *n)
{
	struct notices *ns = userdata;

	ns->count[n->kind]++;
	ns->value[n->kind] = n->value;
	snprintf(ns->detail[n->kind], sizeof(ns->detail[0]), "%s", n->detail ? n->detail : "");
	snprintf(ns->path, sizeof(ns->path), "%s", n->path);
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* A writer killed inside a record leaves a torn line: the next writer cuts it off, at open
 * or at its next append, and tells its owner how many bytes it cut — the cut at open as
 * soon as someone listens. */
static void test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct audit_options o = { 0 };
	struct notices ns = { 0 };

	test_audit_append_n(f, 3, NULL);
	test_audit_edit(f, "printf '{\"seq\":4,\"time\":\"2026' >> audit.log");
	assert_int_not_equal(test_audit_verify(f, NULL).bad_seq, 0);
	audit_free(f->a);
	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &o, &f->a), 0);
	audit_set_notify(f->a, collect, &ns);
	assert_int_equal(ns.count[AUDIT_NOTICE_TORN], 1);
	assert_int_equal(ns.value[AUDIT_NOTICE_TORN], 21);
	assert_string_equal(ns.path, f->path);
	test_audit_append_n(f, 1, NULL);
	assert_int_equal(test_audit_verify(f, NULL).records, 4);
	assert_int_equal(test_audit_verify(f, NULL).bad_seq, 0);
	/* told once: a second listener hears of no cut */
	audit_set_notify(f->a, collect, &ns);
	assert_int_equal(ns.count[AUDIT_NOTICE_TORN], 1);
	/* torn behind this writer's back, after its last record: cut at the next append */
	test_audit_edit(f, "printf '{\"seq\":5,\"ti' >> audit.log");
	test_audit_append_n(f, 1, NULL);
	assert_int_equal(ns.count[AUDIT_NOTICE_TORN], 2);
	assert_int_equal(ns.value[AUDIT_NOTICE_TORN], 12);
	assert_int_equal(test_audit_verify(f, NULL).records, 5);
	assert_int_equal(test_audit_verify(f, NULL).bad_seq, 0);
	assert_int_equal(ns.count[AUDIT_NOTICE_STALLED] + ns.count[AUDIT_NOTICE_ROTATED], 0);
}

/* Two writers on one file (the daemon and an admin command) keep one chain. */
static void test_two_writers(void **state)
{
	struct fixture *f = *state;
	struct audit_options o = { .sync_each = 1 };
	struct audit *b;
	struct audit_head head;

	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &o, &b), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(audit_append(i % 3 ? f->a : b, &test_audit_plain, &head), 0);
		assert_int_equal(head.seq, (uint64_t)i + 1);
	}
	audit_free(b);
	assert_int_equal(test_audit_verify(f, &head).records, 10);
	assert_int_equal(test_audit_verify(f, &head).bad_seq, 0);
}

/* A write cut short (here by RLIMIT_FSIZE, as a full disk would) fails with -EIO and
 * leaves the file as it was; once there is room, appends go on and the chain holds. */
static void test_short_write(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, lim;
	off_t before;

	test_audit_append_n(f, 3, NULL);
	before = size_of(f->path);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)before + 100; /* room for part of a record only */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(audit_append(f->a, &test_audit_plain, NULL), -EFBIG);
	assert_int_equal(audit_append(f->a, &test_audit_plain, NULL), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(size_of(f->path), before);
	test_audit_append_n(f, 1, NULL);
	assert_int_equal(test_audit_verify(f, NULL).records, 4);
	assert_int_equal(test_audit_verify(f, NULL).bad_seq, 0);
}

/* Rotation by size: verify reads the files in seq order; with the oldest gone it starts
 * from the next file's rotation record; with a middle one gone it names the gap. */
static void test_rotation(void **state)
{
	struct fixture *f = *state;
	struct audit_options o = { .rotate_size = 65536 };
	struct notices ns = { 0 };
	struct audit_head head;
	struct audit_report rep;
	char want[PATH_MAX + 64];

	audit_free(f->a);
	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &o, &f->a), 0);
	audit_set_notify(f->a, collect, &ns);
	test_audit_append_n(f, 600, &head);
	/* each rotation told, with the name the file went to */
	assert_true(ns.count[AUDIT_NOTICE_ROTATED] >= 2);
	snprintf(want, sizeof(want), "%s-", f->path);
	assert_memory_equal(ns.detail[AUDIT_NOTICE_ROTATED], want, strlen(want));
	assert_int_equal(ns.count[AUDIT_NOTICE_TORN], 0);
	rep = test_audit_verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_true(rep.records > 600); /* the rotation records too */
	assert_int_equal(rep.first_seq, 1);
	test_audit_edit(f, "test $(ls audit.log-* | wc -l) -ge 2");
	test_audit_edit(f, "rm $(ls audit.log-* | sort | head -n 1)");
	rep = test_audit_verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_true(rep.first_seq > 1);
	test_audit_edit(f, "rm $(ls audit.log-* | sort | tail -n 1)");
	rep = test_audit_verify(f, &head);
	assert_true(rep.bad_seq > 1);
}

/* Another open file description holds the lock: an append waits no longer than
 * timeout_ms and fails with ETIMEDOUT, leaving the file as it was; once the lock is free
 * the next record is preceded by an audit-stall record that counts the refusals, and the
 * chain verifies. */
static void test_lock_timeout(void **state)
{
	struct fixture *f = *state;
	struct audit_options o = { .timeout_ms = 200 };
	struct notices ns = { 0 };
	struct audit_head head;
	struct audit_report rep;
	int64_t t0, took;
	off_t before;
	int fd;

	audit_free(f->a);
	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &o, &f->a), 0);
	audit_set_notify(f->a, collect, &ns);
	test_audit_append_n(f, 3, &head);
	before = size_of(f->path);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	for (int i = 0; i < 2; i++) {
		t0 = time_mono_us();
		assert_int_equal(audit_append(f->a, &test_audit_plain, &head), -ETIMEDOUT);
		took = time_mono_us() - t0;
		assert_true(took >= 190000 && took < 1000000);
	}
	assert_int_equal(size_of(f->path), before);
	/* the stall told once, when it began; the holder is this process: not named */
	assert_int_equal(ns.count[AUDIT_NOTICE_STALLED], 1);
	assert_string_equal(ns.detail[AUDIT_NOTICE_STALLED], "no lock on the trail");
	assert_int_equal(ns.value[AUDIT_NOTICE_STALLED], 200);
	assert_int_equal(ns.count[AUDIT_NOTICE_HOLDER], 0);
	assert_int_equal(ns.count[AUDIT_NOTICE_RESUMED], 0);
	close(fd);
	assert_int_equal(audit_append(f->a, &test_audit_plain, &head), 0);
	assert_int_equal(head.seq, 5); /* the stall's record, then this one */
	assert_int_equal(ns.count[AUDIT_NOTICE_RESUMED], 1);
	assert_non_null(strstr(ns.detail[AUDIT_NOTICE_RESUMED], "2 records refused (EIO)"));
	assert_true(test_file_contains(f->path, "\"op\":\"audit-stall\"", 18));
	assert_true(test_file_contains(f->path, "2 records refused (EIO)", 23));
	rep = test_audit_verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_int_equal(rep.records, 5);
}

/* What a vault would answer as its stored head (audit_options' stored_head). */
struct stored {
	struct audit_head head;
	int r; /* returned instead of the head when < 0 (a head whose tag fails) */
	int asked;
};

static int stored_head(void *userdata, struct audit_head *ret)
{
	struct stored *s = userdata;

	s->asked++;
	if (s->r < 0)
		return s->r;
	*ret = s->head;
	return 0;
}

/* Writers a (the daemon, which wrote first) and b (an admin command, which wrote last). */
static void two_writers(struct fixture *f, struct stored *st, struct audit **ret_b)
{
	struct audit_options o = { .stored_head = stored_head, .stored_head_data = st };
	struct audit_options ob = o;

	ob.sync_each = 1;
	audit_free(f->a);
	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &o, &f->a), 0);
	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &ob, ret_b), 0);
}

/*
 * The file moved away after another writer's records: the first writer's own head is
 * behind, and the chain goes on from the rotated file's last record, whichever writer
 * comes first. Then the rotated files leave the directory (compressed, an olddir): the
 * head the vault keeps says where the chain stands; one whose tag fails is not used.
 */
static void test_rotated_behind(void **state)
{
	struct fixture *f = *state;
	struct stored st = { .r = 0 };
	struct audit_head head;
	struct audit_report rep;
	struct audit *b;

	two_writers(f, &st, &b);
	test_audit_append_n(f, 2, NULL);
	assert_int_equal(audit_append(b, &test_audit_plain, &head), 0);
	assert_int_equal(audit_append(b, &test_audit_plain, &head), 0);
	assert_int_equal(head.seq, 4);
	test_audit_edit(f, "mv audit.log audit.log.1");
	test_audit_append_n(f, 1, &head);
	assert_int_equal(head.seq, 6); /* audit-rotate, then the record */
	rep = test_audit_verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_int_equal(rep.records, 6);

	/* b wrote last again; both files leave; only the stored head knows seq 8 */
	assert_int_equal(audit_append(b, &test_audit_plain, NULL), 0);
	assert_int_equal(audit_append(b, &test_audit_plain, &head), 0);
	st.head = head;
	test_audit_edit(f, "mkdir old && mv audit.log audit.log.1 old/");
	st.asked = 0;
	test_audit_append_n(f, 1, &head);
	assert_true(st.asked > 0);
	assert_int_equal(head.seq, 10);
	rep = test_audit_verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_int_equal(rep.first_seq, 9);

	/* a stored head whose tag fails is not followed: the file's chain goes on */
	assert_int_equal(audit_append(b, &test_audit_plain, &head), 0);
	test_audit_edit(f, "cp audit.log audit.log.2 && : > audit.log");
	st.head.seq = 1000;
	st.r = -EBADMSG;
	test_audit_append_n(f, 1, &head);
	assert_int_equal(head.seq, 13);
	rep = test_audit_verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_int_equal(rep.records, 5);
	audit_free(b);
}

/*
 * copytruncate cuts the file under a writer, and another writer's records fill it to the
 * very length the first one left: the first writer must not take that for its own file
 * and reuse a seq. The other writer's record is made as long as needed with its detail,
 * measured on a scratch trail (a record's length depends only on its fields and the
 * digits of its seq).
 */
static void test_truncated_same_length(void **state)
{
	struct fixture *f = *state;
	struct stored st = { .r = -ENOENT };
	struct audit_event ev = test_audit_plain;
	struct audit_head head;
	struct audit_report rep;
	struct audit *b, *c;
	char scratch[PATH_MAX + 32], detail[1024];
	off_t end, have;

	two_writers(f, &st, &b);
	test_audit_append_n(f, 4, NULL);
	end = size_of(f->path);
	assert_int_equal(audit_append(b, &test_audit_plain, NULL), 0); /* seq 5 */
	test_audit_edit(f, "cp audit.log audit.log.1 && : > audit.log");
	/* b will write audit-rotate (seq 6) and a record (seq 7) with a detail of n bytes */
	memset(detail, 'x', sizeof(detail));
	detail[1] = '\0';
	ev.detail = detail;
	test_audit_edit(f, "mkdir scratch");
	snprintf(scratch, sizeof(scratch), "%s/scratch/audit.log", f->dir);
	{
		struct audit_options o = { 0 };

		assert_int_equal(audit_open(scratch, f->tok.hsm, f->key, &o, &c), 0);
		assert_int_equal(audit_append(c, &test_audit_plain, NULL), 0);
		test_audit_edit(f, "mv scratch/audit.log scratch/audit.log-1");
		assert_int_equal(audit_append(c, &ev, NULL), 0);
		audit_free(c);
	}
	have = size_of(scratch);
	assert_true(have <= end && end - have < (off_t)sizeof(detail) - 1);
	detail[1] = 'x';
	detail[1 + (end - have)] = '\0';
	assert_int_equal(audit_append(b, &ev, &head), 0);
	assert_int_equal(head.seq, 7);
	assert_int_equal(size_of(f->path), end);
	test_audit_append_n(f, 1, &head);
	assert_int_equal(head.seq, 8);
	rep = test_audit_verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_int_equal(rep.records, 8);
	audit_free(b);
}

/* The files verify reads and a rotated trail is picked up from: audit.log, vaultfs's
 * audit.log-SEQ, logrotate's audit.log.N, audit.log-DATE and audit.log-DATE.backup (an
 * audit.log a writer made inside logrotate's window); never compressed ones or others. */
static void test_trail_names(void **state)
{
	static const char *const yes[] = {
		"audit.log",	      "audit.log-000000000565",	     "audit.log.1",
		"audit.log-20261203", "audit.log-2026120307.backup", "audit.log-2026_12_03"
	};
	static const char *const no[] = { "audit.log.1.gz",
					  "audit.log-",
					  "audit.log.",
					  "audit.logx",
					  "audit.log-.backup",
					  "audit.log.1.backup",
					  "audit.log-1.backup.gz",
					  "audit.log-x.backup",
					  "vaultfs.log",
					  "audit.log-1.bak" };

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(audit_is_trail_file(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(audit_is_trail_file(no[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_torn_tail, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_two_writers, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_short_write, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_rotation, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_lock_timeout, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_rotated_behind, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_truncated_same_length, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test(test_trail_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

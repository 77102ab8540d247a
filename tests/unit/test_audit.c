/*
 * Unit tests of the audit trail on a real SoftHSM2 token: the key's attributes, the line
 * format under hostile field values (every line is JSON that json-c reads back to the
 * same strings), the chain and every kind of tampering, the vault's anchor, epochs,
 * torn records, two writers on one file, a write cut short (RLIMIT_FSIZE) that leaves no
 * partial record, and rotation — by size, and by others (moved, moved out of the directory,
 * truncated) after another writer wrote last; what the trail tells its owner of each
 * (audit_set_notify), since it logs nothing itself.
 */
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

#include <json-c/json.h>

#include "audit.h"
#include "audit_internal.h"
#include "timeutil.h"
#include "testutil.h"

struct fixture {
	struct test_token tok;
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
	CK_OBJECT_HANDLE key;
	struct audit *a;
};

static const struct audit_event plain = {
	.uid = 1001,
	.gid = 1001,
	.pid = 77,
	.exe = "/usr/bin/cat",
	.cgroup = "/system.slice/app.service",
	.op = "open",
	.path = "secrets/db-conn",
	.version = 2,
	.allow = 1,
	.rule = "policy:3",
	.detail = "read",
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct audit_options o = { 0 };

	assert_non_null(f);
	test_token_setup(&f->tok);
	test_tmpdir(f->dir);
	snprintf(f->path, sizeof(f->path), "%s/audit.log", f->dir);
	assert_int_equal(hsm_mac_key_create(f->tok.hsm, "vaultfs-audit-test", &f->key), 0);
	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &o, &f->a), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	audit_free(f->a);
	test_rmtree(f->dir);
	test_token_teardown(&f->tok);
	free(f);
	return 0;
}

static void append_n(struct fixture *f, int n, struct audit_head *ret)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(audit_append(f->a, &plain, ret), 0);
}

static struct audit_report verify(struct fixture *f, const struct audit_head *anchor)
{
	struct audit_head none = { 0 };
	struct audit_report rep;

	assert_int_equal(audit_verify(f->dir, f->tok.hsm, f->key, anchor ? anchor : &none, &rep),
			 0);
	return rep;
}

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

/* Runs a shell command on the trail (sed, head...) in the test's directory. */
static void edit(struct fixture *f, const char *cmd)
{
	char buf[PATH_MAX + 512];

	snprintf(buf, sizeof(buf), "cd '%s' && %s", f->dir, cmd);
	assert_int_equal(system(buf), 0);
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_key_attributes(void **state)
{
	struct fixture *f = *state;
	CK_FUNCTION_LIST *p11 = hsm_functions(f->tok.hsm);
	CK_BBOOL sensitive = 0, extractable = 1, sign = 0, wrap = 1, encrypt = 1;
	CK_ATTRIBUTE a[] = {
		{ CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
		{ CKA_EXTRACTABLE, &extractable, sizeof(extractable) },
		{ CKA_SIGN, &sign, sizeof(sign) },
		{ CKA_WRAP, &wrap, sizeof(wrap) },
		{ CKA_ENCRYPT, &encrypt, sizeof(encrypt) },
	};
	uint8_t value[64];
	CK_ATTRIBUTE v = { CKA_VALUE, value, sizeof(value) };
	CK_OBJECT_HANDLE again;
	CK_SESSION_HANDLE s;

	assert_int_equal(hsm_session(f->tok.hsm, &s), 0);
	assert_int_equal(p11->C_GetAttributeValue(s, hsm_key_handle(f->tok.hsm, f->key), a, 5),
			 CKR_OK);
	assert_true(sensitive);
	assert_false(extractable);
	assert_true(sign);
	assert_false(wrap);
	assert_false(encrypt);
	assert_int_equal(p11->C_GetAttributeValue(s, hsm_key_handle(f->tok.hsm, f->key), &v, 1),
			 CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(hsm_mac_key_create(f->tok.hsm, "vaultfs-audit-test", &again), -EEXIST);
}

/* Hostile values make valid JSON that reads back as what was given (or its marked cut). */
static void test_format(void **state)
{
	struct fixture *f = *state;
	struct audit_event ev = plain;
	char exe[] = "/tmp/a\"b\\c\nd\x01\x7f\xff\xc3\xa9-\xe2\x82\xac";
	char *cgroup = malloc(6001);
	char line[AUDIT_LINE_MAX + 2];
	json_object *o, *fv;
	FILE *fp;

	assert_non_null(cgroup);
	memset(cgroup, 'c', 6000);
	cgroup[6000] = '\0';
	ev.exe = exe;
	ev.cgroup = cgroup;
	ev.version = 0;
	ev.rule = NULL;
	ev.result = EACCES;
	ev.allow = 0;
	assert_int_equal(audit_append(f->a, &ev, NULL), 0);
	free(cgroup);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_true(strlen(line) < AUDIT_LINE_MAX);
	o = json_tokener_parse(line);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "exe", &fv));
	/* the invalid byte \xff is written as the text \xff; valid UTF-8 stays as it is */
	assert_string_equal(json_object_get_string(fv),
			    "/tmp/a\"b\\c\nd\x01\x7f\\xff\xc3\xa9-\xe2\x82\xac");
	assert_true(json_object_object_get_ex(o, "cgroup", &fv));
	assert_true(strlen(json_object_get_string(fv)) < 4200);
	assert_non_null(strstr(json_object_get_string(fv), "..."));
	assert_true(json_object_object_get_ex(o, "version", &fv));
	assert_null(fv);
	assert_true(json_object_object_get_ex(o, "rule", &fv));
	assert_null(fv);
	assert_true(json_object_object_get_ex(o, "result", &fv));
	assert_string_equal(json_object_get_string(fv), "EACCES");
	assert_true(json_object_object_get_ex(o, "decision", &fv));
	assert_string_equal(json_object_get_string(fv), "deny");
	assert_true(json_object_object_get_ex(o, "seq", &fv));
	assert_int_equal(json_object_get_int64(fv), 1);
	json_object_put(o);
	assert_int_equal(verify(f, NULL).bad_seq, 0);
}

/* The characters a terminal acts on or hides are \u-escaped in the file itself (U+E0041,
 * past the BMP, as a surrogate pair) and read back as what they were. */
static void test_format_hidden(void **state)
{
	struct fixture *f = *state;
	struct audit_event ev = plain;
	char exe[] = "/tmp/\xc2\x9b"
		     "31m\xe2\x80\xa8\xe2\x80\xae\xf3\xa0\x81\x81\xe2\x80\x8b";
	char line[AUDIT_LINE_MAX + 2];
	json_object *o, *fv;
	FILE *fp;

	ev.exe = exe;
	assert_int_equal(audit_append(f->a, &ev, NULL), 0);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_non_null(
		strstr(line, "\"exe\":\"/tmp/\\u009b31m\\u2028\\u202e\\udb40\\udc41\\u200b\""));
	for (const char *p = line; *p; p++)
		assert_true(((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) || *p == '\n');
	o = json_tokener_parse(line);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "exe", &fv));
	assert_string_equal(json_object_get_string(fv), exe);
	json_object_put(o);
	assert_int_equal(verify(f, NULL).bad_seq, 0);
}

static void escaped(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t len;

	assert_true(AUDIT_ESCAPE_MAX(n) <= sizeof(out));
	memset(out, 'Z', sizeof(out));
	len = audit_escape(in, n, out);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
}

#define ESCAPED(in, want) escaped(in, sizeof(in) - 1, want)

/* What tail shows for people: printable UTF-8 as it is, every other byte escaped, and a
 * backslash doubled so that no input reads like another's escape. */
static void test_escape(void **state)
{
	static const char every_c0[] = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d"
				       "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"
				       "\x1b\x1c\x1d\x1e\x1f\x7f";
	char all[256], out[AUDIT_ESCAPE_MAX(256)];
	size_t len;

	(void)state;
	ESCAPED("", "");
	ESCAPED("secrets/db-conn caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91",
		"secrets/db-conn caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
	ESCAPED("a\\b", "a\\\\b");
	ESCAPED("\\x1b", "\\\\x1b"); /* the text \x1b is not ESC */
	ESCAPED("a\nb\rc\td", "a\\nb\\rc\\td");
	ESCAPED("\0z", "\\x00z");
	ESCAPED(every_c0, "\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x0c\\r\\x0e\\x0f"
			  "\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17\\x18\\x19\\x1a\\x1b\\x1c\\x1d"
			  "\\x1e\\x1f\\x7f");
	ESCAPED("\x1b[2K\x1b]0;t\x07", "\\x1b[2K\\x1b]0;t\\x07");
	/* C1 as UTF-8 and as raw bytes: the code point U+009B is not the byte 0x9b */
	ESCAPED("\xc2\x80\xc2\x9b\xc2\x9f\xc2\xa0", "\\u0080\\u009b\\u009f\xc2\xa0");
	ESCAPED("\x80\x9b\x9f", "\\x80\\x9b\\x9f");
	/* invalid UTF-8: lone continuation, truncated, overlong, surrogate, past U+10FFFF */
	ESCAPED("\xff\xfe", "\\xff\\xfe");
	ESCAPED("a\xe2\x82", "a\\xe2\\x82");
	ESCAPED("\xc0\xaf", "\\xc0\\xaf");
	ESCAPED("\xed\xa0\x80", "\\xed\\xa0\\x80");
	ESCAPED("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
	/* separators, bidi controls, invisible and tag characters */
	ESCAPED("\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029");
	ESCAPED("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x80\xae",
		"\\u202a\\u202b\\u202c\\u202d\\u202e");
	ESCAPED("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", "\\u2066\\u2067\\u2068\\u2069");
	ESCAPED("\xe2\x80\x8b\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c\xef\xbb\xbf\xc2\xad",
		"\\u200b\\u200e\\u200f\\u061c\\ufeff\\u00ad");
	ESCAPED("\xf3\xa0\x81\x81\xef\xbf\xbe\xee\x80\x80", "\\U000e0041\\ufffe\\ue000");
	/* every byte value: the output is valid UTF-8 with no control character in it */
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	len = audit_escape(all, sizeof(all), out);
	assert_int_equal(strlen(out), len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];

		assert_true(c >= 0x20 && c < 0x7f);
	}
}

static void test_chain(void **state)
{
	struct fixture *f = *state;
	struct audit_head head;
	struct audit_report rep;

	append_n(f, 50, &head);
	assert_int_equal(head.seq, 50);
	rep = verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_int_equal(rep.records, 50);
	assert_int_equal(rep.first_seq, 1);
	assert_int_equal(rep.last_seq, 50);
}

static void test_tampering(void **state)
{
	static const struct {
		const char *cmd;
		uint64_t bad;
	} cases[] = {
		{ "sed -i '7s/\"uid\":1001/\"uid\":0/' audit.log", 7 },
		{ "sed -i '7s/\"decision\":\"allow\"/\"decision\":\"deny\"/' audit.log", 7 },
		{ "sed -i 7d audit.log", 7 },
		{ "sed -i 7p audit.log", 8 },
		{ "sed -i -n '7{h;n;p;x};p' audit.log", 7 },
		{ "head -n 18 audit.log > x && cat x > audit.log && rm x", 19 },
		{ "sed -i 1d audit.log", 1 },
		{ "printf 'junk\\n' >> audit.log", 21 },
		{ "truncate -s -5 audit.log", 20 },
	};
	struct fixture *f = *state;
	struct audit_head head;
	char saved[PATH_MAX + 32];

	append_n(f, 20, &head);
	snprintf(saved, sizeof(saved), "%s.saved", f->path);
	edit(f, "cp audit.log audit.saved");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit_report rep;

		edit(f, "cp audit.saved audit.log");
		edit(f, cases[i].cmd);
		rep = verify(f, &head);
		if (rep.bad_seq != cases[i].bad)
			fail_msg("\"%s\": bad seq %llu (%s), expected %llu", cases[i].cmd,
				 (unsigned long long)rep.bad_seq, rep.reason,
				 (unsigned long long)cases[i].bad);
	}
	edit(f, "cp audit.saved audit.log && rm audit.saved");
	assert_int_equal(verify(f, &head).bad_seq, 0);
}

/* The anchor is what a cut tail cannot hide from, and what a rewritten one contradicts. */
static void test_anchor(void **state)
{
	struct fixture *f = *state;
	struct audit_head head, ahead;

	append_n(f, 5, &head);
	ahead = head;
	ahead.seq = 9;
	assert_int_equal(verify(f, &ahead).bad_seq, 6);
	ahead = head;
	ahead.mac[0] ^= 1;
	assert_int_equal(verify(f, &ahead).bad_seq, 5);
}

/* Another token's key (an attacker's own token) makes no record that verifies. */
static void test_other_key(void **state)
{
	struct fixture *f = *state;
	struct audit_head none = { 0 };
	struct audit_report rep;
	CK_OBJECT_HANDLE other;

	append_n(f, 3, NULL);
	assert_int_equal(hsm_mac_key_create(f->tok.hsm, "vaultfs-audit-other", &other), 0);
	assert_int_equal(audit_verify(f->dir, f->tok.hsm, other, &none, &rep), 0);
	assert_int_equal(rep.bad_seq, 1);
}

/* A new epoch key every second: records under several keys still verify as one chain. */
static void test_epochs(void **state)
{
	struct fixture *f = *state;
	char k1[17] = "", k2[17] = "";
	char line[AUDIT_LINE_MAX];
	FILE *fp;

	append_n(f, 2, NULL);
	usleep(1100 * 1000);
	append_n(f, 2, NULL);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	for (int i = 0; fgets(line, sizeof(line), fp); i++) {
		char *k = strstr(line, "\"key\":\"");

		assert_non_null(k);
		memcpy(i == 0 ? k1 : k2, k + 7, 16);
	}
	fclose(fp);
	assert_string_not_equal(k1, k2);
	assert_int_equal(verify(f, NULL).bad_seq, 0);
}

/* A writer killed inside a record leaves a torn line: the next writer cuts it off, at open
 * or at its next append, and tells its owner how many bytes it cut — the cut at open as
 * soon as someone listens. */
static void test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct audit_options o = { 0 };
	struct notices ns = { 0 };

	append_n(f, 3, NULL);
	edit(f, "printf '{\"seq\":4,\"time\":\"2026' >> audit.log");
	assert_int_not_equal(verify(f, NULL).bad_seq, 0);
	audit_free(f->a);
	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &o, &f->a), 0);
	audit_set_notify(f->a, collect, &ns);
	assert_int_equal(ns.count[AUDIT_NOTICE_TORN], 1);
	assert_int_equal(ns.value[AUDIT_NOTICE_TORN], 21);
	assert_string_equal(ns.path, f->path);
	append_n(f, 1, NULL);
	assert_int_equal(verify(f, NULL).records, 4);
	assert_int_equal(verify(f, NULL).bad_seq, 0);
	/* told once: a second listener hears of no cut */
	audit_set_notify(f->a, collect, &ns);
	assert_int_equal(ns.count[AUDIT_NOTICE_TORN], 1);
	/* torn behind this writer's back, after its last record: cut at the next append */
	edit(f, "printf '{\"seq\":5,\"ti' >> audit.log");
	append_n(f, 1, NULL);
	assert_int_equal(ns.count[AUDIT_NOTICE_TORN], 2);
	assert_int_equal(ns.value[AUDIT_NOTICE_TORN], 12);
	assert_int_equal(verify(f, NULL).records, 5);
	assert_int_equal(verify(f, NULL).bad_seq, 0);
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
		assert_int_equal(audit_append(i % 3 ? f->a : b, &plain, &head), 0);
		assert_int_equal(head.seq, (uint64_t)i + 1);
	}
	audit_free(b);
	assert_int_equal(verify(f, &head).records, 10);
	assert_int_equal(verify(f, &head).bad_seq, 0);
}

/* A write cut short (here by RLIMIT_FSIZE, as a full disk would) fails with -EIO and
 * leaves the file as it was; once there is room, appends go on and the chain holds. */
static void test_short_write(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, lim;
	off_t before;

	append_n(f, 3, NULL);
	before = size_of(f->path);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)before + 100; /* room for part of a record only */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(audit_append(f->a, &plain, NULL), -EFBIG);
	assert_int_equal(audit_append(f->a, &plain, NULL), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(size_of(f->path), before);
	append_n(f, 1, NULL);
	assert_int_equal(verify(f, NULL).records, 4);
	assert_int_equal(verify(f, NULL).bad_seq, 0);
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
	append_n(f, 600, &head);
	/* each rotation told, with the name the file went to */
	assert_true(ns.count[AUDIT_NOTICE_ROTATED] >= 2);
	snprintf(want, sizeof(want), "%s-", f->path);
	assert_memory_equal(ns.detail[AUDIT_NOTICE_ROTATED], want, strlen(want));
	assert_int_equal(ns.count[AUDIT_NOTICE_TORN], 0);
	rep = verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_true(rep.records > 600); /* the rotation records too */
	assert_int_equal(rep.first_seq, 1);
	edit(f, "test $(ls audit.log-* | wc -l) -ge 2");
	edit(f, "rm $(ls audit.log-* | sort | head -n 1)");
	rep = verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_true(rep.first_seq > 1);
	edit(f, "rm $(ls audit.log-* | sort | tail -n 1)");
	rep = verify(f, &head);
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
	append_n(f, 3, &head);
	before = size_of(f->path);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	for (int i = 0; i < 2; i++) {
		t0 = time_mono_us();
		assert_int_equal(audit_append(f->a, &plain, &head), -ETIMEDOUT);
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
	assert_int_equal(audit_append(f->a, &plain, &head), 0);
	assert_int_equal(head.seq, 5); /* the stall's record, then this one */
	assert_int_equal(ns.count[AUDIT_NOTICE_RESUMED], 1);
	assert_non_null(strstr(ns.detail[AUDIT_NOTICE_RESUMED], "2 records refused (EIO)"));
	assert_true(test_file_contains(f->path, "\"op\":\"audit-stall\"", 18));
	assert_true(test_file_contains(f->path, "2 records refused (EIO)", 23));
	rep = verify(f, &head);
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
	append_n(f, 2, NULL);
	assert_int_equal(audit_append(b, &plain, &head), 0);
	assert_int_equal(audit_append(b, &plain, &head), 0);
	assert_int_equal(head.seq, 4);
	edit(f, "mv audit.log audit.log.1");
	append_n(f, 1, &head);
	assert_int_equal(head.seq, 6); /* audit-rotate, then the record */
	rep = verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_int_equal(rep.records, 6);

	/* b wrote last again; both files leave; only the stored head knows seq 8 */
	assert_int_equal(audit_append(b, &plain, NULL), 0);
	assert_int_equal(audit_append(b, &plain, &head), 0);
	st.head = head;
	edit(f, "mkdir old && mv audit.log audit.log.1 old/");
	st.asked = 0;
	append_n(f, 1, &head);
	assert_true(st.asked > 0);
	assert_int_equal(head.seq, 10);
	rep = verify(f, &head);
	assert_int_equal(rep.bad_seq, 0);
	assert_int_equal(rep.first_seq, 9);

	/* a stored head whose tag fails is not followed: the file's chain goes on */
	assert_int_equal(audit_append(b, &plain, &head), 0);
	edit(f, "cp audit.log audit.log.2 && : > audit.log");
	st.head.seq = 1000;
	st.r = -EBADMSG;
	append_n(f, 1, &head);
	assert_int_equal(head.seq, 13);
	rep = verify(f, &head);
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
	struct audit_event ev = plain;
	struct audit_head head;
	struct audit_report rep;
	struct audit *b, *c;
	char scratch[PATH_MAX + 32], detail[1024];
	off_t end, have;

	two_writers(f, &st, &b);
	append_n(f, 4, NULL);
	end = size_of(f->path);
	assert_int_equal(audit_append(b, &plain, NULL), 0); /* seq 5 */
	edit(f, "cp audit.log audit.log.1 && : > audit.log");
	/* b will write audit-rotate (seq 6) and a record (seq 7) with a detail of n bytes */
	memset(detail, 'x', sizeof(detail));
	detail[1] = '\0';
	ev.detail = detail;
	edit(f, "mkdir scratch");
	snprintf(scratch, sizeof(scratch), "%s/scratch/audit.log", f->dir);
	{
		struct audit_options o = { 0 };

		assert_int_equal(audit_open(scratch, f->tok.hsm, f->key, &o, &c), 0);
		assert_int_equal(audit_append(c, &plain, NULL), 0);
		edit(f, "mv scratch/audit.log scratch/audit.log-1");
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
	append_n(f, 1, &head);
	assert_int_equal(head.seq, 8);
	rep = verify(f, &head);
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
		cmocka_unit_test_setup_teardown(test_key_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_hidden, setup, teardown),
		cmocka_unit_test(test_escape),
		cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epochs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotated_behind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_same_length, setup, teardown),
		cmocka_unit_test(test_trail_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the audit trail's records on a real SoftHSM2 token: the key's attributes,
 * the line format under hostile field values (every line is JSON that json-c reads back to
 * the same strings), the escaping for people, the chain and every kind of tampering, the
 * vault's anchor, another token's key, and epochs. Writers sharing a trail, torn records
 * and rotation are in test_audit_writers.c.
 */
#include "auditutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

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
	struct audit_event ev = test_audit_plain;
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
	assert_int_equal(test_audit_verify(f, NULL).bad_seq, 0);
}

/* The characters a terminal acts on or hides are \u-escaped in the file itself (U+E0041,
 * past the BMP, as a surrogate pair) and read back as what they were. */
static void test_format_hidden(void **state)
{
	struct fixture *f = *state;
	struct audit_event ev = test_audit_plain;
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
	assert_int_equal(test_audit_verify(f, NULL).bad_seq, 0);
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

	test_audit_append_n(f, 50, &head);
	assert_int_equal(head.seq, 50);
	rep = test_audit_verify(f, &head);
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

	test_audit_append_n(f, 20, &head);
	snprintf(saved, sizeof(saved), "%s.saved", f->path);
	test_audit_edit(f, "cp audit.log audit.saved");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit_report rep;

		test_audit_edit(f, "cp audit.saved audit.log");
		test_audit_edit(f, cases[i].cmd);
		rep = test_audit_verify(f, &head);
		if (rep.bad_seq != cases[i].bad)
			fail_msg("\"%s\": bad seq %llu (%s), expected %llu", cases[i].cmd,
				 (unsigned long long)rep.bad_seq, rep.reason,
				 (unsigned long long)cases[i].bad);
	}
	test_audit_edit(f, "cp audit.saved audit.log && rm audit.saved");
	assert_int_equal(test_audit_verify(f, &head).bad_seq, 0);
}

/* The anchor is what a cut tail cannot hide from, and what a rewritten one contradicts. */
static void test_anchor(void **state)
{
	struct fixture *f = *state;
	struct audit_head head, ahead;

	test_audit_append_n(f, 5, &head);
	ahead = head;
	ahead.seq = 9;
	assert_int_equal(test_audit_verify(f, &ahead).bad_seq, 6);
	ahead = head;
	ahead.mac[0] ^= 1;
	assert_int_equal(test_audit_verify(f, &ahead).bad_seq, 5);
}

/* Another token's key (an attacker's own token) makes no record that verifies. */
static void test_other_key(void **state)
{
	struct fixture *f = *state;
	struct audit_head none = { 0 };
	struct audit_report rep;
	CK_OBJECT_HANDLE other;

	test_audit_append_n(f, 3, NULL);
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

	test_audit_append_n(f, 2, NULL);
	usleep(1100 * 1000);
	test_audit_append_n(f, 2, NULL);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	for (int i = 0; fgets(line, sizeof(line), fp); i++) {
		char *k = strstr(line, "\"key\":\"");

		assert_non_null(k);
		memcpy(i == 0 ? k1 : k2, k + 7, 16);
	}
	fclose(fp);
	assert_string_not_equal(k1, k2);
	assert_int_equal(test_audit_verify(f, NULL).bad_seq, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_attributes, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_format, test_audit_setup, test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_format_hidden, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test(test_escape),
		cmocka_unit_test_setup_teardown(test_chain, test_audit_setup, test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_tampering, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_anchor, test_audit_setup, test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_other_key, test_audit_setup,
						test_audit_teardown),
		cmocka_unit_test_setup_teardown(test_epochs, test_audit_setup, test_audit_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

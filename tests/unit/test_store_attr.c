/*
 * Unit tests for the store's attributes, on a real SoftHSM2 token made for each test: the
 * computed ones, content_type, enabled and the validity window (not_before, expires) and
 * what they refuse, tags and their limits, times read back as accepted, and XATTR_CREATE
 * and XATTR_REPLACE.
 */
#include "storeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

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

	test_store_put(f->s, "s", "a", 1, 1);
	test_store_put(f->s, "s", "b", 1, 2);
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
	test_store_check_value(f->s, "s", 0, "b");

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
	test_store_check_value(f->s, "s", 0, "b");
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

	test_store_put(f->s, "s", "v", 1, 1);
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

	test_store_put(f->s, "s", "v", 1, 1);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attributes, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_attr_flags, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_attr_times_round_trip, test_store_setup,
						test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

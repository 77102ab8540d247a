/*
 * Unit tests for timeutil: RFC 3339 round trips and strict rejection.
 */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "timeutil.h"

static void test_parse(void **state)
{
	int64_t t;
	char buf[TIME_RFC3339_MAX];

	(void)state;
	assert_int_equal(time_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(time_parse("2026-11-24T15:06:40Z", &t), 0);
	assert_int_equal(t, 1795532800LL * 1000000 + 0);
	time_format(t, 0, buf);
	assert_string_equal(buf, "2026-11-24T15:06:40Z");
	assert_int_equal(time_parse("2026-11-24T16:06:40+01:00", &t), 0);
	time_format(t, 0, buf);
	assert_string_equal(buf, "2026-11-24T15:06:40Z");
	assert_int_equal(time_parse("2026-11-24t15:06:40.5z", &t), 0);
	time_format(t, 1, buf);
	assert_string_equal(buf, "2026-11-24T15:06:40.500000Z");
	assert_int_equal(time_parse("2024-02-29T00:00:00Z", &t), 0);
}

static void test_reject(void **state)
{
	static const char *const bad[] = {
		"",
		"2026-11-24",
		"2026-11-24 15:06:40Z",
		"2026-11-24T15:06:40",
		"2026-13-01T00:00:00Z",
		"2026-02-30T00:00:00Z",
		"2023-02-29T00:00:00Z",
		"2026-11-24T24:00:00Z",
		"2026-11-24T15:06:40.Z",
		"2026-11-24T15:06:40Zjunk",
		"2026-11-24T15:06:40+1:00",
		"tomorrow",
	};
	int64_t t = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (time_parse(bad[i], &t) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 42);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_reject),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

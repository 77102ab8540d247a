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

/* Each of @bad is refused, and *ret untouched. */
static void refused_all(const char *const *bad, size_t n)
{
	int64_t t = 42;

	for (size_t i = 0; i < n; i++) {
		if (time_parse(bad[i], &t) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 42);
	}
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

	(void)state;
	refused_all(bad, sizeof(bad) / sizeof(bad[0]));
}

/* What is accepted is printed back as the same instant, in four-digit years. */
static void test_round_trip(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "0999-05-01T10:00:00Z", "0999-05-01T10:00:00.000000Z" },
		{ "0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000000Z" },
		{ "0001-03-01T00:59:59.5+00:59", "0001-03-01T00:00:59.500000Z" },
		{ "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z" },
		{ "1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z" },
		{ "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z" },
		{ "2026-11-24T15:06:40.123456000Z", "2026-11-24T15:06:40.123456Z" },
	};
	char buf[TIME_RFC3339_MAX];
	int64_t t, t2;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(time_parse(cases[i].in, &t), 0);
		time_format(t, 1, buf);
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(time_parse(buf, &t2), 0);
		assert_int_equal(t, t2);
	}
	/* every microsecond-exact instant of the range prints and parses back */
	for (int64_t sec = -62167219200LL; sec <= 253402300799LL; sec += 7777777777LL) {
		t = sec * 1000000 + (sec & 0xfffff) % 1000000;
		time_format(t, 1, buf);
		assert_int_equal(time_parse(buf, &t2), 0);
		assert_int_equal(t, t2);
	}
}

/* What could not be printed back is refused. */
static void test_reject_unprintable(void **state)
{
	static const char *const bad[] = {
		"2016-12-31T23:59:60Z", /* a leap second: Unix time has no instant for it */
		"2016-12-31T23:59:60.123Z",
		"2026-11-24T15:06:40.1234567Z", /* finer than a microsecond */
		"0000-01-01T00:30:00+01:00", /* year -1 in UTC */
		"9999-12-31T23:30:00-01:00", /* year 10000 in UTC */
	};

	(void)state;
	refused_all(bad, sizeof(bad) / sizeof(bad[0]));
}

/* Lifetimes: days, or a number with one unit; nothing else, and never zero. */
static void test_parse_days(void **state)
{
	static const struct {
		const char *s;
		int64_t secs;
	} good[] = {
		{ "1", 86400 },
		{ "90", 90 * 86400 },
		{ "7d", 7 * 86400 },
		{ "12h", 43200 },
		{ "30m", 1800 },
		{ "3s", 3 },
		{ "36500", 36500LL * 86400 },
		{ "0010", 864000 },
	};
	static const char *const bad[] = {
		"",    "0",    "0d",  "-1", "+1",    "1.5",	    " 1",
		"1 ",  "1w",   "1dd", "d",  "36501", "3153600001s", "99999999999999999999999",
		"1e3", "none",
	};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		assert_int_equal(time_parse_days(good[i].s, &v), 0);
		assert_int_equal(v, good[i].secs);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -7;
		if (time_parse_days(bad[i], &v) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(v, -7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),	   cmocka_unit_test(test_reject),
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_reject_unprintable),
		cmocka_unit_test(test_parse_days),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for names: SPEC's segment rules, depth limit and NAME@VERSION.
 */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "names.h"

static void test_paths(void **state)
{
	char longseg[200], deep[16 * 3 + 10];

	(void)state;
	assert_int_equal(name_path_check("db-conn"), 0);
	assert_int_equal(name_path_check("payments/api-key"), 0);
	assert_int_equal(name_path_check("A.b_c-9"), 0);
	assert_int_equal(name_path_check(""), -EINVAL);
	assert_int_equal(name_path_check(".hidden"), -EINVAL);
	assert_int_equal(name_path_check("a/.b"), -EINVAL);
	assert_int_equal(name_path_check("a//b"), -EINVAL);
	assert_int_equal(name_path_check("/a"), -EINVAL);
	assert_int_equal(name_path_check("a/"), -EINVAL);
	assert_int_equal(name_path_check("a b"), -EINVAL);
	assert_int_equal(name_path_check("a@1"), -EINVAL);
	assert_int_equal(name_path_check("caf\xc3\xa9"), -EINVAL);
	assert_int_equal(name_path_check(".."), -EINVAL);

	memset(longseg, 'x', sizeof(longseg));
	longseg[127] = '\0';
	assert_int_equal(name_path_check(longseg), 0);
	longseg[127] = 'x';
	longseg[128] = '\0';
	assert_int_equal(name_path_check(longseg), -EINVAL);

	deep[0] = '\0';
	for (int i = 0; i < 16; i++)
		strcat(deep, i ? "/ab" : "ab");
	assert_int_equal(name_path_check(deep), 0);
	strcat(deep, "/ab");
	assert_int_equal(name_path_check(deep), -EINVAL);
}

/* A key's name is one segment: no slash, no version, no leading dot. */
static void test_single(void **state)
{
	(void)state;
	assert_int_equal(name_single_check("release-2024.key_1"), 0);
	assert_int_equal(name_single_check(""), -EINVAL);
	assert_int_equal(name_single_check("a/b"), -EINVAL);
	assert_int_equal(name_single_check("k@2"), -EINVAL);
	assert_int_equal(name_single_check(".hidden"), -EINVAL);
}

static void test_versions(void **state)
{
	size_t len;
	uint64_t v;

	(void)state;
	assert_int_equal(name_split_version("db-conn", &len, &v), 0);
	assert_int_equal(len, 7);
	assert_int_equal(v, 0);
	assert_int_equal(name_split_version("db-conn@3", &len, &v), 0);
	assert_int_equal(len, 7);
	assert_int_equal(v, 3);
	assert_int_equal(name_split_version("db-conn@123456", &len, &v), 0);
	assert_int_equal(v, 123456);
	assert_int_equal(name_split_version("db-conn@0", &len, &v), -EINVAL);
	assert_int_equal(name_split_version("db-conn@03", &len, &v), -EINVAL);
	assert_int_equal(name_split_version("db-conn@", &len, &v), -EINVAL);
	assert_int_equal(name_split_version("db-conn@-1", &len, &v), -EINVAL);
	assert_int_equal(name_split_version("db-conn@1x", &len, &v), -EINVAL);
	assert_int_equal(name_split_version("@1", &len, &v), -EINVAL);
	assert_int_equal(name_split_version("a@99999999999999999999999", &len, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_single),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

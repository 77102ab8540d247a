/*
 * Unit tests for secbuf: growth keeps contents, truncation wipes, mappings are excluded
 * from core dumps, and reading a file respects its limit.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_append_and_grow(void **state)
{
	struct secbuf *b = NULL;
	uint8_t chunk[1000];

	(void)state;
	assert_int_equal(secbuf_new(1, &b), 0);
	for (int i = 0; i < 100; i++) {
		memset(chunk, i, sizeof(chunk));
		assert_int_equal(secbuf_append(b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b->len, 100000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(b->data[i * 1000 + 999], i);
	secbuf_check(b);
	secbuf_free(b);
}

static void test_truncate_wipes(void **state)
{
	struct secbuf *b = NULL;

	(void)state;
	assert_int_equal(secbuf_from("top secret", 10, &b), 0);
	secbuf_truncate(b, 3);
	assert_int_equal(b->len, 3);
	for (size_t i = 3; i < 10; i++)
		assert_int_equal(b->data[i], 0);
	assert_memory_equal(b->data, "top", 3);
	secbuf_free(b);
}

static void test_equal(void **state)
{
	struct secbuf *a = NULL, *b = NULL, *c = NULL, *e1 = NULL, *e2 = NULL;

	(void)state;
	assert_int_equal(secbuf_from("abc", 3, &a), 0);
	assert_int_equal(secbuf_from("abc", 3, &b), 0);
	assert_int_equal(secbuf_from("abd", 3, &c), 0);
	assert_int_equal(secbuf_new(0, &e1), 0);
	assert_int_equal(secbuf_new(10, &e2), 0);
	assert_true(secbuf_equal(a, b));
	assert_false(secbuf_equal(a, c));
	assert_false(secbuf_equal(a, e1));
	assert_true(secbuf_equal(e1, e2));
	secbuf_free(a);
	secbuf_free(b);
	secbuf_free(c);
	secbuf_free(e1);
	secbuf_free(e2);
}

/* The mapping is marked "dd" (don't dump) in /proc/self/smaps. */
static void test_not_dumped(void **state)
{
	struct secbuf *b = NULL;
	char line[512];
	int in_block = 0, dd = 0;
	unsigned long lo, hi, p;
	FILE *f;

	(void)state;
	assert_int_equal(secbuf_from("x", 1, &b), 0);
	p = (unsigned long)b->data;
	f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ') &&
		    strchr(line, '-') < strchr(line, ' '))
			in_block = p >= lo && p < hi;
		else if (in_block && strncmp(line, "VmFlags:", 8) == 0) {
			dd = strstr(line, " dd") != NULL;
			break;
		}
	}
	fclose(f);
	assert_true(in_block);
	assert_true(dd);
	secbuf_free(b);
}

static void test_read_fd_limit(void **state)
{
	struct secbuf *b = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 8];
	char data[10000];
	FILE *f;
	int fd;

	(void)state;
	test_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/in", dir);
	memset(data, 'z', sizeof(data));
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(data, 1, sizeof(data), f);
	fclose(f);

	fd = open(path, O_RDONLY);
	assert_int_equal(secbuf_read_fd(fd, sizeof(data), &b), 0);
	assert_int_equal(b->len, sizeof(data));
	secbuf_free(b);
	close(fd);

	b = NULL;
	fd = open(path, O_RDONLY);
	assert_int_equal(secbuf_read_fd(fd, sizeof(data) - 1, &b), -EFBIG);
	assert_null(b);
	close(fd);
	test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_grow), cmocka_unit_test(test_truncate_wipes),
		cmocka_unit_test(test_equal),		cmocka_unit_test(test_not_dumped),
		cmocka_unit_test(test_read_fd_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for secbuf: growth keeps contents, truncation wipes, the length and the room
 * are set only through its functions (and refused beyond the room), mappings are excluded
 * from core dumps, and reading a file respects its limit.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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
	assert_int_equal(secbuf_len(b), 100000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(secbuf_data(b)[i * 1000 + 999], i);
	secbuf_check(b);
	secbuf_free(b);
}

static void test_truncate_wipes(void **state)
{
	struct secbuf *b = NULL;

	(void)state;
	assert_int_equal(secbuf_from("top secret", 10, &b), 0);
	secbuf_truncate(b, 3);
	assert_int_equal(secbuf_len(b), 3);
	for (size_t i = 3; i < 10; i++)
		assert_int_equal(secbuf_data(b)[i], 0);
	assert_memory_equal(secbuf_data(b), "top", 3);
	secbuf_free(b);
}

/* Written in the room, then the length set: what was written is what it holds; a length
 * past the room is refused and changes nothing; a shorter one wipes the rest. */
static void test_set_len(void **state)
{
	struct secbuf *b = NULL;
	size_t cap;

	(void)state;
	assert_int_equal(secbuf_new(16, &b), 0);
	cap = secbuf_cap(b);
	assert_true(cap >= 16);
	assert_int_equal(secbuf_len(b), 0);
	memcpy(secbuf_mutable_data(b), "written in place", 16);
	assert_int_equal(secbuf_set_len(b, 16), 0);
	assert_int_equal(secbuf_len(b), 16);
	assert_memory_equal(secbuf_data(b), "written in place", 16);
	/* beyond the room: refused, the buffer as it was */
	assert_int_equal(secbuf_set_len(b, cap + 1), -EINVAL);
	assert_int_equal(secbuf_set_len(b, SIZE_MAX), -EINVAL);
	assert_int_equal(secbuf_len(b), 16);
	assert_int_equal(secbuf_cap(b), cap);
	assert_memory_equal(secbuf_data(b), "written in place", 16);
	/* the whole room may be used; bytes never written read as zeros */
	assert_int_equal(secbuf_set_len(b, cap), 0);
	for (size_t i = 16; i < cap; i++)
		assert_int_equal(secbuf_data(b)[i], 0);
	/* shorter: the bytes past the length are wiped, and read as zeros when set again */
	assert_int_equal(secbuf_set_len(b, 7), 0);
	assert_memory_equal(secbuf_data(b), "written", 7);
	assert_int_equal(secbuf_set_len(b, 16), 0);
	for (size_t i = 7; i < 16; i++)
		assert_int_equal(secbuf_data(b)[i], 0);
	assert_int_equal(secbuf_set_len(b, 0), 0);
	assert_int_equal(secbuf_len(b), 0);
	secbuf_check(b);
	secbuf_free(b);
}

/* resize grows past the room as reserve does, with zeros, keeps what was there, and
 * shrinks with a wipe; a size no mapping can hold fails and leaves the buffer as it was. */
static void test_resize(void **state)
{
	struct secbuf *b = NULL;
	const uint8_t *before;
	size_t cap;

	(void)state;
	assert_int_equal(secbuf_from("abc", 3, &b), 0);
	cap = secbuf_cap(b);
	/* garbage left in the room without a length is not what growth shows */
	memset(secbuf_mutable_data(b) + 3, 'x', 10);
	assert_int_equal(secbuf_resize(b, 13), 0);
	assert_int_equal(secbuf_len(b), 13);
	assert_memory_equal(secbuf_data(b), "abc", 3);
	for (size_t i = 3; i < 13; i++)
		assert_int_equal(secbuf_data(b)[i], 0);
	/* past the room: a larger block, the contents moved, zeros after them */
	assert_int_equal(secbuf_resize(b, cap + 5000), 0);
	assert_true(secbuf_cap(b) >= cap + 5000);
	assert_int_equal(secbuf_len(b), cap + 5000);
	assert_memory_equal(secbuf_data(b), "abc", 3);
	for (size_t i = 3; i < cap + 5000; i++)
		if (secbuf_data(b)[i] != 0)
			fail_msg("byte %zu is %u after growth", i, secbuf_data(b)[i]);
	/* shrinking wipes what it drops */
	assert_int_equal(secbuf_resize(b, 2), 0);
	assert_int_equal(secbuf_len(b), 2);
	assert_int_equal(secbuf_set_len(b, 3), 0);
	assert_int_equal(secbuf_data(b)[2], 0);
	/* no mapping can be that large: -ENOMEM, the buffer untouched */
	cap = secbuf_cap(b);
	before = secbuf_data(b);
	assert_int_equal(secbuf_resize(b, SIZE_MAX), -ENOMEM);
	assert_int_equal(secbuf_resize(b, SIZE_MAX - 4096), -ENOMEM);
	assert_int_equal(secbuf_len(b), 3);
	assert_int_equal(secbuf_cap(b), cap);
	assert_ptr_equal(secbuf_data(b), before);
	assert_memory_equal(secbuf_data(b), "ab", 2);
	assert_int_equal(secbuf_reserve(b, SIZE_MAX), -ENOMEM);
	assert_int_equal(secbuf_append(b, "x", SIZE_MAX), -ENOMEM);
	assert_int_equal(secbuf_len(b), 3);
	secbuf_check(b);
	secbuf_free(b);
}

/* The accessors on an empty buffer: no length, a room, a pointer all the same. */
static void test_empty(void **state)
{
	struct secbuf *b = NULL;

	(void)state;
	assert_int_equal(secbuf_new(0, &b), 0);
	assert_int_equal(secbuf_len(b), 0);
	assert_true(secbuf_cap(b) > 0);
	assert_non_null(secbuf_data(b));
	assert_ptr_equal(secbuf_data(b), secbuf_mutable_data(b));
	assert_int_equal(secbuf_resize(b, 0), 0);
	assert_int_equal(secbuf_append(b, NULL, 0), 0);
	assert_int_equal(secbuf_len(b), 0);
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
	p = (unsigned long)secbuf_data(b);
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

/* A field of /proc/self/status, in kB. */
static long status_kb(const char *field)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			kb = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return kb;
}

/*
 * Memory that many buffers held at once goes back when they are freed: the pool keeps a
 * bounded reserve, not the largest number it ever lent (15,000 open secrets of 25 KiB
 * once kept 480 MB locked for good). VmLck of this process counts the secbufs alone.
 */
static void test_pool_gives_back(void **state)
{
	enum { N = 2000 };
	static struct secbuf *held[N];
	long before, during, after;

	(void)state;
	before = status_kb("VmLck:");
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			/* a 25 KiB value (a 32 KiB block), and every other one a larger write */
			assert_int_equal(secbuf_new(25600, &held[i]), 0);
			assert_int_equal(secbuf_resize(held[i], 25600), 0);
			memset(secbuf_mutable_data(held[i]), 'v', 25600);
			if (i % 2)
				assert_int_equal(secbuf_reserve(held[i], 100000), 0);
		}
		during = status_kb("VmLck:");
		for (int i = 0; i < N; i++)
			secbuf_free(held[i]);
		after = status_kb("VmLck:");
		if (during >= 0 && during > before) {
			/* locked where the limit allows: 1000 of 32 KiB and 1000 of 128 KiB */
			assert_true(during - before >= 100000);
			/* what stays is the pool's reserve: at most 1 MiB for each of 5 sizes */
			if (after - before > 5 * 1024 + 1024)
				fail_msg("VmLck %ld kB before, %ld with the buffers, %ld after",
					 before, during, after);
		}
	}
}

/* What secbuf_held_after foretells is what the buffer then holds. */
static void test_held_after(void **state)
{
	static const size_t sizes[] = { 0, 1, 4096, 4097, 25600, 65536, 65537, 100000, 1 << 20 };
	struct secbuf *b = NULL;

	(void)state;
	assert_int_equal(secbuf_held(NULL), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t want = secbuf_held_after(NULL, sizes[i]);

		assert_int_equal(secbuf_new(sizes[i], &b), 0);
		assert_int_equal(secbuf_held(b), want);
		assert_true(secbuf_cap(b) >= sizes[i]);
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			want = secbuf_held_after(b, secbuf_len(b) + sizes[j]);
			assert_int_equal(secbuf_reserve(b, secbuf_len(b) + sizes[j]), 0);
			assert_true(secbuf_cap(b) >= secbuf_len(b) + sizes[j]);
			assert_int_equal(secbuf_set_len(b, secbuf_len(b) + sizes[j] / 2), 0);
			assert_int_equal(secbuf_held(b), want);
		}
		secbuf_free(b);
	}
	assert_int_equal(secbuf_held_after(NULL, SIZE_MAX), SIZE_MAX);
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
	assert_int_equal(secbuf_len(b), sizeof(data));
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
		cmocka_unit_test(test_read_fd_limit),	cmocka_unit_test(test_pool_gives_back),
		cmocka_unit_test(test_held_after),	cmocka_unit_test(test_set_len),
		cmocka_unit_test(test_resize),		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

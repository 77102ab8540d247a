/*
 * Unit tests for counters: counts made by many threads at once all arrive, whatever the
 * threads do after (a thread that exits hands its shard on, counts and all); requests are
 * kept apart by op, decision and result; past the names it can hold, a new op or result
 * is counted as "other", never lost and never in another's count.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"

#define THREADS 8
#define EACH 100000

static void *bump(void *arg)
{
	(void)arg;
	for (int i = 0; i < EACH; i++) {
		counters_add(COUNTER_TOKEN_CALLS, 1);
		counters_request("open", i & 1, (i % 3) ? 0 : EACCES);
	}
	return NULL;
}

static size_t op_of(const char *name)
{
	const char *ops[COUNTERS_OPS];
	int results[COUNTERS_RESULTS];
	size_t n, m;

	counters_names(ops, &n, results, &m);
	for (size_t i = 0; i < n; i++)
		if (strcmp(ops[i], name) == 0)
			return i;
	fail_msg("op \"%s\" not learned", name);
	return 0;
}

static size_t result_of(int result)
{
	const char *ops[COUNTERS_OPS];
	int results[COUNTERS_RESULTS];
	size_t n, m;

	counters_names(ops, &n, results, &m);
	for (size_t i = 0; i < m; i++)
		if (results[i] == result)
			return i;
	fail_msg("result %d not learned", result);
	return 0;
}

/* Counted while other threads read the sums: every count arrives, in its own slot. */
static void test_threads(void **state)
{
	pthread_t t[THREADS];
	uint64_t seen = 0, allow0 = 0, allow_eacces = 0, deny0 = 0, deny_eacces = 0;

	(void)state;
	/* two rounds: the second round's threads take the shards the first left */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < THREADS; i++)
			assert_int_equal(pthread_create(&t[i], NULL, bump, NULL), 0);
		for (int i = 0; i < 1000; i++) {
			uint64_t now = counters_get(COUNTER_TOKEN_CALLS);

			assert_true(now >= seen); /* a sum never goes back */
			seen = now;
		}
		for (int i = 0; i < THREADS; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
	}
	assert_true(counters_get(COUNTER_TOKEN_CALLS) == 2ULL * THREADS * EACH);
	assert_true(counters_get(COUNTER_AUDIT_RECORDS) == 0);
	for (int i = 0; i < EACH; i++) {
		if (i & 1)
			*((i % 3) ? &allow0 : &allow_eacces) += 2 * THREADS;
		else
			*((i % 3) ? &deny0 : &deny_eacces) += 2 * THREADS;
	}
	assert_true(counters_get_request(op_of("open"), 1, result_of(0)) == allow0);
	assert_true(counters_get_request(op_of("open"), 1, result_of(EACCES)) == allow_eacces);
	assert_true(counters_get_request(op_of("open"), 0, result_of(0)) == deny0);
	assert_true(counters_get_request(op_of("open"), 0, result_of(EACCES)) == deny_eacces);
}

/* More ops and results than it can name: the rest are "other", counted apart. */
static void test_other(void **state)
{
	static char names[COUNTERS_OPS + 10][16];
	const char *ops[COUNTERS_OPS];
	int results[COUNTERS_RESULTS];
	size_t n, m, other;

	(void)state;
	for (int i = 0; i < COUNTERS_OPS + 10; i++) {
		snprintf(names[i], sizeof(names[i]), "op-%d", i);
		counters_request(names[i], 0, 1000 + i);
	}
	counters_names(ops, &n, results, &m);
	assert_int_equal(n, COUNTERS_OPS);
	assert_int_equal(m, COUNTERS_RESULTS);
	assert_string_equal(ops[COUNTERS_OPS - 1], "other");
	assert_int_equal(results[COUNTERS_RESULTS - 1], -1);
	other = COUNTERS_OPS - 1;
	/* "open" was learned first: still counted in its own slot */
	counters_request("open", 1, 0);
	assert_true(counters_get_request(op_of("open"), 1, result_of(0)) > 0);
	/* every op past the names went to "other", with results past theirs as "other" */
	uint64_t in_other = 0;

	for (size_t r = 0; r < COUNTERS_RESULTS; r++)
		in_other += counters_get_request(other, 0, r);
	/* ops op-0 .. op-61 were named (after "open"); the rest (COUNTERS_OPS + 10 - 62) not */
	assert_true(in_other == (uint64_t)(COUNTERS_OPS + 10 - (COUNTERS_OPS - 2)));
	assert_true(counters_get_request(COUNTERS_OPS, 0, 0) == 0); /* out of range */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

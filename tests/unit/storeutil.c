/*
 * storeutil: a store on a token of its own, and asserted writes and reads, for the unit
 * tests of the store.
 */
#include "storeutil.h"

#include <stdio.h>
#include <string.h>

#include "timeutil.h"

int test_store_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_token_setup(&f->tok);
	snprintf(f->db, sizeof(f->db), "%s/vault.db", f->tok.dir);
	f->opt.max_secret_size = 25600;
	f->opt.retention_days = 90;
	f->opt.busy_timeout_ms = 100;
	assert_int_equal(store_create(f->db, f->tok.hsm, &f->opt), 0);
	assert_int_equal(store_open(f->db, f->tok.hsm, &f->opt, &f->s), 0);
	*state = f;
	return 0;
}

int test_store_teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->s);
	test_token_teardown(&f->tok);
	free(f);
	return 0;
}

void test_store_put(struct store *s, const char *path, const char *value, int expect,
		    uint64_t expect_version)
{
	struct secbuf *b = NULL;
	uint64_t v = 0;

	assert_int_equal(secbuf_from(value, strlen(value), &b), 0);
	assert_int_equal(store_secret_put(s, path, b, STORE_PUT_MKDIRS, time_now_us(), &v), expect);
	if (expect >= 0)
		assert_int_equal(v, expect_version);
	secbuf_free(b);
}

void test_store_check_value(struct store *s, const char *path, uint64_t version, const char *value)
{
	struct secbuf *b = NULL;
	uint64_t got;

	assert_int_equal(store_secret_get(s, path, version, time_now_us(), &b, &got), 0);
	assert_int_equal(secbuf_len(b), strlen(value));
	assert_memory_equal(secbuf_data(b), value, secbuf_len(b));
	if (version)
		assert_int_equal(got, version);
	secbuf_free(b);
}

/*
 * Unit tests for the store's key records, on a real SoftHSM2 token made for each test: a
 * key's delete and the token ids it gives back, what an older version may still do, and a
 * version past what the ciphertext header holds.
 */
#include "storeutil.h"

#include <errno.h>
#include <string.h>

#include <sqlite3.h>

#include "keys.h"

/* A key's delete forgets every version and gives back all their token ids, in version
 * order, from the same transaction; a second delete finds nothing. */
static void test_key_delete_ids(void **state)
{
	struct fixture *f = *state;
	struct store_key k = { .type = "ec-p256", .alg = "ecdsa", .ops = 1 };
	struct store_key_version v = { 0 };
	uint8_t(*ids)[STORE_KEY_ID_LEN] = NULL;
	size_t n = 99;
	uint64_t version = 0;

	memset(v.token_id, 1, sizeof(v.token_id));
	assert_int_equal(store_key_add(f->s, "k", &k, &v, 1), 0);
	memset(v.token_id, 2, sizeof(v.token_id));
	assert_int_equal(store_key_add_version(f->s, "k", &v, 2, &version), 0);
	assert_int_equal(version, 2);
	memset(v.token_id, 3, sizeof(v.token_id));
	assert_int_equal(store_key_add_version(f->s, "k", &v, 3, &version), 0);
	/* only a soft-deleted key is purged */
	assert_int_equal(store_key_delete(f->s, "k", &ids, &n), -EBUSY);
	assert_null(ids);
	assert_int_equal(store_key_soft_delete(f->s, "k", 4), 0);
	assert_int_equal(store_key_delete(f->s, "k", &ids, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < STORE_KEY_ID_LEN; j++)
			assert_int_equal(ids[i][j], i + 1);
	free(ids);
	assert_int_equal(store_key_get(f->s, "k", &k), -ENOENT);
	ids = NULL;
	n = 99;
	assert_int_equal(store_key_delete(f->s, "k", &ids, &n), -ENOENT);
	assert_null(ids);
	assert_int_equal(n, 99);
	assert_int_equal(store_key_delete(f->s, "../k", &ids, &n), -EINVAL);
}

/* An older version of a key only decrypts and unwraps, even when asked for by number
 * (NAME@N opened just after a rotation made N old); the current one, by number or not,
 * does all the key allows. */
static void test_key_old_version_ops(void **state)
{
	struct fixture *f = *state;
	struct store_key k = { .type = "aes-256",
			       .alg = "aes-gcm",
			       .ops = KEY_BIT(KEY_ENCRYPT) | KEY_BIT(KEY_DECRYPT) };
	struct store_key_version v = { 0 };
	struct keys_input *in = NULL;
	uint64_t version = 0;

	assert_int_equal(store_key_add(f->s, "k", &k, &v, 1), 0);
	assert_int_equal(store_key_add_version(f->s, "k", &v, 2, &version), 0);
	assert_int_equal(keys_input_new(f->s, "k", 1, KEY_ENCRYPT, &in), -EOPNOTSUPP);
	assert_null(in);
	assert_int_equal(keys_input_new(f->s, "k", 1, KEY_DECRYPT, &in), 0);
	keys_input_free(in);
	assert_int_equal(keys_input_new(f->s, "k", 2, KEY_ENCRYPT, &in), 0);
	keys_input_free(in);
	assert_int_equal(keys_input_new(f->s, "k", 0, KEY_ENCRYPT, &in), 0);
	keys_input_free(in);
	assert_int_equal(keys_input_new(f->s, "k", 3, KEY_DECRYPT, &in), -ENOENT);
}

/* An AES key whose version no longer fits the ciphertext header's 32 bits encrypts
 * nothing: EOVERFLOW, before the token is asked. */
static void test_key_version_past_header(void **state)
{
	struct fixture *f = *state;
	struct store_key k = { .type = "aes-256",
			       .alg = "aes-gcm",
			       .ops = KEY_BIT(KEY_ENCRYPT) | KEY_BIT(KEY_DECRYPT) };
	struct store_key_version v = { 0 };
	struct keys_input *in = NULL;
	struct secbuf *out = NULL;
	uint64_t version = 0;
	sqlite3 *db = NULL;

	assert_int_equal(store_key_add(f->s, "k", &k, &v, 1), 0);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE hsm_key_versions SET version = 4294967296;"
				      "UPDATE hsm_keys SET current = 4294967296;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(keys_input_new(f->s, "k", 0, KEY_ENCRYPT, &in), 0);
	assert_int_equal(keys_input_add(in, "plain", 5), 0);
	assert_int_equal(keys_input_run(in, f->tok.hsm, &out, &version), -EOVERFLOW);
	assert_null(out);
	keys_input_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_delete_ids, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_key_old_version_ops, test_store_setup,
						test_store_teardown),
		cmocka_unit_test_setup_teardown(test_key_version_past_header, test_store_setup,
						test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

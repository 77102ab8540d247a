/*
 * Unit tests for the crypto envelope: data keys come from a real SoftHSM2 token (made
 * for this test) and are wrapped by its key-encryption key; values sealed under them open
 * only with the same key and the same associated data — vault id, key id, version, path.
 */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"

static struct test_token tok;
static struct secbuf *dek;
static uint8_t vault_id[CRYPTO_VAULT_ID_LEN];

static int setup(void **state)
{
	CK_OBJECT_HANDLE kek;
	uint8_t *wrapped = NULL;
	size_t wrapped_len;

	(void)state;
	test_token_setup(&tok);
	assert_int_equal(hsm_kek_create(tok.hsm, "kek", &kek), 0);
	assert_int_equal(hsm_datakey_new(tok.hsm, kek, &dek, &wrapped, &wrapped_len), 0);
	free(wrapped);
	assert_int_equal(crypto_random(vault_id, sizeof(vault_id)), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	secbuf_free(dek);
	test_token_teardown(&tok);
	return 0;
}

static void seal(const char *path, uint64_t version, const struct secbuf *plain, uint8_t **ct,
		 size_t *ct_len)
{
	uint8_t aad[512];
	int n = crypto_value_aad(vault_id, 1, version, path, aad, sizeof(aad));

	assert_true(n > 0);
	assert_int_equal(crypto_seal(dek, aad, (size_t)n, plain, ct, ct_len), 0);
}

static int open_as(const struct secbuf *key, const uint8_t *id, uint32_t key_id, const char *path,
		   uint64_t version, const uint8_t *ct, size_t ct_len, struct secbuf **out)
{
	uint8_t aad[512];
	int n = crypto_value_aad(id, key_id, version, path, aad, sizeof(aad));

	assert_true(n > 0);
	return crypto_open(key, aad, (size_t)n, ct, ct_len, out);
}

static void test_roundtrip(void **state)
{
	struct secbuf *plain = NULL, *out = NULL, *empty = NULL;
	uint8_t *ct = NULL, *ct2 = NULL;
	size_t ct_len, ct2_len;

	(void)state;
	assert_int_equal(secbuf_from("postgres://u:p@db/x", 19, &plain), 0);
	seal("db-conn", 1, plain, &ct, &ct_len);
	assert_int_equal(ct_len, 19 + CRYPTO_OVERHEAD);
	assert_null(memmem(ct, ct_len, "postgres", 8));
	assert_int_equal(open_as(dek, vault_id, 1, "db-conn", 1, ct, ct_len, &out), 0);
	assert_true(secbuf_equal(out, plain));
	secbuf_free(out);

	/* the same value twice seals differently (random nonce) */
	seal("db-conn", 1, plain, &ct2, &ct2_len);
	assert_memory_not_equal(ct, ct2, ct_len);

	/* an empty value is a value */
	assert_int_equal(secbuf_new(0, &empty), 0);
	free(ct2);
	seal("e", 1, empty, &ct2, &ct2_len);
	assert_int_equal(ct2_len, CRYPTO_OVERHEAD);
	out = NULL;
	assert_int_equal(open_as(dek, vault_id, 1, "e", 1, ct2, ct2_len, &out), 0);
	assert_int_equal(secbuf_len(out), 0);
	secbuf_free(out);
	secbuf_free(empty);
	secbuf_free(plain);
	free(ct);
	free(ct2);
}

static void test_binding(void **state)
{
	struct secbuf *plain = NULL, *out = NULL, *other = NULL;
	uint8_t other_id[CRYPTO_VAULT_ID_LEN];
	uint8_t *ct = NULL;
	size_t ct_len;

	(void)state;
	assert_int_equal(secbuf_from("s3cr3t", 6, &plain), 0);
	seal("payments/api-key", 2, plain, &ct, &ct_len);
	memcpy(other_id, vault_id, sizeof(other_id));
	other_id[0] ^= 1;
	/* another path, version, key id or vault: the tag fails */
	assert_int_equal(open_as(dek, vault_id, 1, "payments/api-kez", 2, ct, ct_len, &out),
			 -EBADMSG);
	assert_int_equal(open_as(dek, vault_id, 1, "payments/api-key", 1, ct, ct_len, &out),
			 -EBADMSG);
	assert_int_equal(open_as(dek, vault_id, 2, "payments/api-key", 2, ct, ct_len, &out),
			 -EBADMSG);
	assert_int_equal(open_as(dek, other_id, 1, "payments/api-key", 2, ct, ct_len, &out),
			 -EBADMSG);
	/* another key */
	assert_int_equal(secbuf_new(CRYPTO_KEY_LEN, &other), 0);
	assert_int_equal(secbuf_resize(other, CRYPTO_KEY_LEN), 0);
	assert_int_equal(open_as(other, vault_id, 1, "payments/api-key", 2, ct, ct_len, &out),
			 -EBADMSG);
	/* every single flipped bit, anywhere: nonce, body or tag */
	for (size_t i = 0; i < ct_len; i++) {
		ct[i] ^= 0x40;
		assert_int_equal(open_as(dek, vault_id, 1, "payments/api-key", 2, ct, ct_len, &out),
				 -EBADMSG);
		ct[i] ^= 0x40;
	}
	/* truncated */
	assert_int_equal(open_as(dek, vault_id, 1, "payments/api-key", 2, ct, ct_len - 1, &out),
			 -EBADMSG);
	assert_int_equal(open_as(dek, vault_id, 1, "payments/api-key", 2, ct, 5, &out), -EBADMSG);
	assert_null(out);
	assert_int_equal(open_as(dek, vault_id, 1, "payments/api-key", 2, ct, ct_len, &out), 0);
	secbuf_free(out);
	secbuf_free(other);
	secbuf_free(plain);
	free(ct);
}

/* Length-delimited: ("ab", version) and ("a", other version) never collide. */
static void test_aad_unambiguous(void **state)
{
	uint8_t a[512], b[512];
	int na, nb;

	(void)state;
	na = crypto_value_aad(vault_id, 1, 1, "ab", a, sizeof(a));
	nb = crypto_value_aad(vault_id, 1, 1, "a", b, sizeof(b));
	assert_int_not_equal(na, nb);
	assert_int_equal(crypto_value_aad(vault_id, 1, 1, "abc", a, 10), -ENAMETOOLONG);
}

static void test_bad_key(void **state)
{
	struct secbuf *shortkey = NULL, *plain = NULL;
	uint8_t *ct = NULL;
	size_t ct_len;

	(void)state;
	assert_int_equal(secbuf_from("short", 5, &shortkey), 0);
	assert_int_equal(secbuf_from("v", 1, &plain), 0);
	assert_int_equal(crypto_seal(shortkey, NULL, 0, plain, &ct, &ct_len), -EINVAL);
	assert_null(ct);
	secbuf_free(shortkey);
	secbuf_free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_aad_unambiguous),
		cmocka_unit_test(test_bad_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

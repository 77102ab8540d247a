/*
 * Unit tests of the lifetime engine (src/vault/vault_lifetime.c) on a real vault with an
 * embedded SoftHSM2 token, run at chosen times: a key rotated once its period has passed
 * since its current version and not before, nor when expired or deleted; expiry warnings
 * of secrets and keys recorded once per UTC day however many runs, again the next day,
 * never for what expires beyond warn_days; the states at their boundaries.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "timeutil.h"
#include "vault.h"
#include "vault_lifetime.h"
#include "vault_ops.h"

#define DAY (86400LL * 1000000)

/* Records in the trail holding both @op's and @path's fields. */
static int count(const struct test_vault *f, const char *op, const char *path)
{
	char line[AUDIT_LINE_MAX + 2], want_op[64], want_path[300];
	FILE *fp = fopen(f->trail, "r");
	int n = 0;

	assert_non_null(fp);
	snprintf(want_op, sizeof(want_op), "\"op\":\"%s\"", op);
	snprintf(want_path, sizeof(want_path), "\"path\":\"%s\"", path);
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, want_op) && strstr(line, want_path) &&
		    strstr(line, "\"rule\":\"lifetime\""))
			n++;
	fclose(fp);
	return n;
}

static void make_key(struct test_vault *f, const char *name, int64_t rotate_every, int64_t expires)
{
	struct keys_options o = { .type = "ec-p256",
				  .rotate_every = rotate_every,
				  .expires = expires };
	char path[64];
	struct vault_act a;

	snprintf(path, sizeof(path), "keys/%s", name);
	test_admin_act(&a, "key-create", path);
	assert_int_equal(vault_key_create(f->v, &a, name, &o), 0);
}

static void make_secret(struct test_vault *f, const char *name, int64_t expires)
{
	struct secbuf *b = NULL;
	char when[TIME_RFC3339_MAX];
	struct vault_act a;

	assert_int_equal(secbuf_from("v", 1, &b), 0);
	test_admin_act(&a, "secret-set", name);
	assert_int_equal(vault_secret_write(f->v, &a, name, b, VAULT_WRITE_MKDIRS, NULL), 0);
	secbuf_free(b);
	time_format(expires, 0, when);
	test_admin_act(&a, "secret-attr", name);
	assert_int_equal(vault_attr_set(f->v, &a, name, "expires", when, 0), 0);
}

static void test_states(void **state)
{
	int64_t now = 1000 * DAY;

	(void)state;
	assert_int_equal(vault_expiry_state(0, now, 30), VAULT_EXPIRY_NONE);
	assert_int_equal(vault_expiry_state(now + 31 * DAY, now, 30), VAULT_EXPIRY_VALID);
	assert_int_equal(vault_expiry_state(now + 30 * DAY, now, 30), VAULT_EXPIRY_EXPIRING);
	assert_int_equal(vault_expiry_state(now + 1, now, 30), VAULT_EXPIRY_EXPIRING);
	assert_int_equal(vault_expiry_state(now, now, 30), VAULT_EXPIRY_EXPIRED);
	assert_int_equal(vault_expiry_state(now + 1, now, 0), VAULT_EXPIRY_VALID);
	assert_string_equal(vault_expiry_name(VAULT_EXPIRY_EXPIRED), "expired");
	assert_string_equal(vault_expiry_name(VAULT_EXPIRY_EXPIRING), "expiring");
	assert_string_equal(vault_expiry_name(VAULT_EXPIRY_NONE), "valid");
}

static void test_warn_once_a_day(void **state)
{
	struct test_vault *f = *state;
	struct vault_lifetime_counts c;
	/* noon UTC of a day ahead: the hours below stay within one UTC day */
	int64_t t = time_now_us() / DAY * DAY + DAY + DAY / 2;

	make_secret(f, "db/soon", t + 2 * DAY);
	make_secret(f, "later", t + 60 * DAY);
	make_secret(f, "gone", t - DAY);
	make_key(f, "k", 0, t + 10 * DAY);
	make_key(f, "far", 0, t + 100 * DAY);
	make_key(f, "dead", 0, t + DAY);
	{
		struct vault_act a;

		test_admin_act(&a, "key-delete", "keys/dead");
		assert_int_equal(vault_key_delete(f->v, &a, "dead"), 0);
	}
	assert_int_equal(vault_lifetime_run(f->v, t, &c), 0);
	assert_int_equal(c.warned, 3);
	assert_int_equal(c.rotated, 0);
	assert_int_equal(c.failed, 0);
	for (int h = 1; h < 6; h++) { /* more runs the same day: nothing more */
		assert_int_equal(vault_lifetime_run(f->v, t + h * 3600LL * 1000000, &c), 0);
		assert_int_equal(c.warned, 0);
	}
	assert_int_equal(count(f, "expiring", "secrets/db/soon"), 1);
	assert_int_equal(count(f, "expiring", "secrets/gone"), 1);
	assert_int_equal(count(f, "expiring", "keys/k"), 1);
	assert_int_equal(count(f, "expiring", "secrets/later"), 0);
	assert_int_equal(count(f, "expiring", "keys/far"), 0);
	assert_int_equal(count(f, "expiring", "keys/dead"), 0);
	/* the next UTC day: warned again */
	assert_int_equal(vault_lifetime_run(f->v, t + DAY, &c), 0);
	assert_int_equal(c.warned, 3);
	assert_int_equal(count(f, "expiring", "keys/k"), 2);
	/* a wider warn_days reaches further */
	f->v->cfg->warn_days = 90;
	assert_int_equal(vault_lifetime_run(f->v, t + DAY, &c), 0);
	assert_int_equal(c.warned, 1); /* later; the others were warned today */
	assert_int_equal(count(f, "expiring", "secrets/later"), 1);
}

static void test_rotate_when_due(void **state)
{
	struct test_vault *f = *state;
	struct vault_lifetime_counts c;
	int64_t now = time_now_us();
	struct store_key k;

	make_key(f, "r", 3600, 0);
	make_key(f, "expired", 60, now - 1); /* expired: not rotated */
	make_key(f, "deleted", 60, 0);
	{
		struct vault_act a;

		test_admin_act(&a, "key-delete", "keys/deleted");
		assert_int_equal(vault_key_delete(f->v, &a, "deleted"), 0);
	}
	assert_int_equal(vault_lifetime_run(f->v, now + 1000000, &c), 0);
	assert_int_equal(c.rotated, 0);
	assert_int_equal(vault_lifetime_run(f->v, now + 3601LL * 1000000, &c), 0);
	assert_int_equal(c.rotated, 1);
	assert_int_equal(store_key_get(f->v->store, "r", &k), 0);
	assert_int_equal(k.current, 2);
	assert_int_equal(count(f, "key-rotate", "keys/r"), 1);
	/* the period counts from the new version, made at the real time of the rotation */
	assert_int_equal(vault_lifetime_run(f->v, time_now_us() + 1000000, &c), 0);
	assert_int_equal(c.rotated, 0);
	assert_int_equal(store_key_get_any(f->v->store, "expired", &k), 0);
	assert_int_equal(k.current, 1);
	assert_int_equal(store_key_get_any(f->v->store, "deleted", &k), 0);
	assert_int_equal(k.current, 1);
	assert_int_equal(count(f, "key-rotate", "keys/expired"), 0);
	assert_int_equal(count(f, "key-rotate", "keys/deleted"), 0);
}

/* The store's lifetime settings: set, kept, cleared, refused. */
static void test_set_lifetime(void **state)
{
	struct test_vault *f = *state;
	struct store_key k;
	struct vault_act a;

	make_key(f, "p", 0, 0);
	test_admin_act(&a, "key-policy", "keys/p");
	assert_int_equal(vault_key_lifetime(f->v, &a, "p", 86400, KEYS_LIFETIME_KEEP), 0);
	assert_int_equal(vault_key_lifetime(f->v, &a, "p", KEYS_LIFETIME_KEEP, 5 * DAY), 0);
	assert_int_equal(store_key_get(f->v->store, "p", &k), 0);
	assert_int_equal(k.rotate_every, 86400);
	assert_int_equal(k.expires, 5 * DAY);
	assert_int_equal(vault_key_lifetime(f->v, &a, "p", 0, KEYS_LIFETIME_KEEP), 0);
	assert_int_equal(store_key_get(f->v->store, "p", &k), 0);
	assert_int_equal(k.rotate_every, 0);
	assert_int_equal(k.expires, 5 * DAY);
	assert_int_equal(vault_key_lifetime(f->v, &a, "p", -5, 0), -EINVAL);
	assert_int_equal(vault_key_lifetime(f->v, &a, "nope", 0, 0), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states),
		cmocka_unit_test_setup_teardown(test_warn_once_a_day, test_vault_setup,
						test_vault_teardown),
		cmocka_unit_test_setup_teardown(test_rotate_when_due, test_vault_setup,
						test_vault_teardown),
		cmocka_unit_test_setup_teardown(test_set_lifetime, test_vault_setup,
						test_vault_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

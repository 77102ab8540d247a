/*
 * vfsutil: a real vault and a mount's state on it, without FUSE, for the tests of fs/.
 */
#include "vfsutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

void test_vfs_setup(struct test_vfs *t, const char *policy, void (*tune)(struct vault_config *cfg))
{
	struct vault_init_options o = { 0 };
	char err[512] = "", conf[PATH_MAX + 32];
	struct policy *p = NULL;
	int r;

	if (access(SOFTHSM2_MODULE, R_OK) != 0) {
		fprintf(stderr, "SoftHSM2 module %s missing: skipped\n", SOFTHSM2_MODULE);
		exit(77);
	}
	memset(t, 0, sizeof(*t));
	test_tmpdir(t->dir);
	snprintf(t->vault_dir, sizeof(t->vault_dir), "%s/v", t->dir);
	r = vault_init(t->vault_dir, &o, err, sizeof(err));
	if (r < 0)
		fail_msg("vault_init: %s", err);
	if (tune) {
		struct vault_config *cfg = NULL;

		snprintf(conf, sizeof(conf), "%s/%s", t->vault_dir, CONFIG_FILE);
		assert_int_equal(config_load(conf, &cfg, err, sizeof(err)), 0);
		tune(cfg);
		assert_int_equal(config_write(conf, cfg), 0);
		config_free(cfg);
	}
	r = vault_open(t->vault_dir, &t->vault, err, sizeof(err));
	if (r < 0)
		fail_msg("vault_open: %s", err);
	r = policy_parse(policy, strlen(policy), "policy", &p, err, sizeof(err));
	if (r < 0)
		fail_msg("policy: %s", err);
	assert_int_equal(vfs_new(t->vault, p, &t->vfs), 0);
}

void test_vfs_teardown(struct test_vfs *t)
{
	vfs_free(t->vfs);
	t->vfs = NULL;
	vault_free(t->vault);
	t->vault = NULL;
	test_rmtree(t->dir);
}

/* Whether field @name of @o is the string @want (NULL: anything; a final '*': any string
 * that starts as @want does). */
static int field_is(json_object *o, const char *name, const char *want)
{
	size_t n = want ? strlen(want) : 0;
	json_object *f;
	const char *s;

	if (!want)
		return 1;
	if (!json_object_object_get_ex(o, name, &f))
		return 0;
	s = json_object_get_type(f) == json_type_null ? "null" : json_object_get_string(f);
	if (n && want[n - 1] == '*')
		return s && strncmp(s, want, n - 1) == 0;
	return s && strcmp(s, want) == 0;
}

/* The number of records of @t's trail for which @match says yes. */
static int count(const struct test_vfs *t, int (*match)(json_object *o, const void *arg),
		 const void *arg)
{
	char name[PATH_MAX + 32];
	char *line = NULL;
	size_t cap = 0;
	int n = 0;
	FILE *f;

	snprintf(name, sizeof(name), "%s/%s", t->vault_dir, VAULT_AUDIT);
	f = fopen(name, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		json_object *o = json_tokener_parse(line);

		assert_non_null(o); /* every line of the trail is JSON */
		n += match(o, arg) ? 1 : 0;
		json_object_put(o);
	}
	free(line);
	fclose(f);
	return n;
}

struct fields {
	const char *uid, *op, *path, *decision, *rule, *result, *detail;
};

static int fields_match(json_object *o, const void *arg)
{
	const struct fields *w = arg;

	return field_is(o, "uid", w->uid) && field_is(o, "op", w->op) &&
	       field_is(o, "path", w->path) && field_is(o, "decision", w->decision) &&
	       field_is(o, "rule", w->rule) && field_is(o, "result", w->result) &&
	       field_is(o, "detail", w->detail);
}

int test_vfs_records(const struct test_vfs *t, long uid, const char *op, const char *path,
		     const char *decision, const char *rule, const char *result, const char *detail)
{
	char uid_text[32];
	struct fields w = { uid >= 0 ? uid_text : NULL, op, path, decision, rule, result, detail };

	snprintf(uid_text, sizeof(uid_text), "%ld", uid);
	return count(t, fields_match, &w);
}

struct one_field {
	const char *name, *value;
};

static int one_field_match(json_object *o, const void *arg)
{
	const struct one_field *w = arg;

	return field_is(o, w->name, w->value);
}

int test_vfs_records_with(const struct test_vfs *t, const char *name, const char *value)
{
	struct one_field w = { name, value };

	return count(t, one_field_match, &w);
}

/*
 * auditutil: a trail on a token of its own, appends and verification asserted, and shell
 * edits of the trail, for the unit tests of the audit trail.
 */
#include "auditutil.h"

#include <stdio.h>
#include <stdlib.h>

const struct audit_event test_audit_plain = {
	.uid = 1001,
	.gid = 1001,
	.pid = 77,
	.exe = "/usr/bin/cat",
	.cgroup = "/system.slice/app.service",
	.op = "open",
	.path = "secrets/db-conn",
	.version = 2,
	.allow = 1,
	.rule = "policy:3",
	.detail = "read",
};

int test_audit_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct audit_options o = { 0 };

	assert_non_null(f);
	test_token_setup(&f->tok);
	test_tmpdir(f->dir);
	snprintf(f->path, sizeof(f->path), "%s/audit.log", f->dir);
	assert_int_equal(hsm_mac_key_create(f->tok.hsm, "vaultfs-audit-test", &f->key), 0);
	assert_int_equal(audit_open(f->path, f->tok.hsm, f->key, &o, &f->a), 0);
	*state = f;
	return 0;
}

int test_audit_teardown(void **state)
{
	struct fixture *f = *state;

	audit_free(f->a);
	test_rmtree(f->dir);
	test_token_teardown(&f->tok);
	free(f);
	return 0;
}

void test_audit_append_n(struct fixture *f, int n, struct audit_head *ret)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(audit_append(f->a, &test_audit_plain, ret), 0);
}

struct audit_report test_audit_verify(struct fixture *f, const struct audit_head *anchor)
{
	struct audit_head none = { 0 };
	struct audit_report rep;

	assert_int_equal(audit_verify(f->dir, f->tok.hsm, f->key, anchor ? anchor : &none, &rep),
			 0);
	return rep;
}

void test_audit_edit(struct fixture *f, const char *cmd)
{
	char buf[PATH_MAX + 512];

	snprintf(buf, sizeof(buf), "cd '%s' && %s", f->dir, cmd);
	assert_int_equal(system(buf), 0);
}

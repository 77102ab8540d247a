/*
 * auditutil: what the unit tests of the audit trail share — a trail opened in a fresh
 * directory with a MAC key in a SoftHSM2 token of its own for each test, a plain event to
 * append, the trail verified as the command would, and shell edits of the trail made as
 * an attacker or a rotation tool would make them.
 */
#ifndef VAULTFS_AUDITUTIL_H
#define VAULTFS_AUDITUTIL_H

#include "testutil.h"

#include "audit.h"

struct fixture {
	struct test_token tok;
	char dir[PATH_MAX];
	char path[PATH_MAX + 16]; /* dir/audit.log */
	CK_OBJECT_HANDLE key;
	struct audit *a;
};

/* An allowed read by uid 1001, with every field set. */
extern const struct audit_event test_audit_plain;

/* cmocka setup and teardown of a struct fixture in *@state: a token of its own, the key
 * "vaultfs-audit-test" made in it, and the trail opened with the default options. The
 * setup exits 77 (skipped) where SoftHSM2 is missing. */
int test_audit_setup(void **state);
int test_audit_teardown(void **state);

/* Appends test_audit_plain @n times, asserting each; *@ret (if not NULL) is the last head. */
void test_audit_append_n(struct fixture *f, int n, struct audit_head *ret);

/* audit_verify of the fixture's directory against @anchor (NULL: none), asserted to run. */
struct audit_report test_audit_verify(struct fixture *f, const struct audit_head *anchor);

/* Runs a shell command on the trail (sed, head...) in the test's directory; asserts it
 * succeeded. */
void test_audit_edit(struct fixture *f, const char *cmd);

#endif

/*
 * policy: the decision point. For now a single built-in rule: root, seen through a real
 * process, may do everything; nobody else may do anything. The rule language replaces
 * this file's body, not its interface.
 */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct policy {
	int builtin;
};

static const char *const op_names[POLICY_OP_COUNT] = {
	[POLICY_LIST] = "list",	    [POLICY_READ] = "read",	  [POLICY_WRITE] = "write",
	[POLICY_DELETE] = "delete", [POLICY_RECOVER] = "recover", [POLICY_PURGE] = "purge",
	[POLICY_SIGN] = "sign",	    [POLICY_ENCRYPT] = "encrypt", [POLICY_DECRYPT] = "decrypt",
	[POLICY_WRAP] = "wrap",	    [POLICY_UNWRAP] = "unwrap",
};

const char *policy_op_name(enum policy_op op)
{
	return op < POLICY_OP_COUNT ? op_names[op] : "?";
}

int policy_builtin(struct policy **ret)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->builtin = 1;
	*ret = p;
	return 0;
}

void policy_free(struct policy *p)
{
	free(p);
}

void policy_decide(const struct policy *p, const struct caller *c, enum policy_op op,
		   const char *path, struct policy_decision *ret)
{
	(void)p;
	(void)op;
	(void)path;
	ret->allow = c->pid > 0 && c->uid == 0;
	strcpy(ret->rule, ret->allow ? "builtin:root" : "default-deny");
}

unsigned policy_rights(const struct policy *p, const struct caller *c, const char *path, int below)
{
	(void)p;
	(void)path;
	(void)below; /* the built-in rule depends on the caller alone */
	return c->pid > 0 && c->uid == 0 ? (1u << POLICY_OP_COUNT) - 1 : 0;
}

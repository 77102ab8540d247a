/*
 * policy: who may do what to which path of the mount. The FUSE layer asks one question —
 * policy_decide() — with the caller's identity and gets a decision and the rule behind it.
 *
 * It knows nothing of FUSE or of the store: paths are plain strings relative to the mount
 * root ("secrets/db-conn", "keys/release"), and identity comes in a struct caller that
 * the caller fills. Until the rule language lands, one built-in rule holds: uid 0 with a
 * known process may do everything, everyone else nothing.
 */
#ifndef VAULTFS_POLICY_H
#define VAULTFS_POLICY_H

#include <stddef.h>
#include <sys/types.h>

enum policy_op {
	POLICY_LIST,
	POLICY_READ,
	POLICY_WRITE,
	POLICY_DELETE,
	POLICY_RECOVER,
	POLICY_PURGE,
	POLICY_SIGN,
	POLICY_ENCRYPT,
	POLICY_DECRYPT,
	POLICY_WRAP,
	POLICY_UNWRAP,
	POLICY_OP_COUNT,
};

/* The process behind a request. pid 0 means the kernel or another pid namespace: such a
 * caller gets nothing that depends on identity. */
struct caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

struct policy_decision {
	int allow;
	char rule[64]; /* "file:line" of the deciding rule, or "builtin" / "default-deny" */
};

struct policy;

/* The built-in policy. Returns 0 or -ENOMEM. */
int policy_builtin(struct policy **ret);

void policy_free(struct policy *p);

/* Decides @op on @path for @c. Never fails: what cannot be decided is denied. */
void policy_decide(const struct policy *p, const struct caller *c, enum policy_op op,
		   const char *path, struct policy_decision *ret);

/*
 * The set of operations (bit 1 << op) that @c may do on @path; with @below, also those it
 * may do on anything beneath @path — what decides whether a folder is visible.
 */
unsigned policy_rights(const struct policy *p, const struct caller *c, const char *path, int below);

#define POLICY_BIT(op) (1u << (op))

/* The operation's name as the policy language spells it ("read", "write", ...). */
const char *policy_op_name(enum policy_op op);

#endif

/*
 * policy: who may do what to which path of the mount. The FUSE layer asks one question —
 * policy_decide() — for the live caller, and gets a decision and the rule behind it.
 *
 * The policy is a text file, one rule a line:
 *     EFFECT  OPERATIONS  PATH  WHO
 * EFFECT is allow or deny; OPERATIONS a comma-separated list of list read write delete
 * recover purge sign encrypt decrypt wrap unwrap export, or '*'; PATH a glob over the mount's
 * paths (glob.h); WHO '*' or conditions that must all hold: uid=N user=NAME gid=N
 * group=NAME cgroup=GLOB exe=GLOB. Deny wins over allow; nothing matching denies; uid 0
 * has no rights but those given.
 *
 * A file with any error is refused whole, with "FILE:LINE: message". Names (user=,
 * group=) are resolved through NSS when the file is loaded; one that NSS does not know is
 * a warning ("FILE:LINE: warning: message"), and the rule holds for nobody until the
 * account exists (looked up again, at most once a second, when a decision needs it).
 * This module knows nothing of FUSE or of the store.
 */
#ifndef VAULTFS_POLICY_H
#define VAULTFS_POLICY_H

#include <stddef.h>
#include <sys/types.h>

#include "caller.h"

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
	POLICY_EXPORT, /* a certificate's private key, certs/NAME/key.pem */
	POLICY_OP_COUNT,
};

#define POLICY_BIT(op) (1u << (op))
#define POLICY_ALL ((1u << POLICY_OP_COUNT) - 1)

/* Longest line accepted; longer ones are an error, not truncated. */
#define POLICY_LINE_MAX 4096

struct policy_decision {
	int allow;
	char rule[300]; /* "FILE:LINE" of the deciding rule, or "default-deny" */
};

struct policy;

/*
 * Parses @len bytes of policy text; @name ("policy", or a path) prefixes error messages
 * and rule references. Returns 0, or -EINVAL with "NAME:LINE: message" in @err.
 */
int policy_parse(const char *text, size_t len, const char *name, struct policy **ret, char *err,
		 size_t errlen);

/* Reads and parses the file @path; rules are named "NAME:LINE". -ENOENT if it is missing,
 * -ELOOP if it is a symbolic link (never followed). */
int policy_load(const char *path, const char *name, struct policy **ret, char *err, size_t errlen);

/* Takes each error (@is_error 1: "NAME:LINE: message") and warning (0: "NAME:LINE:
 * warning: message") that policy_load_report finds, in line order. */
typedef void policy_report_fn(void *userdata, int is_error, const char *msg);

/*
 * policy_load, reading on to the end past an error so that @report gets every error and
 * warning of the file (`vaultfs policy check`). Returns what policy_load returns: -EINVAL
 * once any line had an error (the first also in @err), and then no policy.
 */
int policy_load_report(const char *path, const char *name, policy_report_fn *report, void *userdata,
		       struct policy **ret, char *err, size_t errlen);

/* The warnings of a policy that loaded ("NAME:LINE: warning: message"): a user= or group=
 * name NSS did not know. policy_warning returns NULL past the count. */
size_t policy_warning_count(const struct policy *p);
const char *policy_warning(const struct policy *p, size_t i);

/* The number of rules with an exe= condition, and the first one's "NAME:LINE" in
 * *@ret_first when there is one: what needs a daemon that can read other users'
 * executables (caller_exe_readable). */
size_t policy_exe_rules(const struct policy *p, const char **ret_first);

/* A policy with no rules: everything denied. */
int policy_empty(struct policy **ret);

void policy_free(struct policy *p);

/* The number of rules. */
size_t policy_rule_count(const struct policy *p);

/* What a decision may need of the caller (CALLER_HAVE_*): nothing is read for rules that
 * do not ask. */
unsigned policy_needs(const struct policy *p);

/* Decides @op on @path for @c. Never fails: what cannot be decided is denied. */
void policy_decide(const struct policy *p, struct caller *c, enum policy_op op, const char *path,
		   struct policy_decision *ret);

/*
 * The set of operations (bit 1 << op) that @c may do on @path, as policy_decide would
 * decide each. With @below, also those an allow rule gives it on anything beneath @path,
 * but for those a deny matching @path and all beneath it (a pattern whose last segment is
 * a double star) takes: what lets a caller enter a folder on the way to a name it has some
 * right on. A right beneath a folder never lists it: only policy_decide(POLICY_LIST) on
 * the folder's own path does.
 */
unsigned policy_rights(const struct policy *p, struct caller *c, const char *path, int below);

/* Policies parsed from now on with at least @rules rules are indexed by the literal prefix
 * of their rules' paths (default 32); for tests and benchmarks that compare the two. */
void policy_set_index_threshold(size_t rules);

/* The operation's name as the policy language spells it, and back (-1 if unknown). */
const char *policy_op_name(enum policy_op op);
int policy_op_parse(const char *name);

#endif

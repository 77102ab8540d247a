/*
 * vault_change: how a recorded operation (vault_ops.h) joins a store change and its
 * record. For the files of src/vault that make recorded operations (vault_ops.c,
 * vault_certs.c, vault_lifetime.c); nothing above the vault layer uses it.
 *
 *	struct vault_change c;
 *	if ((r = vault_change_begin(v, a, &c)) < 0)
 *		return vault_act_failed(v, a, r);
 *	return vault_change_end(&c, store_or_keys_call(...));
 *
 * The store call between the two must be one transaction made on the calling thread.
 */
#ifndef VAULTFS_VAULT_CHANGE_H
#define VAULTFS_VAULT_CHANGE_H

#include "vault_ops.h"

/* One change in progress: the action, and how far its record got. */
struct vault_change {
	struct vault *v;
	struct vault_act *act;
	int record_failed; /* it could not be: the change was rolled back */
};

/* Arms the calling thread's next store change with @a's record (the store's hooks are
 * per thread: the store call must follow on this thread). On failure nothing may change:
 * the caller records the failure instead (vault_act_failed). */
int vault_change_begin(struct vault *v, struct vault_act *a, struct vault_change *c);

/*
 * After the store call that returned @r: disarms, and records a change that failed before
 * it could commit (with its error as result) or whose commit failed after its record.
 * Returns @r, or -EIO when the change failed for want of its record or its failure could
 * not be recorded.
 */
int vault_change_end(struct vault_change *c, int r);

#endif

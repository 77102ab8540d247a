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
	uint64_t recorded; /* the seq of its record once in the trail, 0 before */
	int undone; /* it did not commit after that, and a record saying so is in the trail */
	int undo_failed; /* it did not commit after that, and no record could say so */
	struct audit_head undo_head; /* with undone: the trail's head after that record */
};

/* Arms the calling thread's next store change with @a's record (the store's hooks are
 * per thread: the store call must follow on this thread). On failure nothing may change:
 * the caller records the failure instead (vault_act_failed). */
int vault_change_begin(struct vault *v, struct vault_act *a, struct vault_change *c);

/*
 * After the store call that returned @r: disarms, and records a change that failed before
 * it could commit (with its error as result). A change that does not commit after its
 * record is in the trail (the token fails the head's tag, storing the head or COMMIT
 * fails) has its failure recorded already, by the store's undo hook before the rollback,
 * while the transaction still held the write lock: the same event with the error as
 * result and "undoes" naming the seq of the record it takes back, so that no other change
 * commits between the two (vaultfs watch relies on it). Returns @r, or -EIO when the
 * change failed for want of its record or its failure could not be recorded.
 */
int vault_change_end(struct vault_change *c, int r);

#endif

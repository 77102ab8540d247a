/*
 * store_peek: a look at a vault database from outside — whether the change that a given
 * audit record belongs to has committed — for a process that follows the trail without
 * the vault's token (vaultfs watch). It reads one row, the trail's head that every change
 * stores in its own transaction (store_on_commit), and never a secret, a key or a value;
 * it changes nothing (its one write transaction is rolled back at once, empty).
 */
#ifndef VAULTFS_STORE_PEEK_H
#define VAULTFS_STORE_PEEK_H

#include <stdint.h>

struct store_peek;

/*
 * Opens the vault database @db_path. It needs write access to the file and its directory
 * (the vault's owner has it), as waiting for a writer's transaction does, but writes
 * nothing. Returns 0, or -ENOENT (no file), -EACCES, -EUCLEAN (not a vault database),
 * or another -errno.
 */
int store_peek_open(const char *db_path, struct store_peek **ret);

void store_peek_free(struct store_peek *p);

/*
 * Whether the change whose audit record has sequence number @seq has committed: 1 when
 * the head the vault stored has reached @seq, once no write transaction is in progress
 * (a change's record is written inside its transaction, before it commits); 0 when it
 * has not (the change was rolled back). Waits for a writer at most @timeout_ms: then
 * -ETIMEDOUT, and the caller may ask again. Other failures: -errno. With 1, the head's
 * seq read is in *ret_head (>= @seq).
 *
 * A head that a later transaction stored also covers @seq, though the change may have
 * been rolled back after its record: the vault then records the rollback ("undoes": @seq)
 * before it gives the write lock back, so before any later head is stored. The caller
 * that gets 1 reads the trail on from @seq to its end as it is now, and a record there
 * that undoes @seq says the change did not happen.
 */
int store_peek_committed(struct store_peek *p, uint64_t seq, unsigned timeout_ms,
			 uint64_t *ret_head);

#endif

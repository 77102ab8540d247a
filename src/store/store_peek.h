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
 * -ETIMEDOUT, and the caller may ask again. Other failures: -errno.
 *
 * A head that a later transaction stored also covers @seq: a change rolled back after
 * its record (its failure is the next record of the same action) can read as committed
 * if another commit came between its rollback and this call.
 */
int store_peek_committed(struct store_peek *p, uint64_t seq, unsigned timeout_ms);

#endif

/*
 * token_guard: keeps the embedded SoftHSM2 token alive across kills, Ctrl-C and several
 * vaultfs processes at once.
 *
 * SoftHSM2 2.6 rewrites a token's token.object in place at every C_Login (ftruncate, then
 * the new bytes at fclose, after it has dropped its own lock): a process killed in between
 * leaves the file empty and the token gone, and a process that loads the module meanwhile
 * sees no token. The guard is what every vaultfs process holds around loading the module
 * and logging in: one exclusive lock on DIR/tokens/.vaultfs.lock, taken with a bounded
 * wait; catchable signals held off in the calling thread; and a known-good copy of each
 * token.object (token.object.good, beside it) that replaces, by an atomic rename, a live
 * file found damaged, and that is itself replaced atomically by a live file that a login
 * has just proved good. It never touches the token's key objects, and it is only for the
 * embedded token: an external module's storage is its own business.
 */
#ifndef VAULTFS_TOKEN_GUARD_H
#define VAULTFS_TOKEN_GUARD_H

/* How long a process waits for another to finish loading the module and logging in. */
#define TOKEN_GUARD_WAIT_MS 30000

/* The lock file in the token directory, and the known-good copy beside each token.object.
 * Neither name ends in ".object", so SoftHSM2 never takes them for a token or an object. */
#define TOKEN_GUARD_LOCK ".vaultfs.lock"
#define TOKEN_GUARD_GOOD "token.object.good"

struct token_guard;

/*
 * Takes the exclusive lock of @tokens_dir (the SoftHSM2 directories.tokendir), waiting at
 * most @wait_ms; then blocks every signal that can be caught and is not a fault in the
 * calling thread; then checks the token.object of each token in @tokens_dir and puts the
 * known-good copy back in place of one that is missing, empty, cut short or unparseable.
 * Returns 0 and the guard in *ret (with the number of files put back in *ret_restored), or:
 *   -ETIMEDOUT  another process held the lock for @wait_ms
 *   -EUCLEAN    a token.object is damaged and has no intact known-good copy
 *   -errno      of the file system
 * On failure nothing is held and the signal mask is as it was.
 */
int token_guard_begin(const char *tokens_dir, int wait_ms, unsigned *ret_restored,
		      struct token_guard **ret);

/*
 * Ends the guard. With @proven (the token was opened and logged in under it), each intact
 * token.object becomes its known-good copy where the two differ in more than the generation
 * number that SoftHSM2 bumps at every write. Then the lock is released and the signal mask
 * restored: a signal that came meanwhile is delivered now. Returns 0, or the -errno of
 * refreshing a copy (the guard is gone all the same). Accepts NULL.
 */
int token_guard_end(struct token_guard *g, int proven);

#endif

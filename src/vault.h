/*
 * vault: one vault directory — its settings, its token and its store, opened together.
 *
 * This is where paths inside DIR are resolved and where a failure gets the sentence an
 * operator needs: every function that can fail fills @err with one line that names the
 * file or token concerned (never a PIN or a value) and returns -errno.
 */
#ifndef VAULTFS_VAULT_H
#define VAULTFS_VAULT_H

#include <stddef.h>

#include "config.h"
#include "hsm.h"
#include "store.h"

#define VAULT_DB "vault.db"
#define VAULT_POLICY "policy"
#define VAULT_AUDIT "audit.log"
#define VAULT_PIN "pin"
#define VAULT_SOFTHSM_CONF "softhsm2.conf"
#define VAULT_TOKENS "tokens"
#define VAULT_PIN_MAX 256

struct vault {
	char *dir; /* absolute */
	struct vault_config *cfg;
	struct hsm *hsm;
	struct store *store;
};

struct vault_init_options {
	/* All three set: use this existing token. All NULL: make an embedded SoftHSM2 one. */
	const char *hsm_module;
	const char *token_label;
	const char *pin_file;
};

/* Creates a vault in @dir (made if missing). Refuses, with -EEXIST, a directory that holds
 * any vault file. On failure removes what it made. */
int vault_init(const char *dir, const struct vault_init_options *o, char *err, size_t errlen);

/* Opens the vault in @dir: settings, PIN, token login, store. */
int vault_open(const char *dir, struct vault **ret, char *err, size_t errlen);

void vault_free(struct vault *v);

/*
 * Reads a PIN file into a secbuf, dropping one trailing newline. Refuses (-EPERM) a file
 * that group or others may read, as ssh refuses such a private key, and one that is not a
 * regular file.
 */
int vault_read_pin(const char *path, struct secbuf **ret, char *err, size_t errlen);

#endif

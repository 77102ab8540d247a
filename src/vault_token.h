/*
 * vault_token: opening a vault's token — loading its PKCS#11 module and logging in — and,
 * for the embedded SoftHSM2 token, the configuration SoftHSM2 is given.
 *
 * A vault directory is self-contained: nothing in it names its own absolute path, so a
 * vault moved or copied elsewhere opens there, and a copy never uses the original's token
 * files. SoftHSM2 reads the file that SOFTHSM2_CONF names and wants its token folder
 * (directories.tokendir) absolute; so the vault's softhsm2.conf names the folder relative
 * to itself ("tokens"), and at each open vaultfs hands SoftHSM2 a configuration made for
 * this process from where the vault is now. Nothing here may take the token folder from
 * an absolute path stored in the vault, nor log a PIN.
 */
#ifndef VAULTFS_VAULT_TOKEN_H
#define VAULTFS_VAULT_TOKEN_H

#include <limits.h>
#include <stddef.h>

#include "config.h"
#include "hsm.h"
#include "secbuf.h"

/* The embedded token's folder, as a new vault's softhsm2.conf names it (relative). */
#define VAULT_TOKENS_REL "tokens"

/* The text of a new vault's softhsm2.conf. */
extern const char vault_softhsm_conf[];

/* What vault_softhsm_begin set up, until vault_softhsm_end. */
struct vault_softhsm {
	int fd; /* the configuration handed to SoftHSM2; -1: none */
	int saved; /* saved_env holds SOFTHSM2_CONF as it was, to put back at the end */
	char *saved_env; /* NULL: it was unset */
	char tokens[PATH_MAX]; /* the token folder, absolute */
};

/*
 * Hands SoftHSM2 the configuration of the embedded token that @conf (the softhsm2_conf
 * setting: relative to @absdir, or absolute) describes: every line of that file but the
 * token folder, then the folder's absolute path — a relative one resolved against the
 * file's folder. The copy lives in a memfd that SOFTHSM2_CONF names (/proc/self/fd/N), so
 * nothing is written for it and nothing else reads it. A file in the vault that names its
 * token folder by absolute path (written by an older vaultfs) is taken to mean the vault's
 * own tokens/ and is rewritten to name it relative; one outside the vault is used as it
 * says. Until vault_softhsm_end, whose call this makes due even on failure. Returns 0, or
 * -errno with one line in @err naming the file.
 */
int vault_softhsm_begin(const char *absdir, const char *conf, struct vault_softhsm *ret, char *err,
			size_t errlen);

/* Closes the configuration (the module has read it when it was initialised) and puts
 * SOFTHSM2_CONF back as it was. */
void vault_softhsm_end(struct vault_softhsm *s);

/*
 * Loads @module and logs in to token @label with @pin. The embedded token (@tokens, its
 * folder; NULL for an external token) is opened under its guard (token_guard.h): no other
 * vaultfs process loads it or logs in meanwhile, no catchable signal ends this one
 * half-way, and a token.object an earlier kill emptied is put back first. Returns 0, or
 * -errno with one line in @err naming the token.
 */
int vault_token_login(const char *module, const char *label, const struct secbuf *pin,
		      const char *tokens, struct hsm **ret, char *err, size_t errlen);

/*
 * vault_softhsm_begin, vault_token_login, vault_softhsm_end for the token that @cfg names
 * for the vault in @absdir (embedded when cfg->softhsm2_conf is set).
 */
int vault_token_open(const char *absdir, const struct vault_config *cfg, const struct secbuf *pin,
		     struct hsm **ret, char *err, size_t errlen);

/*
 * Starts the token of @h again (hsm_reopen) for a vault in @absdir with settings @cfg:
 * for the embedded token under its guard, with SoftHSM2 handed its configuration again.
 * Returns 0, or -errno while the token is still gone.
 */
int vault_token_reopen(const char *absdir, const struct vault_config *cfg, struct hsm *h);

#endif

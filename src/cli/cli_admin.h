/*
 * cli_admin: what the commands that change or show one kind of thing (`secret`, `key`,
 * `cert`) do alike around the vault's own functions: open the vault with the record of
 * this admin command, list with the inspection recorded first, and soft-delete, recover
 * or purge by name. Each command still tells its own errors in its own words; nothing
 * here decides what a command may do.
 */
#ifndef VAULTFS_CLI_ADMIN_H
#define VAULTFS_CLI_ADMIN_H

#include <limits.h>

#include "audit.h"
#include "names.h"

struct vault;
struct vault_act;

/* The line of a change, or an inspection, that the audit trail did not take. */
#define CLI_AUDIT_FAILED "cannot write the audit trail: nothing done"

/* An open vault and the record of this command; ev's strings are the buffers here. */
struct cli_admin {
	struct vault *v;
	struct audit_event ev;
	char op[32], exe[PATH_MAX], cgroup[PATH_MAX], path[NAME_PATH_MAX + 16];
};

/*
 * Opens the vault @dir (cli_vault_open) for `KIND SUB` and starts its record: op
 * "KIND-SUB", path "AREA/NAME" (AREA alone when @name is NULL), this process's identity
 * (vault_admin_event). 0, or 1 after the line "CMD: ERROR" with the vault not open.
 * cli_admin_close frees what an open @a holds.
 */
int cli_admin_open(struct cli_admin *a, const char *cmd, const char *dir, const char *kind,
		   const char *sub, const char *area, const char *name);
void cli_admin_close(struct cli_admin *a);

/*
 * Records the inspection @ev (cli_inspection), then calls @list, which prints. 0; or 1
 * after "CMD: " CLI_AUDIT_FAILED when it could not be recorded (nothing printed), after
 * "CMD: " @reason(r) when @list failed with r, or when standard output could not be
 * written.
 */
int cli_list(const char *cmd, struct vault *v, const struct audit_event *ev,
	     int (*list)(struct vault *v, void *userdata), void *userdata,
	     const char *(*reason)(int r));

/* The soft-delete subcommands of one kind of thing, all called as (vault, act, name). */
struct cli_lifecycle {
	int (*delete_fn)(struct vault *v, struct vault_act *a, const char *name);
	int (*recover_fn)(struct vault *v, struct vault_act *a, const char *name);
	int (*purge_fn)(struct vault *v, struct vault_act *a, const char *name);
};

/* Whether @sub is "delete", "recover" or "purge". */
int cli_is_lifecycle(const char *sub);

/*
 * Runs @sub (delete, recover or purge: cli_is_lifecycle) on @name through @ops, recorded
 * as @ev. Returns -1 with the vault function's result in *@ret_r, for the command to tell
 * in its words; or 1 after "CMD: "NAME": " CLI_AUDIT_FAILED when the record could not be
 * written (then nothing was done).
 */
int cli_lifecycle(struct vault *v, const struct cli_lifecycle *ops, const char *cmd,
		  const char *sub, const char *name, const struct audit_event *ev, int *ret_r);

#endif

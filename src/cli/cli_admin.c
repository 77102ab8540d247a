/*
 * cli_admin: the vault opened with an admin command's record, listings recorded before
 * they print, and soft delete, recover and purge by name (cli_admin.h) — the plumbing
 * `secret`, `key` and `cert` share. The vault's functions decide and record; this only
 * calls them and says, in one line, when the record could not be written.
 */
#include "cli_admin.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vault.h"
#include "vault_ops.h"

int cli_admin_open(struct cli_admin *a, const char *cmd, const char *dir, const char *kind,
		   const char *sub, const char *area, const char *name)
{
	char err[512] = "";
	int r;

	r = cli_vault_open(dir, &a->v, err, sizeof(err));
	if (r < 0)
		return cli_error(cmd, NULL, "%s", err[0] ? err : strerror(-r));
	snprintf(a->op, sizeof(a->op), "%s-%s", kind, sub);
	vault_admin_event(&a->ev, a->op, a->exe, sizeof(a->exe), a->cgroup, sizeof(a->cgroup));
	snprintf(a->path, sizeof(a->path), "%s%s%s", area, name ? "/" : "", name ? name : "");
	a->ev.path = a->path;
	return 0;
}

void cli_admin_close(struct cli_admin *a)
{
	vault_free(a->v);
	a->v = NULL;
}

int cli_list(const char *cmd, struct vault *v, const struct audit_event *ev,
	     int (*list)(struct vault *v, void *userdata), void *userdata,
	     const char *(*reason)(int r))
{
	int r = cli_inspection(cmd, v, ev);

	if (r < 0)
		return cli_error(cmd, NULL, CLI_AUDIT_FAILED);
	r = list(v, userdata);
	if (r < 0)
		return cli_error(cmd, NULL, "%s", reason(r));
	return fflush(stdout) == 0 ? 0 : 1;
}

int cli_is_lifecycle(const char *sub)
{
	return strcmp(sub, "delete") == 0 || strcmp(sub, "recover") == 0 ||
	       strcmp(sub, "purge") == 0;
}

int cli_lifecycle(struct vault *v, const struct cli_lifecycle *ops, const char *cmd,
		  const char *sub, const char *name, const struct audit_event *ev, int *ret_r)
{
	struct vault_act act;
	int r;

	vault_act_init(&act, ev);
	if (strcmp(sub, "delete") == 0)
		r = ops->delete_fn(v, &act, name);
	else if (strcmp(sub, "recover") == 0)
		r = ops->recover_fn(v, &act, name);
	else
		r = ops->purge_fn(v, &act, name);
	if (act.unrecorded)
		return cli_error(cmd, name, CLI_AUDIT_FAILED);
	*ret_r = r;
	return -1;
}

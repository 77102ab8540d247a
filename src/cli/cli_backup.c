/*
 * cli_backup: `vaultfs backup DIR DEST` copies a vault, mounted and busy or not, into a
 * new directory; `vaultfs restore BACKUP DIR` puts a backup into a new directory and
 * proves it (it opens with its token, SQLite finds it whole, its trail verifies) before it
 * says so. Both are admin commands, recorded: backup in the vault it copies (before the
 * copy, so the backup holds its own record), restore in the vault it makes.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "vault.h"

static const char backup_help[] =
	"Usage: vaultfs backup DIR DEST\n"
	"       vaultfs restore BACKUP DIR\n"
	"\n"
	"backup   copies the vault in DIR, mounted and in use or not, into the new directory\n"
	"         DEST: the database as it stood at one instant (writers go on meanwhile),\n"
	"         the audit trail, settings, policy and, for the embedded token, its PIN and\n"
	"         token files. DEST holds secrets' sealed values and the token that unseals\n"
	"         them: keep it as safe as the vault.\n"
	"restore  copies BACKUP into the new directory DIR and checks it: the vault opens\n"
	"         with its token, the database is whole, and the trail verifies. On any\n"
	"         failure DIR is removed. Mount DIR, or move it into place, afterwards.\n";

static int record(struct vault *v, const char *op, const char *detail, int result)
{
	char exe[PATH_MAX], cgroup[PATH_MAX];
	struct audit_event ev;

	vault_admin_event(&ev, op, exe, sizeof(exe), cgroup, sizeof(cgroup));
	ev.detail = detail;
	ev.result = result;
	return vault_record(v, &ev);
}

static int backup(const char *dir, const char *dest)
{
	char err[512] = "", abs[PATH_MAX];
	struct vault *v = NULL;
	int r;

	r = cli_vault_open(dir, &v, err, sizeof(err));
	if (r < 0)
		return cli_error("backup", NULL, "%s", err[0] ? err : strerror(-r));
	/* the record names where the copy went, as the admin gave it and in full */
	snprintf(abs, sizeof(abs), "%s", dest);
	if (dest[0] != '/' && realpath(".", abs)) {
		size_t n = strlen(abs);

		snprintf(abs + n, sizeof(abs) - n, "/%s", dest);
	}
	if (record(v, "backup", abs, 0) < 0) {
		r = cli_error("backup", dir, "cannot write the audit trail: nothing done");
		goto out;
	}
	r = vault_backup(v, dest, err, sizeof(err));
	if (r < 0) {
		(void)record(v, "backup", abs, -r);
		r = cli_error("backup", dest, "%s", err);
		goto out;
	}
	r = 0;
out:
	vault_free(v);
	return r;
}

static int restore(const char *backup_dir, const char *dir)
{
	char err[512] = "", detail[PATH_MAX + 16];
	struct store_anchor stored;
	struct audit_report rep;
	struct vault *v = NULL;
	int r, head_ok = 0;

	r = vault_restore(backup_dir, dir, err, sizeof(err));
	/* a backup is a vault directory's copy: BACKUP DIR the wrong way round is told so */
	if (r < 0 && cli_swapped(backup_dir, err, sizeof(err)))
		return cli_error("restore", NULL, "%s", err);
	if (r < 0)
		return cli_error("restore", NULL, "%s", err);
	r = cli_vault_open(dir, &v, err, sizeof(err));
	if (r < 0) {
		r = cli_error("restore", backup_dir, "the restored vault does not open: %s",
			      err[0] ? err : strerror(-r));
		goto fail;
	}
	r = store_check(v->store, err, sizeof(err));
	if (r < 0) {
		r = cli_error("restore", backup_dir, "the database is damaged: %s",
			      r == -EUCLEAN ? err : strerror(-r));
		goto fail;
	}
	r = vault_verify_trail(v, &stored, &head_ok, &rep, err, sizeof(err));
	if (r < 0) {
		r = cli_error("restore", backup_dir, "the audit trail: %s", err);
		goto fail;
	}
	if (rep.bad_seq || !head_ok) {
		r = cli_error("restore", backup_dir, "the audit trail does not verify: %s",
			      rep.bad_seq ? rep.reason
					  : "the head the database holds fails its tag");
		goto fail;
	}
	snprintf(detail, sizeof(detail), "from %s", backup_dir);
	if (record(v, "restore", detail, 0) < 0) {
		r = cli_error("restore", dir, "cannot write the audit trail");
		goto fail;
	}
	vault_free(v);
	return 0;
fail:
	vault_free(v);
	vault_restore_undo(dir);
	return r;
}

int cli_backup(int argc, char **argv)
{
	const char *cmd = argv[0];

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(backup_help, stdout);
		return 0;
	}
	if (argc != 3)
		return cli_usage(cmd, "takes two directories (see 'vaultfs %s --help')", cmd);
	if (strcmp(cmd, "backup") == 0)
		return backup(argv[1], argv[2]);
	return restore(argv[1], argv[2]);
}

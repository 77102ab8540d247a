/*
 * cli: what every command of the command line shares — its one-line errors, usage
 * errors, opening a vault, and the record of an inspection (cli.h). It sits below the
 * commands and the mount daemon, and calls none of them.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "vault.h"

/* The trail tells; the daemon's log, or a command's stderr, says it. */
static void audit_notice(void *userdata, const struct audit_notice *n)
{
	(void)userdata;
	switch (n->kind) {
	case AUDIT_NOTICE_STALLED:
		log_error("The audit trail \"%s\" is stalled: %s within %lld ms; every operation "
			  "fails with EIO until it answers",
			  n->path, n->detail, n->value);
		break;
	case AUDIT_NOTICE_HOLDER:
		log_error("The lock on \"%s\" is held by pid %lld", n->path, n->value);
		break;
	case AUDIT_NOTICE_RESUMED:
		log_warn("The audit trail \"%s\" answers again: %s", n->path, n->detail);
		break;
	case AUDIT_NOTICE_TORN:
		log_warn("Cutting a torn record (%lld bytes) off the end of \"%s\"", n->value,
			 n->path);
		break;
	case AUDIT_NOTICE_ROTATED:
		log_info("Rotated \"%s\" to \"%s\"", n->path, n->detail);
		break;
	}
}

int cli_vault_open(const char *dir, struct vault **ret, char *err, size_t errlen)
{
	int r = vault_open(dir, ret, err, errlen);

	if (r >= 0)
		audit_set_notify((*ret)->audit, audit_notice, NULL);
	return r;
}

int cli_error(const char *cmd, const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s: ", log_line_start(LOG_ERR), cmd);
	if (name)
		fprintf(stderr, "\"%s\": ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_inspection(const char *cmd, struct vault *v, const struct audit_event *ev)
{
	int r = vault_record_inspection(v, ev);

	if (r == 1) {
		fprintf(stderr,
			"vaultfs: %s: \"%s/%s\": the disk is full: this inspection is noted in "
			"the system log, not in the audit trail\n",
			cmd, v->dir, VAULT_AUDIT);
		return 0;
	}
	return r < 0 ? -EIO : 0;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s: ", log_line_start(LOG_ERR), cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'vaultfs %s --help')\n", cmd);
	return EXIT_USAGE;
}

/*
 * cli: what every command of the command line shares — its one-line errors, usage
 * errors, and the record of an inspection (cli.h). It sits below the commands and the
 * mount daemon, and calls none of them.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "vault.h"

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

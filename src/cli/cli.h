/*
 * cli: the vaultfs command line. Each command module parses its own arguments and returns
 * the process exit status: 0 on success, 1 on an error (one line on stderr), 2 on a usage
 * error. Nothing here prints a secret value except `secret get` to standard output.
 */
#ifndef VAULTFS_CLI_H
#define VAULTFS_CLI_H

#include <stddef.h>

#define EXIT_USAGE 2

int cli_init(int argc, char **argv);
int cli_secret(int argc, char **argv);
int cli_policy(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_key(int argc, char **argv);
int cli_backup(int argc, char **argv); /* backup and restore */
int cli_status(int argc, char **argv);

/* Prints "vaultfs: CMD: "NAME": MESSAGE" (NAME omitted when NULL; "<3>" in place of
 * "vaultfs: " when stderr is the journal, see log.h) and returns 1. */
int cli_error(const char *cmd, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct vault;
struct audit_event;

/*
 * vault_open (vault.h), and from then on what happens inside the vault's audit trail — a
 * stall and its end, a torn record cut off, a rotation — said once in the log: how every
 * command and the mount daemon open a vault.
 */
int cli_vault_open(const char *dir, struct vault **ret, char *err, size_t errlen);

/*
 * Records an inspection (vault_record_inspection): on a full disk, prints one line saying
 * the inspection is not in the trail but in the system log, and returns 0 so the command
 * goes on. Returns -EIO when it could not be recorded for any other reason.
 */
int cli_inspection(const char *cmd, struct vault *v, const struct audit_event *ev);

/* Prints a usage error with a pointer to --help and returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

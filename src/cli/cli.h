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
int cli_cert(int argc, char **argv);
int cli_backup(int argc, char **argv); /* backup and restore */
int cli_status(int argc, char **argv);
/* `cert import`, argv from "cert" on (cli_cert_import.c) */
int cli_cert_import(int argc, char **argv);

/* Prints "vaultfs: CMD: "NAME": MESSAGE" (NAME omitted when NULL; "<3>" in place of
 * "vaultfs: " when stderr is the journal, see log.h) and returns 1. */
int cli_error(const char *cmd, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct vault;
struct audit_event;
struct policy;

/* Keeps the command line, for cli_vault_dir's "did you mean" (main() calls it first). */
void cli_args(int argc, char **argv);

/*
 * Whether @dir, as the command line gave it, is a vault directory (a directory holding
 * vaultfs.conf): 0, or -errno with one line in @err that says what it is instead —
 * missing, a file, an empty directory, the mount point of a vault, a directory that is
 * not a vault — and, when another argument of the command line is a vault directory, the
 * command line with the two swapped ("did you mean: ...?"). Nothing is read from the
 * vault: it goes before the strict-mode checks, so that arguments given the wrong way
 * round are told as such and not as an unsafe vault.
 */
int cli_vault_dir(const char *dir, char *err, size_t errlen);

/* Whether @dir is not a vault directory while another argument is: 1 with cli_vault_dir's
 * line (and its "did you mean") in @err, else 0 with @err untouched. */
int cli_swapped(const char *dir, char *err, size_t errlen);

/*
 * The warning, into @buf, for a policy with exe= rules read by a process that lacks
 * CAP_SYS_PTRACE (caller_exe_readable): exe= cannot be checked for other users' callers.
 * @who names that process ("this daemon", "this command"). Returns 1 when there is one
 * to give, 0 when not (no exe= rule, or the capability is there).
 */
int cli_exe_warning(const struct policy *p, const char *who, char *buf, size_t len);

/*
 * cli_vault_dir, then vault_open (vault.h), and from then on what happens inside the vault's audit
 * trail — a stall and its end, a torn record cut off, a rotation — said once in the log: how every
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

/*
 * cli: the vaultfs command line. Each command module parses its own arguments and returns
 * the process exit status: 0 on success, 1 on an error (one line on stderr), 2 on a usage
 * error. Nothing here prints a secret value except `secret get` to standard output.
 */
#ifndef VAULTFS_CLI_H
#define VAULTFS_CLI_H

#define EXIT_USAGE 2

int cli_init(int argc, char **argv);
int cli_secret(int argc, char **argv);
int cli_policy(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_key(int argc, char **argv);

/* Prints "vaultfs: CMD: "NAME": MESSAGE" (NAME omitted when NULL) and returns 1. */
int cli_error(const char *cmd, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints a usage error with a pointer to --help and returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

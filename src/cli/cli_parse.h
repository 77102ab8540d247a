/*
 * cli_parse: the command line of a command with subcommands (`vaultfs key create DIR NAME
 * --type ec-p256`), read by tables: which subcommands there are and how many positional
 * arguments each takes, which options there are and where each is stored in the command's
 * own struct of arguments (by offsetof, as a fuse_opt table). Its usage errors are the
 * commands' own lines (cli_usage); it opens no vault and checks nothing of an option's
 * meaning but what an option's own parser says.
 */
#ifndef VAULTFS_CLI_PARSE_H
#define VAULTFS_CLI_PARSE_H

#include <stddef.h>

enum cli_option_kind {
	CLI_STRING, /* const char *, the last one given */
	CLI_FLAG, /* int, set to 1 */
	CLI_CALL, /* given to the option's parse() */
};

struct cli_option {
	const char *name; /* without "--"; a NULL name ends the table */
	enum cli_option_kind kind;
	size_t offset; /* of its field in the command's arguments (CLI_STRING, CLI_FLAG) */
	/* CLI_CALL: reads @arg into @args, as it comes, for the subcommand @sub; 0, or the
	 * exit status after the option's own line (cli_usage), which stops the parse */
	int (*parse)(void *args, const char *arg, const char *sub);
};

/* Rows of an options table with the field's type checked by the compiler: an int for a
 * flag, a const char * for a string (a field of another type does not compile). */
#define CLI_OPT_STRING(name, type, field)                                                                 \
	{                                                                                                 \
		name, CLI_STRING, _Generic(((type *)0)->field, const char *: offsetof(type, field)), NULL \
	}
#define CLI_OPT_FLAG(name, type, field)                                                            \
	{                                                                                          \
		name, CLI_FLAG, _Generic(((type *)0)->field, int : offsetof(type, field)), NULL    \
	}

struct cli_subcommand {
	const char *name;
	int min_pos, max_pos; /* positional arguments after it: DIR, NAME, ... */
};

#define CLI_POS_MAX 4

struct cli_command {
	const char *name; /* "key": usage errors say "vaultfs: key: ..." */
	const char *help; /* --help to stdout; no subcommand: to stderr, exit EXIT_USAGE */
	const struct cli_subcommand *subs;
	size_t n_subs;
	const struct cli_option *options; /* --help is added to them */
	/* getopt's own lines name the subcommand ("set: unrecognized option '--x'") in place
	 * of the command, as `vaultfs secret` always has */
	int getopt_names_sub;
};

/* What a command line holds besides its options. */
struct cli_parsed {
	size_t sub; /* index in the command's subs */
	const char *pos[CLI_POS_MAX]; /* DIR, NAME, ...; NULL past npos */
	size_t npos;
};

/*
 * Reads the command line @argv (argv[0] the command, argv[1] the subcommand) of @c: the
 * subcommand, the options into @args, the positional arguments into *@ret. Returns -1
 * when the command is to run, else its exit status: 0 after --help, EXIT_USAGE after the
 * help (no subcommand) or one usage line ("unknown subcommand", "unknown option", "wrong
 * number of arguments", or an option's own). @args holds what was read until then either
 * way; *@ret is set only on -1.
 */
int cli_parse(const struct cli_command *c, int argc, char **argv, void *args,
	      struct cli_parsed *ret);

/*
 * The options alone: argv[@first..] (getopt's own lines name argv[0]; argv[@first - 1]
 * is the subcommand an option's parse() is given) into @args by @options and --help,
 * which prints @help to stdout. Returns -1 with optind at the first
 * positional argument (getopt_long moves them after the options), else the exit status:
 * 0 after --help, EXIT_USAGE after "CMD: unknown option" (@cmd) or an option's own line.
 */
int cli_options(int argc, char **argv, int first, const char *cmd, const char *help,
		const struct cli_option *options, void *args);

#endif

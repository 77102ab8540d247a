/*
 * cli_parse: a subcommand's command line read by the command's tables (cli_parse.h), with
 * getopt_long, so that abbreviations (--exp) and getopt's own lines stay what they are for
 * every command. It stores strings and flags where the table says and calls an option's
 * own parser; it never opens a vault nor judges which options go with which subcommand.
 */
#include "cli_parse.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* More options than any command has; a table past it is a mistake in this program. */
#define OPTIONS_MAX 16

/* getopt_long's value for @options[i]: above every character, so never 'h' nor '?' */
#define OPTION_VAL(i) (256 + (int)(i))

int cli_options(int argc, char **argv, int first, const char *cmd, const char *help,
		const struct cli_option *options, void *args)
{
	struct option opts[OPTIONS_MAX + 2] = { { 0 } };
	size_t n = 0;
	int c, r;

	for (; options[n].name; n++) {
		if (n == OPTIONS_MAX)
			abort();
		opts[n] = (struct option){ options[n].name,
					   options[n].kind == CLI_FLAG ? no_argument
								       : required_argument,
					   NULL, OPTION_VAL(n) };
	}
	opts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	/* getopt's state is the process's: a command line is read once a process (optind = 0,
	 * glibc's full reset, would start at argv[1], the subcommand) */
	optind = first;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const struct cli_option *o;

		if (c == 'h') {
			fputs(help, stdout);
			return 0;
		}
		if (c < OPTION_VAL(0) || c >= OPTION_VAL(n))
			return cli_usage(cmd, "unknown option");
		o = &options[c - OPTION_VAL(0)];
		switch (o->kind) {
		case CLI_STRING:
			*(const char **)((char *)args + o->offset) = optarg;
			break;
		case CLI_FLAG:
			*(int *)((char *)args + o->offset) = 1;
			break;
		case CLI_CALL:
			r = o->parse(args, optarg, argv[first - 1]);
			if (r)
				return r;
			break;
		}
	}
	return -1;
}

int cli_parse(const struct cli_command *c, int argc, char **argv, void *args,
	      struct cli_parsed *ret)
{
	/* getopt's lines name argv[0]: the command, or with getopt_names_sub the subcommand */
	int shift = c->getopt_names_sub ? 1 : 0, r;
	struct cli_parsed p = { 0 };
	size_t npos;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(c->help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (p.sub = 0; p.sub < c->n_subs; p.sub++)
		if (strcmp(c->subs[p.sub].name, argv[1]) == 0)
			break;
	if (p.sub == c->n_subs)
		return cli_usage(c->name, "unknown subcommand \"%s\"", argv[1]);
	r = cli_options(argc - shift, argv + shift, 2 - shift, c->name, c->help, c->options, args);
	if (r >= 0)
		return r;
	npos = (size_t)(argc - shift - optind);
	if (npos < (size_t)c->subs[p.sub].min_pos || npos > (size_t)c->subs[p.sub].max_pos)
		return cli_usage(c->name, "wrong number of arguments for \"%s\"", argv[1]);
	if (npos > CLI_POS_MAX)
		abort();
	for (size_t i = 0; i < npos; i++)
		p.pos[i] = argv[shift + optind + (int)i];
	p.npos = npos;
	*ret = p;
	return -1;
}

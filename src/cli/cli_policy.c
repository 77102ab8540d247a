/*
 * cli_policy: `vaultfs policy check DIR` and `vaultfs policy explain DIR ...` — the same
 * parser and evaluator the mount uses, on the vault's policy file, so that what they say
 * is what the mount will do.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "policy.h"
#include "vault.h"

static const char policy_help[] =
	"Usage: vaultfs policy check DIR\n"
	"       vaultfs policy explain DIR --uid N [--gid N] [--cgroup PATH] [--exe PATH] OP PATH\n"
	"\n"
	"check     validates DIR/policy: prints the number of rules, or the first error as\n"
	"          policy:LINE: message (exit 1)\n"
	"explain   prints the decision for a caller and the rule behind it: \"allow policy:LINE\"\n"
	"          (exit 0) or \"deny policy:LINE\" / \"deny default-deny\" (exit 3). OP is one "
	"of\n"
	"          list read write delete recover purge sign encrypt decrypt wrap unwrap; PATH\n"
	"          is relative to the mount, such as secrets/db-conn, \"\" for its root; a path\n"
	"          under .deleted/ is decided as the same path without it, as the mount does\n"
	"          (list .deleted/secrets is list secrets). --gid defaults to the\n"
	"          user's primary group; supplementary groups are the user's, from NSS. A\n"
	"          caller without --cgroup or --exe matches no cgroup= or exe= condition.\n";

static int load(const char *cmd, const char *dir, struct policy **ret)
{
	char path[PATH_MAX], absdir[PATH_MAX], err[512] = "";
	int r;

	r = vault_resolve_safe(dir, absdir, err, sizeof(err));
	if (r < 0)
		return cli_error(cmd, NULL, "%s", err);
	if (snprintf(path, sizeof(path), "%s/%s", absdir, VAULT_POLICY) >= (int)sizeof(path))
		return cli_error(cmd, dir, "path too long");
	r = policy_load(path, VAULT_POLICY, ret, err, sizeof(err));
	if (r == -ENOENT)
		return cli_error(cmd, dir, "no policy file (is it a vault?)");
	if (r < 0)
		return cli_error(cmd, NULL, "%s", err[0] ? err : strerror(-r));
	return 0;
}

static int parse_id(const char *s, unsigned long *ret)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*ret = strtoul(s, &end, 10);
	return errno || *end || *ret > 0xfffffffeUL ? -1 : 0;
}

/* A soft-deleted name keeps its path: .deleted/P is decided as P, and .deleted itself as
 * the root, which is what the mount asks policy about them. */
static const char *live_path(const char *path)
{
	if (strcmp(path, ".deleted") == 0 || strcmp(path, ".deleted/") == 0)
		return "";
	if (strncmp(path, ".deleted/", 9) == 0)
		return path + 9;
	return path;
}

static int explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "uid", required_argument, NULL, 'u' },    { "gid", required_argument, NULL, 'g' },
		{ "cgroup", required_argument, NULL, 'c' }, { "exe", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },	    { 0 },
	};
	const char *cgroup = NULL, *exe = NULL;
	unsigned long uid = 0, gid = 0;
	int have_uid = 0, have_gid = 0, c, op, r;
	struct policy_decision d;
	struct policy *p = NULL;
	struct caller who;
	struct passwd *pw;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (parse_id(optarg, &uid) < 0)
				return cli_usage("policy explain", "bad --uid \"%s\"", optarg);
			have_uid = 1;
			break;
		case 'g':
			if (parse_id(optarg, &gid) < 0)
				return cli_usage("policy explain", "bad --gid \"%s\"", optarg);
			have_gid = 1;
			break;
		case 'c':
			cgroup = optarg;
			break;
		case 'e':
			exe = optarg;
			break;
		case 'h':
			fputs(policy_help, stdout);
			return 0;
		default:
			return cli_usage("policy explain", "unknown option");
		}
	}
	if (!have_uid || argc - optind != 3)
		return cli_usage("policy explain", "expects DIR --uid N OP PATH");
	op = policy_op_parse(argv[optind + 1]);
	if (op < 0)
		return cli_usage("policy explain", "unknown operation \"%s\"", argv[optind + 1]);
	r = load("policy explain", argv[optind], &p);
	if (r)
		return r;
	pw = getpwuid((uid_t)uid);
	caller_init(&who, (uid_t)uid, have_gid ? (gid_t)gid : pw ? pw->pw_gid : (gid_t)uid, 1);
	/* Everything about this caller is given here: nothing is read from /proc. */
	who.tried = who.have = CALLER_HAVE_GROUPS | CALLER_HAVE_CGROUP | CALLER_HAVE_EXE;
	if (pw) {
		int n = CALLER_GROUPS_MAX;

		if (getgrouplist(pw->pw_name, who.gid, who.groups, &n) < 0)
			n = 0;
		who.ngroups = (size_t)n;
	}
	snprintf(who.cgroup, sizeof(who.cgroup), "%s", cgroup ? cgroup : "");
	snprintf(who.exe, sizeof(who.exe), "%s", exe ? exe : "");
	if (!cgroup)
		who.have &= ~CALLER_HAVE_CGROUP;
	if (!exe)
		who.have &= ~CALLER_HAVE_EXE;
	policy_decide(p, &who, (enum policy_op)op, live_path(argv[optind + 2]), &d);
	printf("%s %s\n", d.allow ? "allow" : "deny", d.rule);
	policy_free(p);
	return d.allow ? 0 : 3;
}

int cli_policy(int argc, char **argv)
{
	struct policy *p = NULL;
	int r;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(policy_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "explain") == 0)
		return explain(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") != 0)
		return cli_usage("policy", "unknown subcommand \"%s\"", argv[1]);
	if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		fputs(policy_help, stdout);
		return 0;
	}
	if (argc != 3)
		return cli_usage("policy check", "expects DIR");
	r = load("policy check", argv[2], &p);
	if (r)
		return r;
	printf("%s: %zu rule%s, no errors\n", VAULT_POLICY, policy_rule_count(p),
	       policy_rule_count(p) == 1 ? "" : "s");
	policy_free(p);
	return 0;
}

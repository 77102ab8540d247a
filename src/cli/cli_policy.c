/*
 * cli_policy: `vaultfs policy check DIR|FILE` and `vaultfs policy explain DIR|FILE ...` —
 * the same parser and evaluator the mount uses, on the vault's policy file or on a
 * candidate not yet installed, so that what they say is what the mount will do.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caller.h"
#include "cli.h"
#include "policy.h"
#include "vault.h"

static const char policy_help[] =
	"Usage: vaultfs policy check DIR|FILE\n"
	"       vaultfs policy explain DIR|FILE --uid N [--gid N] [--cgroup PATH] [--exe PATH] "
	"OP PATH\n"
	"\n"
	"check     validates DIR/policy, or FILE, a policy not yet installed: prints the\n"
	"          number of rules, or every error as policy:LINE: message (FILE:LINE for a\n"
	"          FILE) and exits 1. Warnings do not fail it: a user= or group= that is not an\n"
	"          account yet (the rule holds for nobody until it is), and exe= rules when\n"
	"          this command lacks CAP_SYS_PTRACE, which the mount daemon needs to check\n"
	"          them for callers of other users\n"
	"explain   prints the decision for a caller and the rule behind it: \"allow policy:LINE\"\n"
	"          (exit 0) or \"deny policy:LINE\" / \"deny default-deny\" (exit 3). OP is one "
	"of\n"
	"          list read write delete recover purge sign encrypt decrypt wrap unwrap\n"
	"          export; PATH is relative to the mount, such as secrets/db-conn, \"\" for its\n"
	"          root; a path under .deleted/ is decided as the same path without it, as\n"
	"          the mount does (list .deleted/secrets is list secrets). --gid defaults to the\n"
	"          user's primary group; supplementary groups are the user's, from NSS. A\n"
	"          caller without --cgroup or --exe matches no cgroup= or exe= condition.\n";

/* Each error and warning of `policy check`, as it is found: one line on stderr. */
static void say(void *userdata, int is_error, const char *msg)
{
	size_t *warnings = userdata;

	if (!is_error)
		(*warnings)++;
	fprintf(stderr, "vaultfs: %s: %s\n", "policy check", msg);
}

/*
 * Loads the policy @arg names — a vault directory's policy, named "policy" in rules and
 * messages as the mount names it, or any other file, a candidate not yet installed, named
 * as given — with the mount's own parser. With @report (check), every error and warning
 * goes to it; else (explain) the first error and then each warning is printed. Returns 0,
 * or the command's exit status; the name used into *@ret_name.
 */
static int load(const char *cmd, const char *arg, policy_report_fn *report, void *userdata,
		struct policy **ret, const char **ret_name)
{
	char path[PATH_MAX], absdir[PATH_MAX], err[PATH_MAX + 512] = "";
	const char *name = VAULT_POLICY;
	struct stat st;
	int r;

	if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
		/* the file is read where it is: a candidate may be a link to one */
		if (!realpath(arg, path))
			return cli_error(cmd, arg, "%s", strerror(errno));
		name = arg;
	} else {
		r = cli_vault_dir(arg, err, sizeof(err));
		if (r == 0)
			r = vault_resolve_safe(arg, absdir, err, sizeof(err));
		if (r < 0)
			return cli_error(cmd, NULL, "%s", err);
		if (snprintf(path, sizeof(path), "%s/%s", absdir, VAULT_POLICY) >=
		    (int)sizeof(path))
			return cli_error(cmd, arg, "path too long");
	}
	r = policy_load_report(path, name, report, userdata, ret, err, sizeof(err));
	if (r == -ENOENT && name == arg)
		return cli_error(cmd, arg, "%s", strerror(ENOENT));
	if (r == -ENOENT)
		return cli_error(cmd, arg, "no policy file");
	if (r == -EINVAL && report)
		return 1; /* every error is said */
	if (r < 0)
		return cli_error(cmd, NULL, "%s", err[0] ? err : strerror(-r));
	for (size_t i = 0; !report && i < policy_warning_count(*ret); i++)
		fprintf(stderr, "vaultfs: %s: %s\n", cmd, policy_warning(*ret, i));
	*ret_name = name;
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
	const char *cgroup = NULL, *exe = NULL, *name;
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
	r = load("policy explain", argv[optind], NULL, NULL, &p, &name);
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

/* `policy check DIR|FILE`: every error and warning on stderr, the count of rules on
 * stdout; exit 0 when the file would load, warnings or not. */
static int check(const char *arg)
{
	char msg[1024];
	const char *name, *first = NULL;
	struct policy *p = NULL;
	size_t warnings = 0;
	int r;

	r = load("policy check", arg, say, &warnings, &p, &name);
	if (r)
		return r;
	/* what the daemon needs, told by what this command has */
	if (cli_exe_warning(p, "a daemon started with this command's capabilities", msg,
			    sizeof(msg))) {
		say(&warnings, 0, msg);
	}
	printf("%s: %zu rule%s, no errors", name, policy_rule_count(p),
	       policy_rule_count(p) == 1 ? "" : "s");
	if (warnings)
		printf(", %zu warning%s", warnings, warnings == 1 ? "" : "s");
	putchar('\n');
	if (policy_exe_rules(p, &first) && caller_exe_readable() > 0)
		printf("%s: note: exe= is checked only by a daemon that holds CAP_SYS_PTRACE, as "
		       "this command does\n",
		       first);
	policy_free(p);
	return 0;
}

int cli_policy(int argc, char **argv)
{
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
		return cli_usage("policy check", "expects DIR or FILE");
	return check(argv[2]);
}

/*
 * mount_args: what `vaultfs mount` is told — its options and -o list (mount_args.h).
 */
#include "mount_args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vfs.h"

static const char mount_help[] =
	"Usage: vaultfs mount DIR MOUNTPOINT [-f] [-o OPTION,...]\n"
	"\n"
	"Mounts the vault in DIR on MOUNTPOINT. Without -f, returns once the mount serves\n"
	"requests and goes on in the background, logging to DIR/vaultfs.log and syslog.\n"
	"Run as root, the mount\n"
	"is reachable by other users (allow_other); policy decides what each may do.\n"
	"SIGTERM, or fusermount3 -u MOUNTPOINT, unmounts it. SIGHUP reopens DIR/vaultfs.log\n"
	"and DIR/audit.log after logrotate moved them, and reads DIR/policy again.\n"
	"Under systemd (Type=notify) it sends READY=1 once the mount answers.\n"
	"\n"
	"  -f, --foreground   stay in the foreground, logging to stderr\n"
	"  -o OPTION,...      threads=N (worker threads, default twice the cores), debug (log "
	"every\n"
	"                     request), or FUSE mount options passed on\n";

static int add_opt(struct mount_opts *o, const char *opt)
{
	size_t len = strlen(o->fuse_opts);

	if (snprintf(o->fuse_opts + len, sizeof(o->fuse_opts) - len, "%s%s", len ? "," : "", opt) >=
	    (int)(sizeof(o->fuse_opts) - len))
		return -E2BIG;
	return 0;
}

/* What parse_o's callback makes of an option: vaultfs's own, refused, or the kernel's. */
enum { KEY_THREADS, KEY_DEBUG, KEY_REFUSED };

struct parse_state {
	struct mount_opts *o;
	int error; /* -EPERM: an option vaultfs refuses; -E2BIG: too many for the kernel */
};

static int parse_one(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct parse_state *ps = data;

	(void)outargs;
	switch (key) {
	case KEY_THREADS: {
		char *end;
		unsigned long n = strtoul(arg + strlen("threads="), &end, 10);

		if (*end || !arg[strlen("threads=")] || n < 1 || n > 256) {
			ps->error = -EINVAL;
			return -1;
		}
		ps->o->threads = (unsigned)n;
		return 0;
	}
	case KEY_DEBUG:
		ps->o->debug = 1;
		return 0;
	case KEY_REFUSED:
		/* these would let the kernel decide for policy, or cache secrets */
		ps->error = -EPERM;
		return -1;
	case FUSE_OPT_KEY_OPT:
		if (add_opt(ps->o, arg) < 0) {
			ps->error = -E2BIG;
			return -1;
		}
		return 0; /* kept for the kernel in o->fuse_opts, not in outargs */
	default:
		return 1;
	}
}

/*
 * One -o list, through libfuse's own option parser (fuse_opt): threads=N (1 to 256) and
 * debug are vaultfs's; default_permissions, kernel_cache and auto_cache are refused
 * (-EPERM); anything else goes to the kernel's mount options. Returns 0, -EPERM or -EINVAL.
 */
static int parse_o(struct mount_opts *o, const char *list)
{
	static const struct fuse_opt table[] = {
		FUSE_OPT_KEY("threads=", KEY_THREADS),
		FUSE_OPT_KEY("debug", KEY_DEBUG),
		FUSE_OPT_KEY("default_permissions", KEY_REFUSED),
		FUSE_OPT_KEY("kernel_cache", KEY_REFUSED),
		FUSE_OPT_KEY("auto_cache", KEY_REFUSED),
		FUSE_OPT_END,
	};
	char *argv[] = { (char *)"vaultfs", (char *)"-o", (char *)list, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct parse_state ps = { .o = o };
	int r;

	r = fuse_opt_parse(&args, &ps, table, parse_one);
	fuse_opt_free_args(&args);
	if (r < 0)
		return ps.error == -EPERM ? -EPERM : -EINVAL;
	return 0;
}

/*
 * Twice the cores, at least 4: each worker holds a database connection and its caches,
 * and more workers than the cores can run only trade those caches back and forth.
 */
unsigned mount_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 2)
		n = 2;
	if (n > 32)
		n = 32;
	return (unsigned)n * 2;
}

/* The options and DIR MOUNTPOINT into @o: -1 to go on, or the command's exit status (0
 * after --help, a usage error). */
int mount_parse_args(int argc, char **argv, struct mount_opts *o)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fho:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = 1;
			break;
		case 'o':
			switch (parse_o(o, optarg)) {
			case 0:
				break;
			case -EPERM:
				return cli_usage("mount", "option not allowed: vaultfs decides "
							  "access and never caches secrets");
			default:
				return cli_usage("mount", "bad -o option list \"%s\"", optarg);
			}
			break;
		case 'h':
			fputs(mount_help, stdout);
			return 0;
		default:
			return cli_usage("mount", "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage("mount", "expects DIR and MOUNTPOINT");
	return -1;
}

/*
 * vaultfs: the one program. It dispatches to subcommands and sets up what every one of
 * them shares: a private umask, no core dumps of secret memory, and one-line errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cli.h"
#include "mount.h"
#include "vault.h"

static const char main_help[] =
	"Usage: vaultfs COMMAND [ARGS...]\n"
	"\n"
	"A secrets vault that programs reach as a filesystem.\n"
	"\n"
	"Commands:\n"
	"  init DIR [--hsm-module PATH --token LABEL --pin-file FILE]\n"
	"                     create a vault in DIR (made if missing); without --hsm-module,\n"
	"                     on an embedded SoftHSM2 token made inside DIR\n"
	"  mount DIR MOUNTPOINT [-f] [-o OPTION,...]\n"
	"                     serve the vault as a filesystem\n"
	"  secret set|get|list|versions|delete|recover|purge|attr DIR NAME ...\n"
	"                     work on the vault's secrets directly\n"
	"  policy check DIR|FILE\n"
	"                     validate the vault's policy, or a policy file not yet installed\n"
	"  policy explain DIR|FILE --uid N [--gid N] [--cgroup PATH] [--exe PATH] OP PATH\n"
	"                     the decision for a caller, and the rule behind it\n"
	"  key create|import|rotate|policy|list|delete|recover|purge DIR ...\n"
	"                     keys held in the vault's token, their lifetimes\n"
	"  cert create|import|merge|renew|list|get|delete|recover|purge DIR ...\n"
	"                     certificates whose keys the vault's token holds\n"
	"  audit verify DIR   check the audit trail's chain with the token\n"
	"  audit tail DIR [-n N] [-f] [--json]\n"
	"                     print audit records\n"
	"  backup DIR DEST    copy a vault, in use or not, into a new directory\n"
	"  restore BACKUP DIR put a backup into a new directory and check it\n"
	"  status DIR [--metrics]\n"
	"                     whether the vault is mounted, by which daemon, and its counts\n"
	"\n"
	"Run 'vaultfs COMMAND --help' for a command's options.\n"
	"  -h, --help         show this help\n"
	"  -V, --version      show the version\n";

static const char init_help[] =
	"Usage: vaultfs init DIR [--hsm-module PATH --token LABEL --pin-file FILE]\n"
	"\n"
	"Creates a vault in DIR: vault.db, vaultfs.conf (every setting written out), a policy\n"
	"that denies everything, and an empty audit.log. DIR is made if missing; a DIR that\n"
	"already holds a vault is refused and left as it was.\n"
	"\n"
	"Without options, a SoftHSM2 token is made inside DIR (softhsm2.conf, tokens/) with a\n"
	"random user PIN in DIR/pin (mode 0400). With all three options, the vault's key-\n"
	"encryption key is made in that existing PKCS#11 token instead:\n"
	"  --hsm-module PATH  the token's PKCS#11 module\n"
	"  --token LABEL      the token's label\n"
	"  --pin-file FILE    a file holding the user PIN, readable by its owner only\n";

int cli_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hsm-module", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct vault_init_options o = { 0 };
	char err[512] = "";
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.hsm_module = optarg;
			break;
		case 't':
			o.token_label = optarg;
			break;
		case 'p':
			o.pin_file = optarg;
			break;
		case 'h':
			fputs(init_help, stdout);
			return 0;
		default:
			return cli_usage("init", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("init", "expects one DIR");
	r = vault_init(argv[optind], &o, err, sizeof(err));
	if (r < 0)
		return cli_error("init", NULL, "%s", err[0] ? err : strerror(-r));
	printf("Created vault in %s\n", argv[optind]);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	umask(077);
	/* Nothing of this process's memory may reach a core file or a ptrace of another uid. */
	prctl(PR_SET_DUMPABLE, 0);
	setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });

	cli_args(argc, argv);
	if (argc < 2) {
		fputs(main_help, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		fputs(main_help, stdout);
		return 0;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		printf("vaultfs %s\n", VAULTFS_VERSION);
		return 0;
	}
	if (strcmp(cmd, "init") == 0)
		return cli_init(argc - 1, argv + 1);
	if (strcmp(cmd, "mount") == 0)
		return mount_main(argc - 1, argv + 1);
	if (strcmp(cmd, "secret") == 0)
		return cli_secret(argc - 1, argv + 1);
	if (strcmp(cmd, "policy") == 0)
		return cli_policy(argc - 1, argv + 1);
	if (strcmp(cmd, "audit") == 0)
		return cli_audit(argc - 1, argv + 1);
	if (strcmp(cmd, "key") == 0)
		return cli_key(argc - 1, argv + 1);
	if (strcmp(cmd, "cert") == 0 && argc > 2 && strcmp(argv[2], "import") == 0)
		return cli_cert_import(argc - 1, argv + 1);
	if (strcmp(cmd, "cert") == 0)
		return cli_cert(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cli_status(argc - 1, argv + 1);
	if (strcmp(cmd, "backup") == 0 || strcmp(cmd, "restore") == 0)
		return cli_backup(argc - 1, argv + 1);
	fprintf(stderr, "vaultfs: unknown command \"%s\" (see 'vaultfs --help')\n", cmd);
	return EXIT_USAGE;
}

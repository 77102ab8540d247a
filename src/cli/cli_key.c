/*
 * cli_key: `vaultfs key create|import|rotate|list|delete DIR ...` — keys made in or brought
 * into the vault's token, each change recorded in the audit trail with the key's name and
 * version. A private key being imported passes through this process once, in secbufs.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "keys.h"
#include "log.h"
#include "timeutil.h"
#include "vault.h"
#include "vault_ops.h"

static const char key_help[] =
	"Usage: vaultfs key create DIR NAME --type TYPE [--alg ps256] [--ops OPS]\n"
	"       vaultfs key import DIR NAME FILE.pem [--alg ps256] [--ops OPS]\n"
	"                                            [--passphrase-file F]\n"
	"       vaultfs key rotate DIR NAME\n"
	"       vaultfs key list DIR\n"
	"       vaultfs key delete DIR NAME\n"
	"\n"
	"Keys live in the vault's token: sensitive, never extractable. TYPE is ec-p256,\n"
	"ec-p384, rsa-2048, rsa-3072, rsa-4096 or aes-256. RSA keys sign with PKCS#1 v1.5, or\n"
	"PSS with --alg ps256. OPS limits what the key may do (comma-separated from sign\n"
	"encrypt decrypt wrap unwrap; default all its type can): the mount shows only those\n"
	"files under keys/NAME/. import takes a PEM private key (PKCS#8 or traditional); an\n"
	"encrypted one needs --passphrase-file. rotate makes a new version; older ones stay\n"
	"under keys/NAME@N/ for decrypt and unwrap. list prints name, type, algorithm,\n"
	"current version and operations. delete destroys every version in the token.\n";

struct key_args {
	const char *sub, *dir, *name, *file, *type, *alg, *ops, *pass_file;
};

static void ops_string(unsigned ops, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < KEY_OP_COUNT; i++)
		if (ops & KEY_BIT(i))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
						keys_op_name(i));
}

static int list_one(const char *name, int is_folder, void *userdata)
{
	struct vault *v = userdata;
	struct store_key k;
	char ops[64];

	(void)is_folder;
	if (store_key_get(v->store, name, &k) < 0)
		return 0;
	ops_string(k.ops, ops, sizeof(ops));
	printf("%s\t%s\t%s\t%" PRIu64 "\t%s\n", name, k.type, k.alg, k.current, ops);
	return 0;
}

static const char *reason(int r)
{
	switch (r) {
	case -EEXIST:
		return "a key of that name exists";
	case -ENOENT:
		return "no such key";
	case -EPERM: /* vault_key_rotate, vault_key_delete */
		return "the key is a certificate's: cert renew and cert delete change it";
	case -EINVAL:
		return "invalid name, type, algorithm or operations (names: 1-127 of A-Z a-z "
		       "0-9 . _ -, not starting with '.')";
	case -EIO:
		return "the token or the vault failed (see the log)";
	default:
		return strerror(-r);
	}
}

static int run(struct vault *v, const struct key_args *a, struct audit_event *ev)
{
	char cmd[32], err[512] = "";
	struct keys_options o = { .type = a->type };
	struct secbuf *pass = NULL;
	struct vault_act act;
	uint64_t version = 0;
	int r;

	snprintf(cmd, sizeof(cmd), "key %s", a->sub);
	if (strcmp(a->sub, "list") == 0) {
		r = cli_inspection(cmd, v, ev);
		if (r < 0)
			return cli_error(cmd, NULL, "cannot write the audit trail: nothing done");
		r = store_key_list(v->store, list_one, v);
		if (r < 0)
			return cli_error(cmd, NULL, "%s", reason(r));
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (a->alg && strcmp(a->alg, "ps256") != 0)
		return cli_usage(cmd, "--alg takes ps256");
	o.pss = a->alg != NULL;
	if (a->ops && keys_ops_parse(a->ops, &o.ops) < 0)
		return cli_usage(cmd, "--ops takes a comma-separated list of sign encrypt decrypt "
				      "wrap unwrap");
	if (a->pass_file) {
		char perr[256] = "";

		r = vault_read_pin(a->pass_file, &pass, perr, sizeof(perr));
		if (r < 0)
			return cli_error(cmd, a->pass_file, "%s", perr[0] ? perr : strerror(-r));
	}
	vault_act_init(&act, ev);
	if (strcmp(a->sub, "create") == 0)
		r = vault_key_create(v, &act, a->name, &o);
	else if (strcmp(a->sub, "import") == 0)
		r = vault_key_import(v, &act, a->name, a->file, pass, &o, err, sizeof(err));
	else if (strcmp(a->sub, "rotate") == 0)
		r = vault_key_rotate(v, &act, a->name, &version);
	else
		r = vault_key_delete(v, &act, a->name);
	secbuf_free(pass);
	if (act.unrecorded)
		return cli_error(cmd, a->name, "cannot write the audit trail: nothing done");
	if (r < 0)
		return cli_error(cmd, a->name, "%s", err[0] ? err : reason(r));
	if (r > 0 && strcmp(a->sub, "delete") == 0) /* forgotten; the token kept some objects */
		log_warn("Key \"%s\": the token objects of %d version(s) could not be destroyed",
			 a->name, r);
	if (version)
		printf("%" PRIu64 "\n", version);
	return 0;
}

int cli_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "alg", required_argument, NULL, 'a' },
		{ "ops", required_argument, NULL, 'o' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct {
		const char *name;
		int pos;
	} subs[] = {
		{ "create", 2 }, { "import", 3 }, { "rotate", 2 }, { "list", 1 }, { "delete", 2 },
	};
	char err[512] = "", exe[PATH_MAX], cgroup[PATH_MAX], op[32], path[300];
	struct key_args a = { 0 };
	struct audit_event ev;
	struct vault *v = NULL;
	size_t i;
	int c, r;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(key_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	a.sub = argv[1];
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(subs[i].name, a.sub) == 0)
			break;
	if (i == sizeof(subs) / sizeof(subs[0]))
		return cli_usage("key", "unknown subcommand \"%s\"", a.sub);
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			a.type = optarg;
			break;
		case 'a':
			a.alg = optarg;
			break;
		case 'o':
			a.ops = optarg;
			break;
		case 'p':
			a.pass_file = optarg;
			break;
		case 'h':
			fputs(key_help, stdout);
			return 0;
		default:
			return cli_usage("key", "unknown option");
		}
	}
	if (argc - optind != subs[i].pos)
		return cli_usage("key", "wrong number of arguments for \"%s\"", a.sub);
	a.dir = argv[optind];
	a.name = subs[i].pos > 1 ? argv[optind + 1] : NULL;
	a.file = subs[i].pos > 2 ? argv[optind + 2] : NULL;
	if (strcmp(a.sub, "create") == 0 && !a.type)
		return cli_usage("key create", "--type is required");
	if ((a.type || a.alg || a.ops) && strcmp(a.sub, "create") != 0 &&
	    strcmp(a.sub, "import") != 0)
		return cli_usage("key", "--type, --alg and --ops go with create and import");
	if (a.pass_file && strcmp(a.sub, "import") != 0)
		return cli_usage("key", "--passphrase-file goes with import");
	if (a.type && !keys_type_find(a.type))
		return cli_usage("key create", "unknown --type \"%s\"", a.type);
	r = cli_vault_open(a.dir, &v, err, sizeof(err));
	if (r < 0)
		return cli_error("key", NULL, "%s", err[0] ? err : strerror(-r));
	snprintf(op, sizeof(op), "key-%s", a.sub);
	vault_admin_event(&ev, op, exe, sizeof(exe), cgroup, sizeof(cgroup));
	snprintf(path, sizeof(path), "keys%s%s", a.name ? "/" : "", a.name ? a.name : "");
	ev.path = path;
	ev.detail = a.type;
	r = run(v, &a, &ev);
	vault_free(v);
	return r;
}

/*
 * cli_key: `vaultfs key create|import|rotate|policy|list|delete|recover|purge DIR ...` —
 * keys made in or brought into the vault's token, their lifetimes, soft delete and purge,
 * each change recorded in the audit trail with the key's name and version. A private key
 * being imported passes through this process once, in secbufs.
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
#include "vault_lifetime.h"
#include "vault_ops.h"

static const char key_help[] =
	"Usage: vaultfs key create DIR NAME --type TYPE [--alg ps256] [--ops OPS] [LIFETIME]\n"
	"       vaultfs key import DIR NAME FILE.pem [--alg ps256] [--ops OPS]\n"
	"                                            [--passphrase-file F] [LIFETIME]\n"
	"       vaultfs key rotate DIR NAME\n"
	"       vaultfs key policy DIR NAME [--rotate-every DAYS|none] [--expires DAYS|none]\n"
	"       vaultfs key list DIR\n"
	"       vaultfs key delete|recover|purge DIR NAME\n"
	"\n"
	"Keys live in the vault's token: sensitive, never extractable. TYPE is ec-p256,\n"
	"ec-p384, rsa-2048, rsa-3072, rsa-4096 or aes-256. RSA keys sign with PKCS#1 v1.5, or\n"
	"PSS with --alg ps256. OPS limits what the key may do (comma-separated from sign\n"
	"encrypt decrypt wrap unwrap; default all its type can): the mount shows only those\n"
	"files under keys/NAME/. import takes a PEM private key (PKCS#8 or traditional); an\n"
	"encrypted one needs --passphrase-file. rotate makes a new version; older ones stay\n"
	"under keys/NAME@N/ for decrypt and unwrap.\n"
	"\n"
	"LIFETIME, at create or import or later with policy: --rotate-every DAYS (a mounted\n"
	"vault rotates the key when its current version is that old, and records it), and\n"
	"--expires DAYS from now (then sign, encrypt and wrap fail with EKEYEXPIRED; decrypt\n"
	"and unwrap go on). DAYS is a whole number of days, or a number with a unit: 90d,\n"
	"12h, 30m, 45s. policy with none clears a setting; a setting not given is kept.\n"
	"\n"
	"list prints, tab-separated: name, type, algorithm, current version, operations,\n"
	"state (valid, expiring within [lifetime] warn_days, expired, or deleted), expiry and\n"
	"next rotation (RFC 3339 UTC, or -); deleted keys are listed too. delete soft-deletes:\n"
	"the key leaves keys/, its token objects stay; recover brings it back; purge destroys\n"
	"every version of a deleted key in the token.\n";

struct key_args {
	const char *sub, *dir, *name, *file, *type, *alg, *ops, *pass_file;
	const char *rotate_every, *expires;
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

static void time_or_dash(int64_t us, char buf[TIME_RFC3339_MAX])
{
	if (us > 0)
		time_format(us, 0, buf);
	else
		snprintf(buf, TIME_RFC3339_MAX, "-");
}

static int list_one(const char *name, int is_folder, void *userdata)
{
	struct vault *v = userdata;
	struct store_key_version cur;
	struct store_key k;
	char ops[64], expires[TIME_RFC3339_MAX], next[TIME_RFC3339_MAX];
	const char *state;
	int64_t rotate_at = 0;

	(void)is_folder;
	if (store_key_get_any(v->store, name, &k) < 0)
		return 0;
	ops_string(k.ops, ops, sizeof(ops));
	state = k.deleted ? "deleted"
			  : vault_expiry_name(vault_expiry_state(k.expires, time_now_us(),
								 v->cfg->warn_days));
	if (k.rotate_every && !k.deleted && store_key_version_get(v->store, name, 0, &cur) == 0) {
		rotate_at = cur.created + k.rotate_every * 1000000LL;
		store_key_version_clear(&cur);
	}
	time_or_dash(k.expires, expires);
	time_or_dash(rotate_at, next);
	printf("%s\t%s\t%s\t%" PRIu64 "\t%s\t%s\t%s\t%s\n", name, k.type, k.alg, k.current, ops,
	       state, expires, next);
	return 0;
}

/* Every key, live then deleted, in name order within each. */
static int list_keys(struct vault *v)
{
	int r = store_key_list(v->store, 0, list_one, v);

	if (r >= 0)
		r = store_key_list(v->store, STORE_LIST_DELETED, list_one, v);
	return r;
}

/* --rotate-every or --expires: DAYS, or "none" (@none_ok) for 0. -EINVAL otherwise. */
static int lifetime_arg(const char *s, int none_ok, int64_t *ret_s)
{
	if (none_ok && strcmp(s, "none") == 0) {
		*ret_s = 0;
		return 0;
	}
	return time_parse_days(s, ret_s);
}

static const char *reason(int r)
{
	switch (r) {
	case -EEXIST:
		return "a key of that name exists (live, or deleted until purged)";
	case -ENOENT:
		return "no such key";
	case -EPERM: /* vault_key_rotate, vault_key_delete */
		return "the key is a certificate's: cert renew and cert delete change it";
	case -EBUSY:
		return "the key is not deleted: key delete it first";
	case -EINVAL:
		return "invalid name, type, algorithm or operations (names: 1-127 of A-Z a-z "
		       "0-9 . _ -, not starting with '.')";
	case -EIO:
		return "the token or the vault failed (see the log)";
	default:
		return strerror(-r);
	}
}

/* The lifetime options into @o (expiry counted from now): 0, or 1 after the error line. */
static int lifetime_options(const char *cmd, const struct key_args *a, int none_ok,
			    int64_t *ret_rotate, int64_t *ret_expires)
{
	int64_t s;

	if (a->rotate_every) {
		if (lifetime_arg(a->rotate_every, none_ok, &s) < 0)
			return cli_error(cmd, a->name,
					 "--rotate-every takes DAYS (90, or 90d, 12h, 30m, 45s, at "
					 "most %d days)%s, not \"%s\"",
					 TIME_DAYS_MAX, none_ok ? " or none" : "", a->rotate_every);
		*ret_rotate = s;
	}
	if (a->expires) {
		if (lifetime_arg(a->expires, none_ok, &s) < 0)
			return cli_error(cmd, a->name,
					 "--expires takes DAYS (90, or 90d, 12h, 30m, 45s, at most "
					 "%d days)%s, not \"%s\"",
					 TIME_DAYS_MAX, none_ok ? " or none" : "", a->expires);
		*ret_expires = s ? time_now_us() + s * 1000000LL : 0;
	}
	return 0;
}

static int run(struct vault *v, const struct key_args *a, struct audit_event *ev)
{
	char cmd[32], err[512] = "";
	struct keys_options o = { .type = a->type };
	int64_t rotate = KEYS_LIFETIME_KEEP, expires = KEYS_LIFETIME_KEEP;
	struct secbuf *pass = NULL;
	struct vault_act act;
	uint64_t version = 0;
	int r;

	snprintf(cmd, sizeof(cmd), "key %s", a->sub);
	if (strcmp(a->sub, "list") == 0) {
		r = cli_inspection(cmd, v, ev);
		if (r < 0)
			return cli_error(cmd, NULL, "cannot write the audit trail: nothing done");
		r = list_keys(v);
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
	if (lifetime_options(cmd, a, strcmp(a->sub, "policy") == 0, &rotate, &expires))
		return 1;
	o.rotate_every = rotate == KEYS_LIFETIME_KEEP ? 0 : rotate;
	o.expires = expires == KEYS_LIFETIME_KEEP ? 0 : expires;
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
	else if (strcmp(a->sub, "policy") == 0)
		r = vault_key_lifetime(v, &act, a->name, rotate, expires);
	else if (strcmp(a->sub, "recover") == 0)
		r = vault_key_recover(v, &act, a->name);
	else if (strcmp(a->sub, "purge") == 0)
		r = vault_key_purge(v, &act, a->name);
	else
		r = vault_key_delete(v, &act, a->name);
	secbuf_free(pass);
	if (act.unrecorded)
		return cli_error(cmd, a->name, "cannot write the audit trail: nothing done");
	if (r == -EEXIST && strcmp(a->sub, "recover") == 0)
		return cli_error(cmd, a->name, "the key is live: nothing to recover");
	if (r == -ENOENT && strcmp(a->sub, "recover") == 0)
		return cli_error(cmd, a->name, "no deleted key of that name");
	if (r < 0)
		return cli_error(cmd, a->name, "%s", err[0] ? err : reason(r));
	if (r > 0 && strcmp(a->sub, "purge") == 0) /* forgotten; the token kept some objects */
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
		{ "rotate-every", required_argument, NULL, 'r' },
		{ "expires", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct {
		const char *name;
		int pos;
	} subs[] = {
		{ "create", 2 }, { "import", 3 }, { "rotate", 2 },  { "policy", 2 },
		{ "list", 1 },	 { "delete", 2 }, { "recover", 2 }, { "purge", 2 },
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
		case 'r':
			a.rotate_every = optarg;
			break;
		case 'e':
			a.expires = optarg;
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
	if ((a.rotate_every || a.expires) && strcmp(a.sub, "create") != 0 &&
	    strcmp(a.sub, "import") != 0 && strcmp(a.sub, "policy") != 0)
		return cli_usage("key", "--rotate-every and --expires go with create, import and "
					"policy");
	if (strcmp(a.sub, "policy") == 0 && !a.rotate_every && !a.expires)
		return cli_usage("key policy", "give --rotate-every, --expires or both");
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

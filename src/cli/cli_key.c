/*
 * cli_key: `vaultfs key create|import|rotate|policy|list|delete|recover|purge DIR ...` —
 * keys made in or brought into the vault's token, their lifetimes, soft delete and purge,
 * each change recorded in the audit trail with the key's name and version. A private key
 * being imported passes through this process once, in secbufs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_admin.h"
#include "cli_parse.h"
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
static int list_keys(struct vault *v, void *userdata)
{
	int r = store_key_list(v->store, 0, list_one, v);

	(void)userdata;
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

static const struct cli_lifecycle key_lifecycle = {
	vault_key_delete,
	vault_key_recover,
	vault_key_purge,
};

/* delete, recover and purge */
static int run_lifecycle(struct vault *v, const struct key_args *a, const struct audit_event *ev,
			 const char *cmd)
{
	int r, recover = strcmp(a->sub, "recover") == 0;
	int status = cli_lifecycle(v, &key_lifecycle, cmd, a->sub, a->name, ev, &r);

	if (status >= 0)
		return status;
	if (r == -EEXIST && recover)
		return cli_error(cmd, a->name, "the key is live: nothing to recover");
	if (r == -ENOENT && recover)
		return cli_error(cmd, a->name, "no deleted key of that name");
	if (r < 0)
		return cli_error(cmd, a->name, "%s", reason(r));
	if (r > 0 && strcmp(a->sub, "purge") == 0) /* forgotten; the token kept some objects */
		log_warn("Key \"%s\": the token objects of %d version(s) could not be destroyed",
			 a->name, r);
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
	if (strcmp(a->sub, "list") == 0)
		return cli_list(cmd, v, ev, list_keys, NULL, reason);
	if (cli_is_lifecycle(a->sub))
		return run_lifecycle(v, a, ev, cmd);
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
	else
		r = vault_key_lifetime(v, &act, a->name, rotate, expires);
	secbuf_free(pass);
	if (act.unrecorded)
		return cli_error(cmd, a->name, CLI_AUDIT_FAILED);
	if (r < 0)
		return cli_error(cmd, a->name, "%s", err[0] ? err : reason(r));
	if (version)
		printf("%" PRIu64 "\n", version);
	return 0;
}

static const struct cli_option key_options[] = {
	CLI_OPT_STRING("type", struct key_args, type),
	CLI_OPT_STRING("alg", struct key_args, alg),
	CLI_OPT_STRING("ops", struct key_args, ops),
	CLI_OPT_STRING("passphrase-file", struct key_args, pass_file),
	CLI_OPT_STRING("rotate-every", struct key_args, rotate_every),
	CLI_OPT_STRING("expires", struct key_args, expires),
	{ NULL, 0, 0, NULL },
};

static const struct cli_subcommand key_subs[] = {
	{ "create", 2, 2 }, { "import", 3, 3 }, { "rotate", 2, 2 },  { "policy", 2, 2 },
	{ "list", 1, 1 },   { "delete", 2, 2 }, { "recover", 2, 2 }, { "purge", 2, 2 },
};

static const struct cli_command key_command = {
	.name = "key",
	.help = key_help,
	.subs = key_subs,
	.n_subs = sizeof(key_subs) / sizeof(key_subs[0]),
	.options = key_options,
};

int cli_key(int argc, char **argv)
{
	struct key_args a = { 0 };
	struct cli_admin adm;
	struct cli_parsed p;
	int r;

	r = cli_parse(&key_command, argc, argv, &a, &p);
	if (r >= 0)
		return r;
	a.sub = key_subs[p.sub].name;
	a.dir = p.pos[0];
	a.name = p.pos[1];
	a.file = p.pos[2];
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
	if (cli_admin_open(&adm, "key", a.dir, "key", a.sub, "keys", a.name))
		return 1;
	adm.ev.detail = a.type;
	r = run(adm.v, &a, &adm.ev);
	cli_admin_close(&adm);
	return r;
}

/*
 * cli_cert: `vaultfs cert create|merge|renew|list|get|delete|recover|purge DIR ...` — the
 * vault's certificates (SPEC "Certificates"), each change recorded in the audit trail
 * with the certificate's path and version. `cert get` prints a version's public files for
 * scripts; it never prints key.pem, which only the mount serves, to callers with export.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certs.h"
#include "cli.h"
#include "cli_admin.h"
#include "cli_parse.h"
#include "fdio.h"
#include "log.h"
#include "timeutil.h"
#include "vault.h"
#include "vault_certs.h"
#include "vault_ops.h"

#define ANSWER_MAX (1024 * 1024)

static const char cert_help[] =
	"Usage: vaultfs cert create DIR NAME --subject DN [--san LIST] [--type TYPE] [--days N]\n"
	"                           [--ca] [--issuer self|unknown|CANAME] [--exportable]\n"
	"                           [--renew-at P%|Nd] [--reuse-key]\n"
	"       vaultfs cert import DIR NAME FILE [--password-file F] [--exportable]\n"
	"                           [--renew-at P%|Nd]      (see vaultfs cert import --help)\n"
	"       vaultfs cert merge DIR NAME FILE\n"
	"       vaultfs cert renew DIR NAME [--reuse-key]\n"
	"       vaultfs cert list DIR\n"
	"       vaultfs cert get DIR NAME cert.pem|chain.pem|fullchain.pem|csr.pem [--version N]\n"
	"       vaultfs cert delete|recover|purge DIR NAME\n"
	"\n"
	"A certificate's private key is the token's key NAME: every signature is made in the\n"
	"token. DN is written as for openssl req -subj (/CN=web.example/O=Example); LIST as\n"
	"DNS:a,DNS:b,IP:10.0.0.1,email:x@y (--san may be given again). TYPE is ec-p256 (the\n"
	"default), ec-p384, rsa-2048, rsa-3072 or rsa-4096; --days N defaults to 365 (also Nd,\n"
	"Nh, Nm or Ns, for short-lived certificates). --ca makes\n"
	"a CA (basicConstraints CA:TRUE, keyCertSign, cRLSign) that --issuer CANAME then uses\n"
	"to sign other certificates in the token (see vaultfs cert import --help for an\n"
	"existing PKCS#12 or PEM bundle). --issuer unknown makes a pending version\n"
	"whose csr.pem goes to an outside CA; merge takes its answer (a PEM or DER leaf, a\n"
	"PEM chain or PKCS#7). --exportable also keeps the key sealed in the vault, served as\n"
	"key.pem to callers with export. --renew-at 80% (of the validity) or 30d (before\n"
	"expiry; or Nh, Nm, Ns): a mounted vault renews it then. renew makes a new version with "
	"the same\n"
	"subject, names and validity length, and a new key unless --reuse-key (given to\n"
	"create, every renewal keeps the key). list prints name, subject, not-after, days\n"
	"left, issuer and state (pending, valid, expiring, expired). delete soft-deletes the\n"
	"certificate and its key; recover brings them back; purge destroys the key's every\n"
	"version in the token.\n";

struct cert_args {
	const char *sub, *dir, *name, *file;
	const char *subject, *type, *issuer, *renew_at, *days, *version;
	char sans[STORE_CERT_SANS_MAX];
	int ca, exportable, reuse_key, sans_too_long;
};

struct list_ctx {
	struct vault *v;
	int64_t now_s;
};

static int list_one(const char *name, int is_folder, void *userdata)
{
	struct list_ctx *l = userdata;
	char when[TIME_RFC3339_MAX] = "-", days[32] = "-";
	struct certs_info c;

	(void)is_folder;
	if (certs_get(l->v->store, name, 0, &c) < 0)
		return 0;
	if (c.current) {
		int64_t left = c.not_after - l->now_s;

		time_format(c.not_after * 1000000, 0, when);
		/* whole days, rounded down; negative once expired */
		snprintf(days, sizeof(days), "%" PRId64,
			 left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
	}
	printf("%s\t%s\t%s\t%s\t%s\t%s\n", name, c.subject[0] ? c.subject : "-", when, days,
	       c.issuer, certs_state_name(certs_state_of(&c, l->now_s)));
	return 0;
}

static const char *reason(int r)
{
	switch (r) {
	case -EEXIST:
		return "a certificate or key of that name exists";
	case -ENOENT:
		return "no such certificate";
	case -EBUSY:
		return "the certificate is live: delete it first";
	case -EINVAL:
		return "invalid name (1-127 of A-Z a-z 0-9 . _ -, not starting with '.')";
	case -EIO:
		return "the token or the vault failed (see the log)";
	default:
		return strerror(-r);
	}
}

static int read_answer(const char *path, uint8_t **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	buf = malloc(ANSWER_MAX);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf + len, ANSWER_MAX - len)) > 0) {
		len += (size_t)n;
		if (len == ANSWER_MAX)
			break;
	}
	close(fd);
	if (n < 0 || len == ANSWER_MAX) {
		free(buf);
		return n < 0 ? -errno : -EFBIG;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int get_file(struct vault *v, const struct cert_args *a, const char *cmd)
{
	uint64_t version = 0;
	struct secbuf *out = NULL;
	char *end = NULL;
	int f, r;

	f = certs_file_from_name(a->file);
	if (f == CERTS_KEY)
		return cli_error(cmd, a->name,
				 "key.pem is served only by the mount, to callers with export");
	if (f < 0)
		return cli_usage(cmd, "FILE is cert.pem, chain.pem, fullchain.pem or csr.pem");
	if (a->version) {
		errno = 0;
		version = strtoull(a->version, &end, 10);
		if (errno || !*a->version || *end || version == 0)
			return cli_usage(cmd, "--version takes a version number");
	}
	if (!version && f == CERTS_CSR) {
		struct certs_info c;

		/* the request that waits is the pending version's */
		if (certs_get(v->store, a->name, 0, &c) == 0)
			version = c.pending;
	}
	r = certs_file_read(v->store, a->name, version, (enum certs_file)f, &out);
	if (r < 0)
		return cli_error(cmd, a->name, "%s",
				 r == -ENOENT ? "no such certificate, version or file" : reason(r));
	r = fwrite(secbuf_data(out), 1, secbuf_len(out), stdout) == secbuf_len(out) ? 0 : -EIO;
	secbuf_free(out);
	if (r < 0 || fflush(stdout) != 0)
		return cli_error(cmd, NULL, "cannot write the output");
	return 0;
}

static int run_change(struct vault *v, const struct cert_args *a, struct audit_event *ev,
		      const char *cmd)
{
	struct certs_request rq = { 0 };
	struct vault_act act;
	uint8_t *answer = NULL;
	size_t answer_len = 0;
	uint64_t version = 0;
	char err[512] = "";
	int r, pending = 0;

	if (strcmp(a->sub, "create") == 0) {
		rq.subject = a->subject;
		rq.sans = a->sans[0] ? a->sans : NULL;
		rq.type = a->type;
		rq.issuer = a->issuer;
		rq.is_ca = a->ca;
		rq.exportable = a->exportable;
		rq.reuse_key = a->reuse_key;
		if (a->days && time_parse_days(a->days, &rq.validity) < 0)
			return cli_usage(cmd, "--days takes 1 to 36500 days, or Nd, Nh, Nm, Ns");
		if (a->renew_at &&
		    certs_renew_at_parse(a->renew_at, &rq.renew_kind, &rq.renew_value) < 0)
			return cli_usage(cmd, "--renew-at takes P%% (1 to 99) or a time before "
					      "not-after: Nd, Nh, Nm, Ns");
	}
	if (strcmp(a->sub, "merge") == 0) {
		r = read_answer(a->file, &answer, &answer_len);
		if (r < 0)
			return cli_error(cmd, a->file, "%s",
					 r == -EFBIG ? "too large for a certificate chain"
						     : strerror(-r));
	}
	vault_act_init(&act, ev);
	if (strcmp(a->sub, "create") == 0)
		r = vault_cert_create(v, &act, a->name, &rq, &version, err, sizeof(err));
	else if (strcmp(a->sub, "merge") == 0)
		r = vault_cert_merge(v, &act, a->name, answer, answer_len, &version, err,
				     sizeof(err));
	else
		r = vault_cert_renew(v, &act, a->name, a->reuse_key ? CERTS_REUSE_KEY : 0, &version,
				     &pending, err, sizeof(err));
	free(answer);
	if (act.unrecorded)
		return cli_error(cmd, a->name, CLI_AUDIT_FAILED);
	if (r < 0)
		return cli_error(cmd, a->name, "%s", err[0] ? err : reason(r));
	if (version)
		printf("%" PRIu64 "%s\n", version, pending ? " pending" : "");
	return fflush(stdout) == 0 ? 0 : 1;
}

static const struct cli_lifecycle cert_lifecycle = {
	vault_cert_delete,
	vault_cert_recover,
	vault_cert_purge,
};

/* delete, recover and purge */
static int run_lifecycle(struct vault *v, const struct cert_args *a, const struct audit_event *ev,
			 const char *cmd)
{
	int r, status = cli_lifecycle(v, &cert_lifecycle, cmd, a->sub, a->name, ev, &r);

	if (status >= 0)
		return status;
	if (r < 0)
		return cli_error(cmd, a->name, "%s", reason(r));
	if (r > 0 && strcmp(a->sub, "purge") == 0)
		log_warn("Certificate \"%s\": the token objects of %d key version(s) could not "
			 "be destroyed",
			 a->name, r);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int list_certs(struct vault *v, void *userdata)
{
	struct list_ctx l = { v, time_now_us() / 1000000 };

	(void)userdata;
	return certs_list(v->store, 0, list_one, &l);
}

static int run(struct vault *v, const struct cert_args *a, struct audit_event *ev)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "cert %s", a->sub);
	if (strcmp(a->sub, "list") == 0)
		return cli_list(cmd, v, ev, list_certs, NULL, reason);
	if (strcmp(a->sub, "get") == 0) {
		if (cli_inspection(cmd, v, ev) < 0)
			return cli_error(cmd, NULL, CLI_AUDIT_FAILED);
		return get_file(v, a, cmd);
	}
	if (cli_is_lifecycle(a->sub))
		return run_lifecycle(v, a, ev, cmd);
	return run_change(v, a, ev, cmd);
}

/* --san, which may be given again: its lists joined */
static int add_san(void *args, const char *list, const char *sub)
{
	struct cert_args *a = args;
	size_t len = strlen(a->sans);
	int n = snprintf(a->sans + len, sizeof(a->sans) - len, "%s%s", len ? "," : "", list);

	(void)sub; /* said as create's, the one subcommand it goes with (options_fit) */
	if (n < 0 || (size_t)n >= sizeof(a->sans) - len)
		return cli_usage("cert create", "the --san list is too long");
	return 0;
}

/* Which options each subcommand takes. */
static int options_fit(const struct cert_args *a)
{
	int create = strcmp(a->sub, "create") == 0;

	if (!create && (a->subject || a->sans[0] || a->type || a->days || a->ca || a->issuer ||
			a->exportable || a->renew_at))
		return cli_usage("cert", "--subject, --san, --type, --days, --ca, --issuer, "
					 "--exportable and --renew-at go with create");
	if (a->reuse_key && !create && strcmp(a->sub, "renew") != 0)
		return cli_usage("cert", "--reuse-key goes with create and renew");
	if (a->version && strcmp(a->sub, "get") != 0)
		return cli_usage("cert", "--version goes with get");
	if (create && !a->subject)
		return cli_usage("cert create", "--subject is required");
	return 0;
}

static const struct cli_option cert_options[] = {
	CLI_OPT_STRING("subject", struct cert_args, subject),
	{ "san", CLI_CALL, 0, add_san },
	CLI_OPT_STRING("type", struct cert_args, type),
	CLI_OPT_STRING("days", struct cert_args, days),
	CLI_OPT_FLAG("ca", struct cert_args, ca),
	CLI_OPT_STRING("issuer", struct cert_args, issuer),
	CLI_OPT_FLAG("exportable", struct cert_args, exportable),
	CLI_OPT_STRING("renew-at", struct cert_args, renew_at),
	CLI_OPT_FLAG("reuse-key", struct cert_args, reuse_key),
	CLI_OPT_STRING("version", struct cert_args, version),
	{ NULL, 0, 0, NULL },
};

/* `cert import` (PKCS#12 and PEM bundles) has a module, and a command line, of its own */
static const struct cli_subcommand cert_subs[] = {
	{ "create", 2, 2 }, { "merge", 3, 3 },	{ "renew", 2, 2 },   { "list", 1, 1 },
	{ "get", 3, 3 },    { "delete", 2, 2 }, { "recover", 2, 2 }, { "purge", 2, 2 },
};

static const struct cli_command cert_command = {
	.name = "cert",
	.help = cert_help,
	.subs = cert_subs,
	.n_subs = sizeof(cert_subs) / sizeof(cert_subs[0]),
	.options = cert_options,
};

int cli_cert(int argc, char **argv)
{
	struct cert_args a = { 0 };
	struct cli_admin adm;
	struct cli_parsed p;
	int r;

	if (argc >= 2 && strcmp(argv[1], "import") == 0)
		return cli_cert_import(argc, argv);
	r = cli_parse(&cert_command, argc, argv, &a, &p);
	if (r >= 0)
		return r;
	a.sub = cert_subs[p.sub].name;
	a.dir = p.pos[0];
	a.name = p.pos[1];
	a.file = p.pos[2];
	r = options_fit(&a);
	if (r)
		return r;
	if (cli_admin_open(&adm, "cert", a.dir, "cert", a.sub, "certs", a.name))
		return 1;
	adm.ev.detail = strcmp(a.sub, "get") == 0 ? a.file : a.issuer;
	r = run(adm.v, &a, &adm.ev);
	cli_admin_close(&adm);
	return r;
}

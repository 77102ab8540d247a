/*
 * cli_cert_import: `vaultfs cert import DIR NAME FILE [--password-file F] [--exportable]
 * [--renew-at P%|Nd]` — an existing certificate with its private key (PKCS#12, or PEM key,
 * leaf and chain) brought into the vault, recorded in the audit trail. The file and the
 * password pass through this process once, in secbufs; a refused file changes nothing and
 * says why in one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_admin.h"
#include "cli_parse.h"
#include "vault.h"
#include "vault_cert_import.h"

/* Larger than any certificate bundle: a PKCS#12 file with a long chain is a few KiB. */
#define BUNDLE_MAX (1024 * 1024)

static const char import_help[] =
	"Usage: vaultfs cert import DIR NAME FILE [--password-file F] [--exportable]\n"
	"                           [--renew-at P%|Nd]\n"
	"\n"
	"Brings an existing certificate and its private key into the vault as certificate\n"
	"NAME: FILE is PKCS#12 (.pfx/.p12, as openssl pkcs12 -export makes it, AES or legacy\n"
	"encryption; its password in the file F) or PEM holding the private key, the leaf and\n"
	"any chain, in any order (an encrypted key's password in F too). The chain is put in\n"
	"order from the leaf. The key goes into the token, non-extractable; with --exportable\n"
	"it is also kept sealed and served as key.pem to callers with export. The issuer is\n"
	"recorded as unknown: --renew-at (80% of the validity, or 30d before expiry) starts a\n"
	"pending renewal whose csr.pem goes to the CA. A key that does not match the leaf, a\n"
	"wrong or missing password, or a file that is none of these is refused, and nothing\n"
	"changes.\n";

static int read_file(const char *path, struct secbuf **ret, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	r = secbuf_read_fd(fd, BUNDLE_MAX, ret);
	close(fd);
	if (r == -EFBIG)
		snprintf(err, errlen, "larger than %d bytes: not a certificate bundle", BUNDLE_MAX);
	else if (r < 0)
		snprintf(err, errlen, "%s", strerror(-r));
	return r;
}

struct import_args {
	const char *pass_file;
	struct certs_import_options o;
};

static int parse_renew_at(void *args, const char *arg, const char *sub)
{
	struct import_args *a = args;

	(void)sub;
	if (certs_renew_at_parse(arg, &a->o.renew_kind, &a->o.renew_value) < 0)
		return cli_usage("cert import",
				 "--renew-at takes P%% (1-99) or Nd (days before expiry)");
	return 0;
}

static const struct cli_option import_options[] = {
	CLI_OPT_STRING("password-file", struct import_args, pass_file),
	CLI_OPT_FLAG("exportable", struct import_args, o.exportable),
	{ "renew-at", CLI_CALL, 0, parse_renew_at },
	{ NULL, 0, 0, NULL },
};

int cli_cert_import(int argc, char **argv)
{
	char err[512] = "";
	struct import_args a = { 0 };
	struct secbuf *data = NULL, *pass = NULL;
	const char *dir, *name, *file;
	struct cli_admin adm = { 0 };
	struct vault_act act;
	uint64_t version = 0;
	int r;

	/* argv: cert import ... */
	r = cli_options(argc, argv, 2, "cert import", import_help, import_options, &a);
	if (r >= 0)
		return r;
	if (argc - optind != 3)
		return cli_usage("cert import", "DIR NAME FILE expected");
	dir = argv[optind];
	name = argv[optind + 1];
	file = argv[optind + 2];

	r = read_file(file, &data, err, sizeof(err));
	if (r < 0)
		return cli_error("cert import", file, "%s", err);
	if (a.pass_file) {
		r = vault_read_pin(a.pass_file, &pass, err, sizeof(err));
		if (r < 0) {
			secbuf_free(data);
			return cli_error("cert import", a.pass_file, "%s",
					 err[0] ? err : strerror(-r));
		}
	}
	r = cli_admin_open(&adm, "cert import", dir, "cert", "import", "certs", name);
	if (r)
		goto out;
	vault_act_init(&act, &adm.ev);
	err[0] = '\0';
	r = vault_cert_import(adm.v, &act, name, secbuf_data(data), secbuf_len(data), pass, &a.o,
			      &version, err, sizeof(err));
	if (act.unrecorded)
		r = cli_error("cert import", name, CLI_AUDIT_FAILED);
	else if (r < 0)
		r = cli_error("cert import", name, "%s", err[0] ? err : strerror(-r));
	else
		r = printf("%" PRIu64 "\n", version) < 0 || fflush(stdout) != 0;
out:
	cli_admin_close(&adm);
	secbuf_free(pass);
	secbuf_free(data);
	return r;
}

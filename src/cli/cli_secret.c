/*
 * cli_secret: `vaultfs secret ...`, the store reached from a shell, with or without a
 * mount. Values pass only through secbufs and standard input and output; errors are one
 * line on stderr and leave the vault as it was.
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
#include "fdio.h"
#include "names.h"
#include "timeutil.h"
#include "vault.h"
#include "vault_lifetime.h"
#include "vault_ops.h"

static const char secret_help[] =
	"Usage: vaultfs secret SUBCOMMAND DIR [NAME] [OPTIONS]\n"
	"\n"
	"NAME is the path under secrets/, such as db-conn or payments/api-key.\n"
	"\n"
	"  set DIR NAME [--file F] [--create]\n"
	"        store standard input (or F), byte for byte, as a new version; the same bytes\n"
	"        as the current version make none. Missing folders are made. --create refuses\n"
	"        an existing secret.\n"
	"  get DIR NAME[@N] [--version N]\n"
	"        write the current (or Nth) version to standard output\n"
	"  list DIR [FOLDER] [--deleted | --expiring]\n"
	"        every secret below FOLDER, one path a line; --deleted lists soft-deleted ones;\n"
	"        --expiring those whose expires is within [lifetime] warn_days or past, as\n"
	"        PATH, expiry (RFC 3339 UTC) and expiring or expired, tab-separated\n"
	"  versions DIR NAME [--deleted]\n"
	"        the version numbers, one a line\n"
	"  delete DIR NAME      soft-delete: kept under .deleted/ for retention_days\n"
	"  recover DIR NAME     bring a deleted secret back with all its versions\n"
	"  purge DIR NAME       remove a deleted secret for good\n"
	"  attr DIR NAME [ATTR [VALUE]] [--remove ATTR] [--deleted]\n"
	"        show all attributes (ATTR=VALUE lines), one, or set one. ATTR is the name\n"
	"        after user.vault.: version, versions, created, updated, content_type, enabled,\n"
	"        not_before, expires, tag.NAME\n";

struct args {
	const char *sub;
	const char *dir;
	const char *name;
	const char *attr;
	const char *value;
	const char *file;
	const char *remove;
	uint64_t version;
	int deleted;
	int expiring;
	int create;
	struct audit_event *ev; /* this command's audit record */
};

#define AUDIT_FAILED CLI_AUDIT_FAILED

/* Records a command that changes nothing, before its output; -EIO if it cannot. */
static int record(struct vault *v, const struct args *a, int r)
{
	a->ev->result = r < 0 ? -r : 0;
	return vault_record(v, a->ev) < 0 ? -EIO : r;
}

/* record() for a command that shows no value: a full disk does not stop it. */
static int inspect(struct vault *v, const struct args *a, const char *cmd, int r)
{
	a->ev->result = r < 0 ? -r : 0;
	return cli_inspection(cmd, v, a->ev) < 0 ? -EIO : r;
}

static const char *reason(const char *sub, int r, const struct vault *v)
{
	static char buf[128];

	switch (r) {
	case -ENOENT:
		return strcmp(sub, "get") == 0 ? "no such secret or version" : "no such secret";
	case -EINVAL:
		return "invalid name or value (names: 1-127 of A-Z a-z 0-9 . _ - per level, not "
		       "starting with '.', at most 16 levels)";
	case -EFBIG:
		snprintf(buf, sizeof(buf), "value is larger than max_secret_size (%zu bytes)",
			 v ? v->cfg->max_secret_size : (size_t)0);
		return buf;
	case -EEXIST:
		return strcmp(sub, "set") == 0 ? "already exists, or its name is held by a deleted "
						 "secret (recover or purge it first)"
					       : "already exists";
	case -EACCES:
		return "the secret is disabled";
	case -EKEYEXPIRED:
		return "outside the secret's not_before/expires window";
	case -EISDIR:
		return "is a folder";
	case -ENOTDIR:
		return "a folder in the path is a secret";
	case -EBUSY:
		return "vault.db is locked by another process";
	case -EUCLEAN:
		return "vault.db is corrupt";
	case -EBADMSG:
		return "a stored value failed its integrity check";
	case -ENODATA:
		return "attribute not set";
	case -EPERM:
		return "attribute is read-only";
	case -EOPNOTSUPP:
		return "unknown attribute";
	case -ENOSPC:
		return "no room: at most 15 tags, or the disk is full";
	case -ERANGE:
		return "value too long";
	default:
		return strerror(-r);
	}
}

static int do_set(struct vault *v, const struct args *a)
{
	struct secbuf *value = NULL;
	struct vault_act act;
	int fd = STDIN_FILENO, r;

	if (a->file) {
		fd = open(a->file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_error("secret set", a->file, "%s", strerror(errno));
	}
	r = secbuf_read_fd(fd, v->cfg->max_secret_size, &value);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0) {
		a->ev->result = -r;
		if (vault_record(v, a->ev) < 0)
			return cli_error("secret set", a->name, AUDIT_FAILED);
		return cli_error("secret set", a->name, "%s", reason("set", r, v));
	}
	vault_act_init(&act, a->ev);
	r = vault_secret_write(v, &act, a->name, value,
			       VAULT_WRITE_MKDIRS | (a->create ? VAULT_WRITE_EXCL : 0), NULL);
	secbuf_free(value);
	if (act.unrecorded)
		return cli_error("secret set", a->name, AUDIT_FAILED);
	if (r < 0)
		return cli_error("secret set", a->name, "%s", reason("set", r, v));
	return 0;
}

static int do_get(struct vault *v, const struct args *a)
{
	struct secbuf *value = NULL;
	int r;

	uint64_t version = 0;

	r = store_secret_get(v->store, a->name, a->version, time_now_us(), &value, &version);
	a->ev->version = version ? version : a->version;
	r = record(v, a, r);
	if (r == -EIO && value) {
		secbuf_free(value);
		return cli_error("secret get", a->name, AUDIT_FAILED);
	}
	if (r < 0)
		return cli_error("secret get", a->name, "%s", reason("get", r, v));
	r = fd_write_all(STDOUT_FILENO, secbuf_data(value), secbuf_len(value));
	secbuf_free(value);
	if (r < 0)
		return cli_error("secret get", a->name, "cannot write: %s", strerror(-r));
	return 0;
}

static int stop_at_first(const char *name, int is_folder, void *userdata)
{
	(void)name;
	(void)is_folder;
	(void)userdata;
	return 1;
}

static int print_name(const char *name, int is_folder, void *userdata)
{
	const char *prefix = userdata;

	(void)is_folder;
	if (prefix[0])
		printf("%s/%s\n", prefix, name);
	else
		printf("%s\n", name);
	return 0;
}

struct expiring_list {
	const char *folder; /* "" or "a/b" */
	int64_t now;
	unsigned warn_days;
};

static int print_expiring(const char *path, int64_t expires, void *userdata)
{
	const struct expiring_list *l = userdata;
	size_t n = strlen(l->folder);
	char when[TIME_RFC3339_MAX];

	if (n && (strncmp(path, l->folder, n) != 0 || path[n] != '/'))
		return 0;
	time_format(expires, 0, when);
	printf("%s\t%s\t%s\n", path, when,
	       vault_expiry_name(vault_expiry_state(expires, l->now, l->warn_days)));
	return 0;
}

/* --expiring: what the lifetime engine warns of, as of now. */
static int list_expiring(struct vault *v, const struct args *a, const char *folder)
{
	struct expiring_list l = { folder, time_now_us(), v->cfg->warn_days };
	int r;

	r = inspect(v, a, "secret list", 0);
	if (r == -EIO)
		return cli_error("secret list", folder, AUDIT_FAILED);
	r = store_secret_expiring(v->store, l.now + (int64_t)l.warn_days * 86400 * 1000000,
				  print_expiring, &l);
	if (r < 0)
		return cli_error("secret list", folder, "%s", reason("list", r, v));
	return fflush(stdout) == 0 ? 0 : cli_error("secret list", NULL, "%s", strerror(errno));
}

static int do_list(struct vault *v, const struct args *a)
{
	const char *folder = a->name ? a->name : "";
	unsigned flags = STORE_LIST_RECURSIVE | (a->deleted ? STORE_LIST_DELETED : 0);
	int r;

	if (a->expiring)
		return list_expiring(v, a, folder);
	/* checked and recorded before anything is printed */
	r = store_list(v->store, folder, flags, stop_at_first, NULL);
	if (r == 1)
		r = 0;
	if (r >= 0 || r == -ENOENT) {
		r = inspect(v, a, "secret list", r);
		if (r == -EIO)
			return cli_error("secret list", folder, AUDIT_FAILED);
	}
	if (r >= 0)
		r = store_list(v->store, folder, flags, print_name, (void *)"");
	if (r == -ENOENT)
		return cli_error("secret list", folder, "no such folder");
	if (r < 0)
		return cli_error("secret list", folder, "%s", reason("list", r, v));
	return fflush(stdout) == 0 ? 0 : cli_error("secret list", NULL, "%s", strerror(errno));
}

static int do_versions(struct vault *v, const struct args *a)
{
	uint64_t *list = NULL;
	size_t n = 0;
	int r;

	r = store_secret_versions(v->store, a->name, a->deleted ? STORE_DELETED : STORE_LIVE, &list,
				  &n);
	if (inspect(v, a, "secret versions", r) == -EIO) {
		free(list);
		return cli_error("secret versions", a->name, AUDIT_FAILED);
	}
	if (r < 0)
		return cli_error("secret versions", a->name, "%s", reason("versions", r, v));
	for (size_t i = 0; i < n; i++)
		printf("%" PRIu64 "\n", list[i]);
	free(list);
	return 0;
}

static const struct cli_lifecycle secret_lifecycle = {
	vault_secret_delete,
	vault_secret_recover,
	vault_secret_purge,
};

static int do_lifecycle(struct vault *v, const struct args *a)
{
	char cmd[32];
	int r, status;

	snprintf(cmd, sizeof(cmd), "secret %s", a->sub);
	status = cli_lifecycle(v, &secret_lifecycle, cmd, a->sub, a->name, a->ev, &r);
	if (status >= 0)
		return status;
	if (r == -ENOENT && strcmp(a->sub, "delete") != 0)
		return cli_error(cmd, a->name, "no such deleted secret");
	if (r < 0)
		return cli_error(cmd, a->name, "%s", reason(a->sub, r, v));
	return 0;
}

static int do_attr(struct vault *v, const struct args *a)
{
	enum store_which which = a->deleted ? STORE_DELETED : STORE_LIVE;
	char *names = NULL, *value = NULL;
	size_t len = 0;
	int r = 0;

	if (a->remove || (a->attr && a->value && !a->deleted)) {
		struct vault_act act;

		/* a change has an op of its own: "secret-attr" alone is a look (cli_watch.c) */
		a->ev->op = a->remove ? "secret-attr-remove" : "secret-attr-set";
		a->ev->detail = a->remove ? a->remove : a->attr;
		vault_act_init(&act, a->ev);
		r = a->remove ? vault_attr_remove(v, &act, a->name, a->remove, 0)
			      : vault_attr_set(v, &act, a->name, a->attr, a->value, 0);
		if (act.unrecorded)
			return cli_error("secret attr", a->name, AUDIT_FAILED);
	}
	if (a->remove) {
		if (r < 0)
			return cli_error("secret attr", a->name, "%s: %s", a->remove,
					 reason("attr", r, v));
		return 0;
	}
	if (a->attr && a->value) {
		if (a->deleted)
			return cli_usage("secret attr",
					 "a deleted secret's attributes are read-only");
		if (r < 0)
			return cli_error("secret attr", a->name, "%s: %s", a->attr,
					 reason("attr", r, v));
		return 0;
	}
	if (a->attr) {
		a->ev->detail = a->attr;
		r = store_attr_get(v->store, a->name, which, a->attr, &value);
		if (inspect(v, a, "secret attr", r) == -EIO) {
			free(value);
			return cli_error("secret attr", a->name, AUDIT_FAILED);
		}
		if (r < 0)
			return cli_error("secret attr", a->name, "%s: %s", a->attr,
					 reason("attr", r, v));
		printf("%s\n", value);
		free(value);
		return 0;
	}
	r = store_attr_list(v->store, a->name, which, &names, &len);
	if (inspect(v, a, "secret attr", r) == -EIO) {
		free(names);
		return cli_error("secret attr", a->name, AUDIT_FAILED);
	}
	if (r < 0)
		return cli_error("secret attr", a->name, "%s", reason("attr", r, v));
	for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
		r = store_attr_get(v->store, a->name, which, names + off, &value);
		if (r < 0)
			continue; /* changed since the listing */
		printf("%s=%s\n", names + off, value);
		free(value);
	}
	free(names);
	return 0;
}

/* --version N, read as the N of NAME@N */
static int parse_version(void *args, const char *s, const char *sub)
{
	struct args *a = args;
	size_t name_len;
	char buf[32], cmd[32];

	if (snprintf(buf, sizeof(buf), "x@%s", s) < (int)sizeof(buf) &&
	    name_split_version(buf, &name_len, &a->version) == 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "secret %s", sub);
	return cli_usage(cmd, "--version takes a number from 1");
}

/* NAME@N for get reads version N, as the mount's NAME@N file does: @a's name and version
 * from it (@name holds the name). Returns -1 to go on, or the exit code. */
static int name_at_version(struct args *a, char *name, size_t len, const char *cmd)
{
	size_t name_len;
	uint64_t version;

	if (!a->name || strcmp(a->sub, "get") != 0)
		return -1;
	if (name_split_version(a->name, &name_len, &version) < 0 || name_len >= len)
		return cli_error(cmd, a->name, "%s", reason(a->sub, -EINVAL, NULL));
	if (version) {
		if (a->version && a->version != version)
			return cli_usage(cmd, "NAME@N and --version disagree");
		snprintf(name, len, "%.*s", (int)name_len, a->name);
		a->name = name;
		a->version = version;
	}
	return -1;
}

static const struct cli_option secret_options[] = {
	CLI_OPT_STRING("file", struct args, file),
	{ "version", CLI_CALL, 0, parse_version },
	CLI_OPT_FLAG("deleted", struct args, deleted),
	CLI_OPT_FLAG("expiring", struct args, expiring),
	CLI_OPT_FLAG("create", struct args, create),
	CLI_OPT_STRING("remove", struct args, remove),
	{ NULL, 0, 0, NULL },
};

static const struct cli_subcommand secret_subs[] = {
	{ "set", 2, 2 },    { "get", 2, 2 },	 { "list", 1, 2 },  { "versions", 2, 2 },
	{ "delete", 2, 2 }, { "recover", 2, 2 }, { "purge", 2, 2 }, { "attr", 2, 4 },
};

/* what each of secret_subs runs, in its order */
static int (*const secret_runs[])(struct vault *v, const struct args *a) = {
	do_set, do_get, do_list, do_versions, do_lifecycle, do_lifecycle, do_lifecycle, do_attr,
};
_Static_assert(sizeof(secret_runs) / sizeof(secret_runs[0]) ==
		       sizeof(secret_subs) / sizeof(secret_subs[0]),
	       "a run for every subcommand");

static const struct cli_command secret_command = {
	.name = "secret",
	.help = secret_help,
	.subs = secret_subs,
	.n_subs = sizeof(secret_subs) / sizeof(secret_subs[0]),
	.options = secret_options,
	.getopt_names_sub = 1,
};

int cli_secret(int argc, char **argv)
{
	char cmd[32], err[512] = "", name[NAME_PATH_MAX + 32];
	struct cli_admin adm;
	struct args a = { 0 };
	struct cli_parsed p;
	int r;

	r = cli_parse(&secret_command, argc, argv, &a, &p);
	if (r >= 0)
		return r;
	a.sub = secret_subs[p.sub].name;
	snprintf(cmd, sizeof(cmd), "secret %s", a.sub);
	a.dir = p.pos[0];
	a.name = p.pos[1];
	a.attr = p.pos[2];
	a.value = p.pos[3];
	if ((a.file && strcmp(a.sub, "set") != 0) || (a.create && strcmp(a.sub, "set") != 0) ||
	    (a.version && strcmp(a.sub, "get") != 0) || (a.remove && strcmp(a.sub, "attr") != 0) ||
	    (a.remove && a.attr) || (a.expiring && (strcmp(a.sub, "list") != 0 || a.deleted)))
		return cli_usage("secret", "option not valid with \"%s\"", a.sub);
	/* DIR first: a NAME given in its place is told as such, not as a bad name */
	if (cli_vault_dir(a.dir, err, sizeof(err)) < 0)
		return cli_error(cmd, NULL, "%s", err);
	r = name_at_version(&a, name, sizeof(name), cmd);
	if (r >= 0)
		return r;
	if (a.name && name_path_check(a.name) < 0)
		return cli_error(cmd, a.name, "%s", reason(a.sub, -EINVAL, NULL));
	if (cli_admin_open(&adm, cmd, a.dir, "secret", a.sub, "secrets", a.name))
		return 1;
	adm.ev.version = a.version;
	if (a.deleted)
		adm.ev.detail = "deleted";
	if (a.expiring)
		adm.ev.detail = "expiring";
	a.ev = &adm.ev;
	r = secret_runs[p.sub](adm.v, &a);
	cli_admin_close(&adm);
	return r;
}

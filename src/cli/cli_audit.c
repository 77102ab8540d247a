/*
 * cli_audit: `vaultfs audit verify DIR` checks the trail's chain with the vault's token and
 * against the head the vault recorded; `vaultfs audit tail DIR [-n N] [-f] [--json]`
 * prints records for people (or as they are, for jq and log shippers).
 *
 * tail reads the file as any reader may and trusts nothing in it: a line that is not a
 * record is shown as such, never interpreted, and every field of one that is is printed
 * escaped (audit_escape), whatever the writer did.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "cli.h"
#include "vault.h"

#define TAIL_POLL_NS (250 * 1000 * 1000)

static const char audit_help[] =
	"Usage: vaultfs audit verify DIR\n"
	"       vaultfs audit tail DIR [-n N] [-f] [--json]\n"
	"\n"
	"verify   checks every record of DIR/audit.log and its rotated files (audit.log-*)\n"
	"         with the vault's token, and that the trail reaches the last record the\n"
	"         vault knows of. Prints \"N records intact (seq A..B)\" and exits 0, or names\n"
	"         the first bad seq and exits 1.\n"
	"tail     prints the last N records (default 10) of DIR/audit.log for people; -f keeps\n"
	"         following it across rotations, as tail -F does; --json prints the lines as\n"
	"         they are.\n";

static int verify(const char *dir)
{
	char err[512] = "", exe[PATH_MAX], cgroup[PATH_MAX];
	struct audit_report rep;
	struct store_anchor stored;
	struct audit_event ev;
	struct vault *v = NULL;
	int r, head_ok = 0;

	r = cli_vault_open(dir, &v, err, sizeof(err));
	if (r < 0)
		return cli_error("audit verify", NULL, "%s", err[0] ? err : strerror(-r));
	r = vault_verify_trail(v, &stored, &head_ok, &rep, err, sizeof(err));
	if (r < 0) {
		r = cli_error("audit verify", dir, "%s", err);
		goto out;
	}
	vault_admin_event(&ev, "audit-verify", exe, sizeof(exe), cgroup, sizeof(cgroup));
	ev.result = rep.bad_seq || !head_ok ? EBADMSG : 0;
	if (cli_inspection("audit verify", v, &ev) < 0) {
		r = cli_error("audit verify", dir, "cannot write the audit trail");
		goto out;
	}
	if (rep.bad_seq) {
		r = cli_error("audit verify", rep.file, "seq %llu: %s",
			      (unsigned long long)rep.bad_seq, rep.reason);
		goto out;
	}
	if (!head_ok) {
		char db[PATH_MAX];

		snprintf(db, sizeof(db), "%s/%s", v->dir, VAULT_DB);
		r = cli_error("audit verify", db,
			      "the trail's head it holds (seq %llu) %s: it was written without "
			      "the token, so the end of the trail cannot be trusted (the trail "
			      "holds seq %llu..%llu)",
			      (unsigned long long)stored.seq,
			      stored.tagged ? "fails its tag" : "has no tag",
			      (unsigned long long)rep.first_seq, (unsigned long long)rep.last_seq);
		goto out;
	}
	if (rep.records == 0)
		printf("0 records\n");
	else
		printf("%llu records intact (seq %llu..%llu)\n", (unsigned long long)rep.records,
		       (unsigned long long)rep.first_seq, (unsigned long long)rep.last_seq);
	r = fflush(stdout) == 0 ? 0 : 1;
out:
	vault_free(v);
	return r;
}

/*
 * Field @key of @o as text for a terminal (audit_escape), malloc'ed in *ret; NULL when it
 * is missing or null. Whatever the field holds (any bytes, NULs, a number or an object
 * where a string belongs) comes out escaped. Returns 0 or -ENOMEM.
 */
static int field(json_object *o, const char *key, char **ret)
{
	json_object *f;
	const char *s;
	size_t n;
	char *out;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &f) || json_object_is_type(f, json_type_null))
		return 0;
	if (json_object_is_type(f, json_type_string)) {
		s = json_object_get_string(f);
		n = (size_t)json_object_get_string_len(f);
	} else {
		s = json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN);
		n = strlen(s);
	}
	out = malloc(AUDIT_ESCAPE_MAX(n));
	if (!out)
		return -ENOMEM;
	audit_escape(s, n, out);
	*ret = out;
	return 0;
}

enum {
	F_TIME,
	F_SEQ,
	F_DECISION,
	F_OP,
	F_PATH,
	F_VERSION,
	F_UID,
	F_GID,
	F_PID,
	F_EXE,
	F_CGROUP,
	F_RULE,
	F_RESULT,
	F_DETAIL,
	F_UNDOES,
	F__MAX
};

/*
 * One line for people: time, seq, decision, op, path[@version], who, rule, result, and
 * the record a failure takes back (undoes=#SEQ, see vault_ops.c's change_undo). Every
 * field goes through audit_escape, so a line printed is one record and nothing else: no
 * field can end it, start another, move the cursor or reorder what follows.
 */
static void print_record(const char *line, size_t len, int raw)
{
	static const char *const keys[F__MAX] = {
		[F_TIME] = "time",     [F_SEQ] = "seq",	      [F_DECISION] = "decision",
		[F_OP] = "op",	       [F_PATH] = "path",     [F_VERSION] = "version",
		[F_UID] = "uid",       [F_GID] = "gid",	      [F_PID] = "pid",
		[F_EXE] = "exe",       [F_CGROUP] = "cgroup", [F_RULE] = "rule",
		[F_RESULT] = "result", [F_DETAIL] = "detail", [F_UNDOES] = "undoes",
	};
	char *f[F__MAX] = { 0 };
	json_tokener *tok;
	json_object *o;

	if (raw) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
		return;
	}
	tok = json_tokener_new();
	o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		printf("(not a record: %zu bytes)\n", len);
		goto out;
	}
	for (int i = 0; i < F__MAX; i++) {
		if (field(o, keys[i], &f[i]) < 0) {
			printf("(not shown: %s)\n", strerror(ENOMEM));
			goto out;
		}
	}
	printf("%s #%s %-5s %-14s %s%s%s uid=%s gid=%s pid=%s exe=%s cgroup=%s rule=%s "
	       "result=%s%s%s%s%s\n",
	       f[F_TIME] ?: "?", f[F_SEQ] ?: "?", f[F_DECISION] ?: "?", f[F_OP] ?: "?",
	       f[F_PATH] ?: "-", f[F_VERSION] ? "@" : "", f[F_VERSION] ?: "", f[F_UID] ?: "?",
	       f[F_GID] ?: "?", f[F_PID] ?: "?", f[F_EXE] ?: "-", f[F_CGROUP] ?: "-",
	       f[F_RULE] ?: "-", f[F_RESULT] ?: "?", f[F_DETAIL] ? " detail=" : "",
	       f[F_DETAIL] ?: "", f[F_UNDOES] ? " undoes=#" : "", f[F_UNDOES] ?: "");
out:
	for (int i = 0; i < F__MAX; i++)
		free(f[i]);
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}

/* Prints the complete lines in @buf[0..*len) and keeps a trailing partial one. */
static void print_lines(char *buf, size_t *len, int raw)
{
	char *p = buf, *nl;

	while ((nl = memchr(p, '\n', *len - (size_t)(p - buf)))) {
		print_record(p, (size_t)(nl - p), raw);
		p = nl + 1;
	}
	*len -= (size_t)(p - buf);
	memmove(buf, p, *len);
}

static int tail(const char *dir, unsigned long n, int follow, int raw)
{
	char path[PATH_MAX], absdir[PATH_MAX], err[512] = "";
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	off_t start, off;
	int fd, r;

	r = cli_vault_dir(dir, err, sizeof(err));
	if (r == 0)
		r = vault_resolve_safe(dir, absdir, err, sizeof(err));
	if (r < 0)
		return cli_error("audit tail", NULL, "%s", err);
	if (snprintf(path, sizeof(path), "%s/audit.log", absdir) >= (int)sizeof(path))
		return cli_error("audit tail", dir, "path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return cli_error("audit tail", path, "%s", strerror(errno));
	buf = malloc(AUDIT_LINE_MAX * 2);
	if (!buf) {
		close(fd);
		return cli_error("audit tail", NULL, "%s", strerror(ENOMEM));
	}
	/* Back from the end to the start of the n-th last line. */
	start = st.st_size;
	for (unsigned long lines = 0; start > 0 && n > 0;) {
		char c;

		if (pread(fd, &c, 1, start - 1) != 1)
			break;
		/* the newline that ends the file ends the last line; the n-th before it ends
		 * the line before the first one printed */
		if (c == '\n' && start != st.st_size && ++lines == n)
			break;
		start--;
	}
	off = start;
	for (;;) {
		ssize_t k = pread(fd, buf + len, AUDIT_LINE_MAX * 2 - len, off);

		if (k < 0) {
			r = cli_error("audit tail", path, "%s", strerror(errno));
			break;
		}
		if (k > 0) {
			off += k;
			len += (size_t)k;
			print_lines(buf, &len, raw);
			if (len >= AUDIT_LINE_MAX)
				len = 0; /* a line longer than any record: skip it */
			continue;
		}
		if (fflush(stdout) != 0 || !follow)
			break;
		nanosleep(&(struct timespec){ 0, TAIL_POLL_NS }, NULL);
		/* rotated (moved away or truncated): start again on the new file */
		if (stat(path, &st) == 0) {
			struct stat cur;

			if (fstat(fd, &cur) == 0 && (cur.st_ino != st.st_ino || st.st_size < off)) {
				int nfd = open(path, O_RDONLY | O_CLOEXEC);

				if (nfd >= 0) {
					/* what the old file got last, then the new one */
					close(fd);
					fd = nfd;
					off = 0;
					len = 0;
				}
			}
		}
	}
	free(buf);
	close(fd);
	return r;
}

int cli_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lines", required_argument, NULL, 'n' },
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long n = 10;
	int follow = 0, raw = 0, c;
	const char *sub;
	char *end;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(audit_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "verify") != 0 && strcmp(sub, "tail") != 0)
		return cli_usage("audit", "unknown subcommand \"%s\"", sub);
	optind = 2;
	while ((c = getopt_long(argc, argv, "n:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-' || optarg[0] == '\0')
				return cli_usage("audit tail", "-n takes a number");
			break;
		case 'f':
			follow = 1;
			break;
		case 'j':
			raw = 1;
			break;
		case 'h':
			fputs(audit_help, stdout);
			return 0;
		default:
			return cli_usage("audit", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("audit", "expects one DIR");
	if (strcmp(sub, "verify") == 0) {
		if (follow || raw || n != 10)
			return cli_usage("audit verify", "takes no options");
		return verify(argv[optind]);
	}
	return tail(argv[optind], n, follow, raw);
}

/*
 * policy_parse: the policy file's parser (the language is in policy.h).
 *
 * It refuses anything it does not understand — an unknown word, an empty glob, a NUL
 * byte, a line past POLICY_LINE_MAX — naming the line, so a typo never silently becomes a
 * rule that grants or fails to deny. It must never return a policy with a rule it only
 * half read. A user= or group= name that NSS does not know is a warning, not an error:
 * the rule holds for nobody until the account exists (struct lazy_name), and the warning
 * says so wherever the file is loaded or checked.
 */
#include "policy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "glob.h"

/* Where a line is, for its errors and warnings; and where they go. */
struct at {
	const char *name;
	unsigned lineno;
	char *err;
	size_t errlen;
	struct policy *p; /* takes the warnings */
	policy_report_fn *report; /* NULL: stop at the first error */
	void *userdata;
};

/* "NAME:LINE: message" into the error buffer; returns -EINVAL. */
static int line_error(const struct at *at, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int line_error(const struct at *at, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	snprintf(at->err, at->errlen, "%s:%u: ", at->name, at->lineno);
	n = strlen(at->err);
	va_start(ap, fmt);
	vsnprintf(at->err + n, at->errlen > n ? at->errlen - n : 0, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* "NAME:LINE: warning: message", kept in the policy and given to the report; 0 or
 * -ENOMEM. */
static int line_warning(const struct at *at, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int line_warning(const struct at *at, const char *fmt, ...)
{
	char msg[POLICY_LINE_MAX + 256], **w;
	size_t n;
	va_list ap;

	snprintf(msg, sizeof(msg), "%s:%u: warning: ", at->name, at->lineno);
	n = strlen(msg);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	w = realloc(at->p->warnings, (at->p->nwarnings + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	at->p->warnings = w;
	w[at->p->nwarnings] = strdup(msg);
	if (!w[at->p->nwarnings])
		return -ENOMEM;
	at->p->nwarnings++;
	if (at->report)
		at->report(at->userdata, 0, msg);
	return 0;
}

static int parse_number(const char *s, unsigned long *ret)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*ret = strtoul(s, &end, 10);
	return errno || *end || *ret > 0xfffffffeUL ? -1 : 0;
}

/* Splits @line (modified) into whitespace-separated words. */
static int words(char *line, char **w, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return -1;
		w[n++] = t;
	}
	return n;
}

static int parse_ops(char *list, unsigned *ret)
{
	unsigned ops = 0;
	char *save = NULL;

	if (strcmp(list, "*") == 0) {
		*ret = POLICY_ALL;
		return 0;
	}
	if (!*list || list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,"))
		return -1;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int op = policy_op_parse(t);

		if (op < 0)
			return -1;
		ops |= POLICY_BIT(op);
	}
	*ret = ops;
	return 0;
}

/* EFFECT OPERATIONS PATH, the first three words of a rule. */
static int parse_head(struct rule *r, char **w, const struct at *at)
{
	char ops_copy[POLICY_LINE_MAX];

	if (strcmp(w[0], "allow") == 0)
		r->deny = 0;
	else if (strcmp(w[0], "deny") == 0)
		r->deny = 1;
	else
		return line_error(at, "unknown effect \"%s\" (allow or deny)", w[0]);
	snprintf(ops_copy, sizeof(ops_copy), "%s", w[1]);
	if (parse_ops(ops_copy, &r->ops) < 0)
		return line_error(at,
				  "bad operations \"%s\" (comma-separated list read write delete "
				  "recover purge sign encrypt decrypt wrap unwrap export, or *)",
				  w[1]);
	if (glob_check(w[2]) < 0)
		return line_error(at, "bad path glob \"%s\"", w[2]);
	r->path = strdup(w[2]);
	return r->path ? 0 : -ENOMEM;
}

/*
 * uid=N or user=NAME (@what "uid"), gid=N or group=NAME (@what "gid"), into *ret; a name
 * NSS does not know (or cannot look up) now goes into *lazy, with a warning.
 */
static int parse_id(const char *key, const char *val, const char *what, unsigned *ret,
		    struct lazy_name **lazy, const struct at *at)
{
	unsigned long num;
	int group = what[0] == 'g', found;

	if (strcmp(key, what) == 0) {
		if (parse_number(val, &num) < 0)
			return line_error(at, "bad %s \"%s\"", what, val);
		*ret = (unsigned)num;
		return 0;
	}
	found = policy_lookup_name(val, group, ret);
	if (found > 0)
		return 0;
	*lazy = calloc(1, sizeof(**lazy));
	if (!*lazy || !((*lazy)->name = strdup(val)))
		return -ENOMEM;
	(*lazy)->group = group;
	(*lazy)->state = found == 0 ? LAZY_UNKNOWN : LAZY_FAILED;
	if (found == 0)
		return line_warning(at,
				    "unknown %s \"%s\": the rule holds for no caller until the "
				    "%s exists",
				    key, val, group ? "group" : "account");
	return line_warning(at,
			    "cannot look up %s \"%s\" (%s): the condition cannot be checked "
			    "(an allow fails, a deny holds) until it can",
			    key, val, strerror(-found));
}

/* One condition of WHO, KEY=VALUE, split at its '=' into @key and @val. */
static int parse_condition(struct rule *r, const char *key, const char *val, unsigned *needs,
			   const struct at *at)
{
	int e;

	if (strcmp(key, "uid") == 0 || strcmp(key, "user") == 0) {
		if (r->has_uid)
			return line_error(at, "more than one uid=/user= condition");
		e = parse_id(key, val, "uid", &r->uid, &r->lazy_uid, at);
		if (e < 0)
			return e;
		r->has_uid = 1;
		return 0;
	}
	if (strcmp(key, "gid") == 0 || strcmp(key, "group") == 0) {
		if (r->has_gid)
			return line_error(at, "more than one gid=/group= condition");
		e = parse_id(key, val, "gid", &r->gid, &r->lazy_gid, at);
		if (e < 0)
			return e;
		r->has_gid = 1;
		*needs |= CALLER_HAVE_GROUPS;
		return 0;
	}
	if (strcmp(key, "cgroup") == 0 || strcmp(key, "exe") == 0) {
		char **field = key[0] == 'c' ? &r->cgroup : &r->exe;

		if (*field)
			return line_error(at, "more than one %s= condition", key);
		if (val[0] != '/' || (strcmp(val, "/") != 0 && glob_check(val) < 0))
			return line_error(at, "bad %s glob \"%s\" (an absolute path)", key, val);
		*field = strdup(val);
		if (!*field)
			return -ENOMEM;
		*needs |= key[0] == 'c' ? CALLER_HAVE_CGROUP : CALLER_HAVE_EXE;
		return 0;
	}
	return line_error(at, "unknown condition \"%s\" (uid user gid group cgroup exe)", key);
}

/* One rule's line (modified): EFFECT OPERATIONS PATH WHO. */
static int parse_line(struct rule *r, char *line, unsigned *needs, const struct at *at)
{
	char *w[16];
	int n = words(line, w, 16), e;

	if (n < 0)
		return line_error(at, "too many words");
	if (n < 4)
		return line_error(at, "expected EFFECT OPERATIONS PATH WHO, got %d word%s", n,
				  n == 1 ? "" : "s");
	e = parse_head(r, w, at);
	if (e < 0)
		return e;
	if (n == 4 && strcmp(w[3], "*") == 0) {
		r->any = 1;
		return 0;
	}
	for (int i = 3; i < n; i++) {
		char *eq = strchr(w[i], '=');

		if (!eq || eq == w[i] || !eq[1])
			return line_error(at, "bad condition \"%s\" (KEY=VALUE, or * alone)", w[i]);
		*eq = '\0';
		e = parse_condition(r, w[i], eq + 1, needs, at);
		if (e < 0)
			return e;
	}
	return 0;
}

/*
 * The parser proper: policy_parse, and with @report (policy_load_report) every error and
 * warning reported in line order, the file read to its end past an error.
 */
static int parse(const char *text, size_t len, const char *name, policy_report_fn *report,
		 void *userdata, struct policy **ret, char *err, size_t errlen)
{
	struct policy *p = calloc(1, sizeof(*p));
	char line[POLICY_LINE_MAX + 1], line_err[POLICY_LINE_MAX + 256];
	struct at at = { .name = name,
			 .err = line_err,
			 .errlen = sizeof(line_err),
			 .p = p,
			 .report = report,
			 .userdata = userdata };
	size_t pos = 0, cap = 0, errors = 0;
	int r = 0;

	if (!p)
		return -ENOMEM;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *hash;

		at.lineno++;
		memcpy(line, text + pos, llen > POLICY_LINE_MAX ? 0 : llen);
		line[llen > POLICY_LINE_MAX ? 0 : llen] = '\0';
		pos += llen + (nl ? 1 : 0);
		if (llen > POLICY_LINE_MAX) {
			r = line_error(&at, "line longer than %d bytes", POLICY_LINE_MAX);
			goto line_done;
		}
		if (memchr(line, '\0', llen)) {
			r = line_error(&at, "NUL byte in the file");
			goto line_done;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (strspn(line, " \t\r") == strlen(line))
			continue;
		if (p->count == cap) {
			struct rule *nr;

			cap = cap ? cap * 2 : 16;
			nr = realloc(p->rules, cap * sizeof(*nr));
			if (!nr) {
				r = -ENOMEM;
				goto out;
			}
			p->rules = nr;
		}
		memset(&p->rules[p->count], 0, sizeof(p->rules[0]));
		snprintf(p->rules[p->count].ref, REF_MAX, "%s:%u", name, at.lineno);
		p->count++;
		/* a rule half read stays until the policy is freed: with any error it is */
		r = parse_line(&p->rules[p->count - 1], line, &p->needs, &at);
	line_done:
		if (r == -EINVAL) {
			if (errors++ == 0)
				snprintf(err, errlen, "%s", line_err);
			if (!report)
				goto out;
			report(userdata, 1, line_err);
			r = 0;
		}
		if (r < 0)
			goto out;
	}
	if (errors) {
		r = -EINVAL;
		goto out;
	}
	r = policy_index(p);
	if (r < 0)
		goto out;
	*ret = p;
	p = NULL;
	r = 0;
out:
	policy_free(p);
	return r;
}

int policy_parse(const char *text, size_t len, const char *name, struct policy **ret, char *err,
		 size_t errlen)
{
	return parse(text, len, name, NULL, NULL, ret, err, errlen);
}

int policy_load_report(const char *path, const char *name, policy_report_fn *report, void *userdata,
		       struct policy **ret, char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd, r;

	/* never through a symbolic link: the file is trusted for where it is */
	/* nor block on a FIFO or a device: O_NONBLOCK, and only a regular file is read */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", name,
			 r == -ELOOP ? "is a symbolic link, refused" : strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 16 * 1024 * 1024) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file of at most 16 MiB", name);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	r = parse(text, len, name, report, userdata, ret, err, errlen);
out:
	free(text);
	close(fd);
	return r;
}

int policy_load(const char *path, const char *name, struct policy **ret, char *err, size_t errlen)
{
	return policy_load_report(path, name, NULL, NULL, ret, err, errlen);
}

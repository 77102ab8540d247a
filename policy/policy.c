/*
 * policy: the parser and the evaluator.
 *
 * The parser refuses anything it does not understand — an unknown word, an empty glob, a
 * NUL byte, a line past POLICY_LINE_MAX, a name NSS does not know — naming the line, so a
 * typo never silently becomes a rule that grants or fails to deny. The evaluator is fail
 * closed: a deny rule whose condition cannot be checked (the caller's groups, cgroup or
 * executable could not be read, or are past what the glob can match, or the executable's
 * path is not verified: caller.h) counts as matching; an allow rule in that case does not.
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "glob.h"

#define REF_MAX 256

struct rule {
	int deny;
	unsigned ops;
	char *path;
	int any; /* who is '*' */
	int has_uid, has_gid;
	uid_t uid; /* uid= or user= */
	gid_t gid; /* gid= or group=: primary or supplementary */
	char *cgroup;
	char *exe;
	char ref[REF_MAX]; /* "NAME:LINE" */
};

/* A rule under its literal prefix: the leading whole segments of its path glob that hold
 * no pattern character. Only a path that starts with those segments can match the rule. */
struct prefix_entry {
	const char *prefix; /* into the rule's path; not NUL-terminated at len */
	size_t len;
	size_t rule;
};

struct policy {
	struct rule *rules;
	size_t count;
	unsigned needs;
	struct prefix_entry *index; /* count entries, by prefix then rule: policy_index */
};

/* Below this many rules every decision reads them all: the index would cost more. */
static size_t index_min_rules = 32;

void policy_set_index_threshold(size_t rules)
{
	index_min_rules = rules;
}

static const char *const op_names[POLICY_OP_COUNT] = {
	[POLICY_LIST] = "list",	    [POLICY_READ] = "read",	  [POLICY_WRITE] = "write",
	[POLICY_DELETE] = "delete", [POLICY_RECOVER] = "recover", [POLICY_PURGE] = "purge",
	[POLICY_SIGN] = "sign",	    [POLICY_ENCRYPT] = "encrypt", [POLICY_DECRYPT] = "decrypt",
	[POLICY_WRAP] = "wrap",	    [POLICY_UNWRAP] = "unwrap",
};

const char *policy_op_name(enum policy_op op)
{
	return op < POLICY_OP_COUNT ? op_names[op] : "?";
}

int policy_op_parse(const char *name)
{
	for (int i = 0; i < POLICY_OP_COUNT; i++)
		if (strcmp(name, op_names[i]) == 0)
			return i;
	return -1;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->count; i++) {
		free(p->rules[i].path);
		free(p->rules[i].cgroup);
		free(p->rules[i].exe);
	}
	free(p->rules);
	free(p->index);
	free(p);
}

int policy_empty(struct policy **ret)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

size_t policy_rule_count(const struct policy *p)
{
	return p->count;
}

unsigned policy_needs(const struct policy *p)
{
	return p->needs;
}

static int parse_error(char *err, size_t errlen, const char *name, unsigned line, const char *fmt,
		       ...) __attribute__((format(printf, 5, 6)));
static int parse_error(char *err, size_t errlen, const char *name, unsigned line, const char *fmt,
		       ...)
{
	size_t n;
	va_list ap;

	snprintf(err, errlen, "%s:%u: ", name, line);
	n = strlen(err);
	va_start(ap, fmt);
	vsnprintf(err + n, errlen > n ? errlen - n : 0, fmt, ap);
	va_end(ap);
	return -EINVAL;
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

static int resolve_user(const char *name, uid_t *ret)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -1;
	*ret = res->pw_uid;
	return 0;
}

static int resolve_group(const char *name, gid_t *ret)
{
	struct group gr, *res = NULL;
	char buf[16384];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -1;
	*ret = res->gr_gid;
	return 0;
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

static int parse_line(struct rule *r, char *line, const char *name, unsigned lineno,
		      unsigned *needs, char *err, size_t errlen)
{
	char *w[16], ops_copy[POLICY_LINE_MAX];
	int n = words(line, w, 16);

	if (n < 0)
		return parse_error(err, errlen, name, lineno, "too many words");
	if (n < 4)
		return parse_error(err, errlen, name, lineno,
				   "expected EFFECT OPERATIONS PATH WHO, got %d word%s", n,
				   n == 1 ? "" : "s");
	if (strcmp(w[0], "allow") == 0)
		r->deny = 0;
	else if (strcmp(w[0], "deny") == 0)
		r->deny = 1;
	else
		return parse_error(err, errlen, name, lineno,
				   "unknown effect \"%s\" (allow or deny)", w[0]);
	snprintf(ops_copy, sizeof(ops_copy), "%s", w[1]);
	if (parse_ops(ops_copy, &r->ops) < 0)
		return parse_error(err, errlen, name, lineno,
				   "bad operations \"%s\" (comma-separated list read write delete "
				   "recover purge sign encrypt decrypt wrap unwrap, or *)",
				   w[1]);
	if (glob_check(w[2]) < 0)
		return parse_error(err, errlen, name, lineno, "bad path glob \"%s\"", w[2]);
	r->path = strdup(w[2]);
	if (!r->path)
		return -ENOMEM;
	if (n == 4 && strcmp(w[3], "*") == 0) {
		r->any = 1;
		return 0;
	}
	for (int i = 3; i < n; i++) {
		char *eq = strchr(w[i], '=');
		const char *key, *val;
		unsigned long num;

		if (!eq || eq == w[i] || !eq[1])
			return parse_error(err, errlen, name, lineno,
					   "bad condition \"%s\" (KEY=VALUE, or * alone)", w[i]);
		*eq = '\0';
		key = w[i];
		val = eq + 1;
		if (strcmp(key, "uid") == 0 || strcmp(key, "user") == 0) {
			if (r->has_uid)
				return parse_error(err, errlen, name, lineno,
						   "more than one uid=/user= condition");
			if (key[0] == 'u' && key[1] == 'i') {
				if (parse_number(val, &num) < 0)
					return parse_error(err, errlen, name, lineno,
							   "bad uid \"%s\"", val);
				r->uid = (uid_t)num;
			} else if (resolve_user(val, &r->uid) < 0) {
				return parse_error(err, errlen, name, lineno, "unknown user \"%s\"",
						   val);
			}
			r->has_uid = 1;
		} else if (strcmp(key, "gid") == 0 || strcmp(key, "group") == 0) {
			if (r->has_gid)
				return parse_error(err, errlen, name, lineno,
						   "more than one gid=/group= condition");
			if (key[0] == 'g' && key[1] == 'i') {
				if (parse_number(val, &num) < 0)
					return parse_error(err, errlen, name, lineno,
							   "bad gid \"%s\"", val);
				r->gid = (gid_t)num;
			} else if (resolve_group(val, &r->gid) < 0) {
				return parse_error(err, errlen, name, lineno,
						   "unknown group \"%s\"", val);
			}
			r->has_gid = 1;
			*needs |= CALLER_HAVE_GROUPS;
		} else if (strcmp(key, "cgroup") == 0 || strcmp(key, "exe") == 0) {
			char **field = key[0] == 'c' ? &r->cgroup : &r->exe;

			if (*field)
				return parse_error(err, errlen, name, lineno,
						   "more than one %s= condition", key);
			if (val[0] != '/' || (strcmp(val, "/") != 0 && glob_check(val) < 0))
				return parse_error(err, errlen, name, lineno,
						   "bad %s glob \"%s\" (an absolute path)", key,
						   val);
			*field = strdup(val);
			if (!*field)
				return -ENOMEM;
			*needs |= key[0] == 'c' ? CALLER_HAVE_CGROUP : CALLER_HAVE_EXE;
		} else {
			return parse_error(
				err, errlen, name, lineno,
				"unknown condition \"%s\" (uid user gid group cgroup exe)", key);
		}
	}
	return 0;
}

static int prefix_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : alen < blen ? -1 : alen > blen;
}

static int entry_cmp(const void *x, const void *y)
{
	const struct prefix_entry *a = x, *b = y;
	int c = prefix_cmp(a->prefix, a->len, b->prefix, b->len);

	return c ? c : a->rule < b->rule ? -1 : a->rule > b->rule;
}

/* Files every rule under its literal prefix, so that a decision reads only the rules that
 * can match its path (a policy of 100,000 rules decides as fast as one of ten). */
static int policy_index(struct policy *p)
{
	if (p->count < index_min_rules)
		return 0;
	p->index = calloc(p->count, sizeof(*p->index));
	if (!p->index)
		return -ENOMEM;
	for (size_t i = 0; i < p->count; i++) {
		const char *path = p->rules[i].path, *seg;
		size_t len = 0;

		while (*path == '/')
			path++;
		for (seg = path; *seg;) {
			size_t n = strcspn(seg, "/");

			if (strcspn(seg, "*?[\\") < n)
				break;
			len = (size_t)(seg + n - path);
			seg += n;
			while (*seg == '/')
				seg++;
		}
		p->index[i] = (struct prefix_entry){ .prefix = path, .len = len, .rule = i };
	}
	qsort(p->index, p->count, sizeof(*p->index), entry_cmp);
	return 0;
}

/* The first index entry whose prefix is not below @key. */
static size_t lower_bound(const struct policy *p, const char *key, size_t klen)
{
	size_t lo = 0, hi = p->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (prefix_cmp(p->index[mid].prefix, p->index[mid].len, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int size_cmp(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;

	return a < b ? -1 : a > b;
}

struct rule_list {
	size_t *v, n, cap;
};

static int rule_list_add(struct rule_list *l, size_t rule)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16, *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = rule;
	return 0;
}

/*
 * The rules that can match @path (with @below, or something beneath it), in file order,
 * into *ret (malloc'ed; NULL with a count of p->count means "every rule"): those whose
 * literal prefix is @path or a folder on the way to it, and (@below) those whose prefix
 * lies beneath it. A path past the globs' limits reads every rule, for any of them may
 * then fail closed on it.
 */
static int candidates(const struct policy *p, const char *path, int below, size_t **ret,
		      size_t *ret_count)
{
	struct rule_list l = { 0 };
	size_t plen, qlen = 0;

	*ret = NULL;
	*ret_count = p->count;
	while (*path == '/')
		path++;
	plen = strlen(path);
	while (plen && path[plen - 1] == '/')
		plen--;
	if (!p->index || (below && plen == 0) || glob_match("**", path) < 0)
		return 0;
	for (;;) {
		const char *slash;

		for (size_t i = lower_bound(p, path, qlen);
		     i < p->count &&
		     prefix_cmp(p->index[i].prefix, p->index[i].len, path, qlen) == 0;
		     i++)
			if (rule_list_add(&l, p->index[i].rule) < 0)
				goto nomem;
		if (qlen == plen)
			break;
		slash = memchr(path + qlen + (qlen ? 1 : 0), '/', plen - qlen - (qlen ? 1 : 0));
		qlen = slash ? (size_t)(slash - path) : plen;
	}
	/* prefixes that start with "PATH/"; the sort puts them after PATH itself */
	for (size_t i = lower_bound(p, path, plen); below && i < p->count; i++) {
		const struct prefix_entry *e = &p->index[i];

		if (e->len < plen || memcmp(e->prefix, path, plen) != 0)
			break;
		if (e->len > plen && e->prefix[plen] == '/' && rule_list_add(&l, e->rule) < 0)
			goto nomem;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), size_cmp);
	*ret = l.v;
	*ret_count = l.n;
	return 0;
nomem:
	free(l.v);
	return -ENOMEM;
}

int policy_parse(const char *text, size_t len, const char *name, struct policy **ret, char *err,
		 size_t errlen)
{
	struct policy *p = calloc(1, sizeof(*p));
	char line[POLICY_LINE_MAX + 1];
	unsigned lineno = 0;
	size_t pos = 0, cap = 0;
	int r = 0;

	if (!p)
		return -ENOMEM;
	if (memchr(text, '\0', len)) {
		size_t at = (size_t)((const char *)memchr(text, '\0', len) - text);
		unsigned l = 1;

		for (size_t i = 0; i < at; i++)
			l += text[i] == '\n';
		r = parse_error(err, errlen, name, l, "NUL byte in the file");
		goto out;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *hash;

		lineno++;
		if (llen > POLICY_LINE_MAX) {
			r = parse_error(err, errlen, name, lineno, "line longer than %d bytes",
					POLICY_LINE_MAX);
			goto out;
		}
		memcpy(line, text + pos, llen);
		line[llen] = '\0';
		pos += llen + (nl ? 1 : 0);
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
		snprintf(p->rules[p->count].ref, REF_MAX, "%s:%u", name, lineno);
		p->count++;
		r = parse_line(&p->rules[p->count - 1], line, name, lineno, &p->needs, err, errlen);
		if (r < 0)
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

int policy_load(const char *path, const char *name, struct policy **ret, char *err, size_t errlen)
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
	r = policy_parse(text, len, name, ret, err, errlen);
out:
	free(text);
	close(fd);
	return r;
}

/* Conditions are AND-ed over three values: one that fails decides; else one that cannot be
 * checked makes the whole unknown. */
static int and3(int a, int b)
{
	if (a == 0 || b == 0)
		return 0;
	return a < 0 || b < 0 ? -1 : 1;
}

/* glob_match with "cannot tell" (a path past the glob's limits) as -1. */
static int glob3(const char *pattern, const char *s)
{
	int m = glob_match(pattern, s);

	return m < 0 ? -1 : m;
}

/*
 * 1: holds, 0: does not, -1: cannot be known — the caller's details could not be read, or
 * are too long or too deep to match — which a deny counts as holding and an allow as not.
 */
static int who_holds(const struct rule *r, struct caller *c)
{
	int holds = 1;

	if (r->any)
		return 1;
	if (r->has_uid && c->uid != r->uid)
		return 0;
	if (r->has_gid && c->gid != r->gid) {
		caller_load(c, CALLER_HAVE_GROUPS);
		if (!(c->have & CALLER_HAVE_GROUPS))
			holds = -1;
		else if (!caller_in_group(c, r->gid))
			return 0;
	}
	if (r->cgroup) {
		caller_load(c, CALLER_HAVE_CGROUP);
		if (!(c->have & CALLER_HAVE_CGROUP))
			holds = and3(holds, -1);
		else if (strcmp(r->cgroup, c->cgroup) != 0)
			holds = and3(holds, glob3(r->cgroup, c->cgroup));
		if (!holds)
			return 0;
	}
	if (r->exe) {
		caller_load(c, CALLER_HAVE_EXE);
		/* a path that is not the file the caller runs says nothing of what it runs */
		if (!(c->have & CALLER_HAVE_EXE) || c->exe_unverified)
			holds = and3(holds, -1);
		else
			holds = and3(holds, glob3(r->exe, c->exe));
	}
	return holds;
}

/* Whether rule @r covers @path: a path its glob cannot tell about is covered by a deny
 * and not by an allow. */
static int path_covered(const struct rule *r, const char *path)
{
	int m = glob_match(r->path, path);

	return m > 0 || (m < 0 && r->deny);
}

void policy_decide(const struct policy *p, struct caller *c, enum policy_op op, const char *path,
		   struct policy_decision *ret)
{
	const struct rule *allow = NULL;

	size_t *list, n;

	ret->allow = 0;
	strcpy(ret->rule, "default-deny");
	if (candidates(p, path, 0, &list, &n) < 0) {
		strcpy(ret->rule, "out-of-memory"); /* denied: what cannot be decided */
		return;
	}
	/* Without a process to name, nobody is somebody: only '*' rules could hold, and a
	 * request from the kernel or another pid namespace gets nothing that needs identity. */
	for (size_t k = 0; k < n; k++) {
		const struct rule *r = &p->rules[list ? list[k] : k];
		int holds;

		if (!(r->ops & POLICY_BIT(op)) || !path_covered(r, path))
			continue;
		holds = c->pid <= 0 && !r->any ? -1 : who_holds(r, c);
		if (r->deny && holds != 0) {
			/* deny wins, and an unknown caller might be the one it denies */
			memcpy(ret->rule, r->ref, strlen(r->ref) + 1);
			allow = NULL;
			goto out;
		}
		if (!r->deny && holds == 1 && !allow)
			allow = r;
	}
	if (allow) {
		ret->allow = 1;
		memcpy(ret->rule, allow->ref, strlen(allow->ref) + 1);
	}
out:
	free(list);
}

/* Whether a rule that matches a path matches everything beneath it too: so does one whose
 * last segment is a double star, which takes any further segments. */
static int covers_below(const struct rule *r)
{
	size_t len = strlen(r->path);

	return strcmp(r->path, "**") == 0 || (len >= 3 && strcmp(r->path + len - 3, "/**") == 0);
}

unsigned policy_rights(const struct policy *p, struct caller *c, const char *path, int below)
{
	unsigned allowed = 0, denied = 0, denied_below = 0, mask;
	size_t *list, n;

	if (candidates(p, path, below, &list, &n) < 0)
		return 0; /* what cannot be decided is denied */
	/* policy_decide for every operation at once: one pass over the rules. */
	for (size_t k = 0; k < n; k++) {
		const struct rule *r = &p->rules[list ? list[k] : k];
		unsigned have = !r->deny ? allowed : covers_below(r) ? denied_below : denied;
		int holds;

		if ((have | r->ops) == have || !path_covered(r, path))
			continue;
		holds = c->pid <= 0 && !r->any ? -1 : who_holds(r, c);
		if (r->deny && holds != 0) {
			denied |= r->ops;
			if (covers_below(r))
				denied_below |= r->ops;
		} else if (!r->deny && holds == 1) {
			allowed |= r->ops;
		}
	}
	mask = allowed & ~denied;
	/* An allow beneath @path opens the way through it, unless a deny on @path that
	 * covers all beneath it takes the same operations everywhere there. */
	for (size_t k = 0; below && k < n; k++) {
		const struct rule *r = &p->rules[list ? list[k] : k];
		unsigned ops = r->ops & ~denied_below;

		if (r->deny || (mask & ops) == ops || glob_match_below(r->path, path) != 1)
			continue;
		if ((c->pid > 0 || r->any) && who_holds(r, c) == 1)
			mask |= ops;
	}
	free(list);
	return mask;
}

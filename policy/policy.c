/*
 * policy: the evaluator, and the index of rules by prefix (the parser is policy_parse.c);
 * the NSS lookups of user= and group= names, and of those not known at load again later.
 *
 * The evaluator is fail closed: a deny rule whose condition cannot be checked (the caller's groups,
 * cgroup or executable could not be read, or are past what the glob can match, or the executable's
 * path is not verified: caller.h) counts as matching; an allow rule in that case does not.
 */
#include "policy_internal.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "timeutil.h"

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
	[POLICY_WRAP] = "wrap",	    [POLICY_UNWRAP] = "unwrap",	  [POLICY_EXPORT] = "export",
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

static void lazy_free(struct lazy_name *l)
{
	if (l)
		free(l->name);
	free(l);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->count; i++) {
		free(p->rules[i].path);
		free(p->rules[i].cgroup);
		free(p->rules[i].exe);
		lazy_free(p->rules[i].lazy_uid);
		lazy_free(p->rules[i].lazy_gid);
	}
	for (size_t i = 0; i < p->nwarnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
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

size_t policy_warning_count(const struct policy *p)
{
	return p->nwarnings;
}

const char *policy_warning(const struct policy *p, size_t i)
{
	return i < p->nwarnings ? p->warnings[i] : NULL;
}

size_t policy_exe_rules(const struct policy *p, const char **ret_first)
{
	size_t n = 0;

	for (size_t i = 0; i < p->count; i++) {
		if (!p->rules[i].exe)
			continue;
		if (n++ == 0 && ret_first)
			*ret_first = p->rules[i].ref;
	}
	return n;
}

int policy_lookup_name(const char *name, int group, unsigned *ret_id)
{
	char buf[16384];
	int e;

	if (!group) {
		struct passwd pw, *res = NULL;

		e = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
		if (e == 0 && res) {
			*ret_id = res->pw_uid;
			return 1;
		}
	} else {
		struct group gr, *res = NULL;

		e = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
		if (e == 0 && res) {
			*ret_id = res->gr_gid;
			return 1;
		}
	}
	/* getpwnam(3): these all mean "no such name" in one NSS module or another */
	if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		return 0;
	return -e;
}
/* Once a second at most, whatever the number of threads and requests: a name that does not
 * exist costs one NSS lookup a second, not one a request. */
#define LAZY_RETRY_US 1000000

int policy_lazy_id(struct lazy_name *l, unsigned *ret_id)
{
	long long now = time_mono_us(), next = __atomic_load_n(&l->next_try_us, __ATOMIC_RELAXED);
	int state = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
	unsigned id;
	int found;

	/* the one thread that moves the time on looks; the others take the last answer */
	if (state != LAZY_KNOWN && now >= next &&
	    __atomic_compare_exchange_n(&l->next_try_us, &next, now + LAZY_RETRY_US, 0,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		found = policy_lookup_name(l->name, l->group, &id);
		if (found > 0) {
			__atomic_store_n(&l->id, id, __ATOMIC_RELAXED);
			state = LAZY_KNOWN;
		} else {
			state = found == 0 ? LAZY_UNKNOWN : LAZY_FAILED;
		}
		__atomic_store_n(&l->state, state, __ATOMIC_RELEASE);
	}
	if (state == LAZY_KNOWN) {
		*ret_id = __atomic_load_n(&l->id, __ATOMIC_RELAXED);
		return 1;
	}
	return state == LAZY_UNKNOWN ? 0 : -1;
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

int policy_index(struct policy *p)
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
	unsigned uid = r->uid, gid = r->gid;
	int holds = 1, known;

	if (r->any)
		return 1;
	if (r->has_uid) {
		/* a user= that NSS could not answer for may be anyone */
		known = r->lazy_uid ? policy_lazy_id(r->lazy_uid, &uid) : 1;
		if (known == 0 || (known > 0 && c->uid != uid))
			return 0;
		if (known < 0)
			holds = -1;
	}
	if (r->has_gid) {
		known = r->lazy_gid ? policy_lazy_id(r->lazy_gid, &gid) : 1;
		if (known == 0)
			return 0;
		if (known < 0) {
			holds = -1;
		} else if (c->gid != gid) {
			caller_load(c, CALLER_HAVE_GROUPS);
			if (!(c->have & CALLER_HAVE_GROUPS))
				holds = -1;
			else if (!caller_in_group(c, gid))
				return 0;
		}
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

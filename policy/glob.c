/*
 * glob: segment-wise matching with '**' for any number of segments. Recursion depth is
 * bounded by the number of segments (the store allows 16 levels; policy lines are checked
 * to stay short), and backtracking over '**' is bounded by the segment counts.
 */
#include "glob.h"

#include <errno.h>
#include <fnmatch.h>
#include <string.h>

#define GLOB_STAR2_MAX 4

struct segs {
	const char *s[GLOB_SEGMENTS_MAX];
	size_t len[GLOB_SEGMENTS_MAX];
	int n;
};

/* Splits on '/', skipping empty segments. Returns -1 past the limits (glob.h). */
static int split(const char *p, struct segs *out)
{
	out->n = 0;
	while (*p) {
		const char *slash;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (out->n == GLOB_SEGMENTS_MAX || len >= GLOB_SEGMENT_MAX)
			return -1;
		out->s[out->n] = p;
		out->len[out->n] = len;
		out->n++;
		p += len;
	}
	return 0;
}

static int is_star2(const struct segs *g, int i)
{
	return g->len[i] == 2 && g->s[i][0] == '*' && g->s[i][1] == '*';
}

static int seg_match(const struct segs *g, int i, const struct segs *t, int j)
{
	char pat[GLOB_SEGMENT_MAX], str[GLOB_SEGMENT_MAX];

	memcpy(pat, g->s[i], g->len[i]);
	pat[g->len[i]] = '\0';
	memcpy(str, t->s[j], t->len[j]);
	str[t->len[j]] = '\0';
	/* no FNM_PERIOD: '*' matches a leading dot, as '**' does (glob.h) */
	return fnmatch(pat, str, 0) == 0;
}

/*
 * Matches pattern segments from @i against path segments from @j. With @below, the path
 * is a prefix and the match may continue past its end with at least one more segment.
 */
static int match_from(const struct segs *g, int i, const struct segs *t, int j, int below)
{
	while (i < g->n) {
		if (is_star2(g, i)) {
			/* zero or more segments: try every split, shortest first */
			for (int k = j; k <= t->n; k++)
				if (match_from(g, i + 1, t, k, below))
					return 1;
			/* past the prefix's end, '**' can take the required extra segment */
			return below;
		}
		if (j == t->n)
			return below; /* the rest of the pattern lies below the prefix */
		if (!seg_match(g, i, t, j))
			return 0;
		i++;
		j++;
	}
	return !below && j == t->n;
}

int glob_match(const char *pattern, const char *path)
{
	struct segs g, t;

	if (split(pattern, &g) < 0 || split(path, &t) < 0)
		return -ENAMETOOLONG;
	return match_from(&g, 0, &t, 0, 0);
}

int glob_match_below(const char *pattern, const char *prefix)
{
	struct segs g, t;

	if (split(pattern, &g) < 0 || split(prefix, &t) < 0)
		return -ENAMETOOLONG;
	return match_from(&g, 0, &t, 0, 1);
}

int glob_check(const char *pattern)
{
	struct segs g;
	int stars = 0;

	if (!*pattern || split(pattern, &g) < 0)
		return -EINVAL;
	/* "a//b" or "a/" would be silently folded: refuse them as the typos they are */
	for (const char *p = pattern; *p; p++)
		if (p[0] == '/' && (p[1] == '/' || p[1] == '\0'))
			return -EINVAL;
	for (int i = 0; i < g.n; i++) {
		int depth = 0;

		if (!is_star2(&g, i) && memmem(g.s[i], g.len[i], "**", 2))
			return -EINVAL;
		/* Each '**' multiplies the ways to match: a few keep matching cheap. */
		if (is_star2(&g, i) && ++stars > GLOB_STAR2_MAX)
			return -EINVAL;
		for (size_t k = 0; k < g.len[i]; k++) {
			if (g.s[i][k] == '[')
				depth++;
			else if (g.s[i][k] == ']' && depth > 0)
				depth--;
		}
		if (depth)
			return -EINVAL;
	}
	return 0;
}

/*
 * glob: the path patterns of the policy language. A pattern and a path are segments
 * split on '/'. In a segment, '*' matches any run of characters and '?' one character
 * (fnmatch without special meaning for '/', which never occurs in a segment), a leading
 * '.' included: '*' covers what '**' covers, so a name that starts with a dot is no way
 * round a deny on exe= or cgroup= (the vault's own names never start with one). A segment
 * that is exactly '**' matches zero or more whole segments. Leading and trailing slashes
 * are not significant. Pure functions: no allocation, no I/O.
 *
 * Matching has limits (GLOB_SEGMENTS_MAX segments of under GLOB_SEGMENT_MAX bytes). A path
 * past them is not "no match" but "cannot tell": -ENAMETOOLONG, which the caller must
 * treat as the answer that fails closed.
 */
#ifndef VAULTFS_GLOB_H
#define VAULTFS_GLOB_H

#define GLOB_SEGMENTS_MAX 64
#define GLOB_SEGMENT_MAX 256

/* 1 if @path matches @pattern, 0 if not, -ENAMETOOLONG if either is past the limits. */
int glob_match(const char *pattern, const char *path);

/*
 * 1 if @pattern could match some path that lies strictly below @prefix (that is, @prefix
 * followed by one or more segments); used to tell whether a folder leads to anything a
 * rule covers. 1, 0, or -ENAMETOOLONG as glob_match.
 */
int glob_match_below(const char *pattern, const char *prefix);

/* 0 if @pattern is well formed — non-empty segments, no '**' inside a longer segment, at
 * most four '**', balanced brackets — else -EINVAL. */
int glob_check(const char *pattern);

#endif

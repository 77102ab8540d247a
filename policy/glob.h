/*
 * glob: the path patterns of the policy language. A pattern and a path are segments
 * split on '/'. In a segment, '*' matches any run of characters and '?' one character
 * (fnmatch without special meaning for '/', which never occurs in a segment); a segment
 * that is exactly '**' matches zero or more whole segments. Leading and trailing slashes
 * are not significant. Pure functions: no allocation, no I/O.
 */
#ifndef VAULTFS_GLOB_H
#define VAULTFS_GLOB_H

/* 1 if @path matches @pattern, else 0. */
int glob_match(const char *pattern, const char *path);

/*
 * 1 if @pattern could match some path that lies strictly below @prefix (that is, @prefix
 * followed by one or more segments); used to tell whether a folder leads to anything a
 * rule covers.
 */
int glob_match_below(const char *pattern, const char *prefix);

/* 0 if @pattern is well formed — non-empty segments, no '**' inside a longer segment, at
 * most four '**', balanced brackets — else -EINVAL. */
int glob_check(const char *pattern);

#endif

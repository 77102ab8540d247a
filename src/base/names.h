/*
 * names: what a secret or folder may be called. A path is segments joined by '/'; each
 * segment is 1 to NAME_SEGMENT_MAX characters of A-Z a-z 0-9 . _ - and does not start
 * with '.'; there are at most NAME_DEPTH_MAX segments. '@' separates a name from a version.
 * Pure functions: no allocation, no I/O.
 */
#ifndef VAULTFS_NAMES_H
#define VAULTFS_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define NAME_SEGMENT_MAX 127
#define NAME_DEPTH_MAX 16
#define NAME_PATH_MAX (NAME_DEPTH_MAX * (NAME_SEGMENT_MAX + 1))

/* Returns 0 if @seg (of @len bytes) is a valid segment, else -EINVAL. */
int name_segment_check(const char *seg, size_t len);

/* Returns 0 if @name is one valid segment (a key's name), else -EINVAL. */
int name_single_check(const char *name);

/* Returns 0 if @path is a valid relative path of segments, else -EINVAL. */
int name_path_check(const char *path);

/*
 * Splits "NAME@N" into the name's length and version N (1 or more, decimal, no sign or
 * leading zero). A name without '@' gives version 0. Returns 0 or -EINVAL.
 */
int name_split_version(const char *s, size_t *ret_name_len, uint64_t *ret_version);

#endif

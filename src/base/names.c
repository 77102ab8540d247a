/*
 * names: validation of secret and folder names, and of the NAME@VERSION form.
 */
#include "names.h"

#include <errno.h>
#include <string.h>

static int name_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int name_segment_check(const char *seg, size_t len)
{
	if (len == 0 || len > NAME_SEGMENT_MAX || seg[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(seg[i]))
			return -EINVAL;
	return 0;
}

int name_single_check(const char *name)
{
	return name_segment_check(name, strlen(name));
}

int name_path_check(const char *path)
{
	unsigned depth = 0;
	const char *p = path;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (name_segment_check(p, len) < 0 || ++depth > NAME_DEPTH_MAX)
			return -EINVAL;
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

int name_split_version(const char *s, size_t *ret_name_len, uint64_t *ret_version)
{
	const char *at = strchr(s, '@');
	uint64_t v = 0;

	if (!at) {
		*ret_name_len = strlen(s);
		*ret_version = 0;
		return 0;
	}
	if (at == s || at[1] < '1' || at[1] > '9')
		return -EINVAL;
	for (const char *p = at + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10 || v > INT64_MAX / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*ret_name_len = (size_t)(at - s);
	*ret_version = v;
	return 0;
}

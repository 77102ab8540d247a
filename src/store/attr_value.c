/*
 * attr_value: validation of user.vault.* attribute names and values (attr_value.h).
 */
#include "attr_value.h"

#include <errno.h>
#include <string.h>

#include "names.h"
#include "store.h"
#include "timeutil.h"

/* Attribute values are one line of text: they are printed by tools and logged in audits. */
static int has_control(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

int attr_is_read_only(const char *name)
{
	return strcmp(name, "version") == 0 || strcmp(name, "versions") == 0 ||
	       strcmp(name, "created") == 0 || strcmp(name, "updated") == 0;
}

int attr_value_check(const char *name, const char *value, int64_t *ret_num)
{
	int64_t t;

	if (attr_is_read_only(name))
		return -EPERM;
	if (strcmp(name, "content_type") == 0) {
		if (strlen(value) > STORE_CONTENT_TYPE_MAX)
			return -ERANGE;
		if (has_control(value))
			return -EINVAL;
		*ret_num = 0;
		return ATTR_CONTENT_TYPE;
	}
	if (strcmp(name, "enabled") == 0) {
		if (strcmp(value, "1") != 0 && strcmp(value, "0") != 0)
			return -EINVAL;
		*ret_num = value[0] == '1';
		return ATTR_ENABLED;
	}
	if (strcmp(name, "not_before") == 0 || strcmp(name, "expires") == 0) {
		if (!*value)
			t = STORE_TIME_UNSET;
		else if (time_parse(value, &t) < 0)
			return -EINVAL;
		*ret_num = t;
		return name[0] == 'n' ? ATTR_NOT_BEFORE : ATTR_EXPIRES;
	}
	if (strncmp(name, "tag.", 4) == 0) {
		if (name_segment_check(name + 4, strlen(name + 4)) < 0)
			return -EINVAL;
		if (strlen(value) > STORE_TAG_VALUE_MAX)
			return -ERANGE;
		if (has_control(value))
			return -EINVAL;
		*ret_num = 0;
		return ATTR_TAG;
	}
	return -EOPNOTSUPP;
}

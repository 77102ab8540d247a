/*
 * fuzz_attr: libFuzzer target for the user.vault.* attribute checks — what any caller
 * with write on a secret gives setfattr. The input is the attribute's name (without
 * "user.vault."), a NUL, and its value (the mount refuses a NUL inside a value, so the
 * value ends at the next one). An accepted value must be what SPEC allows: within its
 * length, one line without control characters, enabled 0 or 1, a time only when the
 * value is one; a refused one must be refused with one of the errors the check names.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attr_value.h"
#include "fuzz.h"
#include "names.h"
#include "store.h"
#include "timeutil.h"

static int one_line(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2);
	const char *name, *value;
	int64_t num = -42, t;
	int kind;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	name = buf;
	value = buf + strlen(buf) + 1;
	kind = attr_value_check(name, value, &num);
	switch (kind) {
	case ATTR_CONTENT_TYPE:
		if (strcmp(name, "content_type") || strlen(value) > STORE_CONTENT_TYPE_MAX ||
		    !one_line(value) || num != 0)
			abort();
		break;
	case ATTR_ENABLED:
		if (strcmp(name, "enabled") ||
		    !(strcmp(value, "0") == 0 || strcmp(value, "1") == 0) ||
		    num != (value[0] == '1'))
			abort();
		break;
	case ATTR_NOT_BEFORE:
	case ATTR_EXPIRES:
		if (strcmp(name, kind == ATTR_NOT_BEFORE ? "not_before" : "expires"))
			abort();
		if (!*value ? num != STORE_TIME_UNSET : (time_parse(value, &t) != 0 || num != t))
			abort();
		break;
	case ATTR_TAG:
		if (strncmp(name, "tag.", 4) || name_single_check(name + 4) ||
		    strlen(value) > STORE_TAG_VALUE_MAX || !one_line(value) || num != 0)
			abort();
		break;
	case -EPERM:
	case -EOPNOTSUPP:
	case -EINVAL:
	case -ERANGE:
		if (num != -42) /* ret_* untouched on failure */
			abort();
		break;
	default:
		abort();
	}
	free(buf);
	return 0;
}

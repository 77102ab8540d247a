/*
 * attr_value: what a settable user.vault.* attribute may be called and may hold, checked
 * before anything is stored. The values come from any caller with write on a secret (a
 * setfattr through the mount, or `vaultfs secret attr`), so the checks are one pure
 * function — no allocation, no I/O — that the store calls and a fuzzer can drive alone.
 */
#ifndef VAULTFS_ATTR_VALUE_H
#define VAULTFS_ATTR_VALUE_H

#include <stdint.h>

enum attr_kind {
	ATTR_CONTENT_TYPE,
	ATTR_ENABLED,
	ATTR_NOT_BEFORE,
	ATTR_EXPIRES,
	ATTR_TAG,
};

/* Returns 1 for the attributes nobody sets: version, versions, created, updated. */
int attr_is_read_only(const char *name);

/*
 * Checks the value @value (a C string: the mount refuses a NUL inside one) for the
 * attribute @name, given without "user.vault.". Returns its enum attr_kind and, in
 * *@ret_num, for enabled 0 or 1, for not_before and expires the instant in microseconds
 * (STORE_TIME_UNSET: clear it, the empty value; the epoch is an instant like any); or -EPERM (a
 * read-only attribute), -EOPNOTSUPP (no such attribute), -EINVAL (a bad tag name, a
 * control character, a value that is not 0/1 or RFC 3339), -ERANGE (too long).
 */
int attr_value_check(const char *name, const char *value, int64_t *ret_num);

#endif

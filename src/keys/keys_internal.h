/*
 * keys_internal: what keys.c (making and keeping keys) and keys_run.c (using them) share.
 */
#ifndef VAULTFS_KEYS_INTERNAL_H
#define VAULTFS_KEYS_INTERNAL_H

#include "hsm_keys.h"
#include "keys.h"

struct keys_type_info {
	struct keys_type t;
	enum hsm_key_kind kind;
	unsigned bits;
	const char *group; /* EC: OpenSSL's group name */
};

/* The type named @name, or NULL. */
const struct keys_type_info *keys_type_info(const char *name);

#endif

/*
 * fuzz_names: libFuzzer target for the names of secrets and folders and the NAME@N form —
 * every path in the tree and on the command line passes through them first. The input is
 * taken as one string and checked against a plain restatement of SPEC's rule (segments of
 * 1 to 127 of A-Z a-z 0-9 . _ -, not starting with '.', at most 16); NAME@N that splits
 * must print back to the same bytes (a version has one spelling). Built by
 * tests/fuzz/run.sh.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "names.h"

/* SPEC's rule, written apart from names.c, so the two can disagree. */
static int spec_path_ok(const char *s)
{
	size_t seg = 0, depth = 1;

	for (const char *p = s;; p++) {
		if (*p == '/' || *p == '\0') {
			if (seg == 0 || seg > 127 || depth > 16)
				return 0;
			if (*p == '\0')
				return 1;
			seg = 0;
			depth++;
			continue;
		}
		if (seg == 0 && *p == '.')
			return 0;
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
			    *p))
			return 0;
		seg++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	size_t name_len = 0;
	uint64_t version = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if ((name_path_check(s) == 0) != spec_path_ok(s))
		abort();
	if ((name_single_check(s) == 0) != (spec_path_ok(s) && !strchr(s, '/')))
		abort();
	if (name_split_version(s, &name_len, &version) == 0) {
		const char *at = strchr(s, '@');

		if (!at) {
			if (version != 0 || name_len != strlen(s))
				abort();
		} else {
			char back[32];

			if (version == 0 || version > INT64_MAX || name_len != (size_t)(at - s))
				abort();
			snprintf(back, sizeof(back), "@%" PRIu64, version);
			if (strcmp(back, at) != 0)
				abort();
		}
	} else if (!strchr(s, '@')) {
		abort(); /* only a bad version is refused here */
	}
	free(s);
	return 0;
}

/*
 * fuzz_time: libFuzzer target for RFC 3339 times — the not_before and expires attributes
 * any writer of a secret may set, and the times of the audit trail. The input is parsed as
 * a string; one that parses must format and parse back to the same instant, since what
 * vaultfs accepts it later prints (getfattr) and may be given again. The input's first 8
 * bytes are also formatted as an instant: every instant of years 0000 to 9999 must print
 * as RFC 3339 that parses back to it.
 *
 * A broken round trip is a crash (abort), with the input and what it printed as. Built
 * with -DFUZZ_TIME_LENIENT it is counted instead and the first printed at exit.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "timeutil.h"

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z, in microseconds since the epoch */
#define YEAR0_US (-62167219200LL * 1000000)
#define YEAR9999_END_US (253402300800LL * 1000000 - 1)

static unsigned long mismatches;
static char first[256];

static void report(void)
{
	if (mismatches)
		fprintf(stderr, "fuzz_time: %lu round trips broken; first: %s\n", mismatches,
			first);
}

static void broken(const char *in, const char *out)
{
	if (!mismatches++) {
		snprintf(first, sizeof(first), "%s -> \"%s\"", in, out);
		atexit(report);
	}
#ifndef FUZZ_TIME_LENIENT
	fprintf(stderr, "round trip broken: %s -> \"%s\"\n", in, out);
	abort();
#endif
}

/* @us formatted with microseconds must parse back to @us, and without them to its second. */
static void round_trip(int64_t us, const char *from)
{
	char buf[TIME_RFC3339_MAX];
	int64_t back;

	time_format(us, 1, buf);
	if (!memchr(buf, '\0', sizeof(buf)))
		abort();
	if (time_parse(buf, &back) != 0 || back != us)
		broken(from, buf);
	time_format(us, 0, buf);
	if (time_parse(buf, &back) != 0 || back != us - (((us % 1000000) + 1000000) % 1000000))
		broken(from, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int64_t us;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (time_parse(s, &us) == 0) {
		char from[128];

		snprintf(from, sizeof(from), "\"%.100s\"", s);
		round_trip(us, from);
	}
	if (size >= 8) {
		uint64_t u;
		char from[64];

		memcpy(&u, data, 8);
		us = YEAR0_US + (int64_t)(u % (uint64_t)(YEAR9999_END_US - YEAR0_US + 1));
		snprintf(from, sizeof(from), "instant %" PRId64, us);
		round_trip(us, from);
	}
	free(s);
	return 0;
}

/*
 * counters: the daemon's event counts, for its metrics — bumped by many threads on the hot
 * path, summed now and then by one.
 *
 * Every thread that counts gets a shard of its own (made at its first count, kept for the
 * next thread when it exits, so that no count is ever lost): a count is a relaxed store to
 * a slot of that shard, with no lock and no cache line shared with another thread. A read
 * sums every shard; it may miss counts made while it reads, never a count made before it
 * began. Counts only grow (they are Prometheus counters).
 *
 * Two kinds of slot: the fixed ones below, and the requests, counted by their record's op,
 * decision and result. Those names are learned as they are first counted, up to
 * COUNTERS_OPS ops and COUNTERS_RESULTS results; past that they are counted as the last
 * one, "other". This module knows no other layer: what each count means is its caller's.
 */
#ifndef VAULTFS_COUNTERS_H
#define VAULTFS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

enum counter {
	COUNTER_TOKEN_CALLS, /* calls on the token (the outermost of nested ones) */
	COUNTER_TOKEN_ERRORS, /* calls the token answered with an error */
	COUNTER_AUDIT_RECORDS, /* records written to the trail */
	COUNTER_AUDIT_FAILED, /* records that could not be written: the operation failed */
	COUNTER_AUDIT_STALLED, /* of those, the ones refused by a stall (no lock or key in time) */
	COUNTER_EXPIRY_WARNINGS, /* "expiring" warnings the lifetime engine recorded */
	COUNTER_LIFETIME_ROTATIONS, /* keys the lifetime engine rotated */
	COUNTER_FIXED
};

#define COUNTERS_OPS 64
#define COUNTERS_RESULTS 32

/* Adds @n to @c. Cheap enough for every request; never fails (a thread that cannot get a
 * shard counts into a shared one, with an atomic add). */
void counters_add(enum counter c, uint64_t n);

/* Counts one request recorded as @op (a name that lives as long as the process, as the
 * audit ops do), allowed or not, with @result (0 or a positive errno). */
void counters_request(const char *op, int allow, int result);

/* The sum of @c over every shard. */
uint64_t counters_get(enum counter c);

/* The names learned so far: ops in @ops (COUNTERS_OPS entries), results in @results
 * (COUNTERS_RESULTS); the counts returned are how many are set. "other" is the name of the
 * last of each when it was reached. */
void counters_names(const char **ops, size_t *ret_ops, int *results, size_t *ret_results);

/* The requests counted as op number @op, @allow, and result number @result. */
uint64_t counters_get_request(size_t op, int allow, size_t result);

#endif

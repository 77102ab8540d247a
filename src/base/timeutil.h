/*
 * timeutil: wall-clock time as microseconds since the epoch, and its RFC 3339 UTC form;
 * the monotonic clock for deadlines.
 */
#ifndef VAULTFS_TIMEUTIL_H
#define VAULTFS_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Buffer size that holds any formatted time, with microseconds. */
#define TIME_RFC3339_MAX 40

/* Current wall-clock time in microseconds since the epoch. */
int64_t time_now_us(void);

/* Microseconds on the monotonic clock: for deadlines and ages, which a clock step must
 * not stretch or cut. */
int64_t time_mono_us(void);

/* Formats @us as "YYYY-MM-DDThh:mm:ssZ" (or with ".uuuuuu" when @micro). */
void time_format(int64_t us, int micro, char buf[TIME_RFC3339_MAX]);

/*
 * Parses an RFC 3339 date-time ("2026-01-31T12:00:00Z", optional fraction, 'Z' or
 * +hh:mm / -hh:mm offset, 't' and 'z' accepted). Accepts only what time_format prints
 * back as the same instant: no leap second (:60), no fraction finer than a microsecond,
 * nothing outside years 0000-9999 once in UTC. Returns 0 or -EINVAL.
 */
int time_parse(const char *s, int64_t *ret_us);

/* The longest duration time_parse_days takes: 100 years. */
#define TIME_DAYS_MAX 36500

/*
 * Parses a lifetime: a whole number of days ("90"), or a number with a unit, "90d", "12h",
 * "30m" or "5s" (for operators who need less than a day, and for tests). Nothing else:
 * no sign, no space, no fraction, not zero, at most TIME_DAYS_MAX days. *@ret_s is in
 * seconds. Returns 0 or -EINVAL.
 */
int time_parse_days(const char *s, int64_t *ret_s);

#endif

/*
 * store_lifetime: what a vault's lifetime checks read and mark — the live secrets that
 * expire before a given time, and the day each object was last warned of its expiry
 * (table lifetime_warned), so that a warning is recorded at most once a day.
 */
#include <errno.h>
#include <string.h>

#include "store_internal.h"

int store_secret_expiring(struct store *s, int64_t before, store_expiring_fn fn, void *userdata)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_enter(s);
	if (r < 0)
		return r;
	r = store_stmt(s, Q_SECRET_EXPIRING, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, before);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
		       userdata);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql_errno(s, rc, "expiring secrets");
	store_done(st);
	return r;
}

/* Whether @path was warned on @day: 1, 0 or -errno. */
static int warned_on(struct store *s, const char *path, int64_t day)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = store_stmt(s, Q_WARNED_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = sqlite3_column_int64(st, 0) == day;
	else if (rc != SQLITE_DONE)
		r = store_sql_errno(s, rc, "lifetime warning");
	store_done(st);
	return r;
}

/* Within a transaction: -EALREADY if @path was warned on @day, else marks it. */
static int warn_locked(struct store *s, const char *path, int64_t day)
{
	sqlite3_stmt *st = NULL;
	int r = warned_on(s, path, day);

	if (r != 0)
		return r < 0 ? r : -EALREADY;
	r = store_stmt(s, Q_WARNED_SET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, day);
	return store_step_done(s, st);
}

int store_lifetime_warned(struct store *s, const char *path, int64_t day)
{
	int r = store_enter(s);

	return r < 0 ? r : warned_on(s, path, day);
}

int store_lifetime_warn(struct store *s, const char *path, int64_t day)
{
	int r;

	if (!path || !*path || strlen(path) > 4096)
		return -EINVAL;
	r = store_enter(s);
	if (r >= 0)
		r = store_tx_begin(s);
	if (r < 0)
		return r;
	/* already warned: rolled back, so the commit hook (the record) does not run */
	r = store_tx_end(s, warn_locked(s, path, day));
	if (r == -EALREADY)
		return 0;
	return r < 0 ? r : 1;
}

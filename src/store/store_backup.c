/*
 * store_backup: a consistent copy of the vault database, taken while it is in use, and the
 * check that a copy is whole.
 *
 * The copy is SQLite's online backup API in one step: every page is copied inside one read
 * transaction of the source, which in WAL mode blocks no writer, so the copy is the
 * database as it stood at one instant. Values stay sealed as they are in the database; this
 * file never unwraps a key.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store_internal.h"

int store_backup(struct store *s, const char *dest)
{
	sqlite3 *out = NULL;
	sqlite3_backup *b;
	int rc, r, fd;

	r = store_enter(s);
	if (r < 0)
		return r;
	/* created here first: a file already there is refused, not overwritten */
	fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	rc = sqlite3_open_v2(dest, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		log_debug("sqlite: open \"%s\": %s", dest, sqlite3_errstr(rc));
		r = store_rc_errno(rc);
		goto out;
	}
	b = sqlite3_backup_init(out, "main", store_db(s), "main");
	if (!b) {
		log_debug("sqlite: backup to \"%s\": %s", dest, sqlite3_errmsg(out));
		r = store_rc_errno(sqlite3_errcode(out));
		goto out;
	}
	/* -1: every page in one step, so one read transaction: one instant of the source */
	rc = sqlite3_backup_step(b, -1);
	if (rc != SQLITE_DONE)
		log_debug("sqlite: backup step: %s", sqlite3_errstr(rc));
	r = sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE
		    ? 0
		    : store_rc_errno(rc == SQLITE_DONE ? sqlite3_errcode(out) : rc);
	if (r < 0)
		goto out;
	/* the copy is a plain rollback-journal file until it is opened as a vault */
	rc = sqlite3_close(out);
	out = NULL;
	if (rc != SQLITE_OK) {
		r = store_rc_errno(rc);
		goto out;
	}
	fd = open(dest, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
out:
	if (out)
		sqlite3_close(out);
	return r;
}

int store_check(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	r = store_enter(s);
	if (r < 0)
		return r;
	rc = sqlite3_prepare_v2(store_db(s), "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_rc_errno(rc);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_rc_errno(rc);
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		snprintf(err, errlen, "%s", (const char *)sqlite3_column_text(st, 0));
		r = -EUCLEAN;
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

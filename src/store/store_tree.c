/*
 * store_tree: folders and listings, live and soft-deleted. Listing runs a statement on the
 * calling thread's connection and hands each name to a callback, which must not call back
 * into the store.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "timeutil.h"

int store_folder_exists(struct store *s, const char *path)
{
	int r;

	if (path[0] && name_path_check(path) < 0)
		return -EINVAL;
	r = store_enter(s);
	if (r < 0)
		return r;
	r = store_folder_exists_locked(s, path);
	return r;
}

static int folder_create_locked(struct store *s, const char *path, int64_t now)
{
	struct row row;
	int r;

	r = store_folder_exists_locked(s, path);
	if (r != 0)
		return r < 0 ? r : -EEXIST;
	r = store_get_row_which(s, path, STORE_LIVE, &row);
	if (r == 0)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	r = store_ensure_parents(s, path, 0, now);
	if (r < 0)
		return r;
	return store_folder_insert(s, path, now);
}

int store_folder_create(struct store *s, const char *path, int64_t now)
{
	int r;

	r = store_enter_write(s, path);
	if (r >= 0)
		r = store_tx_end(s, folder_create_locked(s, path, now));
	return r;
}

static int folder_remove_locked(struct store *s, const char *path)
{
	sqlite3_stmt *st = NULL;
	struct row row;
	int r, rc;

	r = store_folder_exists_locked(s, path);
	if (r < 0)
		return r;
	if (r == 0)
		return store_get_row_which(s, path, STORE_LIVE, &row) == 0 ? -ENOTDIR : -ENOENT;
	r = store_stmt(s, Q_FOLDER_HAS_CHILDREN, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	store_done(st);
	if (rc == SQLITE_ROW)
		return -ENOTEMPTY;
	if (rc != SQLITE_DONE)
		return store_sql_errno(s, rc, "folder children");
	r = store_stmt(s, Q_FOLDER_DELETE, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	return store_step_done(s, st);
}

int store_folder_remove(struct store *s, const char *path)
{
	int r;

	if (path[0] == '\0')
		return -EBUSY;
	r = store_enter_write(s, path);
	if (r >= 0)
		r = store_tx_end(s, folder_remove_locked(s, path));
	return r;
}

/* Binds ?2 and ?3 to the range of paths below @folder. */
static void bind_below(sqlite3_stmt *st, const char *folder, char *lo, char *hi, size_t len)
{
	if (folder[0]) {
		snprintf(lo, len, "%s/", folder);
		snprintf(hi, len, "%s0", folder);
	} else {
		snprintf(lo, len, "%s", "");
		snprintf(hi, len, "%s", "\x7f");
	}
	sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
}

/*
 * @fn runs while the listing's statement is active on this thread's connection, so it
 * must not call back into the store.
 */
static int list_locked(struct store *s, const char *folder, unsigned flags, store_list_fn fn,
		       void *userdata)
{
	char lo[NAME_PATH_MAX + 2], hi[NAME_PATH_MAX + 2];
	char last[NAME_SEGMENT_MAX + 1] = "";
	size_t skip = folder[0] ? strlen(folder) + 1 : 0;
	unsigned found = 0;
	sqlite3_stmt *st = NULL;
	enum query q;
	int r, rc;

	if (flags & STORE_LIST_RECURSIVE)
		q = flags & STORE_LIST_DELETED ? Q_LIST_DELETED_BELOW : Q_LIST_LIVE_BELOW;
	else
		q = flags & STORE_LIST_DELETED ? Q_LIST_DELETED : Q_LIST_LIVE;
	if (!(flags & STORE_LIST_DELETED)) {
		r = store_folder_exists_locked(s, folder);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
	}
	r = store_stmt(s, q, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, folder, -1, SQLITE_STATIC);
	if (q != Q_LIST_LIVE)
		bind_below(st, folder, lo, hi, sizeof(lo));
	r = 0;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char seg[NAME_SEGMENT_MAX + 1];
		int is_folder = 0;

		found++;
		if (q == Q_LIST_LIVE) {
			is_folder = sqlite3_column_int(st, 1);
		} else if (q == Q_LIST_DELETED) {
			/* deleted secrets below: show the next segment, once */
			const char *rest = name + skip;
			const char *slash = strchr(rest, '/');

			snprintf(seg, sizeof(seg), "%.*s",
				 (int)(slash ? (size_t)(slash - rest) : strlen(rest)), rest);
			is_folder = slash != NULL;
			if (is_folder && strcmp(seg, last) == 0)
				continue;
			snprintf(last, sizeof(last), "%s", is_folder ? seg : "");
			name = seg;
		}
		r = fn(name, is_folder, userdata);
	}
	store_done(st);
	if (r != 0)
		return r;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_sql_errno(s, rc, "list");
	if ((flags & STORE_LIST_DELETED) && !(flags & STORE_LIST_RECURSIVE) && folder[0] && !found)
		return -ENOENT;
	return 0;
}

int store_list(struct store *s, const char *folder, unsigned flags, store_list_fn fn,
	       void *userdata)
{
	int r;

	if (folder[0] && name_path_check(folder) < 0)
		return -EINVAL;
	r = store_enter(s);
	if (r < 0)
		return r;
	r = list_locked(s, folder, flags, fn, userdata);
	return r;
}

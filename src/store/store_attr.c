/*
 * store_attr: a secret's metadata as SPEC's user.vault.* attributes — read-only version
 * facts, and the settable content type, enabled flag, validity window and tags, each
 * validated before it is stored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr_value.h"
#include "store_internal.h"
#include "timeutil.h"

static int tag_name_check(const char *name)
{
	return name_segment_check(name, strlen(name));
}

/* @exact: a time a user set, printed as it was accepted (with its fraction, if any);
 * otherwise to the second. */
static char *fmt_time(int64_t us, int exact)
{
	char buf[TIME_RFC3339_MAX];

	time_format(us, exact && us % 1000000 != 0, buf);
	return strdup(buf);
}

static int attr_get_locked(struct store *s, const char *path, enum store_which which,
			   const char *name, char **ret)
{
	char *v = NULL;
	struct row row;
	int r;

	r = store_get_row_which(s, path, which, &row);
	if (r < 0)
		return r;
	if (strcmp(name, "version") == 0) {
		if (asprintf(&v, "%" PRIu64, row.current) < 0)
			v = NULL;
	} else if (strcmp(name, "versions") == 0) {
		/* versions run 1..current with no gaps: versions are never removed one by one */
		size_t cap = (size_t)row.current * 21 + 1, off = 0;

		v = malloc(cap);
		if (v) {
			v[0] = '\0';
			for (uint64_t i = 1; i <= row.current; i++)
				off += (size_t)snprintf(v + off, cap - off,
							i > 1 ? " %" PRIu64 : "%" PRIu64, i);
		}
	} else if (strcmp(name, "created") == 0) {
		v = fmt_time(row.created, 0);
	} else if (strcmp(name, "updated") == 0) {
		v = fmt_time(row.updated, 0);
	} else if (strcmp(name, "content_type") == 0) {
		if (!row.content_type[0])
			return -ENODATA;
		v = strdup(row.content_type);
	} else if (strcmp(name, "enabled") == 0) {
		v = strdup(row.enabled ? "1" : "0");
	} else if (strcmp(name, "not_before") == 0 || strcmp(name, "expires") == 0) {
		int64_t t = name[0] == 'n' ? row.not_before : row.expires;

		if (t == STORE_TIME_UNSET)
			return -ENODATA;
		v = fmt_time(t, 1);
	} else if (strncmp(name, "tag.", 4) == 0) {
		sqlite3_stmt *st = NULL;
		int rc;

		if (tag_name_check(name + 4) < 0)
			return -ENODATA;
		r = store_stmt(s, Q_TAG_GET, &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, row.id);
		sqlite3_bind_text(st, 2, name + 4, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			v = strdup((const char *)sqlite3_column_text(st, 0));
		store_done(st);
		if (rc == SQLITE_DONE)
			return -ENODATA;
		if (rc != SQLITE_ROW)
			return store_sql_errno(s, rc, "tag lookup");
	} else {
		return -ENODATA;
	}
	if (!v)
		return -ENOMEM;
	*ret = v;
	return 0;
}

int store_attr_get(struct store *s, const char *path, enum store_which which, const char *name,
		   char **ret_value)
{
	int r;

	r = store_enter_path(s, path);
	if (r < 0)
		return r;
	r = attr_get_locked(s, path, which, name, ret_value);
	return r;
}

static int bind_update(struct store *s, enum query q, int64_t id, const char *text,
		       const int64_t *num)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = store_stmt(s, q, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else if (num)
		sqlite3_bind_int64(st, 2, *num);
	else
		sqlite3_bind_null(st, 2);
	return store_step_done(s, st);
}

/* Sets tag @tag of secret @id to @value, within the limit on how many a secret has. */
static int tag_set(struct store *s, int64_t id, const char *tag, const char *value)
{
	sqlite3_stmt *st = NULL;
	int64_t n;
	int r, rc;

	r = store_stmt(s, Q_TAG_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, tag, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	store_done(st);
	if (rc == SQLITE_DONE) {
		r = store_stmt(s, Q_TAG_COUNT, &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
		n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		store_done(st);
		if (rc != SQLITE_ROW)
			return store_sql_errno(s, rc, "tag count");
		if (n >= STORE_TAGS_MAX)
			return -ENOSPC;
	} else if (rc != SQLITE_ROW) {
		return store_sql_errno(s, rc, "tag lookup");
	}
	r = store_stmt(s, Q_TAG_SET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, tag, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	return store_step_done(s, st);
}

static int attr_set_locked(struct store *s, const char *path, const char *name, const char *value,
			   unsigned flags)
{
	struct row row;
	int64_t t;
	int kind, r;

	r = store_get_row_which(s, path, STORE_LIVE, &row);
	if (r < 0)
		return r;
	if (attr_is_read_only(name))
		return -EPERM;
	if (flags & (STORE_ATTR_CREATE | STORE_ATTR_REPLACE)) {
		char *old = NULL;

		r = attr_get_locked(s, path, STORE_LIVE, name, &old);
		free(old);
		if (r == 0 && (flags & STORE_ATTR_CREATE))
			return -EEXIST;
		if (r == -ENODATA && (flags & STORE_ATTR_REPLACE))
			return -ENODATA;
		if (r < 0 && r != -ENODATA)
			return r;
	}
	kind = attr_value_check(name, value, &t);
	switch (kind) {
	case ATTR_CONTENT_TYPE:
		return bind_update(s, Q_SET_CONTENT_TYPE, row.id, value, NULL);
	case ATTR_ENABLED:
		return bind_update(s, Q_SET_ENABLED, row.id, NULL, &t);
	case ATTR_NOT_BEFORE:
	case ATTR_EXPIRES:
		return bind_update(s, kind == ATTR_NOT_BEFORE ? Q_SET_NOT_BEFORE : Q_SET_EXPIRES,
				   row.id, NULL, t != STORE_TIME_UNSET ? &t : NULL);
	case ATTR_TAG:
		return tag_set(s, row.id, name + 4, value);
	default:
		return kind;
	}
}

int store_attr_set(struct store *s, const char *path, const char *name, const char *value,
		   unsigned flags)
{
	int r;

	r = store_enter_write(s, path);
	if (r >= 0)
		r = store_tx_end(s, attr_set_locked(s, path, name, value, flags));
	return r;
}

static int attr_remove_locked(struct store *s, const char *path, const char *name)
{
	struct row row;
	char *old = NULL;
	int r;

	r = store_get_row_which(s, path, STORE_LIVE, &row);
	if (r < 0)
		return r;
	if (attr_is_read_only(name) || strcmp(name, "enabled") == 0)
		return -EPERM;
	r = attr_get_locked(s, path, STORE_LIVE, name, &old);
	if (r < 0)
		return r == -ENODATA && strncmp(name, "tag.", 4) != 0 &&
				       strcmp(name, "content_type") != 0 &&
				       strcmp(name, "not_before") != 0 &&
				       strcmp(name, "expires") != 0
			       ? -EOPNOTSUPP
			       : r;
	free(old);
	if (strncmp(name, "tag.", 4) == 0) {
		sqlite3_stmt *st = NULL;

		r = store_stmt(s, Q_TAG_DELETE, &st);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, row.id);
		sqlite3_bind_text(st, 2, name + 4, -1, SQLITE_STATIC);
		return store_step_done(s, st);
	}
	return attr_set_locked(s, path, name, "", 0);
}

int store_attr_remove(struct store *s, const char *path, const char *name)
{
	int r;

	r = store_enter_write(s, path);
	if (r >= 0)
		r = store_tx_end(s, attr_remove_locked(s, path, name));
	return r;
}

static int append_name(char **buf, size_t *len, size_t *cap, const char *name)
{
	size_t n = strlen(name) + 1;

	if (*len + n > *cap) {
		size_t ncap = (*cap ? *cap * 2 : 256) + n;
		char *nb = realloc(*buf, ncap);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, name, n);
	*len += n;
	return 0;
}

int store_attr_list(struct store *s, const char *path, enum store_which which, char **ret,
		    size_t *ret_len)
{
	static const char *const fixed[] = { "version", "versions",	"created",    "updated",
					     "enabled", "content_type", "not_before", "expires" };
	char *buf = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	struct row row;
	int r, rc;

	r = store_enter_row(s, path, which, &row);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if ((strcmp(fixed[i], "content_type") == 0 && !row.content_type[0]) ||
		    (strcmp(fixed[i], "not_before") == 0 && row.not_before == STORE_TIME_UNSET) ||
		    (strcmp(fixed[i], "expires") == 0 && row.expires == STORE_TIME_UNSET))
			continue;
		r = append_name(&buf, &len, &cap, fixed[i]);
		if (r < 0)
			goto out;
	}
	r = store_stmt(s, Q_TAG_LIST, &st);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, row.id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char tag[NAME_SEGMENT_MAX + 8];

		snprintf(tag, sizeof(tag), "tag.%s", (const char *)sqlite3_column_text(st, 0));
		r = append_name(&buf, &len, &cap, tag);
		if (r < 0)
			break;
	}
	store_done(st);
	if (r < 0)
		goto out;
	if (rc != SQLITE_DONE) {
		r = store_sql_errno(s, rc, "tag list");
		goto out;
	}
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}

/*
 * store_certs_life: the end of a certificate's life in the store — soft delete and
 * recover, which move its key with it, and purge, which forgets the certificate and its
 * key in one transaction and hands the key's token ids to the caller to destroy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static int set_deleted_locked(struct store *s, const char *name, int64_t now)
{
	struct store_cert c;
	sqlite3_stmt *st = NULL;
	int r;

	r = store_cert_get_locked(s, name, &c);
	if (r < 0)
		return r;
	if (!!c.deleted == !!now)
		return now ? -ENOENT : -EEXIST;
	/* the key leaves keys/ with its certificate, its objects kept until the purge */
	for (int i = 0; i < 2; i++) {
		r = store_certs_prep(s,
				     i == 0 ? "UPDATE certs SET deleted = ?2 WHERE name = ?1"
					    : "UPDATE hsm_keys SET deleted = ?2 WHERE name = ?1",
				     &st);
		if (r < 0)
			return r;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (now)
			sqlite3_bind_int64(st, 2, now);
		else
			sqlite3_bind_null(st, 2);
		r = store_certs_run(s, st);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_cert_set_deleted(struct store *s, const char *name, int64_t now)
{
	int r;

	r = store_certs_enter(s, name);
	if (r >= 0)
		r = store_tx_begin(s);
	if (r < 0)
		return r;
	return store_tx_end(s, set_deleted_locked(s, name, now));
}

/* Inside a transaction: the token ids of every version of @name's key. */
static int token_ids_locked(struct store *s, const char *name, uint8_t (**ret)[STORE_KEY_ID_LEN],
			    size_t *ret_count)
{
	uint8_t(*ids)[STORE_KEY_ID_LEN] = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int r, rc;

	r = store_certs_prep(
		s, "SELECT token_id FROM hsm_key_versions WHERE name = ?1 ORDER BY version", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		void *t;

		if (sqlite3_column_bytes(st, 0) != STORE_KEY_ID_LEN) {
			r = -EUCLEAN;
			break;
		}
		t = realloc(ids, (n + 1) * sizeof(*ids));
		if (!t) {
			r = -ENOMEM;
			break;
		}
		ids = t;
		memcpy(ids[n++], sqlite3_column_blob(st, 0), STORE_KEY_ID_LEN);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql_errno(s, rc, "certificate key versions");
	sqlite3_finalize(st);
	if (r < 0) {
		free(ids);
		return r;
	}
	*ret = ids;
	*ret_count = n;
	return 0;
}

static int purge_locked(struct store *s, const char *name)
{
	static const char *const sql[] = {
		"DELETE FROM cert_versions WHERE name = ?1",
		"DELETE FROM certs WHERE name = ?1",
		"DELETE FROM hsm_key_versions WHERE name = ?1",
		"DELETE FROM hsm_keys WHERE name = ?1",
		/* the lifetime engine's memory of warnings given */
		("DELETE FROM lifetime_warned WHERE path IN ('certs/' || ?1, 'keys/' || ?1,"
		 " 'certs/' || ?1 || '@renew-failed')"),
	};
	struct store_cert c;
	int r;

	r = store_cert_get_locked(s, name, &c);
	if (r < 0)
		return r;
	if (!c.deleted)
		return -EBUSY;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st = NULL;

		r = store_certs_prep(s, sql[i], &st);
		if (r < 0)
			return r;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		r = store_certs_run(s, st);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_cert_purge(struct store *s, const char *name, uint8_t (**ret)[STORE_KEY_ID_LEN],
		     size_t *ret_count)
{
	uint8_t(*ids)[STORE_KEY_ID_LEN] = NULL;
	size_t n = 0;
	int r;

	r = store_certs_enter(s, name);
	if (r >= 0)
		r = store_tx_begin(s);
	if (r < 0)
		return r;
	/* the ids in the transaction that forgets them: none can be added in between */
	r = token_ids_locked(s, name, &ids, &n);
	if (r >= 0)
		r = purge_locked(s, name);
	r = store_tx_end(s, r);
	if (r < 0) {
		free(ids);
		return r;
	}
	*ret = ids;
	*ret_count = n;
	return 0;
}

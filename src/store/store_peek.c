/*
 * store_peek: the vault's stored trail head read from a connection of its own, and a
 * writer's transaction waited for with BEGIN IMMEDIATE (store_peek.h). It must never
 * write: the only transaction it starts is rolled back before anything is done in it.
 */
#include "store_peek.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"

struct store_peek {
	sqlite3 *db;
	sqlite3_stmt *head; /* the stored head's seq */
};

static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -ETIMEDOUT;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EUCLEAN;
	default:
		return -EIO;
	}
}

void store_peek_free(struct store_peek *p)
{
	if (!p)
		return;
	sqlite3_finalize(p->head);
	sqlite3_close(p->db);
	free(p);
}

int store_peek_open(const char *db_path, struct store_peek **ret)
{
	struct store_peek *p;
	int rc, r;

	/* what SQLite would say as "cannot open", said as the errno it is */
	if (access(db_path, R_OK | W_OK) < 0)
		return -errno;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = sqlite3_open_v2(db_path, &p->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	/* a read that meets a lock (WAL recovery, a checkpoint) waits instead of returning at
	 * once into a caller that would ask again without sleeping */
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(p->db, 500);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(p->db, "SELECT seq FROM audit_anchor WHERE id = 1", -1,
					&p->head, NULL);
	if (rc != SQLITE_OK) {
		log_debug("store_peek \"%s\": %s", db_path,
			  p->db ? sqlite3_errmsg(p->db) : sqlite3_errstr(rc));
		r = sql_errno(rc);
		/* a readable database without the head's table is not a vault's */
		r = r == -EIO ? -EUCLEAN : r;
		store_peek_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

/* The stored head's seq into *ret: 0 or -errno. */
static int head_seq(struct store_peek *p, uint64_t *ret)
{
	int rc = sqlite3_step(p->head);
	int r;

	if (rc == SQLITE_ROW) {
		*ret = (uint64_t)sqlite3_column_int64(p->head, 0);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -EUCLEAN : sql_errno(rc);
	}
	sqlite3_reset(p->head);
	return r;
}

int store_peek_committed(struct store_peek *p, uint64_t seq, unsigned timeout_ms,
			 uint64_t *ret_head)
{
	uint64_t stored;
	int rc, r;

	r = head_seq(p, &stored);
	if (r < 0)
		return r;
	if (stored < seq) {
		/*
		 * Not yet: the writer may still be between its record and its COMMIT. Every
		 * change holds the write lock from its first statement (BEGIN IMMEDIATE) to its
		 * end, so taking that lock ourselves waits exactly until it committed or rolled
		 * back.
		 */
		sqlite3_busy_timeout(p->db, (int)timeout_ms);
		rc = sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return sql_errno(rc);
		r = head_seq(p, &stored);
		rc = sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
		if (r < 0)
			return r;
		if (rc != SQLITE_OK)
			return sql_errno(rc);
		if (stored < seq)
			return 0;
	}
	*ret_head = stored;
	return 1;
}

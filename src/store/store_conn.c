/*
 * store_conn: each thread's own SQLite connection, opened on first use and closed when the
 * thread exits, so that readers never share a connection or wait on one another's
 * statements. Every public store function enters here first.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"

void store_conn_close(struct conn *c)
{
	for (int i = 0; i < Q__MAX; i++)
		sqlite3_finalize(c->stmts[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

/* A thread that exits closes its connection. */
void store_conn_destroy(void *p)
{
	struct conn *c = p;
	struct store *s = c->s;

	pthread_mutex_lock(&s->conns_lock);
	for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&s->conns_lock);
	store_conn_close(c);
}

int store_conn_open(struct store *s, int flags)
{
	struct conn *c = calloc(1, sizeof(*c));
	int rc, r;

	if (!c)
		return -ENOMEM;
	c->s = s;
	rc = sqlite3_open_v2(s->db_path, &c->db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		r = store_rc_errno(rc);
		log_debug("sqlite: open \"%s\": %s", s->db_path,
			  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close_v2(c->db);
		free(c);
		return r;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, (int)s->opt.busy_timeout_ms);
	/* The -wal and -shm files stay when the last connection closes (the WAL cut to
	 * nothing, journal_size_limit): a later open, on a disk that filled up meanwhile,
	 * finds the shared memory already allocated and can still read. */
	(void)sqlite3_file_control(c->db, "main", SQLITE_FCNTL_PERSIST_WAL, &(int){ 1 });
	/* secure_delete: purged pages are zeroed, not left in free space. */
	rc = sqlite3_exec(c->db,
			  "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;"
			  " PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 1048576",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK || pthread_setspecific(s->conn_key, c) != 0) {
		log_debug("sqlite: settings: %s", sqlite3_errmsg(c->db));
		store_conn_close(c);
		return rc == SQLITE_OK ? -ENOMEM : store_rc_errno(rc);
	}
	pthread_mutex_lock(&s->conns_lock);
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->conns_lock);
	return 0;
}

int store_enter(struct store *s)
{
	if (pthread_getspecific(s->conn_key))
		return 0;
	return store_conn_open(s, SQLITE_OPEN_READWRITE);
}

int store_enter_path(struct store *s, const char *path)
{
	if (name_path_check(path) < 0)
		return -EINVAL;
	return store_enter(s);
}

int store_enter_row(struct store *s, const char *path, enum store_which which, struct row *ret)
{
	int r = store_enter_path(s, path);

	return r < 0 ? r : store_get_row_which(s, path, which, ret);
}

int store_enter_write(struct store *s, const char *path)
{
	int r = store_enter_path(s, path);

	return r < 0 ? r : store_tx_begin(s);
}

sqlite3 *store_db(struct store *s)
{
	struct conn *c = pthread_getspecific(s->conn_key);

	return c ? c->db : NULL;
}

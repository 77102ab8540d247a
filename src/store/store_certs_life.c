/*
 * store_certs_life: the end of a certificate's life in the store — soft delete and
 * recover, which move its key with it, and purge, which forgets the certificate and its
 * key in one transaction and hands the key's token ids to the caller to destroy.
 */
#include <errno.h>

#include "store_internal.h"

static int set_deleted_locked(struct store *s, const char *name, int64_t now)
{
	/* the key leaves keys/ with its certificate, its objects kept until the purge */
	static const enum query q[] = { Q_CERT_SET_DELETED, Q_HKEY_SET_DELETED };
	struct store_cert c;
	int r;

	r = store_cert_get_locked(s, name, &c);
	if (r < 0)
		return r;
	if (!!c.deleted == !!now)
		return now ? -ENOENT : -EEXIST;
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]) && r >= 0; i++)
		r = store_run_name_at(s, q[i], name, now);
	return r;
}

int store_cert_set_deleted(struct store *s, const char *name, int64_t now)
{
	int r = store_enter_write_name(s, name);

	return r < 0 ? r : store_tx_end(s, set_deleted_locked(s, name, now));
}

static int purge_locked(struct store *s, const char *name)
{
	static const enum query q[] = {
		Q_CERT_DELETE_VERSIONS, Q_CERT_DELETE,	      Q_HKEY_DELETE_VERSIONS,
		Q_HKEY_DELETE,		Q_CERT_WARNED_DELETE,
	};
	struct store_cert c;
	int r;

	r = store_cert_get_locked(s, name, &c);
	if (r < 0)
		return r;
	if (!c.deleted)
		return -EBUSY;
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]) && r >= 0; i++)
		r = store_run_name(s, q[i], name);
	return r;
}

int store_cert_purge(struct store *s, const char *name, uint8_t (**ret)[STORE_KEY_ID_LEN],
		     size_t *ret_count)
{
	return store_key_forget(s, name, purge_locked, ret, ret_count);
}

/*
 * vault_ops: the recorded operations (vault_ops.h). The one place where a change and its
 * record are joined: the store runs the change in a transaction and, just before it
 * commits, calls change_hook, which appends the record, flushes the trail to disk and
 * hands back the trail's new head to be stored in the same transaction. A hook that fails
 * rolls the change back; when that happens after the record is written, change_undo
 * records so, naming it, before the rollback gives the write lock back. Left open: a
 * COMMIT that SQLite rolls back by itself (full disk, I/O error) has given the lock back
 * already, and a writer killed between its record and its end writes no undo record.
 */
#include "vault_ops.h"
#include "vault_change.h"

#include <errno.h>
#include <limits.h>

#include "log.h"
#include "timeutil.h"

void vault_act_init(struct vault_act *a, const struct audit_event *ev)
{
	a->ev = *ev;
	a->no_recover_path = NULL;
	a->no_recover_rule = NULL;
	a->unrecorded = 0;
}

void vault_act_no_recover(struct vault_act *a, const char *path, const char *rule)
{
	a->no_recover_path = path;
	a->no_recover_rule = rule;
}

static int change_hook(void *userdata, uint64_t version, const struct store_anchor *cur,
		       struct store_anchor *ret)
{
	struct vault_change *c = userdata;
	struct audit_head head, synced;
	int r;

	if (version)
		c->act->ev.version = version;
	r = audit_append(c->v->audit, &c->act->ev, &head);
	if (r >= 0) {
		c->recorded = head.seq;
		r = audit_sync(c->v->audit, &synced); /* with every new version, on disk */
	}
	if (r < 0) {
		c->record_failed = 1;
		return -EIO;
	}
	/* a token failure here rolls the change back, and change_undo records that */
	return vault_head_next(c->v, cur, &head, ret);
}

/*
 * The store's undo hook: the change does not commit after all. Called before the
 * rollback, the write lock still held, so that the record that takes the change's record
 * back is in the trail before any other change can commit and store a head past both. It
 * must not use the store (the transaction is still open): an admin command's head
 * follows in vault_change_end.
 */
static void change_undo(void *userdata, int err)
{
	struct vault_change *c = userdata;
	struct audit_event ev;
	struct audit_head synced;

	if (!c->recorded)
		return; /* nothing of it in the trail: vault_change_end records the failure */
	c->act->ev.result = -err;
	ev = c->act->ev;
	ev.undoes = c->recorded;
	if (audit_append(c->v->audit, &ev, &c->undo_head) < 0) {
		c->undo_failed = 1;
		return;
	}
	c->undone = 1;
	/* on disk like the record it answers; if not, the next flush takes it */
	(void)audit_sync(c->v->audit, &synced);
}

int vault_change_begin(struct vault *v, struct vault_act *a, struct vault_change *c)
{
	c->v = v;
	c->act = a;
	c->record_failed = 0;
	c->recorded = 0;
	c->undone = 0;
	c->undo_failed = 0;
	a->unrecorded = 0;
	return store_on_commit_undo(v->store, change_hook, change_undo, c);
}

int vault_change_end(struct vault_change *c, int r)
{
	struct vault_act *a = c->act;

	store_on_commit(c->v->store, NULL, NULL);
	if (c->record_failed || c->undo_failed) {
		a->unrecorded = 1;
		return -EIO;
	}
	if (r >= 0)
		return r;
	if (c->undone) {
		/* recorded by change_undo; an admin command's head follows, as vault_record's */
		if (!c->v->daemon && vault_head_store(c->v, &c->undo_head) < 0)
			log_debug("Failed to record the audit trail's head after an undone change");
		return r;
	}
	if (r == STORE_NO_REVIVE_ERR) {
		/* the name was a deleted secret's, and the actor may not recover it */
		r = -EACCES;
		if (a->no_recover_rule) {
			a->ev.allow = 0;
			a->ev.path = a->no_recover_path;
			a->ev.rule = a->no_recover_rule;
		}
	}
	return vault_act_failed(c->v, a, r);
}

int vault_act_failed(struct vault *v, struct vault_act *a, int err)
{
	a->ev.result = -err;
	if (vault_record(v, &a->ev) < 0) {
		a->unrecorded = 1;
		return -EIO;
	}
	return err;
}

int vault_secret_write(struct vault *v, struct vault_act *a, const char *path,
		       const struct secbuf *value, unsigned flags, uint64_t *ret_version)
{
	unsigned sflags = ((flags & VAULT_WRITE_EXCL) ? STORE_PUT_EXCL : 0) |
			  ((flags & VAULT_WRITE_MKDIRS) ? STORE_PUT_MKDIRS : 0) |
			  (a->no_recover_rule ? STORE_PUT_NO_REVIVE : 0);
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	r = store_secret_put(v->store, path, value, sflags, time_now_us(), ret_version);
	r = vault_change_end(&c, r);
	return r < 0 ? r : 0;
}

int vault_secret_resize(struct vault *v, struct vault_act *a, const char *path, uint64_t size)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	r = vault_change_end(&c, store_secret_resize(v->store, path, size, time_now_us(), NULL));
	return r < 0 ? r : 0;
}

int vault_secret_delete(struct vault *v, struct vault_act *a, const char *path)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, store_secret_delete(v->store, path, time_now_us()));
}

int vault_secret_recover(struct vault *v, struct vault_act *a, const char *path)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, store_secret_recover(v->store, path));
}

int vault_secret_purge(struct vault *v, struct vault_act *a, const char *path)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, store_secret_purge(v->store, path));
}

int vault_secret_rename(struct vault *v, struct vault_act *a, const char *from, const char *to,
			unsigned flags)
{
	unsigned sflags = ((flags & VAULT_RENAME_NOREPLACE) ? STORE_RENAME_NOREPLACE : 0) |
			  (a->no_recover_rule ? STORE_RENAME_NO_REVIVE : 0);
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	r = vault_change_end(&c, store_secret_rename(v->store, from, to, sflags, time_now_us()));
	return r < 0 ? r : 0;
}

int vault_attr_set(struct vault *v, struct vault_act *a, const char *path, const char *name,
		   const char *value, unsigned flags)
{
	unsigned sflags = ((flags & VAULT_ATTR_CREATE) ? STORE_ATTR_CREATE : 0) |
			  ((flags & VAULT_ATTR_REPLACE) ? STORE_ATTR_REPLACE : 0);
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, store_attr_set(v->store, path, name, value, sflags));
}

int vault_attr_remove(struct vault *v, struct vault_act *a, const char *path, const char *name,
		      unsigned flags)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	r = store_attr_remove(v->store, path, name);
	if (r == -EOPNOTSUPP && (flags & VAULT_ATTR_UNKNOWN_NODATA))
		r = -ENODATA; /* removexattr(2): no such attribute, as recorded */
	return vault_change_end(&c, r);
}

int vault_folder_create(struct vault *v, struct vault_act *a, const char *path)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, store_folder_create(v->store, path, time_now_us()));
}

int vault_folder_remove(struct vault *v, struct vault_act *a, const char *path)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, store_folder_remove(v->store, path));
}

int vault_key_create(struct vault *v, struct vault_act *a, const char *name,
		     const struct keys_options *o)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, keys_create(v->store, v->hsm, name, o, time_now_us()));
}

int vault_key_import(struct vault *v, struct vault_act *a, const char *name, const char *pem,
		     const struct secbuf *passphrase, const struct keys_options *o, char *err,
		     size_t errlen)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, keys_import(v->store, v->hsm, name, pem, passphrase, o,
						time_now_us(), err, errlen));
}

/* A certificate's key changes with its certificate only (cert renew, delete, recover,
 * purge): -EPERM for the key operations that would change it alone. */
static int cert_key_check(struct vault *v, const char *name)
{
	struct store_cert cert;
	int r = store_cert_get(v->store, name, &cert);

	return r == 0 ? -EPERM : r == -ENOENT || r == -EINVAL ? 0 : r;
}

int vault_key_rotate(struct vault *v, struct vault_act *a, const char *name, uint64_t *ret_version)
{
	struct vault_change c;
	int r;

	if ((r = cert_key_check(v, name)) < 0)
		return vault_act_failed(v, a, r);
	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c,
				keys_rotate(v->store, v->hsm, name, time_now_us(), ret_version));
}

int vault_key_delete(struct vault *v, struct vault_act *a, const char *name)
{
	struct vault_change c;
	int r;

	if ((r = cert_key_check(v, name)) < 0)
		return vault_act_failed(v, a, r);
	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, keys_delete(v->store, name, time_now_us()));
}

int vault_key_recover(struct vault *v, struct vault_act *a, const char *name)
{
	struct vault_change c;
	int r;

	if ((r = cert_key_check(v, name)) < 0)
		return vault_act_failed(v, a, r);
	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, keys_recover(v->store, name));
}

int vault_key_purge(struct vault *v, struct vault_act *a, const char *name)
{
	struct vault_change c;
	int r;

	if ((r = cert_key_check(v, name)) < 0)
		return vault_act_failed(v, a, r);
	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, keys_purge(v->store, v->hsm, name));
}

int vault_key_lifetime(struct vault *v, struct vault_act *a, const char *name,
		       int64_t rotate_every_s, int64_t expires_us)
{
	struct vault_change c;
	int r;

	if ((r = cert_key_check(v, name)) < 0)
		return vault_act_failed(v, a, r);
	if ((r = vault_change_begin(v, a, &c)) < 0)
		return vault_act_failed(v, a, r);
	return vault_change_end(&c, keys_set_lifetime(v->store, name, rotate_every_s, expires_us));
}

int vault_warn_expiring(struct vault *v, struct vault_act *a, int64_t day)
{
	struct vault_change c;
	int r;

	if ((r = vault_change_begin(v, a, &c)) < 0)
		return r;
	r = store_lifetime_warn(v->store, a->ev.path, day);
	/* warned already today is no change: nothing recorded, as nothing happened (a
	 * warning rolled back after its record has it undone by change_undo) */
	store_on_commit(v->store, NULL, NULL);
	if (c.record_failed || c.undo_failed) {
		a->unrecorded = 1;
		r = -EIO;
	}
	return r;
}

int vault_purge_expired(struct vault *v, unsigned *ret_count)
{
	char exe[PATH_MAX], cgroup[PATH_MAX];
	struct audit_event ev;
	struct vault_act a;
	struct vault_change c;
	unsigned n = 0;
	int r;

	vault_admin_event(&ev, "purge-expired", exe, sizeof(exe), cgroup, sizeof(cgroup));
	ev.rule = "retention";
	vault_act_init(&a, &ev);
	if ((r = vault_change_begin(v, &a, &c)) < 0)
		return vault_act_failed(v, &a, r);
	r = store_purge_expired(v->store, time_now_us(), &n);
	/* nothing to purge is no change: a failure here is not recorded, only deferred */
	store_on_commit(v->store, NULL, NULL);
	if (c.record_failed || c.undo_failed)
		r = -EIO;
	if (r < 0)
		return r;
	*ret_count = n;
	return 0;
}

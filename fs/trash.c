/*
 * trash: .deleted/keys/ and .deleted/certs/ of the mount — the soft-deleted keys and
 * certificates, each shown as an empty folder (its versions and token objects are kept,
 * not served). `mv .deleted/keys/NAME keys/NAME` recovers, `rmdir` (and so `rm -r`)
 * purges; `mv keys/NAME .deleted/keys/NAME` soft-deletes, the same for certs/. Nothing
 * else changes them here: no rename to another name, nothing made inside.
 *
 * A deleted key or certificate keeps its path (SPEC): listing .deleted/keys is list on
 * keys, recovering .deleted/keys/NAME is recover on keys/NAME, purging it purge on it.
 * Each action goes through the vault's recorded operation, which records it in its
 * transaction; a refusal is recorded here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "names.h"
#include "vault_certs.h"
#include "vfs_internal.h"

static int is_keys(enum node_kind k)
{
	return k == NODE_KEYS || k == NODE_TRASH_KEYS;
}

/* Whether the soft-deleted key (@keys) or certificate @name exists, and when it was
 * deleted (us). */
static int deleted_get(struct vfs *v, int keys, const char *name, int64_t *ret_deleted)
{
	struct certs_info info;
	struct store_key k;
	int r;

	if (keys) {
		r = store_key_get_any(v->store, name, &k);
		if (r == 0 && !k.deleted)
			r = -ENOENT; /* live: not in .deleted/ */
		if (r == 0)
			*ret_deleted = k.deleted;
		return r;
	}
	r = certs_get(v->store, name, CERTS_DELETED, &info);
	if (r == 0)
		*ret_deleted = info.deleted;
	return r;
}

int vfs_trash_resolve(struct vfs *v, const struct node *parent, const char *name,
		      enum node_kind *ret_kind, char *path, size_t len)
{
	size_t name_len = strlen(name);
	int64_t deleted;
	int r;

	if (name_segment_check(name, name_len) < 0 || strchr(name, '@') || name_len >= len)
		return -ENOENT;
	r = deleted_get(v, is_keys(parent->kind), name, &deleted);
	if (r < 0)
		return r;
	memcpy(path, name, name_len + 1);
	*ret_kind = is_keys(parent->kind) ? NODE_TRASH_KEY : NODE_TRASH_CERT;
	return 0;
}

int vfs_trash_list(struct vfs *v, const struct node *n, int (*add)(const char *, int, void *),
		   void *l)
{
	int r;

	switch (n->kind) {
	case NODE_TRASH_KEYS:
		r = store_key_list(v->store, STORE_LIST_DELETED, add, l);
		break;
	case NODE_TRASH_CERTS:
		r = certs_list(v->store, CERTS_DELETED, add, l);
		break;
	default:
		r = 0; /* a deleted key's or certificate's own folder: empty */
		break;
	}
	return r == -ENOENT ? 0 : r;
}

int vfs_trash_stat(struct vfs *v, const struct node *n, unsigned rights, struct stat *st)
{
	int64_t deleted;
	int r;

	r = deleted_get(v, n->kind == NODE_TRASH_KEY, n->path, &deleted);
	if (r < 0)
		return r;
	/* as any folder's: r for list on it, x for a way in */
	st->st_mode = S_IFDIR | (rights & POLICY_BIT(POLICY_LIST) ? 0400 : 0) | (rights ? 0100 : 0);
	st->st_nlink = 2;
	st->st_mtim.tv_sec = (time_t)(deleted / 1000000);
	st->st_mtim.tv_nsec = (long)(deleted % 1000000) * 1000;
	st->st_ctim = st->st_atim = st->st_mtim;
	return 0;
}

/* The policy path of key or certificate @name. */
static void object_path(int keys, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", keys ? "keys" : "certs", name);
}

int vfs_trash_purge(struct vfs *v, struct caller *c, const struct node *parent, const char *name)
{
	char ppath[NAME_PATH_MAX + 16];
	int keys = is_keys(parent->kind);
	struct policy_decision d;
	struct audit_event ev;
	struct vault_act act;
	int r;

	if (name_segment_check(name, strlen(name)) < 0 || strchr(name, '@'))
		return -ENOENT;
	object_path(keys, name, ppath, sizeof(ppath));
	/* refused: EACCES, or ENOENT where the caller may not list the folder (as lookup.c's
	 * vfs_hidden_errno answers, without a file cycle) */
	if (!vfs_decide(v, c, POLICY_PURGE, ppath, &d))
		return vfs_deny(v, c, "purge", ppath, &d,
				vfs_rights(v, c, parent) & POLICY_BIT(POLICY_LIST) ? EACCES
										   : ENOENT);
	vfs_event(c, "purge", ppath, 0, &d, 0, &ev);
	vault_act_init(&act, &ev);
	if (keys)
		r = vault_key_purge(v->vault, &act, name);
	else
		r = vault_cert_purge(v->vault, &act, name);
	/* > 0: versions whose token objects the token kept; the key is gone all the same */
	return r < 0 ? r : 0;
}

int vfs_trash_move_kind(const struct node *p, const struct node *np)
{
	return (p->kind == NODE_TRASH_KEYS && np->kind == NODE_KEYS) ||
	       (p->kind == NODE_KEYS && np->kind == NODE_TRASH_KEYS) ||
	       (p->kind == NODE_TRASH_CERTS && np->kind == NODE_CERTS) ||
	       (p->kind == NODE_CERTS && np->kind == NODE_TRASH_CERTS);
}

int vfs_trash_move(struct vfs *v, struct caller *c, const struct node *p, const char *name,
		   const struct node *np, const char *newname)
{
	int keys = is_keys(p->kind);
	int recover = p->kind == NODE_TRASH_KEYS || p->kind == NODE_TRASH_CERTS;
	const char *what = recover ? "recover" : "delete";
	char ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct audit_event ev;
	struct vault_act act;
	int r;

	(void)np;
	if (name_segment_check(name, strlen(name)) < 0 || strchr(name, '@'))
		return -EINVAL;
	/* recover and delete keep the name: anything else is two steps vaultfs does not do */
	if (strcmp(name, newname) != 0)
		return -EXDEV;
	object_path(keys, name, ppath, sizeof(ppath));
	r = vfs_check(v, c, what, recover ? POLICY_RECOVER : POLICY_DELETE, ppath, &d);
	if (r < 0)
		return r;
	vfs_event(c, what, ppath, 0, &d, 0, &ev);
	vault_act_init(&act, &ev);
	if (keys)
		r = recover ? vault_key_recover(v->vault, &act, name)
			    : vault_key_delete(v->vault, &act, name);
	else
		r = recover ? vault_cert_recover(v->vault, &act, name)
			    : vault_cert_delete(v->vault, &act, name);
	return r < 0 ? r : 0;
}

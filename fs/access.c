/*
 * access: every request's one path from the caller to its answer — who is asking (the
 * live caller of fuse_req_ctx()), what the policy says for the node's policy path, and
 * the record of the decision, written before the reply. Handlers ask here and nowhere
 * else; nothing here replies to FUSE.
 */
#include "vfs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs.h"
#include "log.h"
#include "names.h"
#include "timeutil.h"

void vfs_caller(fuse_req_t req, struct caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	caller_init(c, ctx->uid, ctx->gid, ctx->pid);
}

/* Joins up to three parts into @buf (of @len bytes), truncating; on the hot path, where
 * snprintf's format parsing shows in profiles. */
void vfs_concat(char *buf, size_t len, const char *a, const char *b, const char *c)
{
	size_t off = 0;
	const char *parts[3] = { a, b, c };

	for (int i = 0; i < 3; i++) {
		size_t l = parts[i] ? strlen(parts[i]) : 0;

		if (l > len - 1 - off)
			l = len - 1 - off;
		memcpy(buf + off, parts[i] ? parts[i] : "", l);
		off += l;
	}
	buf[off] = '\0';
}

/* Splits a key file node's path "NAME/FILE". */
void vfs_key_split(const char *path, char *name, size_t len, const char **ret_file)
{
	const char *slash = strchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : strlen(path);

	snprintf(name, len, "%.*s", (int)n, path);
	*ret_file = slash ? slash + 1 : "";
}

void vfs_key_policy_path(const struct node *n, char *buf, size_t len)
{
	char name[NAME_SEGMENT_MAX + 1];
	const char *file;

	vfs_key_split(n->path, name, sizeof(name), &file);
	snprintf(buf, len, "keys/%s", name);
}

/* The path policy speaks of for a node. */
void vfs_policy_path(const struct node *n, char *buf, size_t len)
{
	char name[NAME_SEGMENT_MAX + 1];
	const char *file;

	switch (n->kind) {
	case NODE_ROOT:
		vfs_concat(buf, len, "", NULL, NULL);
		break;
	case NODE_KEYS:
		vfs_concat(buf, len, "keys", NULL, NULL);
		break;
	case NODE_KEY:
	case NODE_KEY_FILE:
		vfs_key_policy_path(n, buf, len);
		break;
	case NODE_CERTS:
	case NODE_TRASH_CERTS:
		vfs_concat(buf, len, "certs", NULL, NULL);
		break;
	case NODE_CERT:
	case NODE_CERT_FILE:
	case NODE_TRASH_CERT:
		/* one path for the folder, every version and every file in them */
		vfs_key_split(n->path, name, sizeof(name), &file);
		vfs_concat(buf, len, "certs/", name, NULL);
		break;
	case NODE_TRASH_KEYS:
		/* listing .deleted/keys is list on keys; a deleted key keeps its path */
		vfs_concat(buf, len, "keys", NULL, NULL);
		break;
	case NODE_TRASH_KEY:
		vfs_concat(buf, len, "keys/", n->path, NULL);
		break;
	case NODE_TRASH:
		/* .deleted/P is decided as P: .deleted itself as the root */
		vfs_concat(buf, len, "", NULL, NULL);
		break;
	case NODE_SECRETS:
	case NODE_TRASH_SECRETS:
		/* listing .deleted/secrets is list on secrets */
		vfs_concat(buf, len, "secrets", NULL, NULL);
		break;
	default:
		vfs_concat(buf, len, "secrets/", n->path, NULL);
	}
}

unsigned vfs_rights(struct vfs *v, struct caller *c, const struct node *n)
{
	const unsigned list = POLICY_BIT(POLICY_LIST);
	char path[NAME_PATH_MAX + 16];
	unsigned rights, reach;

	vfs_policy_path(n, path, sizeof(path));
	pthread_rwlock_rdlock(&v->policy_lock);
	rights = policy_rights(v->policy, c, path, 0);
	if (node_is_dir(n->kind)) {
		/* A right beneath a folder is a way through it, never a listing of it. */
		reach = policy_rights(v->policy, c, path, 1);
		rights = (rights & list) | (reach & ~list) | (reach ? VFS_ENTER : 0);
	}
	pthread_rwlock_unlock(&v->policy_lock);
	return rights;
}

int vfs_decide(struct vfs *v, struct caller *c, enum policy_op op, const char *path,
	       struct policy_decision *ret)
{
	pthread_rwlock_rdlock(&v->policy_lock);
	/* A decision to act is recorded with the caller's exe and cgroup: read them with
	 * what the policy needs, through one look at /proc. */
	if (!c->recent_ok)
		caller_load(c, policy_needs(v->policy) | CALLER_HAVE_EXE | CALLER_HAVE_CGROUP);
	policy_decide(v->policy, c, op, path, ret);
	pthread_rwlock_unlock(&v->policy_lock);
	return ret->allow;
}

void vfs_event(struct caller *c, const char *what, const char *path, uint64_t version,
	       const struct policy_decision *d, int result, struct audit_event *ev)
{
	caller_load(c, CALLER_HAVE_EXE | CALLER_HAVE_CGROUP);
	memset(ev, 0, sizeof(*ev));
	ev->uid = c->uid;
	ev->gid = c->gid;
	ev->pid = c->pid;
	ev->exe = (c->have & CALLER_HAVE_EXE) ? c->exe : NULL;
	ev->cgroup = (c->have & CALLER_HAVE_CGROUP) ? c->cgroup : NULL;
	ev->op = what;
	ev->path = path;
	ev->version = version;
	ev->allow = d ? d->allow : 1;
	ev->rule = d ? d->rule : NULL;
	ev->result = result;
}

int vfs_record(struct vfs *v, struct caller *c, const char *what, const char *path,
	       uint64_t version, const struct policy_decision *d, int result)
{
	struct audit_event ev;

	vfs_event(c, what, path, version, d, result, &ev);
	return vault_record(v->vault, &ev);
}

int vfs_deny(struct vfs *v, struct caller *c, const char *what, const char *path,
	     const struct policy_decision *d, int err)
{
	return vfs_record(v, c, what, path, 0, d, err) < 0 ? -EIO : -err;
}

int vfs_refuse(struct vfs *v, struct caller *c, const char *what, const char *path, const char *why,
	       int err)
{
	struct policy_decision d = { .allow = 0 };

	snprintf(d.rule, sizeof(d.rule), "%s", why);
	return vfs_deny(v, c, what, path, &d, err);
}

const char *vfs_read_only_rule(const struct node *n)
{
	if (n->kind == NODE_CERT_FILE)
		return "certificate";
	return n->kind == NODE_VERSION ? "history" : "deleted";
}

enum policy_op vfs_read_op(const struct node *n)
{
	char name[NAME_SEGMENT_MAX + 1];
	const char *file;

	if (n->kind != NODE_CERT_FILE)
		return POLICY_READ;
	vfs_key_split(n->path, name, sizeof(name), &file);
	return certs_file_from_name(file) == CERTS_KEY ? POLICY_EXPORT : POLICY_READ;
}

int vfs_deny_node(struct vfs *v, struct caller *c, const char *what, const struct node *n, int err)
{
	char path[NAME_PATH_MAX + 16];
	struct policy_decision d;

	vfs_policy_path(n, path, sizeof(path));
	vfs_decide(v, c, vfs_read_op(n), path, &d);
	return vfs_deny(v, c, what, path, &d, err);
}

int vfs_check(struct vfs *v, struct caller *c, const char *what, enum policy_op op,
	      const char *path, struct policy_decision *ret)
{
	if (vfs_decide(v, c, op, path, ret))
		return 0;
	return vfs_deny(v, c, what, path, ret, EACCES);
}

int vfs_opener_set(struct handle *h, struct caller *c, const struct policy_decision *d)
{
	h->opener = malloc(sizeof(*h->opener));
	if (!h->opener)
		return -ENOMEM;
	/* read now, once for the open's record and the later ones: by then the opener may
	 * be gone */
	caller_load(c, CALLER_HAVE_EXE | CALLER_HAVE_CGROUP);
	h->opener->c = *c;
	h->opener->d = *d;
	return 0;
}

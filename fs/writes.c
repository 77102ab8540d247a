/*
 * writes: what goes into an open secret's new value — write(2), copy_file_range between
 * two open secrets, ftruncate — and truncate(2) on a path, which makes a version at once.
 * A value never grows past max_secret_size (EFBIG) nor past what [limits] lets its
 * opener's uid buffer (ENOSPC); after either refusal nothing of that open file is
 * committed (files.c commits the rest at close).
 */
#include "vfs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "names.h"
#include "timeutil.h"

static struct handle *fh(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/*
 * With h->lock held: lets @h's value grow to @size bytes within [limits]. Past a cap it
 * fails with ENOSPC, recorded once for the open file: nothing of it is committed then, and
 * what it held is wiped and given back at once.
 */
static int hold(struct vfs *v, struct handle *h, uint64_t size)
{
	char ppath[NAME_PATH_MAX + 16];
	struct secbuf *empty = NULL;
	const char *cap;
	uint64_t value;
	int r;

	if (h->failed == -ENOSPC)
		return -ENOSPC;
	r = vfs_limits_hold(v, &h->charge, secbuf_held_after(h->value, (size_t)size), &cap, &value);
	if (r == 0)
		return 0;
	h->failed = -ENOSPC;
	if (secbuf_new(0, &empty) == 0) {
		secbuf_free(h->value);
		h->value = empty;
		vfs_limits_set(v, &h->charge, secbuf_held(empty));
	}
	if (h->limit_refused)
		return -ENOSPC;
	h->limit_refused = 1;
	snprintf(ppath, sizeof(ppath), "secrets/%s", h->path);
	return vfs_limits_refuse_write(v, &h->opener->c, ppath, cap, value);
}

/* With h->lock held: sets the value's length, zero-filling growth, within the limits. */
static int resize(struct vfs *v, struct handle *h, uint64_t size)
{
	int r;

	if (size > v->max_size) {
		h->failed = -EFBIG;
		return -EFBIG;
	}
	if (size < secbuf_len(h->value)) {
		secbuf_truncate(h->value, (size_t)size);
	} else if (size > secbuf_len(h->value)) {
		r = hold(v, h, size);
		if (r == 0)
			r = secbuf_resize(h->value, (size_t)size);
		vfs_limits_set(v, &h->charge, secbuf_held(h->value));
		if (r < 0)
			return r;
	}
	h->dirty = 1;
	return 0;
}

/* With h->lock held: writes @size bytes at @off into a secret's new value. */
static int value_write(struct vfs *v, struct handle *h, const void *buf, size_t size, off_t off)
{
	uint64_t start, end;
	int r;

	/* O_APPEND: the kernel's idea of the size may be stale (no attribute cache). */
	start = h->append ? secbuf_len(h->value) : (uint64_t)off;
	end = start + size;
	if (off < 0 || end < start || end > v->max_size) {
		/* Nothing of this handle is committed: the secret keeps its current version. */
		h->failed = -EFBIG;
		return -EFBIG;
	}
	if (h->failed == -ENOSPC)
		return -ENOSPC; /* its value was given back: nothing more is kept */
	if (end > secbuf_len(h->value)) {
		r = resize(v, h, end);
		if (r < 0)
			return r;
	}
	memcpy(secbuf_mutable_data(h->value) + start, buf, size);
	h->dirty = 1;
	return 0;
}

void vfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct handle *h = fh(fi);
	int r;

	(void)ino;
	pthread_mutex_lock(&h->lock);
	if (!h->writable)
		r = -EBADF;
	else if (h->kind == NODE_KEY_FILE)
		r = vfs_keyfile_write(v, h, buf, size, off);
	else
		r = value_write(v, h, buf, size, off);
	pthread_mutex_unlock(&h->lock);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}

/*
 * copy_file_range between two open secrets (`cp` inside the vault): from what the source
 * handle holds into the destination's new value, under the rights decided at both opens.
 * Without it the kernel would copy through the page cache, which is refused. Key files
 * are EINVAL, on which cp falls back to read and write.
 */
void vfs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			    struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct vfs *v = vfs_data(req);
	struct handle *in = fh(fi_in), *out = fh(fi_out);
	struct secbuf *chunk = NULL;
	size_t n = 0;
	int r = 0;

	(void)ino_in;
	(void)ino_out;
	if (flags != 0 || in->kind == NODE_KEY_FILE || out->kind == NODE_KEY_FILE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!out->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	/* one handle's lock at a time: a copy the other way cannot deadlock with this one */
	pthread_mutex_lock(&in->lock);
	if (off_in >= 0 && (uint64_t)off_in < secbuf_len(in->value)) {
		n = secbuf_len(in->value) - (size_t)off_in;
		n = n < len ? n : len;
		r = secbuf_from(secbuf_data(in->value) + off_in, n, &chunk);
	}
	pthread_mutex_unlock(&in->lock);
	if (r == 0 && n > 0) {
		pthread_mutex_lock(&out->lock);
		r = value_write(v, out, secbuf_data(chunk), n, off_out);
		pthread_mutex_unlock(&out->lock);
	}
	secbuf_free(chunk);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, n);
}

int vfs_truncate(struct vfs *v, struct caller *c, const struct node *n, struct fuse_file_info *fi,
		 uint64_t size)
{
	struct handle *h = fi ? fh(fi) : NULL;
	char ppath[NAME_PATH_MAX + 16];
	struct policy_decision d, recover;
	struct audit_event ev;
	struct vault_act act;
	int r;

	if (node_is_dir(n->kind))
		return -EISDIR;
	if (n->kind == NODE_KEY_FILE)
		return size == 0 ? 0 : -EINVAL; /* a shell's "> keys/k/sign": input starts empty */
	if (n->kind != NODE_SECRET) {
		vfs_policy_path(n, ppath, sizeof(ppath));
		return vfs_refuse(v, c, "truncate", ppath, vfs_read_only_rule(n), EACCES);
	}
	if (h) {
		if (!h->writable)
			return -EBADF;
		pthread_mutex_lock(&h->lock);
		r = resize(v, h, size);
		pthread_mutex_unlock(&h->lock);
		return r;
	}
	/* truncate(2) on a path: a new version, as open, ftruncate and close would make */
	vfs_policy_path(n, ppath, sizeof(ppath));
	r = vfs_check(v, c, "truncate", POLICY_WRITE, ppath, &d);
	if (r < 0)
		return r;
	vfs_decide(v, c, POLICY_RECOVER, ppath, &recover);
	vfs_event(c, "truncate", ppath, 0, &d, 0, &ev);
	vault_act_init(&act, &ev);
	if (!recover.allow)
		vault_act_no_recover(&act, ppath, recover.rule);
	return vault_secret_resize(v->vault, &act, n->path, size);
}

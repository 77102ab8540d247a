/*
 * files: open secrets. An open for reading takes a snapshot of the value into a secbuf;
 * an open for writing builds the new value in one (from empty with O_TRUNC, else from the
 * current value; writes.c) and commits it as a version at the first flush after a write,
 * so that close() returns the commit's error and no reader ever sees half a value. Every
 * open file is charged to its opener's uid under [limits] (limits.c).
 *
 * Every open is direct_io without keep_cache: no byte of a secret stays in the page cache
 * for the next caller. Handles are wiped when released.
 */
#include "vfs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"
#include "timeutil.h"

static struct handle *handle_new(enum node_kind kind, const char *path)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->path = strdup(path);
	if (!h->path) {
		free(h);
		return NULL;
	}
	h->kind = kind;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

/* vfs_opener_set for a writer of secret @ppath, with whether it may bring back a deleted
 * secret of that name at commit. */
static int writer_set(struct vfs *v, struct handle *h, struct caller *c,
		      const struct policy_decision *d, const char *ppath)
{
	int r = vfs_opener_set(h, c, d);

	if (r == 0)
		vfs_decide(v, &h->opener->c, POLICY_RECOVER, ppath, &h->opener->recover);
	return r;
}

static void handle_free(struct vfs *v, struct handle *h)
{
	if (!h)
		return;
	vfs_limits_close(v, &h->charge);
	vfs_keyfile_free(h);
	free(h->opener);
	secbuf_free(h->value);
	free(h->path);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static void track(struct vfs *v, struct handle *h)
{
	pthread_mutex_lock(&v->lock);
	h->next_open = v->open;
	if (v->open)
		v->open->prev_open = h;
	v->open = h;
	pthread_mutex_unlock(&v->lock);
}

static void untrack(struct vfs *v, struct handle *h)
{
	pthread_mutex_lock(&v->lock);
	if (h->prev_open)
		h->prev_open->next_open = h->next_open;
	else if (v->open == h)
		v->open = h->next_open;
	if (h->next_open)
		h->next_open->prev_open = h->prev_open;
	h->prev_open = h->next_open = NULL;
	pthread_mutex_unlock(&v->lock);
}

void vfs_files_release_all(struct vfs *v)
{
	while (v->open) {
		struct handle *h = v->open;

		v->open = h->next_open;
		handle_free(v, h);
	}
	v->pending = NULL;
}

static struct handle *fh(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/*
 * With h->lock held: makes the value a version. At flush only what was written counts —
 * a shell's "> file" closes a dup of the descriptor before writing, and that close must not
 * commit an empty value; at release (@last), a file created or truncated and never written
 * is committed as it is, empty.
 */
static int commit(struct vfs *v, struct handle *h, int last)
{
	char ppath[NAME_PATH_MAX + 16];
	struct audit_event ev;
	struct vault_act act;
	int r;

	if (h->failed)
		return h->failed;
	if (!h->dirty && !(last && h->touched && !h->committed))
		return 0;
	snprintf(ppath, sizeof(ppath), "secrets/%s", h->path);
	vfs_event(&h->opener->c, "write", ppath, 0, &h->opener->d, 0, &ev);
	vault_act_init(&act, &ev);
	if (!h->opener->recover.allow)
		vault_act_no_recover(&act, ppath, h->opener->recover.rule);
	r = vault_secret_write(v->vault, &act, h->path, h->value, h->excl ? VAULT_WRITE_EXCL : 0,
			       NULL);
	if (r < 0)
		return r;
	h->dirty = 0;
	h->committed = 1;
	h->excl = 0; /* it exists now: later commits are versions of it */
	if (h->pending)
		vfs_pending_remove(v, h);
	return 0;
}

static int reply_open(fuse_req_t req, struct vfs *v, struct handle *h, struct fuse_file_info *fi)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	/* A reader's close, or a key file's, has nothing to commit: no FLUSH is needed. */
	fi->noflush = !h->writable || h->kind == NODE_KEY_FILE;
	track(v, h);
	if (fuse_reply_open(req, fi) != 0) {
		/* the caller went away (interrupted open): nothing will release this */
		untrack(v, h);
		handle_free(v, h);
		return -EINTR;
	}
	return 0;
}

/* Opens key file @n: a handle that keyfiles.c decides on and records. */
static void open_key_file(fuse_req_t req, struct vfs *v, struct caller *c, const struct node *n,
			  struct fuse_file_info *fi)
{
	struct handle *h = handle_new(n->kind, n->path);
	int r = h ? vfs_keyfile_open(v, c, n, h) : -ENOMEM;

	if (r < 0) {
		handle_free(v, h);
		fuse_reply_err(req, -r);
		return;
	}
	h->writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	reply_open(req, v, h, fi);
}

/* Opens certificate file @n: a handle that certfiles.c decides on and records. */
static void open_cert_file(fuse_req_t req, struct vfs *v, struct caller *c, const struct node *n,
			   struct fuse_file_info *fi)
{
	struct handle *h = handle_new(n->kind, n->path);
	int r = h ? vfs_certfile_open(v, c, n, fi->flags & O_ACCMODE, h) : -ENOMEM;

	if (r < 0) {
		handle_free(v, h);
		fuse_reply_err(req, -r);
		return;
	}
	reply_open(req, v, h, fi);
}

/* Whether @c may open secret or version @n (policy path @ppath) as @acc asks: 0 with the
 * rule in @d, or the refusal, recorded. */
static int open_allowed(struct vfs *v, struct caller *c, const struct node *n, int acc,
			const char *ppath, struct policy_decision *d)
{
	int r;

	/* History and deleted secrets are read-only, and a deleted value is not served. */
	if (n->kind == NODE_TRASH_SECRET || (n->kind == NODE_VERSION && acc != O_RDONLY))
		return vfs_refuse(v, c, "open", ppath, vfs_read_only_rule(n), EACCES);
	r = acc != O_WRONLY ? vfs_check(v, c, "open", POLICY_READ, ppath, d) : 0;
	if (r == 0 && acc != O_RDONLY)
		r = vfs_check(v, c, "open", POLICY_WRITE, ppath, d);
	return r;
}

/* Fills new handle @h for @n opened with @flags: the value it starts from (none to read
 * for O_TRUNC), and for a writer who opened it. The version served is in *@ret_version. */
static int open_value(struct vfs *v, struct caller *c, const struct node *n, int flags,
		      const struct policy_decision *d, const char *ppath, struct handle *h,
		      uint64_t *ret_version)
{
	int r;

	h->writable = (flags & O_ACCMODE) != O_RDONLY;
	h->append = (flags & O_APPEND) != 0;
	if (h->writable && (flags & O_TRUNC)) {
		r = store_secret_stat(v->store, n->path, STORE_LIVE, &(struct store_stat){ 0 });
		if (r == 0)
			r = secbuf_new(0, &h->value);
		h->touched = 1;
	} else {
		r = store_secret_get(v->store, n->path, n->kind == NODE_VERSION ? n->version : 0,
				     time_now_us(), &h->value, ret_version);
	}
	if (r >= 0 && h->writable)
		r = writer_set(v, h, c, d, ppath);
	return r;
}

void vfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct node *n = vfs_node(req, ino);
	int acc = fi->flags & O_ACCMODE;
	char ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct handle *h = NULL;
	struct audit_event ev;
	uint64_t version = 0;
	struct caller c;
	int r;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (node_is_dir(n->kind)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	vfs_caller(req, &c);
	if (acc != O_RDONLY && (r = vfs_refuse_mount_helper(v, &c, "open", n)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (n->kind == NODE_KEY_FILE) {
		open_key_file(req, v, &c, n, fi);
		return;
	}
	if (n->kind == NODE_CERT_FILE) {
		open_cert_file(req, v, &c, n, fi);
		return;
	}
	vfs_policy_path(n, ppath, sizeof(ppath));
	r = open_allowed(v, &c, n, acc, ppath, &d);
	if (r >= 0 && !(h = handle_new(n->kind, n->path)))
		r = -ENOMEM;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = open_value(v, &c, n, fi->flags, &d, ppath, h, &version);
	/* past a cap the refusal is the record of this open */
	if (r >= 0 &&
	    (r = vfs_limits_open(v, &c, "open", ppath, secbuf_held(h->value), &h->charge)) < 0) {
		handle_free(v, h);
		fuse_reply_err(req, -r);
		return;
	}
	/* Recorded, with what it gives, before anything is served. */
	vfs_event(&c, "open", ppath, version, &d, r < 0 ? -r : 0, &ev);
	ev.detail = acc == O_RDONLY ? "read" : acc == O_WRONLY ? "write" : "read-write";
	if (vault_record(v->vault, &ev) < 0)
		r = -EIO;
	if (r < 0) {
		handle_free(v, h);
		fuse_reply_err(req, -r);
		return;
	}
	reply_open(req, v, h, fi);
}

/*
 * Whether @c may create @path (policy path @ppath) with @flags, allowed by @d: a handle
 * for the new value in *@ret, or the refusal (a denial recorded; other errors for the
 * create's record).
 */
static int create_handle(struct vfs *v, struct caller *c, const char *path, const char *ppath,
			 int flags, const struct policy_decision *d, struct handle **ret)
{
	struct store_stat ss;
	struct handle *h;
	uint64_t size;
	int r;

	if (store_secret_stat(v->store, path, STORE_LIVE, &ss) == 0 ||
	    ((flags & O_EXCL) && vfs_pending_size(v, path, &size) == 0))
		return -EEXIST;
	r = store_folder_exists(v->store, path);
	if (r != 0)
		return r > 0 ? -EISDIR : r;
	h = handle_new(NODE_SECRET, path);
	if (!h || secbuf_new(0, &h->value) < 0 || writer_set(v, h, c, d, ppath) < 0) {
		handle_free(v, h);
		return -ENOMEM;
	}
	h->writable = 1;
	h->append = (flags & O_APPEND) != 0;
	/* O_EXCL: it did not exist, and one that appears meanwhile is never overwritten.
	 * Without it a create is open-or-create: one made meanwhile gets this as a version. */
	h->excl = (flags & O_EXCL) != 0;
	h->touched = 1; /* an empty file is made even if nothing is written */
	*ret = h;
	return 0;
}

/* Creating a deleted secret's name brings its history back: that is recover too, which
 * @h's opener may lack. 0, or the denial, recorded. The commit checks it again, in its
 * transaction. */
static int create_revives(struct vfs *v, struct caller *c, const char *path, const char *ppath,
			  struct handle *h)
{
	struct store_stat ss;

	if (h->opener->recover.allow || store_secret_stat(v->store, path, STORE_DELETED, &ss) != 0)
		return 0;
	return vfs_deny(v, c, "create", ppath, &h->opener->recover, EACCES);
}

/* Answers a create with the new node of @path and its open handle @h, pending from now
 * to its first commit; undone if the reply cannot be given. */
static void reply_create(fuse_req_t req, struct vfs *v, struct caller *c, const char *path,
			 struct handle *h, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct node *n;
	int r;

	vfs_pending_add(v, h);
	r = nodes_lookup(v->nodes, NODE_SECRET, path, 0, &n);
	if (r < 0) {
		vfs_pending_remove(v, h);
		handle_free(v, h);
		fuse_reply_err(req, -r);
		return;
	}
	memset(&e, 0, sizeof(e));
	r = vfs_stat(v, c, n, &e.attr);
	if (r < 0) {
		nodes_forget(v->nodes, n->ino, 1);
		vfs_pending_remove(v, h);
		handle_free(v, h);
		fuse_reply_err(req, -r);
		return;
	}
	e.ino = n->ino;
	e.generation = 1;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	track(v, h);
	if (fuse_reply_create(req, &e, fi) != 0) {
		nodes_forget(v->nodes, n->ino, 1);
		untrack(v, h);
		vfs_pending_remove(v, h);
		handle_free(v, h);
	}
}

void vfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		   struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct node *p = vfs_node(req, parent);
	char path[NAME_PATH_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct handle *h = NULL;
	struct caller c;
	int r;

	(void)mode; /* modes are computed per caller */
	if (!p) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	vfs_caller(req, &c);
	if (p->kind != NODE_SECRETS && p->kind != NODE_FOLDER) {
		int trash = p->kind == NODE_TRASH_SECRETS || p->kind == NODE_TRASH_FOLDER;

		vfs_policy_path(p, ppath, sizeof(ppath));
		fuse_reply_err(req, -vfs_refuse(v, &c, "create", ppath, trash ? "deleted" : "tree",
						trash ? EPERM : EACCES));
		return;
	}
	r = vfs_new_child(v, &c, p, name, "create", path, sizeof(path), &d);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	snprintf(ppath, sizeof(ppath), "secrets/%s", path);
	r = create_handle(v, &c, path, ppath, fi->flags, &d, &h);
	/* a denial, or past a cap: the refusal is the record of this create */
	if (r == 0 && ((r = create_revives(v, &c, path, ppath, h)) < 0 ||
		       (r = vfs_limits_open(v, &c, "create", ppath, secbuf_held(h->value),
					    &h->charge)) < 0)) {
		handle_free(v, h);
		fuse_reply_err(req, -r);
		return;
	}
	if (vfs_record(v, &c, "create", ppath, 0, &d, r < 0 ? -r : 0) < 0)
		r = -EIO;
	if (r < 0) {
		handle_free(v, h);
		fuse_reply_err(req, -r);
		return;
	}
	reply_create(req, v, &c, path, h, fi);
}

/*
 * Refuses, and records, a read that would fill the page cache. The kernel serves those
 * pages to every later mapping of the inode without asking us — a MAP_PRIVATE mapping held
 * by a caller whose access was revoked, another opener of a key file — so nothing is ever
 * served into it. Such reads (a mapping's page fault, readahead, splice and sendfile) carry
 * no lock owner; a read(2) on a direct_io file always carries the reader's.
 */
static int refuse_page_cache(fuse_req_t req, struct vfs *v, struct handle *h)
{
	char ppath[NAME_PATH_MAX + 16];
	struct node n = { .kind = h->kind, .path = h->path };
	struct caller c;

	vfs_caller(req, &c);
	vfs_policy_path(&n, ppath, sizeof(ppath));
	return vfs_refuse(v, &c, "read", ppath, "page-cache", EACCES);
}

void vfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = fh(fi);

	(void)ino;
	pthread_mutex_lock(&h->lock);
	if (fi->lock_owner == 0) {
		int r = h->page_cache_refused ? -EACCES : refuse_page_cache(req, vfs_data(req), h);

		h->page_cache_refused = 1;
		pthread_mutex_unlock(&h->lock);
		fuse_reply_err(req, -r);
		return;
	}
	if (h->kind == NODE_KEY_FILE) {
		const void *out = NULL;
		size_t len = 0;
		int r = vfs_keyfile_read(vfs_data(req), h, size, off, &out, &len);

		if (r < 0)
			fuse_reply_err(req, -r);
		else
			fuse_reply_buf(req, out, len);
	} else if (off < 0 || (uint64_t)off >= secbuf_len(h->value))
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, (const char *)secbuf_data(h->value) + off,
			       size < secbuf_len(h->value) - (size_t)off
				       ? size
				       : secbuf_len(h->value) - (size_t)off);
	pthread_mutex_unlock(&h->lock);
}

/* With h->lock held: records that what @h's writer wrote is not committed, and why. */
static void record_discard(struct vfs *v, struct handle *h, const char *why)
{
	char ppath[NAME_PATH_MAX + 16];
	struct audit_event ev;

	snprintf(ppath, sizeof(ppath), "secrets/%s", h->path);
	vfs_event(&h->opener->c, "write", ppath, 0, &h->opener->d, ECANCELED, &ev);
	ev.detail = why;
	if (vault_record(v->vault, &ev) < 0)
		log_debug("record of a discarded write to \"%s\" failed", h->path);
}

/*
 * With h->lock held: a flush is a close(2) by the writer, and commits — unless the kernel
 * is closing the file for a writer on its way out, killed by a signal or exiting with a
 * failure (what the kernel knows of the dying task is readable while it waits for this
 * reply): then what it wrote is half a value, and is dropped. A writer that exits with
 * status 0 without closing finished its job, and its value is committed.
 */
static int flush_commit(fuse_req_t req, struct vfs *v, struct handle *h)
{
	struct caller c;
	int code = 0, r;

	vfs_caller(req, &c);
	h->abandoned = caller_exit_code(&c, &code) == 1 && code != 0;
	if (h->abandoned) {
		if (h->dirty || (h->touched && !h->committed))
			record_discard(v, h,
				       (code & 0x7f) ? "the writer was killed before it closed"
						     : "the writer failed before it closed");
		return 0;
	}
	r = commit(v, h, 0);
	if (r < 0) {
		/* close() reports it; the value is not committed behind the writer's back later */
		h->dirty = 0;
		h->touched = 0;
	}
	return r;
}

void vfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct handle *h = fh(fi);
	int r;

	(void)ino;
	pthread_mutex_lock(&h->lock);
	r = h->writable && h->kind != NODE_KEY_FILE ? flush_commit(req, v, h) : 0;
	pthread_mutex_unlock(&h->lock);
	fuse_reply_err(req, -r);
}

void vfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	vfs_op_flush(req, ino, fi);
}

void vfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = vfs_data(req);
	struct handle *h = fh(fi);
	int r;

	(void)ino;
	pthread_mutex_lock(&h->lock);
	/*
	 * Flush committed what the writer wrote when it closed. What is still dirty here was
	 * written after the last close the daemon heard of (a flush the kernel dropped, a
	 * descriptor that died in flight): no writer closed it, so it is not a version. Only
	 * a file created or truncated and never written becomes one now, empty.
	 */
	r = 0;
	if (h->writable && h->kind != NODE_KEY_FILE && !h->failed && !h->abandoned) {
		if (h->dirty)
			record_discard(v, h,
				       "the file was released without a close after the write");
		else
			r = commit(v, h, 1);
	}
	pthread_mutex_unlock(&h->lock);
	if (r < 0)
		log_debug("commit at release of \"%s\" failed: %s", h->path, strerror(-r));
	if (h->pending)
		vfs_pending_remove(v, h);
	untrack(v, h);
	handle_free(v, h);
	fuse_reply_err(req, 0);
}

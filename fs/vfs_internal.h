/*
 * vfs_internal: what the files of fs/ share — the mount's state, open-file handles, and
 * the helpers every handler uses to name the caller and ask policy.
 */
#ifndef VAULTFS_VFS_INTERNAL_H
#define VAULTFS_VFS_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "nodes.h"
#include "policy.h"
#include "secbuf.h"
#include "store.h"
#include "vault.h"
#include "vault_ops.h"
#include "vfs.h"

/* Who opened a file for writing, and the rule that let them: its commits are theirs. */
struct opener {
	struct caller c;
	struct policy_decision d;
	/* whether they may bring back a soft-deleted secret of that name, should the name be
	 * one when they commit (SPEC: writing a deleted name is recover as well as write) */
	struct policy_decision recover;
};

/* What one open file or folder is charged to the uid that opened it (limits.c). */
struct limits_charge {
	uid_t uid;
	int open; /* counted as one of the uid's open files */
	uint64_t bytes; /* of locked memory held */
};

/* An open secret or version. */
/*
 * An open file. Its life as a writer is a small state machine, every step under h->lock:
 *
 *   open ──write/ftruncate──▶ dirty ──flush: commit──▶ committed (clean) ──write──▶ dirty …
 *     │ (O_TRUNC, create: touched)      │ commit fails: close() returns it; not retried
 *     │                                 │ flush from a writer on its way out: abandoned
 *     │                                 ▼
 *     └──────────── a write refused past max_secret_size or a cap: failed (terminal:
 *                   nothing from this handle is ever committed)
 *   release: commits a touched, never-written value once (empty), unless failed or
 *   abandoned; then wipes the value and gives back its charge (limits.c).
 *
 * A created file is pending (in vfs->pending, under vfs->lock) from its create to its
 * first commit. kind, path, writable, append, excl, opener and keyop are set at open and
 * never change. Lock order: h->lock, then vfs->lock.
 */
struct handle {
	pthread_mutex_t lock;
	enum node_kind kind;
	char *path;
	struct secbuf *value; /* protected by lock */
	int writable;
	int append;
	int excl; /* created with O_EXCL: commit only if still absent */
	int pending; /* created here and not committed yet: listed in vfs->pending */
	struct opener *opener; /* writable handles and key operations */
	struct keyop *keyop; /* an operation file under keys/ */
	/* protected by lock: */
	int dirty; /* written (or ftruncated) since the last commit */
	int touched; /* opened with O_TRUNC or created: the value is new even if unwritten */
	int committed; /* some commit from this handle succeeded */
	/* a write was refused (-EFBIG, or -ENOSPC past a cap): that -errno; nothing from this
	 * handle is committed */
	int failed;
	struct limits_charge charge;
	int limit_refused; /* a write past a cap was refused and recorded: later ones are not */
	/* the last flush came from a writer on its way out — killed by a signal, or exiting
	 * with a failure — without having closed the file: what it wrote is not committed */
	int abandoned;
	/* a read that would fill the page cache was refused and recorded: its retries (a
	 * fault is retried for as long as it fails) are refused without a record each */
	int page_cache_refused;
	struct handle *next_pending; /* protected by vfs->lock */
	struct handle *prev_open, *next_open; /* protected by vfs->lock */
};

struct listing;

struct vfs {
	struct vault *vault;
	struct store *store;
	pthread_rwlock_t policy_lock;
	struct policy *policy; /* protected by policy_lock: swapped whole on reload */
	struct nodes *nodes;
	size_t max_size;
	int64_t started;
	pthread_mutex_t lock;
	struct handle *pending; /* protected by lock: created, not yet committed */
	struct handle *open; /* protected by lock: every open file */
	struct listing *listings; /* protected by lock: every open directory */
	struct token_slots *slots; /* key operations' turns in the token; NULL: no limit */
	/* the thread id of the guard (guard.c), whose lookups are the daemon's own walk to a
	 * mount over the vault; 0 when none. Set by that thread, read with __atomic. */
	pid_t guard_tid;
	struct vfs_limits *limits; /* what open files may hold: its own lock */
};

/* limits.c: [limits] of vaultfs.conf. Its lock is taken last: under a handle's. */
int vfs_limits_new(struct vfs *v, const struct vault_config *cfg);
/* Records refusals not recorded yet; every charge must be closed first. */
void vfs_limits_free(struct vfs *v);
/*
 * Charges a new open file or folder of @c, holding @bytes, into @ch. Past @c's uid's own
 * caps: -EMFILE, past the caps in all: -ENFILE — the refusal recorded as @what on @path
 * (the first of a run; the others are counted and recorded at the next close) — or -EIO
 * if it could not be recorded; -ENOMEM. @ch is untouched on failure.
 */
int vfs_limits_open(struct vfs *v, struct caller *c, const char *what, const char *path,
		    uint64_t bytes, struct limits_charge *ch);
/* Sets what @ch holds to @bytes: -ENOSPC, with the cap passed and its value, if growth
 * would pass a cap (then nothing changes); shrinking always works. Records nothing. */
int vfs_limits_hold(struct vfs *v, struct limits_charge *ch, uint64_t bytes, const char **ret_cap,
		    uint64_t *ret_value);
/* Sets what @ch holds to @bytes, past the caps if need be: for memory already taken. */
void vfs_limits_set(struct vfs *v, struct limits_charge *ch, uint64_t bytes);
/* Gives back all @ch holds (nothing if it was never charged), and records the runs of
 * refusals this ends. */
void vfs_limits_close(struct vfs *v, struct limits_charge *ch);
/* Records that a write on @path by @c was refused past @cap (of @value): -ENOSPC, or -EIO
 * if it could not be recorded. */
int vfs_limits_refuse_write(struct vfs *v, struct caller *c, const char *path, const char *cap,
			    uint64_t value);

/* Frees what vfs_set_token_slots made (keyfiles.c). */
void vfs_token_slots_free(struct vfs *v);

/*
 * The mount of a request, and the node @ino names (libfuse passthrough_ll's lo_data and
 * lo_inode): every handler finds its nodes through these. vfs_node returns NULL for a
 * node the kernel has forgotten or never had, answered with ESTALE.
 */
static inline struct vfs *vfs_data(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct node *vfs_node(fuse_req_t req, fuse_ino_t ino)
{
	return nodes_get(vfs_data(req)->nodes, ino);
}

void vfs_caller(fuse_req_t req, struct caller *c);

/* Whether @c is the daemon's own guard thread walking to a mount over the vault: answered
 * without policy and not recorded (guard.c). */
int vfs_is_guard(const struct vfs *v, const struct caller *c);

/* -EACCES, recorded as @what on @n refused with rule "mount-helper", when @c is a
 * set-user-ID root program acting for its user (fusermount3 checking whether its user may
 * mount there); 0 otherwise, and when that cannot be told (guard.c). */
int vfs_refuse_mount_helper(struct vfs *v, struct caller *c, const char *what,
			    const struct node *n);
void vfs_policy_path(const struct node *n, char *buf, size_t len);

/* In vfs_rights' answer for a folder: some right on it or beneath it, a way in. */
#define VFS_ENTER (1u << 31)
/*
 * The operations (POLICY_BIT) @c may do on @n. For a folder, POLICY_LIST is list on the
 * folder itself (what readdir decides), the others are on it or on anything beneath it,
 * and VFS_ENTER is set with any of those: what the folder's mode shows.
 */
unsigned vfs_rights(struct vfs *v, struct caller *c, const struct node *n);
/* Decides @op on @path for @c into @ret; returns ret->allow. Records nothing. */
int vfs_decide(struct vfs *v, struct caller *c, enum policy_op op, const char *path,
	       struct policy_decision *ret);
/*
 * vfs_decide, and a denial is recorded in the audit trail as @what with result EACCES.
 * Returns 0 if allowed, -EACCES if denied, -EIO if the denial could not be recorded.
 */
int vfs_check(struct vfs *v, struct caller *c, const char *what, enum policy_op op,
	      const char *path, struct policy_decision *ret);
/* Records the denial @d of @what on @path, which the caller is told as @err: returns -@err,
 * or -EIO if it could not be recorded. */
int vfs_deny(struct vfs *v, struct caller *c, const char *what, const char *path,
	     const struct policy_decision *d, int err);
/* Records a refusal that comes from the tree rather than from policy (history is
 * read-only, a deleted value is not served, the fixed folders stay): @why is the record's
 * rule. Returns -@err, or -EIO if it could not be recorded. */
int vfs_refuse(struct vfs *v, struct caller *c, const char *what, const char *path, const char *why,
	       int err);
/* The rule the tree cites for refusing to change a read-only node: "history" for a
 * version, "deleted" for a soft-deleted secret, "certificate" for a certificate's file. */
const char *vfs_read_only_rule(const struct node *n);
/* The operation that reading @n's bytes needs: export for a certificate's key.pem, read
 * for everything else. */
enum policy_op vfs_read_op(const struct node *n);
/* Records that @c has no right on node @n, asked @what: the denial cites the rule that
 * decides read on it. Returns -@err, or -EIO. */
int vfs_deny_node(struct vfs *v, struct caller *c, const char *what, const struct node *n, int err);
/* Fills @ev for @c (reading its exe and cgroup) doing @what on @path under @d. */
void vfs_event(struct caller *c, const char *what, const char *path, uint64_t version,
	       const struct policy_decision *d, int result, struct audit_event *ev);
/* Appends that record: 0, or -EIO. */
int vfs_record(struct vfs *v, struct caller *c, const char *what, const char *path,
	       uint64_t version, const struct policy_decision *d, int result);
int vfs_stat(struct vfs *v, struct caller *c, const struct node *n, struct stat *st);
/* As vfs_stat, with the store's answer for a secret (@known) and the caller's rights on it
 * (@rights) already in hand; NULL and -1 when not. */
int vfs_stat_known(struct vfs *v, struct caller *c, const struct node *n,
		   const struct store_stat *known, int rights, struct stat *st);
int vfs_join(const struct node *parent, const char *name, char *buf, size_t len);
/* The path of a new secret or folder @name under @parent that @c may write: -EINVAL for a
 * bad name, -EACCES without the right. */
int vfs_new_child(struct vfs *v, struct caller *c, const struct node *parent, const char *name,
		  const char *what, char *path, size_t len, struct policy_decision *ret);
void vfs_reply_entry(fuse_req_t req, struct vfs *v, struct caller *c, enum node_kind kind,
		     const char *path, uint64_t version);
void vfs_reply_entry_known(fuse_req_t req, struct vfs *v, struct caller *c, enum node_kind kind,
			   const char *path, uint64_t version, const struct store_stat *known,
			   int rights);

/* files.c (and writes.c: write, copy_file_range, truncate) */
/* Wipes and frees the handles the kernel never released (the session ended first). */
void vfs_files_release_all(struct vfs *v);
int vfs_pending_size(struct vfs *v, const char *path, uint64_t *ret_size);
int vfs_truncate(struct vfs *v, struct caller *c, const struct node *n, struct fuse_file_info *fi,
		 uint64_t size);
void vfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void vfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		   struct fuse_file_info *fi);
void vfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void vfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi);
void vfs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			    struct fuse_file_info *fi_out, size_t len, int flags);
void vfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void vfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void vfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* dirs.c */
void vfs_dirs_release_all(struct vfs *v);
void vfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void vfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void vfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* keyfiles.c: keys/ */
void vfs_key_policy_path(const struct node *n, char *buf, size_t len);
/* The node @name under keys/ or keys/NAME[@N]/. */
int vfs_keys_resolve(struct vfs *v, const struct node *parent, const char *name,
		     enum node_kind *ret_kind, char *path, size_t len, uint64_t *ret_version);
/* The names in keys/ or keys/NAME[@N]/, through @add. */
int vfs_keys_list(struct vfs *v, const struct node *n, int (*add)(const char *, int, void *),
		  void *l);
/* Mode, size and times of a key node for a caller with @rights on it. */
int vfs_keys_stat(struct vfs *v, const struct node *n, unsigned rights, struct stat *st);
/* files.c: keeps who opened @h, and under which rule, for the records made after the open
 * (commits, key operations), reading @c's exe and cgroup into @c too. */
int vfs_opener_set(struct handle *h, struct caller *c, const struct policy_decision *d);

/* Opens key file @n for @c into @h (recorded); -EACCES without the operation's right. */
int vfs_keyfile_open(struct vfs *v, struct caller *c, const struct node *n, struct handle *h);
int vfs_keyfile_write(struct vfs *v, struct handle *h, const char *buf, size_t size, off_t off);
/* The locked bytes key file @h holds. */
uint64_t vfs_keyfile_held(const struct handle *h);
int vfs_keyfile_read(struct vfs *v, struct handle *h, size_t size, off_t off, const void **ret,
		     size_t *ret_len);
void vfs_keyfile_free(struct handle *h);

/* certfiles.c: certs/ */
/* The node @name under certs/ or certs/NAME[@N]/. */
int vfs_certs_resolve(struct vfs *v, const struct node *parent, const char *name,
		      enum node_kind *ret_kind, char *path, size_t len, uint64_t *ret_version);
/* The names in certs/ or certs/NAME[@N]/, through @add. */
int vfs_certs_list(struct vfs *v, const struct node *n, int (*add)(const char *, int, void *),
		   void *l);
/* Mode, size and times of a certificate node for a caller with @rights on it. */
int vfs_certs_stat(struct vfs *v, const struct node *n, unsigned rights, struct stat *st);
/* Opens certificate file @n, as @acc (O_RDONLY...) asks, for @c into @h: its bytes in
 * h->value. Read-only: any other @acc is EACCES. Needs read (export for key.pem); the open
 * is recorded, refused or not. */
int vfs_certfile_open(struct vfs *v, struct caller *c, const struct node *n, int acc,
		      struct handle *h);

/* trash.c: .deleted/keys/ and .deleted/certs/ */
/* The soft-deleted key or certificate @name under .deleted/keys/ or .deleted/certs/. */
int vfs_trash_resolve(struct vfs *v, const struct node *parent, const char *name,
		      enum node_kind *ret_kind, char *path, size_t len);
/* The names in .deleted/keys/ or .deleted/certs/ (their own folders are empty). */
int vfs_trash_list(struct vfs *v, const struct node *n, int (*add)(const char *, int, void *),
		   void *l);
int vfs_trash_stat(struct vfs *v, const struct node *n, unsigned rights, struct stat *st);
/* rmdir of @name under .deleted/keys/ or .deleted/certs/ (@parent): purge, needing purge
 * on keys/NAME or certs/NAME; decided and recorded. */
int vfs_trash_purge(struct vfs *v, struct caller *c, const struct node *parent, const char *name);
/* Whether a rename from @p to @np is one of .deleted/keys/ <-> keys/, .deleted/certs/ <->
 * certs/ (a recover, or a soft delete). */
int vfs_trash_move_kind(const struct node *p, const struct node *np);
/* That rename of @name to @newname: under its own name only (-EXDEV otherwise); needs
 * recover (or delete) on the key's or certificate's path; decided and recorded. */
int vfs_trash_move(struct vfs *v, struct caller *c, const struct node *p, const char *name,
		   const struct node *np, const char *newname);

/* xattr.c */
void vfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void vfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		     size_t size, int flags);
void vfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void vfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* Shared by the handlers (access.c, lookup.c). A key file's path "NAME/FILE" split into
 * the key's name and the file's (access.c). */
void vfs_key_split(const char *path, char *name, size_t len, const char **ret_file);
/* pending.c: a new secret is pending from its create to its commit. */
void vfs_pending_add(struct vfs *v, struct handle *h);
void vfs_pending_remove(struct vfs *v, struct handle *h);
void vfs_concat(char *buf, size_t len, const char *a, const char *b, const char *c);
void vfs_child_policy_path(const struct node *parent, const char *name, char *buf, size_t len);
mode_t vfs_mode_for(enum node_kind kind, unsigned rights);
int vfs_hidden_errno(struct vfs *v, struct caller *c, const struct node *parent);

/* The handlers of the operations table (lookup.c, tree.c). */
void vfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void vfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void vfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void vfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void vfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		    struct fuse_file_info *fi);
void vfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void vfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void vfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void vfs_op_access(fuse_req_t req, fuse_ino_t ino, int mask);
void vfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void vfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void vfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void vfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		   const char *newname, unsigned int flags);
void vfs_op_statfs(fuse_req_t req, fuse_ino_t ino);

#endif

/*
 * certfiles: certs/ of the mount. certs/NAME/ holds the current version's files —
 * cert.pem, chain.pem, fullchain.pem, key.pem for an exportable certificate — and csr.pem
 * while a request waits for its CA's answer; certs/NAME@N/ holds version N's (the pending
 * version's only csr.pem), found by name and never listed. Every file is read-only.
 *
 * Policy speaks of certs/NAME for the folder, every version and every file in them: read
 * serves the public files and csr.pem, export (and only export) serves key.pem. A caller
 * without the right gets EACCES at open and never a byte. Every open is recorded before
 * anything is served: "open" for a public file, "export" for key.pem, with the file and
 * the version served in the record.
 *
 * A file's bytes are taken whole at open into locked memory (key.pem is a private key),
 * served direct_io like a secret's, and wiped at release; nothing stays in a kernel cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs.h"
#include "names.h"
#include "vfs_internal.h"

/*
 * The files folder certs/NAME[@N] (@folder: 0 for certs/NAME) offers, and when the
 * version it shows was made. certs/NAME shows the current version's files and the pending
 * one's csr.pem; while the first version is pending that is all there is.
 */
static int folder_files(struct vfs *v, const char *name, uint64_t folder, unsigned *ret_mask,
			int64_t *ret_created)
{
	struct certs_info info;
	unsigned mask = 0, pending_mask;
	int64_t created, pending_created;
	int r;

	if (folder)
		return certs_version_files(v->store, name, folder, ret_mask, ret_created);
	r = certs_get(v->store, name, 0, &info);
	if (r < 0)
		return r;
	created = info.created;
	if (info.current) {
		r = certs_version_files(v->store, name, info.current, &mask, &created);
		if (r < 0)
			return r;
		mask &= ~CERTS_FILE_BIT(CERTS_CSR);
	}
	if (info.pending && certs_version_files(v->store, name, info.pending, &pending_mask,
						&pending_created) == 0) {
		mask |= pending_mask & CERTS_FILE_BIT(CERTS_CSR);
		if (!info.current)
			created = pending_created;
	}
	*ret_mask = mask;
	*ret_created = created;
	return 0;
}

/* The version file @f of folder certs/NAME[@N] comes from (the pending one for csr.pem
 * in certs/NAME), and when it was made: -ENOENT if the folder has no such file. */
static int file_source(struct vfs *v, const char *name, uint64_t folder, enum certs_file f,
		       uint64_t *ret_version, int64_t *ret_created)
{
	struct certs_info info;
	uint64_t version = folder;
	int64_t created;
	unsigned mask;
	int r;

	if (!version) {
		r = certs_get(v->store, name, 0, &info);
		if (r < 0)
			return r;
		version = f == CERTS_CSR ? info.pending : info.current;
		if (!version)
			return -ENOENT;
	}
	r = certs_version_files(v->store, name, version, &mask, &created);
	if (r < 0)
		return r;
	if (!(mask & CERTS_FILE_BIT(f)))
		return -ENOENT;
	*ret_version = version;
	*ret_created = created;
	return 0;
}

int vfs_certs_resolve(struct vfs *v, const struct node *parent, const char *name,
		      enum node_kind *ret_kind, char *path, size_t len, uint64_t *ret_version)
{
	char cert[NAME_SEGMENT_MAX + 1];
	struct certs_info info;
	uint64_t version = 0;
	int64_t created;
	size_t name_len;
	unsigned mask;
	int f, r;

	if (parent->kind == NODE_CERTS) {
		if (name_split_version(name, &name_len, &version) < 0 ||
		    name_segment_check(name, name_len) < 0 || name_len >= len ||
		    name_len >= sizeof(cert))
			return -EINVAL;
		snprintf(cert, sizeof(cert), "%.*s", (int)name_len, name);
		r = certs_get(v->store, cert, 0, &info);
		/* NAME@N, the pending version's number included, stays version N */
		if (r == 0 && version)
			r = certs_version_files(v->store, cert, version, &mask, &created);
		if (r < 0)
			return r;
		memcpy(path, cert, name_len + 1);
		*ret_kind = NODE_CERT;
		*ret_version = version;
		return 0;
	}
	/* a file in certs/NAME[@N]/ */
	f = certs_file_from_name(name);
	if (f < 0)
		return -ENOENT;
	r = folder_files(v, parent->path, parent->version, &mask, &created);
	if (r < 0)
		return r;
	if (!(mask & CERTS_FILE_BIT(f)))
		return -ENOENT;
	if (strlen(parent->path) + 1 + strlen(name) >= len)
		return -ENAMETOOLONG;
	snprintf(path, len, "%s/%s", parent->path, name);
	*ret_kind = NODE_CERT_FILE;
	*ret_version = parent->version;
	return 0;
}

int vfs_certs_list(struct vfs *v, const struct node *n, int (*add)(const char *, int, void *),
		   void *l)
{
	int64_t created;
	unsigned mask;
	int r;

	if (n->kind == NODE_CERTS) {
		r = certs_list(v->store, 0, add, l);
		return r == -ENOENT ? 0 : r;
	}
	r = folder_files(v, n->path, n->version, &mask, &created);
	for (int f = 0; r >= 0 && f < CERTS_FILE_COUNT; f++)
		if (mask & CERTS_FILE_BIT(f))
			r = add(certs_file_name((enum certs_file)f), 0, l);
	return r < 0 ? r : 0;
}

static void set_times(struct stat *st, int64_t us)
{
	st->st_mtim.tv_sec = (time_t)(us / 1000000);
	st->st_mtim.tv_nsec = (long)(us % 1000000) * 1000;
	st->st_ctim = st->st_atim = st->st_mtim;
}

int vfs_certs_stat(struct vfs *v, const struct node *n, unsigned rights, struct stat *st)
{
	char name[NAME_SEGMENT_MAX + 1];
	struct secbuf *content = NULL;
	const char *file;
	uint64_t version;
	int64_t created;
	unsigned mask;
	int f, r;

	vfs_key_split(n->path, name, sizeof(name), &file);
	if (n->kind == NODE_CERT) {
		r = folder_files(v, name, n->version, &mask, &created);
		if (r < 0)
			return r;
		set_times(st, created);
		/* as any folder's: r for list on it, x for a way in */
		st->st_mode = S_IFDIR | (rights & POLICY_BIT(POLICY_LIST) ? 0400 : 0) |
			      (rights ? 0100 : 0);
		st->st_nlink = 2;
		return 0;
	}
	f = certs_file_from_name(file);
	if (f < 0)
		return -ENOENT;
	r = file_source(v, name, n->version, (enum certs_file)f, &version, &created);
	/* the exact size, so that a reader that trusts st_size gets every byte */
	if (r == 0)
		r = certs_file_read(v->store, name, version, (enum certs_file)f, &content);
	if (r < 0)
		return r;
	st->st_size = (off_t)secbuf_len(content);
	secbuf_free(content);
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_nlink = 1;
	set_times(st, created);
	st->st_mode =
		S_IFREG |
		(rights & POLICY_BIT(f == CERTS_KEY ? POLICY_EXPORT : POLICY_READ) ? 0400 : 0);
	return 0;
}

/* Records the open of @file as @what under @d with @result (an errno or 0): -@result, or
 * -EIO if it could not be recorded. */
static int record_open(struct vfs *v, struct caller *c, const char *what, const char *ppath,
		       uint64_t version, const struct policy_decision *d, const char *file,
		       int result)
{
	struct audit_event ev;

	vfs_event(c, what, ppath, version, d, result, &ev);
	ev.detail = file;
	return vault_record(v->vault, &ev) < 0 ? -EIO : -result;
}

int vfs_certfile_open(struct vfs *v, struct caller *c, const struct node *n, int acc,
		      struct handle *h)
{
	char name[NAME_SEGMENT_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	uint64_t version = 0;
	const char *file, *what;
	int64_t created;
	int f, r;

	vfs_key_split(n->path, name, sizeof(name), &file);
	vfs_policy_path(n, ppath, sizeof(ppath));
	f = certs_file_from_name(file);
	if (f < 0)
		return -ENOENT;
	what = f == CERTS_KEY ? "export" : "open";
	/* a certificate changes by its commands (renew, merge), never by writing its files */
	if (acc != O_RDONLY) {
		d.allow = 0;
		snprintf(d.rule, sizeof(d.rule), "%s", vfs_read_only_rule(n));
		return record_open(v, c, what, ppath, n->version, &d, file, EACCES);
	}
	if (!vfs_decide(v, c, vfs_read_op(n), ppath, &d))
		return record_open(v, c, what, ppath, n->version, &d, file, EACCES);
	r = file_source(v, name, n->version, (enum certs_file)f, &version, &created);
	if (r == 0)
		r = certs_file_read(v->store, name, version, (enum certs_file)f, &h->value);
	/* past a cap the refusal is the record of this open */
	if (r == 0 &&
	    (r = vfs_limits_open(v, c, what, ppath, secbuf_held(h->value), &h->charge)) < 0)
		return r;
	/* Recorded, with the file and the version it serves, before any byte is. */
	return record_open(v, c, what, ppath, version, &d, file, r < 0 ? -r : 0);
}

/*
 * keyfiles: keys/ of the mount. keys/NAME/ holds public.pem and one file per operation the
 * key allows; keys/NAME@N/ serves an older version for decrypt and unwrap (and its
 * public.pem). An operation file works per open: what is written is the input, the first
 * read runs the operation in the token and returns the result from its start, later reads
 * go on through it; one operation per open.
 *
 * Policy speaks of keys/NAME for the folder and every file in it. Opening an operation
 * file needs that operation (EACCES otherwise, at open); the run is recorded in the audit
 * trail with the key's name and the version that did the work, before any byte of the
 * result is returned.
 *
 * A token call can stall for any time, and a worker inside one serves nobody else; so only
 * so many operations may be in the token at once (vfs_set_token_slots), and one that
 * cannot have its turn soon fails with EBUSY rather than hold a worker as well.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "names.h"
#include "timeutil.h"
#include "vfs_internal.h"

#define PUBLIC_PEM "public.pem"

static const enum policy_op policy_of[KEY_OP_COUNT] = {
	[KEY_SIGN] = POLICY_SIGN, [KEY_ENCRYPT] = POLICY_ENCRYPT, [KEY_DECRYPT] = POLICY_DECRYPT,
	[KEY_WRAP] = POLICY_WRAP, [KEY_UNWRAP] = POLICY_UNWRAP,
};

/* The operations a version's folder offers: all the key allows for the current one,
 * decrypt and unwrap for an older one. */
static unsigned folder_ops(const struct store_key *k, uint64_t version)
{
	if (version == 0 || version == k->current)
		return k->ops;
	return k->ops & (KEY_BIT(KEY_DECRYPT) | KEY_BIT(KEY_UNWRAP));
}

int vfs_keys_resolve(struct vfs *v, const struct node *parent, const char *name,
		     enum node_kind *ret_kind, char *path, size_t len, uint64_t *ret_version)
{
	char key[NAME_SEGMENT_MAX + 1];
	struct store_key k;
	size_t name_len;
	uint64_t version = 0;
	int r;

	if (parent->kind == NODE_KEYS) {
		/* the name in @path only once it is found: @path is untouched on failure */
		if (name_split_version(name, &name_len, &version) < 0 ||
		    name_segment_check(name, name_len) < 0 || name_len >= len ||
		    name_len >= sizeof(key))
			return -EINVAL;
		snprintf(key, sizeof(key), "%.*s", (int)name_len, name);
		r = store_key_get(v->store, key, &k);
		if (r < 0)
			return r;
		if (version) {
			struct store_key_version kv;

			r = store_key_version_get(v->store, key, version, &kv);
			if (r < 0)
				return r;
			store_key_version_clear(&kv);
			/* NAME@N stays version N, current now or not: a descriptor or a
			 * working directory in it keeps serving N after a rotation. */
		}
		memcpy(path, key, name_len + 1);
		*ret_kind = NODE_KEY;
		*ret_version = version;
		return 0;
	}
	/* a file in keys/NAME[@N]/ */
	r = store_key_get(v->store, parent->path, &k);
	if (r < 0)
		return r;
	if (strcmp(name, PUBLIC_PEM) == 0) {
		if (strcmp(k.type, "aes-256") == 0)
			return -ENOENT;
	} else {
		int op = keys_op_from_name(name);

		if (op < 0 || !(folder_ops(&k, parent->version) & KEY_BIT(op)))
			return -ENOENT;
	}
	if (strlen(parent->path) + 1 + strlen(name) >= len)
		return -ENAMETOOLONG;
	snprintf(path, len, "%s/%s", parent->path, name);
	*ret_kind = NODE_KEY_FILE;
	*ret_version = parent->version;
	return 0;
}

int vfs_keys_list(struct vfs *v, const struct node *n, int (*add)(const char *, int, void *),
		  void *l)
{
	struct store_key k;
	int r;

	if (n->kind == NODE_KEYS)
		return store_key_list(v->store, 0, add, l);
	r = store_key_get(v->store, n->path, &k);
	if (r < 0)
		return r;
	if (strcmp(k.type, "aes-256") != 0) {
		r = add(PUBLIC_PEM, 0, l);
		if (r < 0)
			return r;
	}
	for (int op = 0; op < KEY_OP_COUNT; op++) {
		if (folder_ops(&k, n->version) & KEY_BIT(op)) {
			r = add(keys_op_name(op), 0, l);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int vfs_keys_stat(struct vfs *v, const struct node *n, unsigned rights, struct stat *st)
{
	char name[NAME_SEGMENT_MAX + 1];
	const char *file;
	struct store_key k;
	int r;

	vfs_key_split(n->path, name, sizeof(name), &file);
	r = store_key_get(v->store, name, &k);
	if (r < 0)
		return r;
	st->st_mtim.tv_sec = (time_t)(k.created / 1000000);
	st->st_ctim = st->st_atim = st->st_mtim;
	if (n->kind == NODE_KEY) {
		/* as any folder's: r for list on it, x for a way in */
		st->st_mode = S_IFDIR | (rights & POLICY_BIT(POLICY_LIST) ? 0400 : 0) |
			      (rights ? 0100 : 0);
		st->st_nlink = 2;
		return 0;
	}
	st->st_nlink = 1;
	if (strcmp(file, PUBLIC_PEM) == 0) {
		char *pem = NULL;
		size_t len = 0;

		r = keys_public_pem(v->store, name, n->version, &pem, &len);
		if (r < 0)
			return r;
		free(pem);
		st->st_size = (off_t)len;
		st->st_mode = S_IFREG | (rights ? 0400 : 0);
		return 0;
	}
	r = keys_op_from_name(file);
	if (r < 0)
		return -ENOENT;
	st->st_mode = S_IFREG | (rights & POLICY_BIT(policy_of[r]) ? 0600 : 0);
	return 0;
}

/* The turns in the token (see vfs_set_token_slots). */
struct token_slots {
	pthread_mutex_t lock;
	pthread_cond_t freed; /* an operation left the token */
	unsigned slots;
	int64_t wait_us;
	/* protected by lock: */
	unsigned busy; /* operations in the token */
	int saturated; /* a wait timed out, and nothing has left the token since */
};

int vfs_set_token_slots(struct vfs *v, unsigned slots, unsigned wait_ms)
{
	struct token_slots *t;
	pthread_condattr_t ca;

	if (slots == 0)
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->freed, &ca);
	pthread_condattr_destroy(&ca);
	t->slots = slots;
	t->wait_us = (int64_t)wait_ms * 1000;
	v->slots = t;
	return 0;
}

void vfs_token_slots_free(struct vfs *v)
{
	if (!v->slots)
		return;
	pthread_cond_destroy(&v->slots->freed);
	pthread_mutex_destroy(&v->slots->lock);
	free(v->slots);
	v->slots = NULL;
}

/* A turn in the token, or -EBUSY when none came within the wait. */
static int slot_take(struct token_slots *t)
{
	int64_t deadline;
	struct timespec ts;
	int r = 0, first = 0;

	if (!t)
		return 0;
	deadline = time_mono_us() + t->wait_us;
	ts.tv_sec = (time_t)(deadline / 1000000);
	ts.tv_nsec = (long)(deadline % 1000000) * 1000;
	pthread_mutex_lock(&t->lock);
	while (t->busy >= t->slots && !t->saturated) {
		if (pthread_cond_timedwait(&t->freed, &t->lock, &ts) == ETIMEDOUT &&
		    t->busy >= t->slots) {
			t->saturated = 1;
			first = 1;
		}
	}
	if (t->busy >= t->slots)
		r = -EBUSY;
	else
		t->busy++;
	pthread_mutex_unlock(&t->lock);
	if (first)
		log_warn("The token has held %u key operations for over %lld ms: refusing more "
			 "with EBUSY until one returns",
			 t->slots, (long long)(t->wait_us / 1000));
	return r;
}

static void slot_give(struct token_slots *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->busy--;
	t->saturated = 0;
	pthread_cond_signal(&t->freed);
	pthread_mutex_unlock(&t->lock);
}

/* An open key file: public.pem (its text in h->value) or an operation. */
struct keyop {
	struct keys_input *in; /* freed once the operation ran: its result replaces it */
	enum key_op op;
	int ran;
	int refused; /* input past a [limits] cap was refused: ENOSPC from then on */
	int error; /* the run's error, returned by every read after it */
	size_t pos;
	size_t written;
	uint64_t version;
	char ppath[NAME_PATH_MAX + 16];
};

uint64_t vfs_keyfile_held(const struct handle *h)
{
	return secbuf_held(h->value) + (h->keyop ? keys_input_held(h->keyop->in) : 0);
}

void vfs_keyfile_free(struct handle *h)
{
	if (h->keyop) {
		keys_input_free(h->keyop->in);
		free(h->keyop);
	}
}

int vfs_keyfile_open(struct vfs *v, struct caller *c, const struct node *n, struct handle *h)
{
	char name[NAME_SEGMENT_MAX + 1], ppath[NAME_PATH_MAX + 16];
	struct policy_decision d;
	struct audit_event ev;
	const char *file;
	size_t len = 0;
	char *pem = NULL;
	int op, r;

	vfs_key_split(n->path, name, sizeof(name), &file);
	snprintf(ppath, sizeof(ppath), "keys/%s", name);
	op = keys_op_from_name(file);
	if (op < 0) {
		/* public.pem: any right on the key shows it */
		if (!(vfs_rights(v, c, n) & POLICY_ALL)) {
			vfs_decide(v, c, POLICY_READ, ppath, &d);
			return vfs_deny(v, c, "open", ppath, &d, EACCES);
		}
		snprintf(d.rule, sizeof(d.rule), "visible");
		d.allow = 1;
		r = keys_public_pem(v->store, name, n->version, &pem, &len);
		if (r == 0) {
			r = secbuf_from(pem, len, &h->value);
			free(pem);
		}
		if (r == 0) {
			/* past a cap the refusal is the record of this open */
			r = vfs_limits_open(v, c, "open", ppath, secbuf_held(h->value), &h->charge);
			if (r < 0)
				return r;
		}
		vfs_event(c, "open", ppath, n->version, &d, r < 0 ? -r : 0, &ev);
		ev.detail = PUBLIC_PEM;
		return vault_record(v->vault, &ev) < 0 ? -EIO : r;
	}
	r = vfs_check(v, c, "open", policy_of[op], ppath, &d);
	if (r < 0)
		return r;
	h->keyop = calloc(1, sizeof(*h->keyop));
	if (!h->keyop)
		return -ENOMEM;
	h->keyop->op = (enum key_op)op;
	snprintf(h->keyop->ppath, sizeof(h->keyop->ppath), "%s", ppath);
	r = keys_input_new(v->store, name, n->version, (enum key_op)op, &h->keyop->in);
	if (r == -EOPNOTSUPP)
		r = -ENOENT;
	if (r == 0)
		r = vfs_opener_set(h, c, &d);
	if (r == 0) {
		r = vfs_limits_open(v, c, "open", ppath, vfs_keyfile_held(h), &h->charge);
		if (r < 0)
			return r;
	}
	vfs_event(c, "open", ppath, n->version, &d, r < 0 ? -r : 0, &ev);
	ev.detail = file;
	if (vault_record(v->vault, &ev) < 0)
		r = -EIO;
	return r;
}

/*
 * With h->lock held: input that would pass a [limits] cap. The operation will not run: its
 * input is wiped and given back, and this refusal, recorded once for the open file, is
 * the answer to every later write and read of it.
 */
static int refuse_input(struct vfs *v, struct handle *h, const char *cap, uint64_t value)
{
	struct keyop *k = h->keyop;

	k->refused = 1;
	k->ran = 1;
	k->error = -ENOSPC;
	keys_input_free(k->in);
	k->in = NULL;
	vfs_limits_set(v, &h->charge, vfs_keyfile_held(h));
	if (h->limit_refused)
		return -ENOSPC;
	h->limit_refused = 1;
	return vfs_limits_refuse_write(v, &h->opener->c, k->ppath, cap, value);
}

/* With h->lock held. */
int vfs_keyfile_write(struct vfs *v, struct handle *h, const char *buf, size_t size, off_t off)
{
	struct keyop *k = h->keyop;
	const char *cap;
	uint64_t value;
	int r;

	if (!k)
		return -EBADF; /* public.pem */
	if (k->refused)
		return -ENOSPC;
	if (k->ran)
		return -EINVAL; /* one operation per open */
	if (off < 0 || (uint64_t)off != k->written)
		return -EINVAL; /* input is a stream: written in order */
	/* charged before the input grows, so that no cap is passed even for a moment */
	r = vfs_limits_hold(v, &h->charge, keys_input_held_after(k->in, size), &cap, &value);
	if (r < 0)
		return refuse_input(v, h, cap, value);
	r = keys_input_add(k->in, buf, size);
	vfs_limits_set(v, &h->charge, vfs_keyfile_held(h));
	if (r < 0)
		return r;
	k->written += size;
	return 0;
}

/* With h->lock held: runs the operation once, recording it before anything is returned.
 * Without a turn in the token it does not run: the refusal is recorded and a later read
 * of the same open file may try again. */
static int run(struct vfs *v, struct handle *h)
{
	struct keyop *k = h->keyop;
	struct audit_event ev;
	int r;

	r = slot_take(v->slots);
	if (r == 0) {
		k->ran = 1;
		r = keys_input_run(k->in, v->vault->hsm, &h->value, &k->version);
		slot_give(v->slots);
	}
	vfs_event(&h->opener->c, keys_op_name(k->op), k->ppath, k->version, &h->opener->d,
		  r < 0 ? -r : 0, &ev);
	if (vault_record(v->vault, &ev) < 0) {
		secbuf_free(h->value);
		h->value = NULL;
		r = -EIO;
	}
	if (k->ran) {
		/* The input is done with: its memory goes back now, not at close. The result
		 * is charged as it is, past a cap if need be: it holds at most one block more
		 * than its input did (a header, a signature of a hashed message). */
		keys_input_free(k->in);
		k->in = NULL;
		vfs_limits_set(v, &h->charge, vfs_keyfile_held(h));
	}
	if (r == -EUCLEAN || r == -ENOKEY)
		log_error("Key \"%s\": the token lacks a version the vault records", k->ppath);
	if (!k->ran)
		return r;
	k->error = r < 0 ? r : 0;
	return k->error;
}

/* With h->lock held: up to @size bytes of the result at the handle's own position. */
int vfs_keyfile_read(struct vfs *v, struct handle *h, size_t size, off_t off, const void **ret,
		     size_t *ret_len)
{
	struct keyop *k = h->keyop;
	size_t avail;

	if (!k) { /* public.pem: an ordinary file */
		if (off < 0 || (uint64_t)off >= secbuf_len(h->value)) {
			*ret_len = 0;
			return 0;
		}
		*ret = secbuf_data(h->value) + off;
		avail = secbuf_len(h->value) - (size_t)off;
		*ret_len = size < avail ? size : avail;
		return 0;
	}
	if (!k->ran) {
		int r = run(v, h);

		if (r < 0)
			return r;
	}
	if (k->error)
		return k->error;
	avail = secbuf_len(h->value) - k->pos;
	*ret = secbuf_data(h->value) + k->pos;
	*ret_len = size < avail ? size : avail;
	k->pos += *ret_len;
	return 0;
}

/*
 * pending: the new secrets being written that the store does not hold yet — created,
 * not yet committed — so that a lookup or a stat finds them (with the length written so
 * far) and an O_EXCL create of the same name fails. Protected by the mount's lock.
 */
#include "vfs_internal.h"

#include <errno.h>
#include <string.h>

void vfs_pending_add(struct vfs *v, struct handle *h)
{
	pthread_mutex_lock(&v->lock);
	h->next_pending = v->pending;
	v->pending = h;
	h->pending = 1;
	pthread_mutex_unlock(&v->lock);
}

void vfs_pending_remove(struct vfs *v, struct handle *h)
{
	pthread_mutex_lock(&v->lock);
	for (struct handle **pp = &v->pending; *pp; pp = &(*pp)->next_pending)
		if (*pp == h) {
			*pp = h->next_pending;
			break;
		}
	h->pending = 0;
	pthread_mutex_unlock(&v->lock);
}

int vfs_pending_size(struct vfs *v, const char *path, uint64_t *ret_size)
{
	int r = -ENOENT;

	pthread_mutex_lock(&v->lock);
	for (struct handle *h = v->pending; h; h = h->next_pending)
		if (strcmp(h->path, path) == 0) {
			/* h->lock is not taken (lock order is h->lock, then v->lock): a length
			 * that is a write behind is fine for stat. */
			*ret_size = secbuf_len(h->value);
			r = 0;
			break;
		}
	pthread_mutex_unlock(&v->lock);
	return r;
}

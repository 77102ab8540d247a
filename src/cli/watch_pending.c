/*
 * watch_pending: the changes a watch waits on (watch_pending.h), an array in seq order.
 * Few wait at once — a change's record settles every one before it (cli_watch.c's
 * settle) — so a linear search and a memmove at the front cost nothing that matters.
 */
#include "watch_pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pending_push(struct pending_list *l, uint64_t seq, json_object *line)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct pending_change *grown = realloc(l->v, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		l->v = grown;
		l->cap = cap;
	}
	l->v[l->n++] = (struct pending_change){ .seq = seq, .line = line };
	return 0;
}

void pending_undo(struct pending_list *l, uint64_t seq)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].seq == seq)
			l->v[i].undone = 1;
}

void pending_pop(struct pending_list *l)
{
	json_object_put(l->v[0].line);
	l->n--;
	memmove(l->v, l->v + 1, l->n * sizeof(*l->v));
}

void pending_clear(struct pending_list *l)
{
	while (l->n > 0)
		pending_pop(l);
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

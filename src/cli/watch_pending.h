/*
 * watch_pending: the changes `vaultfs watch` has read in the trail and not printed yet,
 * in the trail's order, each until it is known to have committed or not (cli_watch.c). A
 * record that undoes one (its "undoes" field) marks it. Not thread-safe: one watch's.
 */
#ifndef VAULTFS_WATCH_PENDING_H
#define VAULTFS_WATCH_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct pending_change {
	uint64_t seq; /* its record's */
	int undone; /* a later record says it did not commit */
	json_object *line; /* what is printed if it did */
};

/* Zeroed: empty. */
struct pending_list {
	struct pending_change *v;
	size_t n, cap;
};

/* Appends change @seq (after every one in @l) with @line, which @l owns from then on.
 * Returns 0, or -ENOMEM (then @line is still the caller's). */
int pending_push(struct pending_list *l, uint64_t seq, json_object *line);

/* Marks change @seq undone, if it is in @l. */
void pending_undo(struct pending_list *l, uint64_t seq);

/* Forgets the first change (l->v[0]); @l must not be empty. */
void pending_pop(struct pending_list *l);

/* Forgets every change and frees @l's memory; @l is empty after. */
void pending_clear(struct pending_list *l);

#endif

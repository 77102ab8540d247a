/*
 * counters: per-thread shards of event counts (counters.h). A shard is written only by the
 * thread that holds it, so a count is a load and a store, both relaxed, with no lock
 * prefix; readers load every slot relaxed. Shards are never freed: a thread's shard goes
 * back to a free list when it exits, counts and all, for the next thread to go on from.
 */
#include "counters.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_SLOTS (COUNTERS_OPS * 2 * COUNTERS_RESULTS)
#define SLOTS (COUNTER_FIXED + REQUEST_SLOTS)

struct shard {
	uint64_t slot[SLOTS];
	struct shard *next; /* set before the shard is published, never changed after */
	int free; /* protected by lock: its thread exited, the next new thread takes it */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct shard *shards; /* protected by lock (written); read with __atomic */
/* For a thread that could not get a shard of its own: counted with atomic adds. */
static struct shard shared;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t key; /* only for its destructor: a thread's exit frees its shard */
static int key_made;
static __thread struct shard *mine;

/* The names learned, each slot written once under lock before its count is published
 * (release), read without the lock below that count (acquire). */
static const char *op_names[COUNTERS_OPS];
static unsigned n_ops;
static int result_codes[COUNTERS_RESULTS];
static unsigned n_results;

static void thread_done(void *p)
{
	struct shard *s = p;

	pthread_mutex_lock(&lock);
	s->free = 1;
	pthread_mutex_unlock(&lock);
	/* a count made by a later destructor of this thread takes a shard again */
	mine = NULL;
}

static void make_key(void)
{
	key_made = pthread_key_create(&key, thread_done) == 0;
}

static struct shard *shard(void)
{
	struct shard *s;

	if (mine)
		return mine;
	pthread_once(&once, make_key);
	pthread_mutex_lock(&lock);
	for (s = shards; s && !s->free; s = s->next)
		;
	if (s) {
		s->free = 0;
	} else if ((s = calloc(1, sizeof(*s)))) {
		s->next = shards;
		__atomic_store_n(&shards, s, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
	if (!s || !key_made || pthread_setspecific(key, s) != 0) {
		if (s)
			thread_done(s);
		return &shared; /* not kept in mine: the next count tries again */
	}
	mine = s;
	return s;
}

static void add(size_t i, uint64_t n)
{
	struct shard *s = shard();

	if (s == &shared) {
		__atomic_fetch_add(&s->slot[i], n, __ATOMIC_RELAXED);
		return;
	}
	__atomic_store_n(&s->slot[i], __atomic_load_n(&s->slot[i], __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

void counters_add(enum counter c, uint64_t n)
{
	add((size_t)c, n);
}

/* The number of @op, learned now if it is new; the last one ("other") once all are taken. */
static size_t op_index(const char *op)
{
	unsigned n = __atomic_load_n(&n_ops, __ATOMIC_ACQUIRE), i;

	for (i = 0; i < n; i++) /* the same literal, mostly */
		if (op_names[i] == op)
			return i;
	for (i = 0; i < n; i++)
		if (strcmp(op_names[i], op) == 0)
			return i;
	pthread_mutex_lock(&lock);
	n = n_ops;
	for (i = 0; i < n; i++)
		if (strcmp(op_names[i], op) == 0)
			goto out;
	if (n < COUNTERS_OPS - 1) {
		op_names[n] = op;
	} else {
		i = COUNTERS_OPS - 1;
		if (n == COUNTERS_OPS)
			goto out;
		op_names[i] = "other";
		n = i;
	}
	__atomic_store_n(&n_ops, n + 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&lock);
	return i;
}

static size_t result_index(int result)
{
	unsigned n = __atomic_load_n(&n_results, __ATOMIC_ACQUIRE), i;

	for (i = 0; i < n; i++)
		if (result_codes[i] == result)
			return i;
	pthread_mutex_lock(&lock);
	n = n_results;
	for (i = 0; i < n; i++)
		if (result_codes[i] == result)
			goto out;
	if (n < COUNTERS_RESULTS - 1) {
		result_codes[n] = result;
	} else {
		i = COUNTERS_RESULTS - 1;
		if (n == COUNTERS_RESULTS)
			goto out;
		result_codes[i] = -1; /* "other" */
		n = i;
	}
	__atomic_store_n(&n_results, n + 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&lock);
	return i;
}

static size_t request_slot(size_t op, int allow, size_t result)
{
	return COUNTER_FIXED + (op * 2 + (allow ? 1 : 0)) * COUNTERS_RESULTS + result;
}

void counters_request(const char *op, int allow, int result)
{
	add(request_slot(op_index(op ? op : "other"), allow, result_index(result)), 1);
}

static uint64_t sum(size_t i)
{
	uint64_t n = __atomic_load_n(&shared.slot[i], __ATOMIC_RELAXED);

	for (struct shard *s = __atomic_load_n(&shards, __ATOMIC_ACQUIRE); s; s = s->next)
		n += __atomic_load_n(&s->slot[i], __ATOMIC_RELAXED);
	return n;
}

uint64_t counters_get(enum counter c)
{
	return sum((size_t)c);
}

uint64_t counters_get_request(size_t op, int allow, size_t result)
{
	if (op >= COUNTERS_OPS || result >= COUNTERS_RESULTS)
		return 0;
	return sum(request_slot(op, allow, result));
}

void counters_names(const char **ops, size_t *ret_ops, int *results, size_t *ret_results)
{
	pthread_mutex_lock(&lock);
	memcpy(ops, op_names, n_ops * sizeof(*ops));
	*ret_ops = n_ops;
	memcpy(results, result_codes, n_results * sizeof(*results));
	*ret_results = n_results;
	pthread_mutex_unlock(&lock);
}

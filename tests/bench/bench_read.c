/*
 * bench_read: open + read + close of small files, as fast as THREADS threads can, for
 * SECONDS, over files DIR/secret-0 .. DIR/secret-(N-1). Prints ops/s and the p50 and
 * p99 latency of one open+read+close. A measurement only: it asserts nothing.
 *
 * Usage: bench_read DIR FILES THREADS SECONDS LABEL
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct worker {
	const char *dir;
	unsigned files, id;
	double seconds;
	uint64_t *lat; /* nanoseconds */
	size_t count, cap;
	unsigned errors;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	uint64_t end = now_ns() + (uint64_t)(w->seconds * 1e9);
	char path[4096], buf[65536];
	unsigned i = w->id;

	while (now_ns() < end) {
		uint64_t t0 = now_ns();
		int fd;

		snprintf(path, sizeof(path), "%s/secret-%u", w->dir, i++ % w->files);
		fd = open(path, O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof(buf)) < 0) {
			w->errors++;
		}
		if (fd >= 0)
			close(fd);
		if (w->count == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 65536;
			w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
		}
		w->lat[w->count++] = now_ns() - t0;
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned threads, files, errors = 0;
	struct worker *w;
	pthread_t *t;
	uint64_t *all;
	size_t total = 0, k = 0;
	double seconds;

	if (argc < 6) {
		fprintf(stderr, "usage: bench_read DIR FILES THREADS SECONDS LABEL\n");
		return 2;
	}
	files = (unsigned)atoi(argv[2]);
	threads = (unsigned)atoi(argv[3]);
	seconds = atof(argv[4]);
	w = calloc(threads, sizeof(*w));
	t = calloc(threads, sizeof(*t));
	for (unsigned i = 0; i < threads; i++) {
		w[i].dir = argv[1];
		w[i].files = files;
		w[i].id = i * 7919;
		w[i].seconds = seconds;
		pthread_create(&t[i], NULL, run, &w[i]);
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += w[i].count;
		errors += w[i].errors;
	}
	all = malloc((total ? total : 1) * sizeof(*all));
	for (unsigned i = 0; i < threads; i++) {
		memcpy(all + k, w[i].lat, w[i].count * sizeof(*all));
		k += w[i].count;
		free(w[i].lat);
	}
	qsort(all, total, sizeof(*all), cmp);
	printf("%-10s threads=%u  ops/s=%9.0f  p50=%7.1f us  p99=%7.1f us  errors=%u\n", argv[5],
	       threads, (double)total / seconds, total ? (double)all[total / 2] / 1000 : 0,
	       total ? (double)all[total * 99 / 100] / 1000 : 0, errors);
	free(all);
	free(w);
	free(t);
	return errors ? 1 : 0;
}

/*
 * bench_store: how reads scale with the number of secrets. It times store_secret_get of
 * one secret (decrypted every time, its sealed value cached), store_secret_stat of a
 * different secret each time (answered by SQLite) and of one (cached), and a folder
 * listing, on a vault holding 1,000 secrets (the baseline) and again on the same vault
 * grown to 100,000, in one run, and prints the figures. It
 * asserts nothing: it is a measurement, read by people.
 *
 * The vault lives in /dev/shm where there is one: filling it makes one commit per secret,
 * and what is measured are reads, which the page cache answers wherever the file is.
 *
 * Usage: bench_store [SECRETS]   (default 100000)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "timeutil.h"

#define ROUNDS 20000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, strerror(-r));
	exit(1);
}

/* Adds filler secrets through the store's own interface, as any backend would take them:
 * their values are never read, only their records make the store large. */
static void fill(struct store *s, int from, int to)
{
	char path[64], value[16];
	struct secbuf *v;
	int r;

	for (int i = from; i < to; i++) {
		snprintf(path, sizeof(path), "team%d/filler-%d", i % 1000, i);
		snprintf(value, sizeof(value), "%d", i);
		if (secbuf_from(value, strlen(value), &v) < 0)
			die("secbuf", -ENOMEM);
		r = store_secret_put(s, path, v, STORE_PUT_MKDIRS, time_now_us(), NULL);
		secbuf_free(v);
		if (r < 0)
			die("fill", r);
	}
}

static int count_cb(const char *name, int is_folder, void *userdata)
{
	(void)name;
	(void)is_folder;
	(*(int *)userdata)++;
	return 0;
}

static void measure(struct store *s, struct store *nocache, int total)
{
	double t0, get_us, sql_get_us, stat_us, cached_us, list_us;
	struct store_stat st;
	int entries = 0;

	t0 = now_s();
	for (int i = 0; i < ROUNDS; i++) {
		struct secbuf *v = NULL;
		int r = store_secret_get(s, "team7/real", 0, time_now_us(), &v, NULL);

		if (r < 0)
			die("get", r);
		secbuf_free(v);
	}
	get_us = (now_s() - t0) / ROUNDS * 1e6;
	/* the same through a store without the read cache: every read answered by SQLite */
	t0 = now_s();
	for (int i = 0; i < ROUNDS; i++)
		if (store_secret_stat(nocache, "team7/real", STORE_LIVE, &st) < 0)
			die("stat", -EIO);
	stat_us = (now_s() - t0) / ROUNDS * 1e6;
	t0 = now_s();
	for (int i = 0; i < ROUNDS; i++) {
		struct secbuf *v = NULL;

		if (store_secret_get(nocache, "team7/real", 0, time_now_us(), &v, NULL) < 0)
			die("get", -EIO);
		secbuf_free(v);
	}
	sql_get_us = (now_s() - t0) / ROUNDS * 1e6;
	t0 = now_s();
	for (int i = 0; i < ROUNDS; i++)
		if (store_secret_stat(s, "team7/real", STORE_LIVE, &st) < 0)
			die("stat", -EIO);
	cached_us = (now_s() - t0) / ROUNDS * 1e6;
	t0 = now_s();
	for (int i = 0; i < ROUNDS / 10; i++)
		store_list(s, "team7", 0, count_cb, &entries);
	list_us = (now_s() - t0) / (ROUNDS / 10) * 1e6;
	printf("%6d secrets: get %5.2f us (SQLite %5.2f)  stat %5.2f us (SQLite %5.2f)  "
	       "list of %3d names %6.2f us\n",
	       total, get_us, sql_get_us, cached_us, stat_us, entries / (ROUNDS / 10), list_us);
}

int main(int argc, char **argv)
{
	int total = argc > 1 ? atoi(argv[1]) : 100000;
	struct store_options opt = { 25600, 90, 5000, 0 }, nocache_opt = { 25600, 90, 5000, 1 };
	struct store *nc;
	char dir[64], conf[PATH_MAX], db[PATH_MAX], cmd[PATH_MAX * 2];
	struct secbuf *pin, *value;
	struct store *s;
	struct hsm *h;
	FILE *f;
	int r;

	snprintf(dir, sizeof(dir), "%s/vaultfs-bench.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", -errno);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	snprintf(db, sizeof(db), "%s/vault.db", dir);
	snprintf(cmd, sizeof(cmd), "mkdir %s/tokens", dir);
	if (system(cmd) != 0)
		die("mkdir", -EIO);
	f = fopen(conf, "w");
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n", dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(cmd, sizeof(cmd),
		 "softhsm2-util --init-token --free --label bench --pin 1234 "
		 "--so-pin 5678 >/dev/null");
	if (system(cmd) != 0)
		die("softhsm2-util", -EIO);
	secbuf_from("1234", 4, &pin);
	r = hsm_open(VAULTFS_SOFTHSM2_MODULE, "bench", pin, &h);
	if (r < 0)
		die("hsm_open", r);
	r = store_create(db, h, &opt);
	if (r < 0)
		die("store_create", r);
	r = store_open(db, h, &opt, &s);
	if (r < 0)
		die("store_open", r);
	fill(s, 0, 1000);
	r = store_open(db, h, &nocache_opt, &nc);
	if (r < 0)
		die("store_open", r);
	secbuf_from("postgres://u:p@db/app", 21, &value);
	r = store_secret_put(s, "team7/real", value, 0, time_now_us(), NULL);
	if (r < 0)
		die("put", r);
	printf("bench_store: %d reads of one secret, baseline first\n", ROUNDS);
	measure(s, nc, 1001);
	store_free(nc);
	fill(s, 1000, total);
	store_free(s);
	store_open(db, h, &opt, &s);
	store_open(db, h, &nocache_opt, &nc);
	measure(s, nc, total + 1);
	store_free(s);
	store_free(nc);
	secbuf_free(value);
	secbuf_free(pin);
	hsm_free(h);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}

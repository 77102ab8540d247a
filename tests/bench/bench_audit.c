/*
 * bench_audit: the audit trail's costs, in one run. On a fresh vault (embedded SoftHSM2
 * token) it appends N records of a typical size as the daemon does (no fdatasync per
 * record), then times `audit verify`'s work on them, and as the baseline in the same run,
 * one plain HMAC-SHA-256 pass over the same bytes (what any MAC check of the file must at
 * least do) and a plain write(2) of the same lines; then what storing the trail's head in
 * vault.db adds to a record and its flush (a change's commit, the daemon's second), and
 * of that the head's tag made in the token. It asserts nothing: it is a measurement, read
 * by people.
 *
 * Usage: bench_audit [RECORDS]   (default 1000000)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit.h"
#include "vault.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_audit: %s: %s\n", what, strerror(r < 0 ? -r : r));
	exit(1);
}

/* One streamed HMAC-SHA-256 over the file: the least any verification must do. */
static double hmac_pass(const char *path, size_t *ret_bytes)
{
	static unsigned char buf[1 << 20];
	unsigned char key[32] = { 1 }, out[32];
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t total = 0, out_len;
	double t0 = now_s();
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !ctx || EVP_MAC_init(ctx, key, sizeof(key), params) != 1)
		die("hmac baseline", EIO);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		EVP_MAC_update(ctx, buf, (size_t)n);
		total += (size_t)n;
	}
	EVP_MAC_final(ctx, out, &out_len, sizeof(out));
	close(fd);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	*ret_bytes = total;
	return now_s() - t0;
}

/* write(2) of @n copies of @line to a fresh file: the floor of appending. */
static double write_pass(const char *path, const char *line, unsigned long n)
{
	size_t len = strlen(line);
	double t0 = now_s();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);

	if (fd < 0)
		die("write baseline", errno);
	for (unsigned long i = 0; i < n; i++)
		if (write(fd, line, len) != (ssize_t)len)
			die("write baseline", errno);
	close(fd);
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	char dir[] = "/tmp/vaultfs-bench-audit.XXXXXX", err[512] = "", path[PATH_MAX];
	struct audit_event ev = {
		.uid = 1001,
		.gid = 1001,
		.pid = 4242,
		.exe = "/usr/bin/cat",
		.cgroup = "/system.slice/payments.service",
		.op = "open",
		.path = "secrets/payments/api-key",
		.version = 3,
		.allow = 1,
		.rule = "policy:2",
		.detail = "read",
	};
	struct audit_report rep;
	struct audit_head anchor = { 0 };
	struct vault *v = NULL;
	struct vault_init_options o = { 0 };
	double t_append, t_verify, t_hmac, t_write;
	size_t bytes = 0;
	int r;

	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	snprintf(path, sizeof(path), "%s/v", dir);
	r = vault_init(path, &o, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bench_audit: %s\n", err);
		return 1;
	}
	/* one file: the baselines read one */
	{
		char conf[PATH_MAX + 32];
		struct vault_config *cfg = NULL;

		snprintf(conf, sizeof(conf), "%s/%s", path, CONFIG_FILE);
		r = config_load(conf, &cfg, err, sizeof(err));
		if (r < 0)
			die("config", r);
		cfg->audit_rotate_size = 0;
		r = config_write(conf, cfg);
		config_free(cfg);
		if (r < 0)
			die("config", r);
	}
	r = vault_open(path, &v, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bench_audit: %s\n", err);
		return 1;
	}
	vault_daemon_mode(v);
	printf("audit trail, %lu records of a typical open (%d-byte fields), one thread\n", n,
	       (int)(strlen(ev.exe) + strlen(ev.cgroup) + strlen(ev.path)));
	t_append = now_s();
	for (unsigned long i = 0; i < n; i++) {
		r = audit_append(v->audit, &ev, NULL);
		if (r < 0)
			die("append", r);
	}
	r = vault_audit_flush(v);
	if (r < 0)
		die("flush", r);
	t_append = now_s() - t_append;
	{
		struct store_anchor stored;

		r = store_anchor_get(v->store, &stored);
		if (r < 0)
			die("anchor", r);
		anchor.seq = stored.seq;
		memcpy(anchor.mac, stored.mac, AUDIT_MAC_LEN);
	}
	t_verify = now_s();
	r = audit_verify(v->dir, v->hsm, v->audit_key, &anchor, &rep);
	t_verify = now_s() - t_verify;
	if (r < 0)
		die("verify", r);
	if (rep.bad_seq) {
		fprintf(stderr, "bench_audit: verify found seq %llu bad: %s\n",
			(unsigned long long)rep.bad_seq, rep.reason);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/v/audit.log", dir);
	t_hmac = hmac_pass(path, &bytes);
	{
		char line[1024];
		FILE *f = fopen(path, "r");

		if (!f || !fgets(line, sizeof(line), f) || !fgets(line, sizeof(line), f))
			die("read back", EIO);
		fclose(f);
		snprintf(path, sizeof(path), "%s/plain.log", dir);
		t_write = write_pass(path, line, n);
	}
	printf("trail size                %10.1f MB (%.0f bytes a record)\n", bytes / 1e6,
	       (double)bytes / (double)n);
	printf("append (MAC, lock, write) %10.0f records/s  %6.2f us each\n", n / t_append,
	       t_append / n * 1e6);
	printf("  baseline: plain write   %10.0f records/s  %6.2f us each\n", n / t_write,
	       t_write / n * 1e6);
	printf("verify %llu records      %10.0f records/s  %6.2f s in all\n",
	       (unsigned long long)rep.records, rep.records / t_verify, t_verify);
	printf("  baseline: one HMAC pass %10.0f records/s  %6.2f s in all\n", n / t_hmac, t_hmac);
	printf("verify / baseline         %10.2fx the time\n", t_verify / t_hmac);
	/* The head in vault.db, as a change's commit or the daemon's flush each second
	 * stores it: one record and its flush, with and (baseline) without the head. */
	{
		unsigned long k = 2000;
		struct audit_head h;
		double t_head, t_sync;

		t_sync = now_s();
		for (unsigned long i = 0; i < k; i++) {
			r = audit_append(v->audit, &ev, NULL);
			if (r >= 0)
				r = audit_sync(v->audit, &h);
			if (r < 0)
				die("sync", r);
		}
		t_sync = now_s() - t_sync;
		t_head = now_s();
		for (unsigned long i = 0; i < k; i++) {
			r = audit_append(v->audit, &ev, NULL);
			if (r >= 0)
				r = vault_audit_flush(v);
			if (r < 0)
				die("flush", r);
		}
		t_head = now_s() - t_head;
		printf("record + flush + head     %10.0f /s         %6.1f us each\n", k / t_head,
		       t_head / k * 1e6);
		printf("  baseline: without head  %10.0f /s         %6.1f us each\n", k / t_sync,
		       t_sync / k * 1e6);
		printf("the head stored           %10.1f us each\n", (t_head - t_sync) / k * 1e6);
		/* of which its tag, one HMAC in the token */
		t_head = now_s();
		for (unsigned long i = 0; i < k; i++) {
			uint8_t tag[AUDIT_MAC_LEN];

			h.seq = i + 1;
			r = audit_head_tag(v->hsm, v->head_key, store_vault_id(v->store), &h, tag);
			if (r < 0)
				die("tag", r);
		}
		t_head = now_s() - t_head;
		printf("  of which its tag        %10.1f us each\n", t_head / k * 1e6);
	}
	vault_free(v);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_audit: could not remove %s\n", dir);
	}
	return 0;
}

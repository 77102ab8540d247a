/*
 * bench_sign: signatures through keys/NAME/sign (open, write the message, read the
 * signature, close) against the same token signing directly through PKCS#11 in this
 * process (hash, C_SignInit, C_Sign) — the baseline, measured in the same run, rounds
 * interleaved — for RSA-2048 and EC P-256, one thread. The file is used by uid 1001, the
 * policy allowing it sign. It asserts nothing: it prints.
 *
 * It also runs the same loop on floorfs's keys/k/sign, a FUSE file with nothing behind it
 * (no key, policy or audit), mounted with vaultfs's options and worker count. That is the
 * floor: the file protocol's own cost on this machine. No filesystem whose operation
 * costs what the direct signature costs can beat direct / (direct + floor), which is
 * printed as the bound beside each ratio.
 *
 * Usage: bench_sign VAULTFS_BINARY [SECONDS_PER_RUN] [ROUNDS]   (run as root; floorfs is
 * looked for beside this program)
 */
#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hsm_keys.h"
#include "keys.h"
#include "vault.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_sign: %s\n", what);
	exit(1);
}

/* Runs a shell command made from a format, or dies. */
#define RUN(...)                                                                                   \
	do {                                                                                       \
		char cmd_[PATH_MAX * 6 + 128];                                                     \
                                                                                                   \
		snprintf(cmd_, sizeof(cmd_), __VA_ARGS__);                                         \
		if (system(cmd_) != 0)                                                             \
			die(cmd_);                                                                 \
	} while (0)

static const uint8_t msg[64] = "a message of sixty-four bytes, signed over and over by the bench";

/* Direct: what a program linked to the token does for one signature. */
static double direct(struct vault *v, const char *name, int ec, double seconds)
{
	static const uint8_t info[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
					0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	struct store_key_version kv;
	CK_OBJECT_HANDLE key;
	uint8_t in[sizeof(info) + 32], sig[512];
	unsigned n = 0;
	double t0, t;

	if (store_key_version_get(v->store, name, 0, &kv) < 0 ||
	    hsm_key_object(v->hsm, ec ? HSM_KEY_EC : HSM_KEY_RSA, kv.token_id, &key) < 0)
		die("key");
	store_key_version_clear(&kv);
	t0 = now_s();
	do {
		size_t sig_len = sizeof(sig), off = ec ? 0 : sizeof(info);

		memcpy(in, info, sizeof(info));
		if (EVP_Digest(msg, sizeof(msg), in + off, NULL, EVP_sha256(), NULL) != 1 ||
		    hsm_key_sign(v->hsm, key, ec ? HSM_SIGN_ECDSA : HSM_SIGN_RSA_PKCS1, in,
				 ec ? 32 : sizeof(in), sig, &sig_len) < 0)
			die("sign");
		n++;
		t = now_s() - t0;
	} while (t < seconds);
	return n / t;
}

/* Through the file: open, write, read, close — as an ordinary service account (uid 1001),
 * in a child process, as a program using the mount would be. */
static double file_loop(const char *path, double seconds);

static double through_file(const char *path, double seconds)
{
	double ops = 0;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(fds[0]);
		if (setresgid(1001, 1001, 1001) < 0 || setresuid(1001, 1001, 1001) < 0)
			_exit(1);
		ops = file_loop(path, seconds);
		_exit(write(fds[1], &ops, sizeof(ops)) == sizeof(ops) ? 0 : 1);
	}
	close(fds[1]);
	if (read(fds[0], &ops, sizeof(ops)) != sizeof(ops) || waitpid(pid, &status, 0) < 0 ||
	    status != 0)
		die("the uid 1001 reader failed");
	close(fds[0]);
	return ops;
}

static double file_loop(const char *path, double seconds)
{
	uint8_t sig[1024];
	unsigned n = 0;
	double t0, t;

	t0 = now_s();
	do {
		int fd = open(path, O_RDWR);

		if (fd < 0 || write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg) ||
		    read(fd, sig, sizeof(sig)) <= 0)
			die(path);
		close(fd);
		n++;
		t = now_s() - t0;
	} while (t < seconds);
	return n / t;
}

/* The best ratio a filesystem could reach whose operation costs the direct signature and
 * whose protocol costs the floor's: 1/(1/direct + 1/floor), over direct. */
static double bound(double direct_ops, double floor_ops)
{
	return (1 / direct_ops) / (1 / direct_ops + 1 / floor_ops);
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/vaultfs-bench-sign.XXXXXX", vdir[PATH_MAX], mnt[PATH_MAX];
	char err[512] = "", path[PATH_MAX + 32];
	double seconds = argc > 2 ? atof(argv[2]) : 3;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	const char *names[2] = { "rsa", "ec" };
	double d[2][16], f[2][16], fl[2][16];
	char self[PATH_MAX], floorfs[PATH_MAX + 16], fmnt[PATH_MAX], fpath[PATH_MAX + 32];
	struct vault *v = NULL;
	ssize_t len;
	pid_t floor_pid;

	if (argc < 2 || rounds < 1 || rounds > 16)
		die("usage: bench_sign VAULTFS_BINARY [SECONDS] [ROUNDS]");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(vdir, sizeof(vdir), "%s/v", dir);
	snprintf(mnt, sizeof(mnt), "%s/m", dir);
	snprintf(fmnt, sizeof(fmnt), "%s/f", dir);
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		die("/proc/self/exe");
	self[len] = '\0';
	snprintf(floorfs, sizeof(floorfs), "%s/floorfs", dirname(self));
	RUN("%s init %s >/dev/null", argv[1], vdir);
	RUN("%s key create %s rsa --type rsa-2048", argv[1], vdir);
	RUN("%s key create %s ec --type ec-p256", argv[1], vdir);
	RUN("printf 'allow * ** uid=0\\nallow sign keys/** uid=1001\\n' > %s/policy", vdir);
	RUN("chmod 755 %s", dir);
	RUN("mkdir %s %s && %s mount %s %s", mnt, fmnt, argv[1], vdir, mnt);
	/* floorfs with vaultfs's default worker count, twice the cores */
	floor_pid = fork();
	if (floor_pid < 0)
		die("fork");
	if (floor_pid == 0) {
		char threads[16];

		snprintf(threads, sizeof(threads), "%ld", sysconf(_SC_NPROCESSORS_ONLN) * 2);
		execl(floorfs, floorfs, fmnt, "1", "64", threads, (char *)NULL);
		_exit(127);
	}
	RUN("for i in $(seq 1 100); do mountpoint -q %s && exit 0; sleep 0.05; done; exit 1", fmnt);
	snprintf(fpath, sizeof(fpath), "%s/keys/k/sign", fmnt);
	if (vault_open(vdir, &v, err, sizeof(err)) < 0)
		die(err);
	printf("sign of a 64-byte message, 1 thread, %d rounds of %.0f s, interleaved\n", rounds,
	       seconds);
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/keys/%s/sign", mnt, names[k]);
			d[k][r] = direct(v, names[k], k == 1, seconds);
			f[k][r] = through_file(path, seconds);
			fl[k][r] = through_file(fpath, seconds);
			printf("round %d: %-3s direct %8.0f ops/s  file %8.0f ops/s  %.2fx  "
			       "floor %8.0f ops/s  bound %.2fx\n",
			       r + 1, names[k], d[k][r], f[k][r], f[k][r] / d[k][r], fl[k][r],
			       bound(d[k][r], fl[k][r]));
		}
	}
	vault_free(v);
	printf("medians:\n");
	for (int k = 0; k < 2; k++) {
		double ratio, b;

		qsort(d[k], (size_t)rounds, sizeof(double), by_value);
		qsort(f[k], (size_t)rounds, sizeof(double), by_value);
		qsort(fl[k], (size_t)rounds, sizeof(double), by_value);
		ratio = f[k][rounds / 2] / d[k][rounds / 2];
		b = bound(d[k][rounds / 2], fl[k][rounds / 2]);
		printf("%-9s direct (PKCS#11) %8.0f ops/s  through keys/%s/sign %8.0f ops/s  "
		       "%.2fx  (floor %.0f ops/s, bound %.2fx)\n",
		       k == 0 ? "RSA-2048" : "EC P-256", d[k][rounds / 2], names[k],
		       f[k][rounds / 2], ratio, fl[k][rounds / 2], b);
	}
	kill(floor_pid, SIGTERM);
	waitpid(floor_pid, NULL, 0);
	RUN("fusermount3 -u %s && sleep 0.5 && rm -rf %s", mnt, dir);
	return 0;
}

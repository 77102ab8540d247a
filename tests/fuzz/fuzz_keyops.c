/*
 * fuzz_keyops: libFuzzer target for whole key operations on a real SoftHSM2 token — what a
 * caller writes into keys/NAME/decrypt, unwrap, encrypt and wrap, in pieces of any size,
 * through keys_input_add and keys_input_run as the mount calls them, the token's own
 * parsing of wrapped keys and GCM included. The token, the store and the keys (AES-256 at
 * versions 1 and 2, RSA-2048) are made once per process. The input's first byte picks:
 *
 *   0-3  decrypt or unwrap of the rest under the AES or the RSA key (the second byte picks
 *        the current version, @1 or @2): anyone's bytes must be refused with EBADMSG, never
 *        another error and never a result;
 *   4-7  encrypt or wrap of the rest under the AES or the RSA key, one byte of the result
 *        changed (or none) where the input says, then decrypt or unwrap: the same bytes
 *        back when unchanged, EBADMSG when changed. Wrap may refuse material it could not
 *        give back the same (EINVAL), never give back other bytes: the corpus's
 *        regress-aes-wrap-odd was unwrapped with zeros appended before that.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "hsm.h"
#include "keys.h"
#include "secbuf.h"
#include "store.h"
#include "timeutil.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
#define PIN "fuzz-pin-1234"

static struct hsm *h;
static struct store *s;
static char dir[PATH_MAX - 64];

static void die(const char *what, int r)
{
	fprintf(stderr, "fuzz_keyops: %s: %s\n", what, strerror(-r));
	exit(1);
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	store_free(s);
	hsm_free(h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_keyops: could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[PATH_MAX], cmd[PATH_MAX * 2];
	struct store_options opt = { 25600, 90, 5000, 0 };
	struct keys_options aes = { .type = "aes-256" }, rsa = { .type = "rsa-2048" };
	struct secbuf *pin = NULL;
	uint64_t v;
	FILE *f;
	int r;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/fuzz-keyops.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", -errno);
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/tokens", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
	f = fopen(path, "w");
	if (!f)
		die("softhsm2.conf", -errno);
	fprintf(f,
		"directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
		"log.level = ERROR\nslots.removable = false\n",
		dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", path, 1);
	snprintf(cmd, sizeof(cmd),
		 "softhsm2-util --init-token --free --label fuzz --pin " PIN
		 " --so-pin fuzz-so-5678 >/dev/null");
	if (system(cmd) != 0)
		die("softhsm2-util --init-token", -EIO);
	if ((r = secbuf_from(PIN, strlen(PIN), &pin)) < 0 ||
	    (r = hsm_open(SOFTHSM2_MODULE, "fuzz", pin, &h)) < 0)
		die("token", r);
	secbuf_free(pin);
	snprintf(path, sizeof(path), "%s/vault.db", dir);
	if ((r = store_create(path, h, &opt)) < 0 || (r = store_open(path, h, &opt, &s)) < 0)
		die("store", r);
	if ((r = keys_create(s, h, "aes", &aes, time_now_us())) < 0 ||
	    (r = keys_rotate(s, h, "aes", time_now_us(), &v)) < 0 ||
	    (r = keys_create(s, h, "rsa", &rsa, time_now_us())) < 0)
		die("keys", r);
	return 0;
}

/* Runs @op of @name@@version on @len bytes of @in, given in pieces as @data says. */
static int run(const char *name, uint64_t version, enum key_op op, const uint8_t *in, size_t len,
	       uint8_t piece, struct secbuf **ret)
{
	struct keys_input *ki = NULL;
	uint64_t used;
	size_t step = piece ? piece : len ? len : 1;
	int r;

	r = keys_input_new(s, name, version, op, &ki);
	if (r < 0)
		die("keys_input_new", r);
	for (size_t off = 0; off < len && r >= 0; off += step)
		r = keys_input_add(ki, in + off, len - off < step ? len - off : step);
	if (r >= 0)
		r = keys_input_run(ki, h, ret, &used);
	keys_input_free(ki);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum key_op undo[] = { KEY_DECRYPT, KEY_UNWRAP };
	static const enum key_op make[] = { KEY_ENCRYPT, KEY_WRAP };
	struct secbuf *out = NULL, *back = NULL;
	unsigned mode;
	const char *name;
	int r;

	if (size < 4)
		return 0;
	mode = data[0] % 8;
	name = mode & 2 ? "rsa" : "aes";
	if (mode < 4) {
		uint64_t version = name[0] == 'a' ? data[1] % 3 : 0;

		r = run(name, version, undo[mode & 1], data + 3, size - 3, data[2], &out);
		if (r != -EBADMSG) {
			fprintf(stderr, "%s of anyone's bytes under %s@%lu: %d\n",
				keys_op_name(undo[mode & 1]), name, (unsigned long)version, r);
			abort();
		}
	} else {
		size_t at = data[1] | (size_t)data[2] << 8;
		uint8_t flip = data[3];

		r = run(name, 0, make[mode & 1], data + 4, size - 4, 0, &out);
		/* past what encrypt or wrap takes, nothing to wrap, or (AES) a length the token
		 * cannot keep (hsm_key_aes_wrap) */
		if (r == -EFBIG ||
		    (r == -EINVAL && (mode & 1) && (size == 4 || (mode == 5 && (size - 4) % 8))))
			return 0;
		if (r < 0)
			die("encrypt or wrap", r);
		if (secbuf_len(out))
			secbuf_mutable_data(out)[at % secbuf_len(out)] ^= flip;
		r = run(name, 0, undo[mode & 1], secbuf_data(out), secbuf_len(out), 0, &back);
		if (flip == 0 && (r != 0 || secbuf_len(back) != size - 4 ||
				  memcmp(secbuf_data(back), data + 4, size - 4))) {
			fprintf(stderr, "round trip under %s: %d, %zu bytes in, %zu back\n", name,
				r, size - 4, r == 0 ? secbuf_len(back) : 0);
			abort();
		}
		if (flip != 0 && r != -EBADMSG) {
			fprintf(stderr, "a changed ciphertext under %s: %d\n", name, r);
			abort();
		}
	}
	secbuf_free(back);
	secbuf_free(out);
	return 0;
}

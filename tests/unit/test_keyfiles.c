/*
 * Unit tests for keys/ of the mount (fs/keyfiles.c), without FUSE, on a real vault and its
 * token: names under keys/ and keys/NAME[@N]/ resolved and listed as the key allows (an
 * older version only decrypts and unwraps), modes that show each caller's rights, and an
 * operation file's life — opened with the operation's right (a refusal recorded), input
 * written in order, the first read running the operation and recording it before a byte
 * is returned, later reads going on through the result, one operation per open; bad input
 * EBADMSG on every read; public.pem read like a file; input past a [limits] cap refused
 * with ENOSPC, recorded once for the open file, its memory given back. A handle's life
 * outside these calls (the kernel's open and release) is files.c's, FUSE's: here it is done
 * as files.c does it. The token's turns (vfs_set_token_slots) need a token that stalls:
 * mount.t_stall covers them.
 */
#include "vfsutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keys.h"
#include "timeutil.h"

#define MIB (1024ULL * 1024)

static const char policy[] = "allow sign,list          keys/release uid=1001\n" /* policy:1 */
			     "allow encrypt,decrypt    keys/box     uid=1001\n" /* policy:2 */
			     "allow *                  **           uid=0\n"; /* policy:3 */

static void small_caps(struct vault_config *cfg)
{
	cfg->buffered_per_uid = 2 * MIB;
}

static int setup(void **state)
{
	struct test_vfs *t = calloc(1, sizeof(*t));
	struct keys_options ec = { .type = "ec-p256" }, aes = { .type = "aes-256" };
	uint64_t version;

	assert_non_null(t);
	test_vfs_setup(t, policy, small_caps);
	assert_int_equal(keys_create(t->vault->store, t->vault->hsm, "release", &ec, time_now_us()),
			 0);
	assert_int_equal(keys_create(t->vault->store, t->vault->hsm, "box", &aes, time_now_us()),
			 0);
	assert_int_equal(
		keys_rotate(t->vault->store, t->vault->hsm, "box", time_now_us(), &version), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct test_vfs *t = *state;

	test_vfs_teardown(t);
	free(t);
	return 0;
}

static struct node node_of(enum node_kind kind, const char *path, uint64_t version)
{
	return (struct node){ .kind = kind, .path = (char *)path, .version = version };
}

static struct caller caller_of(uid_t uid)
{
	struct caller c;

	caller_init(&c, uid, uid, getpid());
	return c;
}

/* What files.c does when the kernel releases a key file. */
static void release(struct test_vfs *t, struct handle *h)
{
	vfs_limits_close(t->vfs, &h->charge);
	vfs_keyfile_free(h);
	free(h->opener);
	secbuf_free(h->value);
	memset(h, 0, sizeof(*h));
}

static void test_resolve(void **state)
{
	struct test_vfs *t = *state;
	struct node keys = node_of(NODE_KEYS, "", 0), release_key = node_of(NODE_KEY, "release", 0);
	struct node box = node_of(NODE_KEY, "box", 0), box1 = node_of(NODE_KEY, "box", 1);
	enum node_kind kind = NODE_ROOT;
	uint64_t version = 99;
	char path[256];

	assert_int_equal(
		vfs_keys_resolve(t->vfs, &keys, "release", &kind, path, sizeof(path), &version), 0);
	assert_int_equal(kind, NODE_KEY);
	assert_string_equal(path, "release");
	assert_int_equal(version, 0);
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &keys, "box@1", &kind, path, sizeof(path), &version), 0);
	assert_string_equal(path, "box");
	assert_int_equal(version, 1);
	/* NAME@N names the version for good, current or not */
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &keys, "box@2", &kind, path, sizeof(path), &version), 0);
	assert_int_equal(version, 2);
	kind = NODE_ROOT;
	version = 99;
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &keys, "box@3", &kind, path, sizeof(path), &version),
		-ENOENT);
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &keys, "nope", &kind, path, sizeof(path), &version),
		-ENOENT);
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &keys, ".box", &kind, path, sizeof(path), &version),
		-EINVAL);
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &keys, "box@0", &kind, path, sizeof(path), &version),
		-EINVAL);
	assert_int_equal(vfs_keys_resolve(t->vfs, &keys, "release", &kind, path, 4, &version),
			 -EINVAL);
	assert_int_equal(kind, NODE_ROOT); /* untouched */
	assert_int_equal(version, 99);

	/* the files of a key: public.pem for a key that has a public half, its operations */
	assert_int_equal(vfs_keys_resolve(t->vfs, &release_key, "public.pem", &kind, path,
					  sizeof(path), &version),
			 0);
	assert_int_equal(kind, NODE_KEY_FILE);
	assert_string_equal(path, "release/public.pem");
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &release_key, "sign", &kind, path, sizeof(path), &version),
		0);
	assert_int_equal(vfs_keys_resolve(t->vfs, &release_key, "decrypt", &kind, path,
					  sizeof(path), &version),
			 -ENOENT);
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &box, "public.pem", &kind, path, sizeof(path), &version),
		-ENOENT);
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &box, "encrypt", &kind, path, sizeof(path), &version), 0);
	/* an older version decrypts and unwraps, and does nothing else */
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &box1, "decrypt", &kind, path, sizeof(path), &version), 0);
	assert_int_equal(version, 1);
	assert_int_equal(
		vfs_keys_resolve(t->vfs, &box1, "encrypt", &kind, path, sizeof(path), &version),
		-ENOENT);
	assert_int_equal(vfs_keys_resolve(t->vfs, &box1, "..", &kind, path, sizeof(path), &version),
			 -ENOENT);
}

struct names {
	char text[512];
};

static int add(const char *name, int is_folder, void *arg)
{
	struct names *l = arg;

	(void)is_folder;
	strcat(l->text, name);
	strcat(l->text, " ");
	return 0;
}

static void test_list_and_stat(void **state)
{
	struct test_vfs *t = *state;
	struct node keys = node_of(NODE_KEYS, "", 0), box = node_of(NODE_KEY, "box", 0);
	struct node box1 = node_of(NODE_KEY, "box", 1), rel = node_of(NODE_KEY, "release", 0);
	struct node pem = node_of(NODE_KEY_FILE, "release/public.pem", 0);
	struct node sign = node_of(NODE_KEY_FILE, "release/sign", 0);
	struct node gone = node_of(NODE_KEY, "gone", 0);
	struct names l = { "" };
	struct stat st;
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(vfs_keys_list(t->vfs, &keys, add, &l), 0);
	assert_string_equal(l.text, "box release ");
	l.text[0] = '\0';
	assert_int_equal(vfs_keys_list(t->vfs, &box, add, &l), 0);
	assert_string_equal(l.text, "encrypt decrypt wrap unwrap ");
	l.text[0] = '\0';
	assert_int_equal(vfs_keys_list(t->vfs, &box1, add, &l), 0);
	assert_string_equal(l.text, "decrypt unwrap ");
	l.text[0] = '\0';
	assert_int_equal(vfs_keys_list(t->vfs, &rel, add, &l), 0);
	assert_string_equal(l.text, "public.pem sign ");

	/* modes say what the caller may do */
	memset(&st, 0, sizeof(st));
	assert_int_equal(vfs_keys_stat(t->vfs, &rel, POLICY_BIT(POLICY_LIST), &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 0500);
	assert_int_equal(vfs_keys_stat(t->vfs, &rel, POLICY_BIT(POLICY_SIGN), &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 0100);
	assert_int_equal(vfs_keys_stat(t->vfs, &sign, POLICY_BIT(POLICY_SIGN), &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	assert_int_equal(vfs_keys_stat(t->vfs, &sign, POLICY_BIT(POLICY_LIST), &st), 0);
	assert_int_equal(st.st_mode, S_IFREG);
	/* public.pem: readable with any right on the key, as long as its text */
	assert_int_equal(vfs_keys_stat(t->vfs, &pem, POLICY_BIT(POLICY_SIGN), &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0400);
	assert_int_equal(keys_public_pem(t->vault->store, "release", 0, &text, &len), 0);
	assert_int_equal(st.st_size, len);
	free(text);
	assert_int_equal(vfs_keys_stat(t->vfs, &gone, 0, &st), -ENOENT);
}

/* Opens @path ("NAME/FILE") as @uid into @h. */
static int open_file(struct test_vfs *t, uid_t uid, const char *path, uint64_t version,
		     struct handle *h)
{
	struct caller c = caller_of(uid);
	struct node n = node_of(NODE_KEY_FILE, path, version);

	memset(h, 0, sizeof(*h));
	return vfs_keyfile_open(t->vfs, &c, &n, h);
}

/* sign: opened with the right, input in order, the first read runs and records it, the
 * rest of the result follows, and the public half verifies it. */
static void test_sign_file(void **state)
{
	static const char msg[] = "artifact-1.0.tar.gz";
	struct test_vfs *t = *state;
	struct handle h, p;
	uint8_t sig[256];
	size_t got = 0, len = 0;
	const void *out;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY *pub;
	BIO *bio;

	assert_int_equal(open_file(t, 1002, "release/sign", 0, &h), -EACCES);
	release(t, &h);
	assert_int_equal(test_vfs_records(t, 1002, "open", "keys/release", "deny", "default-deny",
					  "EACCES", NULL),
			 1);

	assert_int_equal(open_file(t, 1001, "release/sign", 0, &h), 0);
	assert_int_equal(
		test_vfs_records(t, 1001, "open", "keys/release", "allow", "policy:1", "0", "sign"),
		1);
	assert_int_equal(vfs_keyfile_write(t->vfs, &h, msg, 8, 0), 0);
	assert_int_equal(vfs_keyfile_write(t->vfs, &h, msg + 8, 3, 4), -EINVAL); /* not in order */
	assert_int_equal(vfs_keyfile_write(t->vfs, &h, msg + 8, sizeof(msg) - 9, 8), 0);
	assert_int_equal(test_vfs_records(t, 1001, "sign", NULL, NULL, NULL, NULL, NULL), 0);
	/* the first read runs it, recorded with the version that signed */
	assert_int_equal(vfs_keyfile_read(t->vfs, &h, 10, 0, &out, &len), 0);
	assert_int_equal(len, 10);
	assert_int_equal(
		test_vfs_records(t, 1001, "sign", "keys/release", "allow", "policy:1", "0", NULL),
		1);
	assert_int_equal(test_vfs_records_with(t, "version", "1"), 1);
	memcpy(sig, out, len);
	got = len;
	do {
		assert_int_equal(vfs_keyfile_read(t->vfs, &h, 7, 0, &out, &len), 0);
		memcpy(sig + got, out, len);
		got += len;
	} while (len);
	/* one operation per open */
	assert_int_equal(vfs_keyfile_write(t->vfs, &h, "more", 4, sizeof(msg) - 1), -EINVAL);
	assert_int_equal(test_vfs_records(t, 1001, "sign", NULL, NULL, NULL, NULL, NULL), 1);
	release(t, &h);

	/* public.pem: any right on the key opens it; it reads as a file */
	assert_int_equal(open_file(t, 1002, "release/public.pem", 0, &p), -EACCES);
	release(t, &p);
	assert_int_equal(open_file(t, 1001, "release/public.pem", 0, &p), 0);
	assert_int_equal(test_vfs_records(t, 1001, "open", "keys/release", "allow", "visible", "0",
					  "public.pem"),
			 1);
	assert_int_equal(vfs_keyfile_write(t->vfs, &p, "x", 1, 0), -EBADF);
	assert_int_equal(vfs_keyfile_read(t->vfs, &p, 4096, 0, &out, &len), 0);
	bio = BIO_new_mem_buf(out, (int)len);
	pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	assert_non_null(pub);
	assert_int_equal(vfs_keyfile_read(t->vfs, &p, 10, 26, &out, &len), 0);
	assert_memory_equal(out, "\nMFkwEwYHK", 10); /* the same bytes at any offset */
	assert_int_equal(vfs_keyfile_read(t->vfs, &p, 10, 1 << 20, &out, &len), 0);
	assert_int_equal(len, 0);
	release(t, &p);

	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, got, (const uint8_t *)msg, sizeof(msg) - 1), 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	BIO_free(bio);
}

/* decrypt of anyone's bytes: EBADMSG on the first read and every read after, recorded
 * once; an older version's folder decrypts what that version made. */
static void test_decrypt_file(void **state)
{
	struct test_vfs *t = *state;
	struct handle h;
	char ct[128];
	const void *out;
	size_t len = 0, ct_len;

	assert_int_equal(open_file(t, 1001, "box/decrypt", 0, &h), 0);
	assert_int_equal(vfs_keyfile_write(t->vfs, &h, "not a ciphertext at all, no", 27, 0), 0);
	assert_int_equal(vfs_keyfile_read(t->vfs, &h, 100, 0, &out, &len), -EBADMSG);
	assert_int_equal(vfs_keyfile_read(t->vfs, &h, 100, 0, &out, &len), -EBADMSG);
	assert_int_equal(test_vfs_records(t, 1001, "decrypt", "keys/box", "allow", "policy:2",
					  "EBADMSG", NULL),
			 1);
	release(t, &h);

	/* a round trip through the files: encrypt, then decrypt at box@2 and not at box@1 */
	assert_int_equal(open_file(t, 1001, "box/encrypt", 0, &h), 0);
	assert_int_equal(vfs_keyfile_write(t->vfs, &h, "plain", 5, 0), 0);
	assert_int_equal(vfs_keyfile_read(t->vfs, &h, sizeof(ct), 0, &out, &len), 0);
	assert_memory_equal(out, "VKA1\0\0\0\2", 8);
	memcpy(ct, out, len);
	ct_len = len;
	release(t, &h);
	assert_int_equal(open_file(t, 1001, "box/decrypt", 1, &h), 0);
	assert_int_equal(vfs_keyfile_write(t->vfs, &h, ct, ct_len, 0), 0);
	assert_int_equal(vfs_keyfile_read(t->vfs, &h, 100, 0, &out, &len), -EBADMSG);
	release(t, &h);
	assert_int_equal(open_file(t, 1001, "box/decrypt", 2, &h), 0);
	assert_int_equal(vfs_keyfile_write(t->vfs, &h, ct, ct_len, 0), 0);
	assert_int_equal(vfs_keyfile_read(t->vfs, &h, 100, 0, &out, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "plain", 5);
	release(t, &h);
	/* an operation the key does not do is no file to open */
	assert_int_equal(open_file(t, 1001, "release/decrypt", 0, &h), -EACCES);
	release(t, &h);
	assert_int_equal(open_file(t, 0, "release/decrypt", 0, &h), -ENOENT);
	release(t, &h);
}

/* Input past the uid's buffered_bytes_per_uid: ENOSPC before the memory is taken,
 * recorded once for the open file, the same answer to every later write and read of it,
 * and what it held given back at once. */
static void test_input_past_cap(void **state)
{
	const size_t piece = 256 * 1024;
	struct test_vfs *t = *state;
	struct handle h[3];
	char *chunk = calloc(1, piece);
	size_t off = 0, len;
	const void *out;
	int r = 0;

	assert_non_null(chunk);
	for (int i = 0; i < 3; i++)
		assert_int_equal(open_file(t, 1001, "box/encrypt", 0, &h[i]), 0);
	/* a MiB into the first; the second then meets the cap, the two holding over 2 MiB */
	for (off = 0; off < MIB; off += piece)
		assert_int_equal(vfs_keyfile_write(t->vfs, &h[0], chunk, piece, (off_t)off), 0);
	assert_true(h[0].charge.bytes >= MIB);
	for (off = 0; off < MIB && r == 0; off += piece)
		r = vfs_keyfile_write(t->vfs, &h[1], chunk, piece, (off_t)off);
	assert_int_equal(r, -ENOSPC);
	assert_true(h[0].charge.bytes + h[1].charge.bytes <= 2 * MIB);
	assert_int_equal(test_vfs_records(t, 1001, "write", "keys/box", "deny", "limits", "ENOSPC",
					  "buffered_bytes_per_uid=2097152"),
			 1);
	assert_int_equal(vfs_keyfile_write(t->vfs, &h[1], chunk, 1, (off_t)off), -ENOSPC);
	assert_int_equal(vfs_keyfile_read(t->vfs, &h[1], 100, 0, &out, &len), -ENOSPC);
	assert_int_equal(test_vfs_records(t, 1001, "write", NULL, NULL, NULL, NULL, NULL), 1);
	assert_int_equal(test_vfs_records(t, 1001, "encrypt", NULL, NULL, NULL, NULL, NULL), 0);
	/* given back at once: another file takes what it held */
	assert_int_equal(vfs_keyfile_held(&h[1]), 0);
	assert_int_equal(h[1].charge.bytes, 0);
	for (off = 0; off < MIB / 2; off += piece)
		assert_int_equal(vfs_keyfile_write(t->vfs, &h[2], chunk, piece, (off_t)off), 0);
	/* the first runs, and holds its result only */
	assert_int_equal(vfs_keyfile_read(t->vfs, &h[0], 100, 0, &out, &len), 0);
	assert_int_equal(h[0].charge.bytes, vfs_keyfile_held(&h[0]));
	assert_int_equal(test_vfs_records(t, 1001, "encrypt", "keys/box", "allow", NULL, "0", NULL),
			 1);
	for (int i = 0; i < 3; i++)
		release(t, &h[i]);
	free(chunk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_stat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decrypt_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_past_cap, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

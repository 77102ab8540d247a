/*
 * Unit tests for key operations (src/keys/keys_run.c) through keys_input_*, as the mount
 * drives them, on a real SoftHSM2 token and store made for each test: RSA-OAEP encrypt and
 * wrap opened by OpenSSL with the private key, and OpenSSL's ciphertexts opened by the
 * token, each label keeping to its operation; AES-GCM with its header, across rotations
 * and pinned versions; RFC 5649 wrap; signatures of made keys verified with the public
 * half the vault hands out. Every bad input is EBADMSG and nothing else, every refused
 * operation its own errno, and the memory an input holds is what keys_input_held says.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "hsm_keys.h"
#include "keys.h"
#include "keys_header.h"
#include "store.h"
#include "timeutil.h"

#define POISON 0x5a5a5a5a5a5a5a5aULL
#define PIECE 13 /* input is given in pieces this long, as writes come */

struct fixture {
	struct test_token tok;
	char db[PATH_MAX + 16];
	struct store *s;
};

/* An RSA-2048 key made once for the run; the tests that import it keep its private half
 * here, as the operator who imported it would. */
static EVP_PKEY *rsa_key;

static int make_rsa(void **state)
{
	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return rsa_key ? 0 : -1;
}

static int free_rsa(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct store_options opt = { 25600, 90, 100, 0 };

	assert_non_null(f);
	test_token_setup(&f->tok);
	snprintf(f->db, sizeof(f->db), "%s/vault.db", f->tok.dir);
	assert_int_equal(store_create(f->db, f->tok.hsm, &opt), 0);
	assert_int_equal(store_open(f->db, f->tok.hsm, &opt, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->s);
	test_token_teardown(&f->tok);
	free(f);
	return 0;
}

static void create(struct fixture *f, const char *name, const char *type, unsigned ops)
{
	struct keys_options o = { .type = type, .ops = ops };

	assert_int_equal(keys_create(f->s, f->tok.hsm, name, &o, time_now_us()), 0);
}

/* Imports rsa_key as @name. */
static void import_rsa(struct fixture *f, const char *name)
{
	char path[PATH_MAX + 16], err[512] = "";
	BIO *bio;

	snprintf(path, sizeof(path), "%s/rsa.pem", f->tok.dir);
	bio = BIO_new_file(path, "w");
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, rsa_key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(BIO_free(bio), 1);
	assert_int_equal(keys_import(f->s, f->tok.hsm, name, path, NULL,
				     &(struct keys_options){ 0 }, time_now_us(), err, sizeof(err)),
			 0);
}

/*
 * Runs @op on version @version of @name over @len bytes of @in, given in pieces: the
 * errno of the first add that fails or of the run, the result in *@ret (NULL when none)
 * and the version used in *@ret_version.
 */
static int run(struct fixture *f, const char *name, uint64_t version, enum key_op op,
	       const void *in, size_t len, struct secbuf **ret, uint64_t *ret_version)
{
	struct keys_input *ki = NULL;
	uint64_t used = POISON;
	int r;

	*ret = NULL;
	r = keys_input_new(f->s, name, version, op, &ki);
	if (r < 0) {
		assert_null(ki);
		return r;
	}
	for (size_t off = 0; off < len && r == 0; off += PIECE)
		r = keys_input_add(ki, (const uint8_t *)in + off,
				   len - off < PIECE ? len - off : PIECE);
	if (r == 0)
		r = keys_input_run(ki, f->tok.hsm, ret, &used);
	keys_input_free(ki);
	if (r < 0)
		assert_null(*ret);
	if (ret_version)
		*ret_version = used;
	return r;
}

/* Runs @op and expects @want back. */
static void round_trip(struct fixture *f, const char *name, enum key_op op, const struct secbuf *in,
		       const void *want, size_t want_len)
{
	struct secbuf *out = NULL;

	assert_int_equal(run(f, name, 0, op, secbuf_data(in), secbuf_len(in), &out, NULL), 0);
	assert_int_equal(secbuf_len(out), want_len);
	assert_memory_equal(secbuf_data(out), want, want_len);
	secbuf_free(out);
}

/* RSA-OAEP with SHA-256 by OpenSSL with rsa_key: encrypt, or decrypt (0 if it fails). */
static size_t openssl_oaep(int encrypt, const char *label, const uint8_t *in, size_t len,
			   uint8_t *out, size_t cap)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa_key, NULL);
	size_t n = cap;
	int ok;

	assert_non_null(ctx);
	assert_int_equal(encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()), 1);
	if (label)
		assert_int_equal(
			EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_memdup(label, strlen(label)),
							 (int)strlen(label)),
			1);
	ok = encrypt ? EVP_PKEY_encrypt(ctx, out, &n, in, len)
		     : EVP_PKEY_decrypt(ctx, out, &n, in, len);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1 ? n : 0;
}

/* encrypt and wrap are OAEP under the public key, with the empty label and with
 * KEYS_WRAP_LABEL: OpenSSL opens each with the private key and its own label only. */
static void test_rsa_encrypt_wrap(void **state)
{
	static const char msg[] = "db password: hunter2";
	struct fixture *f = *state;
	struct secbuf *out = NULL, *none = NULL;
	uint8_t plain[256];
	uint64_t used = 0;

	import_rsa(f, "rsa");
	assert_int_equal(run(f, "rsa", 0, KEY_ENCRYPT, msg, sizeof(msg) - 1, &out, &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(secbuf_len(out), 256);
	assert_int_equal(
		openssl_oaep(0, NULL, secbuf_data(out), secbuf_len(out), plain, sizeof(plain)),
		sizeof(msg) - 1);
	assert_memory_equal(plain, msg, sizeof(msg) - 1);
	assert_int_equal(openssl_oaep(0, KEYS_WRAP_LABEL, secbuf_data(out), secbuf_len(out), plain,
				      sizeof(plain)),
			 0);
	/* what encrypt made, decrypt opens; unwrap does not */
	round_trip(f, "rsa", KEY_DECRYPT, out, msg, sizeof(msg) - 1);
	assert_int_equal(
		run(f, "rsa", 0, KEY_UNWRAP, secbuf_data(out), secbuf_len(out), &none, NULL),
		-EBADMSG);
	secbuf_free(out);

	assert_int_equal(run(f, "rsa", 0, KEY_WRAP, msg, sizeof(msg) - 1, &out, NULL), 0);
	assert_int_equal(openssl_oaep(0, KEYS_WRAP_LABEL, secbuf_data(out), secbuf_len(out), plain,
				      sizeof(plain)),
			 sizeof(msg) - 1);
	assert_memory_equal(plain, msg, sizeof(msg) - 1);
	assert_int_equal(
		openssl_oaep(0, NULL, secbuf_data(out), secbuf_len(out), plain, sizeof(plain)), 0);
	round_trip(f, "rsa", KEY_UNWRAP, out, msg, sizeof(msg) - 1);
	assert_int_equal(
		run(f, "rsa", 0, KEY_DECRYPT, secbuf_data(out), secbuf_len(out), &none, NULL),
		-EBADMSG);
	secbuf_free(out);
}

/* Ciphertexts OpenSSL made with the public key open in the token, each under its own
 * label; damaged, short or long ones are EBADMSG. */
static void test_rsa_decrypt_unwrap(void **state)
{
	static const char msg[] = "a data key, 32 bytes long.......";
	struct fixture *f = *state;
	uint8_t c[256], big[300];
	struct secbuf *out = NULL, *sc = NULL;

	import_rsa(f, "rsa");
	assert_int_equal(openssl_oaep(1, NULL, (const uint8_t *)msg, sizeof(msg) - 1, c, sizeof(c)),
			 256);
	assert_int_equal(secbuf_from(c, sizeof(c), &sc), 0);
	round_trip(f, "rsa", KEY_DECRYPT, sc, msg, sizeof(msg) - 1);
	secbuf_free(sc);
	c[100] ^= 1;
	assert_int_equal(run(f, "rsa", 0, KEY_DECRYPT, c, sizeof(c), &out, NULL), -EBADMSG);
	assert_int_equal(run(f, "rsa", 0, KEY_DECRYPT, c, sizeof(c) - 1, &out, NULL), -EBADMSG);
	assert_int_equal(run(f, "rsa", 0, KEY_DECRYPT, c, 0, &out, NULL), -EBADMSG);
	/* longer than any ciphertext the key makes: dropped as it comes, EBADMSG at the end */
	memset(big, 7, sizeof(big));
	assert_int_equal(run(f, "rsa", 0, KEY_DECRYPT, big, sizeof(big), &out, NULL), -EBADMSG);

	assert_int_equal(openssl_oaep(1, KEYS_WRAP_LABEL, (const uint8_t *)msg, sizeof(msg) - 1, c,
				      sizeof(c)),
			 256);
	assert_int_equal(secbuf_from(c, sizeof(c), &sc), 0);
	round_trip(f, "rsa", KEY_UNWRAP, sc, msg, sizeof(msg) - 1);
	assert_int_equal(run(f, "rsa", 0, KEY_DECRYPT, c, sizeof(c), &out, NULL), -EBADMSG);
	secbuf_free(sc);
}

/* encrypt and wrap take what OAEP can carry: k - 66 bytes; wrap takes something. */
static void test_rsa_limits(void **state)
{
	struct fixture *f = *state;
	struct keys_input *in = NULL;
	struct secbuf *out = NULL;
	uint8_t buf[191];

	create(f, "rsa", "rsa-2048", 0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(run(f, "rsa", 0, KEY_ENCRYPT, buf, 190, &out, NULL), 0);
	secbuf_free(out);
	assert_int_equal(run(f, "rsa", 0, KEY_ENCRYPT, buf, 191, &out, NULL), -EFBIG);
	assert_int_equal(run(f, "rsa", 0, KEY_WRAP, buf, 191, &out, NULL), -EFBIG);
	assert_int_equal(run(f, "rsa", 0, KEY_WRAP, buf, 0, &out, NULL), -EINVAL);
	/* a refused add changes nothing: what came before still runs */
	assert_int_equal(keys_input_new(f->s, "rsa", 0, KEY_ENCRYPT, &in), 0);
	assert_int_equal(keys_input_add(in, buf, 100), 0);
	assert_int_equal(keys_input_add(in, buf, 91), -EFBIG);
	assert_int_equal(keys_input_add(in, buf, 90), 0);
	assert_int_equal(keys_input_run(in, f->tok.hsm, &out, &(uint64_t){ 0 }), 0);
	assert_int_equal(secbuf_len(out), 256);
	secbuf_free(out);
	keys_input_free(in);
}

/* The AES-GCM output is the header (magic, version, a fresh nonce), the ciphertext and the
 * tag; it opens under its key's name and version, and any change to it is EBADMSG. */
static void test_aes(void **state)
{
	static const char msg[] = "card 4111-1111-1111-1111";
	const size_t n = KEYS_AES_HEADER + sizeof(msg) - 1 + KEYS_AES_TAG;
	struct fixture *f = *state;
	struct secbuf *a = NULL, *b = NULL, *out = NULL;
	uint8_t c[256];
	uint64_t used = POISON;

	create(f, "aes", "aes-256", 0);
	create(f, "other", "aes-256", 0);
	assert_int_equal(run(f, "aes", 0, KEY_ENCRYPT, msg, sizeof(msg) - 1, &a, &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(run(f, "aes", 0, KEY_ENCRYPT, msg, sizeof(msg) - 1, &b, NULL), 0);
	assert_int_equal(secbuf_len(a), n);
	assert_memory_equal(secbuf_data(a), "VKA1\0\0\0\1", 8);
	assert_memory_not_equal(secbuf_data(a) + 8, secbuf_data(b) + 8, KEYS_AES_NONCE);
	assert_memory_not_equal(secbuf_data(a) + KEYS_AES_HEADER, secbuf_data(b) + KEYS_AES_HEADER,
				sizeof(msg) - 1);
	assert_null(memmem(secbuf_data(a), secbuf_len(a), "4111", 4));
	round_trip(f, "aes", KEY_DECRYPT, a, msg, sizeof(msg) - 1);
	round_trip(f, "aes", KEY_DECRYPT, b, msg, sizeof(msg) - 1);
	/* nor another key of the same version */
	assert_int_equal(run(f, "other", 0, KEY_DECRYPT, secbuf_data(a), n, &out, NULL), -EBADMSG);

	/* every byte, changed, is refused alike */
	memcpy(c, secbuf_data(a), n);
	for (size_t i = 0; i < n; i++) {
		c[i] ^= 0x20;
		assert_int_equal(run(f, "aes", 0, KEY_DECRYPT, c, n, &out, NULL), -EBADMSG);
		c[i] ^= 0x20;
	}
	assert_int_equal(run(f, "aes", 0, KEY_DECRYPT, c, n - 1, &out, NULL), -EBADMSG);
	assert_int_equal(
		run(f, "aes", 0, KEY_DECRYPT, c, KEYS_AES_HEADER + KEYS_AES_TAG - 1, &out, NULL),
		-EBADMSG);
	/* a version the key does not have: EBADMSG, and no version named */
	c[7] = 9;
	assert_int_equal(run(f, "aes", 0, KEY_DECRYPT, c, n, &out, &used), -EBADMSG);
	assert_int_equal(used, 0);
	secbuf_free(a);
	secbuf_free(b);

	/* an empty message is a message */
	assert_int_equal(run(f, "aes", 0, KEY_ENCRYPT, "", 0, &a, NULL), 0);
	assert_int_equal(secbuf_len(a), KEYS_AES_HEADER + KEYS_AES_TAG);
	round_trip(f, "aes", KEY_DECRYPT, a, "", 0);
	secbuf_free(a);
}

/* After a rotation encrypt uses the new version; decrypt opens either, and reports the one
 * the ciphertext names; NAME@N opens only version N's. */
static void test_aes_rotation(void **state)
{
	static const char msg[] = "rotated";
	struct fixture *f = *state;
	struct secbuf *v1 = NULL, *v2 = NULL, *out = NULL;
	uint64_t used = 0, version = 0;

	create(f, "aes", "aes-256", 0);
	assert_int_equal(run(f, "aes", 0, KEY_ENCRYPT, msg, sizeof(msg) - 1, &v1, NULL), 0);
	assert_int_equal(keys_rotate(f->s, f->tok.hsm, "aes", time_now_us(), &version), 0);
	assert_int_equal(run(f, "aes", 0, KEY_ENCRYPT, msg, sizeof(msg) - 1, &v2, &used), 0);
	assert_int_equal(used, 2);
	assert_memory_equal(secbuf_data(v2), "VKA1\0\0\0\2", 8);

	assert_int_equal(
		run(f, "aes", 0, KEY_DECRYPT, secbuf_data(v1), secbuf_len(v1), &out, &used), 0);
	assert_int_equal(used, 1);
	assert_memory_equal(secbuf_data(out), msg, sizeof(msg) - 1);
	secbuf_free(out);
	assert_int_equal(
		run(f, "aes", 1, KEY_DECRYPT, secbuf_data(v1), secbuf_len(v1), &out, &used), 0);
	secbuf_free(out);
	assert_int_equal(
		run(f, "aes", 2, KEY_DECRYPT, secbuf_data(v1), secbuf_len(v1), &out, &used),
		-EBADMSG);
	assert_int_equal(
		run(f, "aes", 1, KEY_DECRYPT, secbuf_data(v2), secbuf_len(v2), &out, &used),
		-EBADMSG);
	assert_int_equal(
		run(f, "aes", 2, KEY_DECRYPT, secbuf_data(v2), secbuf_len(v2), &out, &used), 0);
	assert_int_equal(used, 2);
	secbuf_free(out);
	/* the version's own key opens it: the header cannot send it to another version's */
	{
		uint8_t c[64];

		memcpy(c, secbuf_data(v1), secbuf_len(v1));
		c[7] = 2;
		assert_int_equal(run(f, "aes", 0, KEY_DECRYPT, c, secbuf_len(v1), &out, NULL),
				 -EBADMSG);
	}
	secbuf_free(v1);
	secbuf_free(v2);
}

/* RFC 5649 wrap of key material gives it back unchanged, or is refused; never other bytes. */
static void test_aes_wrap(void **state)
{
	struct fixture *f = *state;
	struct secbuf *w = NULL, *out = NULL, *m = NULL;
	uint8_t material[4097];
	size_t lens[] = { 8, 16, 24, 32, 64, 4096, 1, 20 };

	create(f, "aes", "aes-256", 0);
	for (size_t i = 0; i < sizeof(material); i++)
		material[i] = (uint8_t)(i * 31 + 7);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		int r = run(f, "aes", 0, KEY_WRAP, material, lens[i], &w, NULL);

		/* a length no multiple of 8 may be refused where the token cannot keep it */
		if (lens[i] % 8 && r == -EINVAL)
			continue;
		assert_int_equal(r, 0);
		assert_int_equal(secbuf_len(w) % 8, 0);
		assert_true(secbuf_len(w) >= lens[i] + 8);
		assert_int_equal(secbuf_from(material, lens[i], &m), 0);
		assert_int_equal(
			run(f, "aes", 0, KEY_UNWRAP, secbuf_data(w), secbuf_len(w), &out, NULL), 0);
		assert_true(secbuf_equal(out, m));
		secbuf_free(out);
		secbuf_free(m);
		secbuf_free(w);
	}
	assert_int_equal(run(f, "aes", 0, KEY_WRAP, material, 0, &w, NULL), -EINVAL);
	assert_int_equal(run(f, "aes", 0, KEY_WRAP, material, 4097, &w, NULL), -EFBIG);

	assert_int_equal(run(f, "aes", 0, KEY_WRAP, material, 32, &w, NULL), 0);
	{
		uint8_t c[64];

		memcpy(c, secbuf_data(w), secbuf_len(w));
		c[5] ^= 1;
		assert_int_equal(run(f, "aes", 0, KEY_UNWRAP, c, secbuf_len(w), &out, NULL),
				 -EBADMSG);
		assert_int_equal(
			run(f, "aes", 0, KEY_UNWRAP, secbuf_data(w), secbuf_len(w) - 8, &out, NULL),
			-EBADMSG);
		/* what wrap made is no ciphertext for decrypt */
		assert_int_equal(
			run(f, "aes", 0, KEY_DECRYPT, secbuf_data(w), secbuf_len(w), &out, NULL),
			-EBADMSG);
	}
	secbuf_free(w);
	/* anyone's bytes; and past the longest wrapped material, dropped as they come */
	assert_int_equal(run(f, "aes", 0, KEY_UNWRAP, material, sizeof(material), &out, NULL),
			 -EBADMSG);
	{
		uint8_t *big = calloc(1, 4096 + 17);

		assert_non_null(big);
		assert_int_equal(run(f, "aes", 0, KEY_UNWRAP, big, 4096 + 17, &out, NULL),
				 -EBADMSG);
		free(big);
	}
}

/* The public half the vault hands out verifies what the token signs: EC P-384 over
 * SHA-384, RSA with PSS. An empty message is signed too. */
static void test_sign_made_keys(void **state)
{
	static const struct {
		const char *type;
		int pss;
	} cases[] = { { "ec-p384", 0 }, { "rsa-2048", 1 } };
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct keys_options o = { .type = cases[i].type, .pss = cases[i].pss };
		const EVP_MD *md = i == 0 ? EVP_sha384() : EVP_sha256();
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		struct secbuf *sig = NULL;
		EVP_PKEY *pub;
		char *pem = NULL;
		size_t len = 0;
		BIO *bio;

		assert_int_equal(keys_create(f->s, f->tok.hsm, "k", &o, time_now_us()), 0);
		assert_int_equal(keys_public_pem(f->s, "k", 0, &pem, &len), 0);
		bio = BIO_new_mem_buf(pem, (int)len);
		pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		assert_non_null(pub);
		for (int empty = 0; empty < 2; empty++) {
			const char *msg = empty ? "" : "sign me";

			assert_int_equal(run(f, "k", 0, KEY_SIGN, msg, strlen(msg), &sig, NULL), 0);
			assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pub), 1);
			if (cases[i].pss) {
				assert_int_equal(
					EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
					1);
				assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
			}
			assert_int_equal(EVP_DigestVerify(ctx, secbuf_data(sig), secbuf_len(sig),
							  (const uint8_t *)msg, strlen(msg)),
					 1);
			secbuf_free(sig);
		}
		EVP_PKEY_free(pub);
		BIO_free(bio);
		free(pem);
		EVP_MD_CTX_free(ctx);
		assert_int_equal(keys_delete(f->s, "k", time_now_us()), 0);
		assert_int_equal(keys_purge(f->s, f->tok.hsm, "k"), 0);
	}
}

/* An operation the key does not do or allow, a key or version that does not exist: each
 * refused at the start, with its own errno. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct keys_input *in = (struct keys_input *)&in;

	create(f, "aes", "aes-256", KEY_BIT(KEY_ENCRYPT));
	create(f, "ec", "ec-p256", 0);
	assert_int_equal(keys_input_new(f->s, "aes", 0, KEY_DECRYPT, &in), -EOPNOTSUPP);
	assert_int_equal(keys_input_new(f->s, "aes", 0, KEY_SIGN, &in), -EOPNOTSUPP);
	assert_int_equal(keys_input_new(f->s, "ec", 0, KEY_ENCRYPT, &in), -EOPNOTSUPP);
	assert_int_equal(keys_input_new(f->s, "ec", 0, KEY_OP_COUNT, &in), -EOPNOTSUPP);
	assert_int_equal(keys_input_new(f->s, "nope", 0, KEY_SIGN, &in), -ENOENT);
	assert_int_equal(keys_input_new(f->s, "ec", 2, KEY_SIGN, &in), -ENOENT);
	assert_ptr_equal(in, (struct keys_input *)&in); /* untouched */
}

/* A key the vault records and the token no longer holds is a damaged vault (EUCLEAN), not
 * bad input — found after the handle the vault remembered was searched for again. */
static void test_token_lost_key(void **state)
{
	struct fixture *f = *state;
	struct store_key_version v;
	struct secbuf *out = NULL;

	create(f, "ec", "ec-p256", 0);
	assert_int_equal(run(f, "ec", 0, KEY_SIGN, "x", 1, &out, NULL), 0); /* remembered */
	secbuf_free(out);
	assert_int_equal(store_key_version_get(f->s, "ec", 0, &v), 0);
	assert_true(hsm_key_destroy(f->tok.hsm, v.token_id) > 0);
	store_key_version_clear(&v);
	assert_int_equal(run(f, "ec", 0, KEY_SIGN, "x", 1, &out, NULL), -EUCLEAN);
}

/* What an input holds in locked memory: nothing for sign (hashed as it comes), whole
 * pages for the rest, and what keys_input_held_after foretells is what an add then holds. */
static void test_held(void **state)
{
	struct fixture *f = *state;
	struct keys_input *in = NULL;
	uint8_t *chunk = calloc(1, KEYS_INPUT_MAX + 1);
	const size_t piece = 65536;
	size_t before, after;

	assert_non_null(chunk);
	create(f, "aes", "aes-256", 0);
	assert_int_equal(keys_input_held(NULL), 0);
	assert_int_equal(keys_input_new(f->s, "aes", 0, KEY_ENCRYPT, &in), 0);
	before = keys_input_held(in);
	after = keys_input_held_after(in, piece);
	assert_true(after > before);
	assert_int_equal(after % 4096, 0);
	assert_int_equal(keys_input_add(in, chunk, piece), 0);
	assert_int_equal(keys_input_held(in), after);
	/* past the limit an add is refused, and holds nothing more */
	assert_int_equal(keys_input_held_after(in, KEYS_INPUT_MAX), after);
	assert_int_equal(keys_input_add(in, chunk, KEYS_INPUT_MAX - piece + 1), -EFBIG);
	assert_int_equal(keys_input_held(in), after);
	keys_input_free(in);

	create(f, "ec", "ec-p256", 0);
	assert_int_equal(keys_input_new(f->s, "ec", 0, KEY_SIGN, &in), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(keys_input_add(in, chunk, KEYS_INPUT_MAX + 1), 0);
	assert_int_equal(keys_input_held(in), 0);
	assert_int_equal(keys_input_held_after(in, piece), 0);
	keys_input_free(in);
	keys_input_free(NULL);
	free(chunk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rsa_encrypt_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsa_decrypt_unwrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsa_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aes_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aes_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_made_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_lost_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held, setup, teardown),
	};

	return cmocka_run_group_tests(tests, make_rsa, free_rsa);
}

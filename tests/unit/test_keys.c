/*
 * Unit tests for users' keys (src/keys/: keys.c, keys_pem.c, keys_header.c), each on a real
 * SoftHSM2 token and store of its own: import of PEM private keys of every kept type —
 * PKCS#8 and traditional, plain and encrypted — proved by the token signing what the
 * original public key verifies; every refusal of import with its errno, its one line and
 * nothing recorded; making, rotating and deleting keys, whose objects leave the token;
 * the names of types and operations; and the AES-GCM ciphertext header, made and parsed.
 * The keys imported are made here with OpenSSL, as an operator's would be.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "hsm_keys.h"
#include "keys.h"
#include "keys_header.h"
#include "keys_pem.h"
#include "store.h"
#include "timeutil.h"

#define PASS "correct horse battery staple"
#define POISON 0x5a5a5a5a5a5a5a5aULL
#define PATH_LEN (PATH_MAX + 64)

struct fixture {
	struct test_token tok;
	char db[PATH_MAX + 16];
	struct store *s;
};

static struct secbuf *sb(const char *s)
{
	struct secbuf *b = NULL;

	assert_int_equal(secbuf_from(s, strlen(s), &b), 0);
	return b;
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

/* Keys made once for the whole run (an RSA-4096 takes seconds): by name, in kept[]. */
static const struct {
	const char *type, *alg, *param;
	size_t bits;
} kinds[] = {
	{ "ec-p256", "EC", "P-256", 0 },       { "ec-p384", "EC", "P-384", 0 },
	{ "rsa-2048", "RSA", NULL, 2048 },     { "rsa-3072", "RSA", NULL, 3072 },
	{ "rsa-4096", "RSA", NULL, 4096 },     { "rsa-1024", "RSA", NULL, 1024 },
	{ "secp256k1", "EC", "secp256k1", 0 }, { "ed25519", "ED25519", NULL, 0 },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))
static EVP_PKEY *kept[NKINDS];

static EVP_PKEY *key_of(const char *type)
{
	for (size_t i = 0; i < NKINDS; i++) {
		if (strcmp(kinds[i].type, type) != 0)
			continue;
		if (!kept[i]) {
			if (kinds[i].bits)
				kept[i] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", kinds[i].bits);
			else if (kinds[i].param)
				kept[i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kinds[i].param);
			else
				kept[i] = EVP_PKEY_Q_keygen(NULL, NULL, kinds[i].alg);
		}
		assert_non_null(kept[i]);
		return kept[i];
	}
	fail_msg("no key kind %s", type);
	return NULL;
}

static int free_kept(void **state)
{
	(void)state;
	for (size_t i = 0; i < NKINDS; i++)
		EVP_PKEY_free(kept[i]);
	return 0;
}

enum form {
	PKCS8, /* BEGIN PRIVATE KEY */
	PKCS8_ENC, /* BEGIN ENCRYPTED PRIVATE KEY */
	TRAD, /* BEGIN RSA PRIVATE KEY, BEGIN EC PRIVATE KEY */
	TRAD_ENC, /* the same with Proc-Type and DEK-Info */
	PUBLIC, /* BEGIN PUBLIC KEY */
};

/* Writes @k to @dir/@name in @form (encrypted under PASS), and its path into @path. */
static void write_pem(const char *dir, const char *name, EVP_PKEY *k, enum form form, char *path)
{
	const EVP_CIPHER *aes = EVP_aes_256_cbc();
	BIO *bio;
	int ok = 0;

	snprintf(path, PATH_LEN, "%s/%s", dir, name);
	bio = BIO_new_file(path, "w");
	assert_non_null(bio);
	switch (form) {
	case PKCS8:
		ok = PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
		break;
	case PKCS8_ENC:
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k, aes, PASS, (int)strlen(PASS), NULL,
						   NULL);
		break;
	case TRAD:
		ok = PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL);
		break;
	case TRAD_ENC:
		ok = PEM_write_bio_PrivateKey_traditional(bio, k, aes, (unsigned char *)PASS,
							  (int)strlen(PASS), NULL, NULL);
		break;
	case PUBLIC:
		ok = PEM_write_bio_PUBKEY(bio, k);
		break;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(BIO_free(bio), 1);
}

static void write_text(const char *dir, const char *name, const void *text, size_t len, char *path)
{
	FILE *fp;

	snprintf(path, PATH_LEN, "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* What keys_public_pem gives for @name is the public half of @k. */
static void check_public(struct store *s, const char *name, EVP_PKEY *k)
{
	char *pem = NULL;
	size_t len = 0;
	EVP_PKEY *pub;
	BIO *bio;

	assert_int_equal(keys_public_pem(s, name, 0, &pem, &len), 0);
	bio = BIO_new_mem_buf(pem, (int)len);
	assert_non_null(bio);
	pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	EVP_PKEY_free(pub);
	BIO_free(bio);
	free(pem);
}

/* The token signs, with key @name, a message given in pieces; @k's public half verifies
 * it as keys.h says a signature is made (PSS with a 32-byte salt when @pss). */
static void check_signs(struct fixture *f, const char *name, EVP_PKEY *k, int pss)
{
	static const char msg[] = "release-1.2.3.tar.gz: 4f1c9e...";
	const EVP_MD *md =
		EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(k) == 384 ? EVP_sha384() : EVP_sha256();
	struct keys_input *in = NULL;
	struct secbuf *sig = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint64_t used = 0;

	assert_int_equal(keys_input_new(f->s, name, 0, KEY_SIGN, &in), 0);
	for (size_t off = 0; off < sizeof(msg) - 1; off += 7)
		assert_int_equal(
			keys_input_add(in, msg + off,
				       sizeof(msg) - 1 - off < 7 ? sizeof(msg) - 1 - off : 7),
			0);
	assert_int_equal(keys_input_run(in, f->tok.hsm, &sig, &used), 0);
	assert_int_equal(used, 1);
	keys_input_free(in);
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, md, NULL, k), 1);
	if (pss) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
	}
	assert_int_equal(EVP_DigestVerify(ctx, secbuf_data(sig), secbuf_len(sig),
					  (const uint8_t *)msg, sizeof(msg) - 1),
			 1);
	/* and not another message */
	assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, md, NULL, k), 1);
	if (pss)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_not_equal(EVP_DigestVerify(ctx, secbuf_data(sig), secbuf_len(sig),
					      (const uint8_t *)msg, sizeof(msg) - 2),
			     1);
	EVP_MD_CTX_free(ctx);
	secbuf_free(sig);
}

/* Imports the key in @path as @name: 0, or the errno with a one-line reason. */
static int import(struct fixture *f, const char *name, const char *path, const char *pass,
		  const struct keys_options *o, char *err)
{
	struct secbuf *p = pass ? sb(pass) : NULL;
	int r;

	err[0] = '\0';
	r = keys_import(f->s, f->tok.hsm, name, path, p, o, time_now_us(), err, 512);
	secbuf_free(p);
	if (r < 0) {
		assert_true(err[0] != '\0');
		assert_null(strchr(err, '\n'));
	}
	return r;
}

/* Every kept type, in each PEM form, with and without its passphrase: the key in the
 * token is the key in the file. */
static void test_import_kept_types(void **state)
{
	static const struct {
		const char *type;
		enum form form;
	} cases[] = {
		{ "ec-p256", PKCS8 },	  { "ec-p256", TRAD_ENC },  { "ec-p384", TRAD },
		{ "ec-p384", PKCS8_ENC }, { "rsa-2048", TRAD },	    { "rsa-2048", PKCS8_ENC },
		{ "rsa-3072", PKCS8 },	  { "rsa-3072", TRAD_ENC }, { "rsa-4096", PKCS8_ENC },
		{ "rsa-4096", TRAD },
	};
	struct fixture *f = *state;
	struct keys_options o = { 0 };
	char path[PATH_LEN], name[32], err[512];
	struct store_key k;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EVP_PKEY *key = key_of(cases[i].type);
		int enc = cases[i].form == PKCS8_ENC || cases[i].form == TRAD_ENC;

		snprintf(name, sizeof(name), "k%zu", i);
		write_pem(f->tok.dir, "key.pem", key, cases[i].form, path);
		assert_int_equal(import(f, name, path, enc ? PASS : NULL, &o, err), 0);
		assert_int_equal(store_key_get(f->s, name, &k), 0);
		assert_string_equal(k.type, cases[i].type);
		assert_int_equal(k.current, 1);
		/* the type's every operation, unless asked for fewer */
		assert_int_equal(k.ops, keys_type_find(cases[i].type)->ops);
		check_public(f->s, name, key);
		check_signs(f, name, key, 0);
	}
}

/* --type that names the key's own type, --ops within it, and PSS for an RSA key. */
static void test_import_options(void **state)
{
	struct fixture *f = *state;
	struct keys_options pss = { "rsa-2048", 1, KEY_BIT(KEY_SIGN), 0, 0 };
	char path[PATH_LEN], err[512];
	struct keys_input *in = NULL;
	struct store_key k;

	write_pem(f->tok.dir, "rsa.pem", key_of("rsa-2048"), PKCS8, path);
	assert_int_equal(import(f, "release", path, NULL, &pss, err), 0);
	assert_int_equal(store_key_get(f->s, "release", &k), 0);
	assert_string_equal(k.alg, "pss");
	assert_int_equal(k.ops, KEY_BIT(KEY_SIGN));
	check_signs(f, "release", key_of("rsa-2048"), 1);
	/* what --ops left out is refused */
	assert_int_equal(keys_input_new(f->s, "release", 0, KEY_DECRYPT, &in), -EOPNOTSUPP);
	assert_null(in);
	/* a passphrase for a key that has none is not needed, and does no harm */
	assert_int_equal(import(f, "again", path, "unused", &(struct keys_options){ 0 }, err), 0);
	check_signs(f, "again", key_of("rsa-2048"), 0);
}

/* Each refusal: its errno, a line naming the file, and no key recorded or left in the
 * token's place. */
static void test_import_refused(void **state)
{
	struct fixture *f = *state;
	struct keys_options none = { 0 }, wrong_type = { "rsa-2048", 0, 0, 0, 0 };
	struct keys_options ec_decrypt = { NULL, 0, KEY_BIT(KEY_DECRYPT), 0, 0 };
	struct keys_options ec_pss = { NULL, 1, 0, 0, 0 };
	char path[PATH_LEN], big_path[PATH_LEN], err[512], *big;
	struct store_key k;

	write_pem(f->tok.dir, "ec.pem", key_of("ec-p256"), PKCS8_ENC, path);
	/* encrypted, and no passphrase given */
	assert_int_equal(import(f, "k", path, NULL, &none, err), -EINVAL);
	assert_non_null(strstr(err, "is encrypted: give its passphrase with --passphrase-file"));
	assert_non_null(strstr(err, path));
	/* a wrong one, and an empty one */
	assert_int_equal(import(f, "k", path, "not the passphrase", &none, err), -EINVAL);
	assert_non_null(strstr(err, "wrong passphrase, or a damaged key"));
	assert_int_equal(import(f, "k", path, "", &none, err), -EINVAL);
	assert_non_null(strstr(err, "wrong passphrase"));
	write_pem(f->tok.dir, "ec.pem", key_of("ec-p256"), TRAD_ENC, path);
	assert_int_equal(import(f, "k", path, "not the passphrase", &none, err), -EINVAL);
	assert_non_null(strstr(err, "wrong passphrase"));

	/* a public key */
	write_pem(f->tok.dir, "pub.pem", key_of("rsa-2048"), PUBLIC, path);
	assert_int_equal(import(f, "k", path, NULL, &none, err), -EINVAL);
	assert_non_null(strstr(err, "holds a public key or certificate, not a private key"));
	/* not PEM at all, and PEM whose body was damaged */
	write_text(f->tok.dir, "text.pem", "hello\n", 6, path);
	assert_int_equal(import(f, "k", path, NULL, &none, err), -EINVAL);
	assert_non_null(strstr(err, "is not a PEM private key"));
	{
		char text[8192];
		FILE *fp;
		size_t n;

		write_pem(f->tok.dir, "cut.pem", key_of("ec-p256"), PKCS8, path);
		fp = fopen(path, "r");
		assert_non_null(fp);
		n = fread(text, 1, sizeof(text), fp);
		fclose(fp);
		assert_true(n > 80);
		text[40] = text[40] == 'A' ? 'B' : 'A';
		text[41] = '*';
		write_text(f->tok.dir, "cut.pem", text, n, path);
		assert_int_equal(import(f, "k", path, NULL, &none, err), -EINVAL);
		assert_non_null(strstr(err, "is not a PEM private key"));
	}

	/* private keys of types the vault does not keep */
	write_pem(f->tok.dir, "small.pem", key_of("rsa-1024"), PKCS8, path);
	assert_int_equal(import(f, "k", path, NULL, &none, err), -EINVAL);
	assert_non_null(strstr(err, "only EC P-256, P-384 and RSA 2048, 3072, 4096 keys are kept"));
	write_pem(f->tok.dir, "k1.pem", key_of("secp256k1"), TRAD, path);
	assert_int_equal(import(f, "k", path, NULL, &none, err), -EINVAL);
	assert_non_null(strstr(err, "only EC P-256"));
	write_pem(f->tok.dir, "ed.pem", key_of("ed25519"), PKCS8, path);
	assert_int_equal(import(f, "k", path, NULL, &none, err), -EINVAL);
	assert_non_null(strstr(err, "only EC P-256"));

	/* --type, --ops, --pss that do not fit the key */
	write_pem(f->tok.dir, "ec.pem", key_of("ec-p256"), PKCS8, path);
	assert_int_equal(import(f, "k", path, NULL, &wrong_type, err), -EINVAL);
	assert_non_null(strstr(err, "is an ec-p256 key: --type or --ops do not fit it"));
	assert_int_equal(import(f, "k", path, NULL, &ec_decrypt, err), -EINVAL);
	assert_non_null(strstr(err, "--type or --ops do not fit it"));
	assert_int_equal(import(f, "k", path, NULL, &ec_pss, err), -EINVAL);

	/* a file that is missing, or larger than any key */
	snprintf(big_path, sizeof(big_path), "%s/missing.pem", f->tok.dir);
	assert_int_equal(import(f, "k", big_path, NULL, &none, err), -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
	assert_non_null(strstr(err, "No such file or directory"));
	big = malloc(65 * 1024);
	assert_non_null(big);
	memset(big, 'A', 65 * 1024);
	write_text(f->tok.dir, "big.pem", big, 65 * 1024, big_path);
	free(big);
	assert_int_equal(import(f, "k", big_path, NULL, &none, err), -EFBIG);
	assert_non_null(strstr(err, "too large for a key"));

	/* names: one segment, and not one taken */
	assert_int_equal(import(f, "a/b", path, NULL, &none, err), -EINVAL);
	assert_string_equal(err, "invalid key name");
	assert_int_equal(import(f, ".k", path, NULL, &none, err), -EINVAL);
	assert_int_equal(store_key_get(f->s, "k", &k), -ENOENT);
	assert_int_equal(import(f, "k", path, NULL, &none, err), 0);
	write_pem(f->tok.dir, "rsa.pem", key_of("rsa-2048"), PKCS8, big_path);
	assert_int_equal(import(f, "k", big_path, NULL, &none, err), -EEXIST);
	assert_string_equal(err, "a key of that name exists");
	/* the first is still the key it was */
	assert_int_equal(store_key_get(f->s, "k", &k), 0);
	assert_string_equal(k.type, "ec-p256");
	check_public(f->s, "k", key_of("ec-p256"));
}

/* keys_pem_read alone: the passphrase is handed over only when the decoder asks, and a
 * passphrase longer than OpenSSL's buffer is refused, not cut to fit. */
static void test_pem_read(void **state)
{
	struct fixture *f = *state;
	char path[PATH_LEN], err[512] = "", text[16384];
	struct secbuf *t = NULL, *pass = sb(PASS), *long_pass = NULL;
	EVP_PKEY *k = (EVP_PKEY *)&k;
	uint8_t filler[2048];
	FILE *fp;
	size_t n;

	write_pem(f->tok.dir, "enc.pem", key_of("ec-p384"), PKCS8_ENC, path);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text), fp);
	fclose(fp);
	assert_int_equal(secbuf_from(text, n, &t), 0);
	assert_int_equal(keys_pem_read(t, NULL, "what", &k, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "\"what\" is encrypted: give its passphrase with --passphrase-file");
	assert_ptr_equal(k, (EVP_PKEY *)&k); /* untouched */
	memset(filler, 'p', sizeof(filler));
	assert_int_equal(secbuf_from(filler, sizeof(filler), &long_pass), 0);
	assert_int_equal(keys_pem_read(t, long_pass, "what", &k, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "\"what\": wrong passphrase, or a damaged key");
	assert_int_equal(keys_pem_read(t, pass, "what", &k, err, sizeof(err)), 0);
	assert_int_equal(EVP_PKEY_eq(k, key_of("ec-p384")), 1);
	EVP_PKEY_free(k);
	secbuf_free(t);
	secbuf_free(pass);
	secbuf_free(long_pass);
}

/* A token id of version @version of key @name. */
static void token_id(struct fixture *f, const char *name, uint64_t version,
		     uint8_t id[STORE_KEY_ID_LEN])
{
	struct store_key_version v;

	assert_int_equal(store_key_version_get(f->s, name, version, &v), 0);
	memcpy(id, v.token_id, STORE_KEY_ID_LEN);
	store_key_version_clear(&v);
}

/* Whether the token holds the key object of @id (asked afresh, not from memory). */
static int token_holds(struct fixture *f, enum hsm_key_kind kind, const uint8_t *id)
{
	CK_OBJECT_HANDLE obj;
	int r;

	hsm_key_forget(f->tok.hsm, id);
	r = hsm_key_object(f->tok.hsm, kind, id, &obj);
	assert_true(r == 0 || r == -ENOKEY);
	return r == 0;
}

/* Made in the token, rotated to a new key of the same type, deleted with every version's
 * objects; and each refusal of create and rotate leaves nothing. */
static void test_create_rotate_delete(void **state)
{
	struct fixture *f = *state;
	struct keys_options ec = { "ec-p256", 0, 0, 0, 0 }, aes = { "aes-256", 0, 0, 0, 0 };
	uint8_t id1[STORE_KEY_ID_LEN], id2[STORE_KEY_ID_LEN];
	char *pem1 = NULL, *pem2 = NULL, *pem = (char *)&pem;
	size_t len1 = 0, len2 = 0, len = 77;
	uint64_t version = POISON;
	struct store_key k;

	assert_int_equal(keys_create(f->s, f->tok.hsm, "sig", &ec, time_now_us()), 0);
	assert_int_equal(keys_create(f->s, f->tok.hsm, "sig", &ec, time_now_us()), -EEXIST);
	assert_int_equal(keys_rotate(f->s, f->tok.hsm, "sig", time_now_us(), &version), 0);
	assert_int_equal(version, 2);
	assert_int_equal(store_key_get(f->s, "sig", &k), 0);
	assert_int_equal(k.current, 2);
	assert_string_equal(k.alg, "ecdsa");
	/* each version its own key, its public half kept */
	assert_int_equal(keys_public_pem(f->s, "sig", 1, &pem1, &len1), 0);
	assert_int_equal(keys_public_pem(f->s, "sig", 2, &pem2, &len2), 0);
	assert_non_null(memmem(pem1, len1, "-----BEGIN PUBLIC KEY-----", 26));
	assert_false(len1 == len2 && memcmp(pem1, pem2, len1) == 0);
	free(pem1);
	free(pem2);
	assert_int_equal(keys_public_pem(f->s, "sig", 3, &pem, &len), -ENOENT);
	assert_ptr_equal(pem, (char *)&pem);
	token_id(f, "sig", 1, id1);
	token_id(f, "sig", 2, id2);
	assert_true(token_holds(f, HSM_KEY_EC, id1));
	assert_true(token_holds(f, HSM_KEY_EC, id2));

	/* a secret key has no public half */
	assert_int_equal(keys_create(f->s, f->tok.hsm, "box", &aes, time_now_us()), 0);
	assert_int_equal(keys_public_pem(f->s, "box", 0, &pem, &len), -ENODATA);
	assert_int_equal(len, 77);

	/* a live key is not purged */
	assert_int_equal(keys_purge(f->s, f->tok.hsm, "sig"), -EBUSY);
	assert_int_equal(keys_recover(f->s, "sig"), -EEXIST);
	/* soft delete: gone from use, its objects kept, its name held */
	assert_int_equal(keys_delete(f->s, "sig", time_now_us()), 0);
	assert_int_equal(store_key_get(f->s, "sig", &k), -ENOENT);
	assert_int_equal(store_key_get_any(f->s, "sig", &k), 0);
	assert_true(k.deleted > 0);
	assert_true(token_holds(f, HSM_KEY_EC, id1));
	assert_true(token_holds(f, HSM_KEY_EC, id2));
	assert_int_equal(keys_delete(f->s, "sig", time_now_us()), -ENOENT);
	assert_int_equal(keys_create(f->s, f->tok.hsm, "sig", &ec, time_now_us()), -EEXIST);
	/* recovered whole, then deleted and purged with every version's objects */
	assert_int_equal(keys_recover(f->s, "sig"), 0);
	assert_int_equal(store_key_get(f->s, "sig", &k), 0);
	assert_int_equal(k.current, 2);
	assert_int_equal(k.deleted, 0);
	assert_int_equal(keys_delete(f->s, "sig", time_now_us()), 0);
	assert_int_equal(keys_purge(f->s, f->tok.hsm, "sig"), 0);
	assert_int_equal(store_key_get_any(f->s, "sig", &k), -ENOENT);
	assert_false(token_holds(f, HSM_KEY_EC, id1));
	assert_false(token_holds(f, HSM_KEY_EC, id2));
	assert_int_equal(keys_purge(f->s, f->tok.hsm, "sig"), -ENOENT);
	assert_int_equal(keys_recover(f->s, "sig"), -ENOENT);
	version = POISON;
	assert_int_equal(keys_rotate(f->s, f->tok.hsm, "sig", time_now_us(), &version), -ENOENT);
	assert_int_equal(version, POISON);
	/* the other key is untouched */
	assert_int_equal(store_key_get(f->s, "box", &k), 0);
}

static void test_create_refused(void **state)
{
	static const struct {
		const char *name;
		struct keys_options o;
	} bad[] = {
		{ "k", { NULL, 0, 0, 0, 0 } }, /* no type */
		{ "k", { "rsa-1024", 0, 0, 0, 0 } },
		{ "k", { "ec-p256", 0, KEY_BIT(KEY_ENCRYPT), 0, 0 } }, /* EC only signs */
		{ "k", { "aes-256", 0, KEY_BIT(KEY_SIGN), 0, 0 } },
		{ "k", { "ec-p384", 1, 0, 0, 0 } }, /* PSS is RSA's */
		{ "k", { "aes-256", 1, 0, 0, 0 } },
		{ "a/b", { "aes-256", 0, 0, 0, 0 } },
		{ ".k", { "aes-256", 0, 0, 0, 0 } },
		{ "", { "aes-256", 0, 0, 0, 0 } },
	};
	struct fixture *f = *state;
	struct store_key k;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(keys_create(f->s, f->tok.hsm, bad[i].name, &bad[i].o, 1), -EINVAL);
		assert_int_equal(store_key_get(f->s, "k", &k), -ENOENT);
	}
}

static void test_types_and_ops(void **state)
{
	static const char *const kept_types[] = { "ec-p256",  "ec-p384",  "rsa-2048",
						  "rsa-3072", "rsa-4096", "aes-256" };
	const unsigned all = KEY_BIT(KEY_SIGN) | KEY_BIT(KEY_ENCRYPT) | KEY_BIT(KEY_DECRYPT) |
			     KEY_BIT(KEY_WRAP) | KEY_BIT(KEY_UNWRAP);
	unsigned ops = 0xdead;

	(void)state;
	for (size_t i = 0; i < sizeof(kept_types) / sizeof(kept_types[0]); i++)
		assert_string_equal(keys_type_find(kept_types[i])->name, kept_types[i]);
	assert_null(keys_type_find("rsa-1024"));
	assert_null(keys_type_find("EC-P256"));
	assert_int_equal(keys_type_find("ec-p256")->ops, KEY_BIT(KEY_SIGN));
	assert_int_equal(keys_type_find("rsa-2048")->ops, all);
	assert_int_equal(keys_type_find("aes-256")->ops, all & ~KEY_BIT(KEY_SIGN));

	for (int op = 0; op < KEY_OP_COUNT; op++)
		assert_int_equal(keys_op_from_name(keys_op_name(op)), op);
	assert_string_equal(keys_op_name(KEY_UNWRAP), "unwrap");
	assert_string_equal(keys_op_name(KEY_OP_COUNT), "?");
	assert_int_equal(keys_op_from_name("Sign"), -1);

	assert_int_equal(keys_ops_parse("*", &ops), 0);
	assert_int_equal(ops, all);
	assert_int_equal(keys_ops_parse("sign,decrypt", &ops), 0);
	assert_int_equal(ops, KEY_BIT(KEY_SIGN) | KEY_BIT(KEY_DECRYPT));
	ops = 0xdead;
	assert_int_equal(keys_ops_parse("sign,verify", &ops), -EINVAL);
	assert_int_equal(keys_ops_parse("", &ops), -EINVAL);
	assert_int_equal(keys_ops_parse(",", &ops), -EINVAL);
	assert_int_equal(keys_ops_parse("sign decrypt", &ops), -EINVAL);
	{
		char longer[200];

		memset(longer, 0, sizeof(longer));
		for (size_t i = 0; i + 5 < sizeof(longer) - 1; i += 5)
			memcpy(longer + i, "sign,", 5);
		assert_int_equal(keys_ops_parse(longer, &ops), -EINVAL);
	}
	assert_int_equal(ops, 0xdead); /* untouched by every refusal */
}

/* The ciphertext header: "VKA1", the version big-endian, the nonce; refused when short,
 * of another magic or naming version 0; the associated data is the first 8 bytes and the
 * key's name. */
static void test_aes_header(void **state)
{
	const uint8_t nonce[KEYS_AES_NONCE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t c[KEYS_AES_HEADER + KEYS_AES_TAG + 4] = { 0 };
	uint8_t aad[KEYS_AES_AAD_MAX(8)];
	uint64_t version = POISON;

	(void)state;
	keys_aes_header_make(0x01020304, nonce, c);
	assert_memory_equal(c, "VKA1\x01\x02\x03\x04", 8);
	assert_memory_equal(c + 8, nonce, KEYS_AES_NONCE);
	assert_int_equal(keys_aes_header_parse(c, sizeof(c), &version), 0);
	assert_int_equal(version, 0x01020304);
	/* a header and a tag, no ciphertext: an empty message */
	assert_int_equal(keys_aes_header_parse(c, KEYS_AES_HEADER + KEYS_AES_TAG, &version), 0);
	keys_aes_header_make(UINT32_MAX, nonce, c);
	assert_int_equal(keys_aes_header_parse(c, sizeof(c), &version), 0);
	assert_int_equal(version, UINT32_MAX);
	assert_int_equal(keys_aes_aad(c, "payments", aad), 16);
	assert_memory_equal(aad, c, 8);
	assert_memory_equal(aad + 8, "payments", 8);
	assert_int_equal(keys_aes_aad(c, "", aad), 8);

	version = POISON;
	assert_int_equal(keys_aes_header_parse(c, KEYS_AES_HEADER + KEYS_AES_TAG - 1, &version),
			 -EBADMSG);
	assert_int_equal(keys_aes_header_parse(c, 0, &version), -EBADMSG);
	keys_aes_header_make(0, nonce, c);
	assert_int_equal(keys_aes_header_parse(c, sizeof(c), &version), -EBADMSG);
	keys_aes_header_make(7, nonce, c);
	c[3] = '2';
	assert_int_equal(keys_aes_header_parse(c, sizeof(c), &version), -EBADMSG);
	assert_int_equal(version, POISON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_kept_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pem_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_rotate_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refused, setup, teardown),
		cmocka_unit_test(test_types_and_ops),
		cmocka_unit_test(test_aes_header),
	};

	return cmocka_run_group_tests(tests, NULL, free_kept);
}

/*
 * Unit tests for reading certificate files (src/certs/certs_parse.c, certs_p12.c) over files
 * the real openssl makes at test time (tests/unit/certs_fixtures.sh): PKCS#12 with and
 * without a chain, AES and legacy encryption, an empty password; PEM bundles in every
 * order with the key plain, encrypted PKCS#8 and traditional; CA answers as PEM and DER
 * leaves, unordered chains and PKCS#7 in PEM and DER. Each read is checked for the right
 * leaf, a key that is the leaf's, and the chain in order; each refusal for -EINVAL and one
 * line that names the fault.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "certs_parse.h"

#define PASS "correct horse battery staple"

static char dir[PATH_MAX];

static int group_setup(void **state)
{
	char cmd[PATH_MAX * 2];

	(void)state;
	test_tmpdir(dir);
	snprintf(cmd, sizeof(cmd), "bash '%s' '%s' '%s'", CERTS_FIXTURES, dir, PASS);
	if (system(cmd) != 0)
		fail_msg("certs_fixtures.sh failed");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	test_rmtree(dir);
	return 0;
}

/* The bytes of fixture @name, in locked memory as the command line reads them. */
static struct secbuf *file(const char *name)
{
	char path[PATH_MAX + 64];
	struct secbuf *b = NULL;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fd = fileno(f);
	assert_int_equal(secbuf_read_fd(fd, 1 << 20, &b), 0);
	fclose(f);
	return b;
}

static struct secbuf *pass(const char *s)
{
	struct secbuf *b = NULL;

	assert_int_equal(secbuf_from(s, strlen(s), &b), 0);
	return b;
}

static void assert_cn(X509 *x, const char *cn)
{
	char buf[256];

	assert_non_null(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
	assert_string_equal(buf, cn);
}

/* Parses @name with @pw and checks the leaf, its key, and a chain of @nchain (1: the
 * intermediate; 2: and the root). */
static void bundle_ok(const char *name, const char *pw, int nchain)
{
	struct secbuf *data = file(name), *p = pw ? pass(pw) : NULL;
	struct certs_bundle b = { 0 };
	char err[256] = "";
	int r;

	r = certs_bundle_parse(secbuf_data(data), secbuf_len(data), p, &b, err, sizeof(err));
	if (r != 0)
		fail_msg("%s: %d %s", name, r, err);
	assert_cn(b.leaf, "web.example");
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(b.leaf), b.key), 1);
	assert_non_null(b.chain);
	assert_int_equal(sk_X509_num(b.chain), nchain);
	if (nchain > 0)
		assert_cn(sk_X509_value(b.chain, 0), "Test Intermediate");
	if (nchain > 1)
		assert_cn(sk_X509_value(b.chain, 1), "Test Root");
	certs_bundle_clear(&b);
	assert_null(b.key);
	secbuf_free(p);
	secbuf_free(data);
}

static void bundle_refused(const char *name, const char *pw, const char *why)
{
	struct secbuf *data = file(name), *p = pw ? pass(pw) : NULL;
	struct certs_bundle b = { 0 };
	char err[256] = "";
	int r;

	r = certs_bundle_parse(secbuf_data(data), secbuf_len(data), p, &b, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("%s: %d, expected -EINVAL (%s)", name, r, err);
	if (!strstr(err, why))
		fail_msg("%s: \"%s\" lacks \"%s\"", name, err, why);
	assert_null(strchr(err, '\n'));
	assert_null(b.key);
	assert_null(b.leaf);
	assert_null(b.chain);
	secbuf_free(p);
	secbuf_free(data);
}

static void test_pkcs12(void **state)
{
	(void)state;
	bundle_ok("chain-aes.p12", PASS, 2);
	bundle_ok("leaf-aes.p12", PASS, 0);
	bundle_ok("chain-legacy.p12", PASS, 2);
	/* made with -passout pass:, opened without a password */
	bundle_ok("nopass.p12", NULL, 2);
	bundle_ok("nopass.p12", "", 2);
}

static void test_pkcs12_refused(void **state)
{
	(void)state;
	bundle_refused("chain-aes.p12", "wrong", "wrong password");
	bundle_refused("chain-legacy.p12", "wrong", "wrong password");
	bundle_refused("chain-aes.p12", NULL, "--password-file");
	bundle_refused("chain-legacy.p12", NULL, "--password-file");
	bundle_refused("nopass.p12", "not empty", "wrong password");
	bundle_refused("truncated.p12", PASS, "truncated");
}

static void test_pem(void **state)
{
	(void)state;
	bundle_ok("bundle-key-first.pem", NULL, 2);
	bundle_ok("bundle-reversed.pem", NULL, 2);
	bundle_ok("bundle-mixed-enc.pem", PASS, 2);
	bundle_ok("bundle-trad.pem", NULL, 0);
	/* the leaf twice: the copy is dropped */
	bundle_ok("bundle-trad-enc-dup.pem", PASS, 2);
	/* what `openssl pkcs12 -nodes` writes: "Bag Attributes" around the blocks */
	bundle_ok("bundle-from-p12.pem", NULL, 2);
	/* a password given for a plain key is not used */
	bundle_ok("bundle-key-first.pem", "unused", 2);
}

static void test_pem_refused(void **state)
{
	(void)state;
	bundle_refused("bundle-mixed-enc.pem", NULL, "--password-file");
	bundle_refused("bundle-mixed-enc.pem", "wrong", "wrong password");
	bundle_refused("bundle-trad-enc-dup.pem", "wrong", "wrong password");
	bundle_refused("mismatch.pem", NULL, "does not match");
	bundle_refused("two-keys.pem", NULL, "more than one private key");
	bundle_refused("no-key.pem", NULL, "no private key");
	bundle_refused("no-cert.pem", NULL, "no certificate");
	bundle_refused("unrelated.pem", NULL, "not in the chain");
	bundle_refused("forged-chain.pem", NULL, "is not signed by");
	bundle_refused("truncated.pem", NULL, "truncated");
	bundle_refused("garbage.bin", NULL, "neither PKCS#12 nor PEM");
	bundle_refused("garbage.txt", PASS, "neither PKCS#12 nor PEM");
	bundle_refused("empty", NULL, "empty");
	bundle_refused("leaf.csr", NULL, "CERTIFICATE REQUEST");
}

static void answer_ok(const char *name, int nchain)
{
	struct secbuf *data = file(name);
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	char err[256] = "";
	int r;

	r = certs_answer_parse(secbuf_data(data), secbuf_len(data), &leaf, &chain, err,
			       sizeof(err));
	if (r != 0)
		fail_msg("%s: %d %s", name, r, err);
	assert_cn(leaf, "web.example");
	assert_non_null(chain);
	assert_int_equal(sk_X509_num(chain), nchain);
	if (nchain > 0)
		assert_cn(sk_X509_value(chain, 0), "Test Intermediate");
	if (nchain > 1)
		assert_cn(sk_X509_value(chain, 1), "Test Root");
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	secbuf_free(data);
}

static void answer_refused(const char *name, const char *why)
{
	struct secbuf *data = file(name);
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	char err[256] = "";
	int r;

	r = certs_answer_parse(secbuf_data(data), secbuf_len(data), &leaf, &chain, err,
			       sizeof(err));
	if (r != -EINVAL)
		fail_msg("%s: %d, expected -EINVAL (%s)", name, r, err);
	if (!strstr(err, why))
		fail_msg("%s: \"%s\" lacks \"%s\"", name, err, why);
	assert_null(strchr(err, '\n'));
	assert_null(leaf);
	assert_null(chain);
	secbuf_free(data);
}

static void test_answer(void **state)
{
	(void)state;
	answer_ok("leaf.pem", 0);
	answer_ok("leaf.der", 0);
	answer_ok("fullchain.pem", 2);
	answer_ok("answer-unordered.pem", 2);
	answer_ok("answer.p7b", 2);
	answer_ok("answer.p7b.der", 2);
}

static void test_answer_refused(void **state)
{
	(void)state;
	answer_refused("answer-two-leaves.pem", "more than one chain");
	answer_refused("answer-with-key.pem", "private key");
	answer_refused("answer-forged-chain.pem", "is not signed by");
	answer_refused("answer-truncated.der", "truncated");
	answer_refused("truncated.pem", "truncated");
	answer_refused("garbage.bin", "neither");
	answer_refused("garbage.txt", "neither");
	answer_refused("empty", "empty");
	answer_refused("chain-aes.p12", "neither");
	answer_refused("leaf.csr", "CERTIFICATE REQUEST");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkcs12), cmocka_unit_test(test_pkcs12_refused),
		cmocka_unit_test(test_pem),    cmocka_unit_test(test_pem_refused),
		cmocka_unit_test(test_answer), cmocka_unit_test(test_answer_refused),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

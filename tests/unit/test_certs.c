/*
 * Unit tests of the certificates (src/certs, src/vault/vault_certs.c) on a real vault with
 * an embedded SoftHSM2 token: the files each version has; an exportable certificate's
 * key.pem is the private key of its cert.pem (and a renewal with the key kept serves the
 * same key); the lifetime check renews a self-signed certificate past its renew-at point
 * (new version, new serial, new key) and not before, one a vault CA issued by that CA,
 * and for an outside issuer starts a pending renewal (csr.pem only) that the CA's answer
 * completes, each recorded under the rule "lifetime"; the states at their boundaries; a
 * --renew-at window as long as the validity refused; an imported certificate's subject
 * (UTF-8, '/' in a value, a multi-valued RDN) asked for unchanged by its renewal.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs.h"
#include "certs_import.h"
#include "testutil.h"
#include "timeutil.h"
#include "vault.h"
#include "vault_certs.h"

#define DAY (86400LL * 1000000)

static void create(struct test_vault *f, const char *name, const struct certs_request *rq)
{
	struct vault_act a;
	uint64_t version = 0;
	char err[256] = "";

	test_admin_act(&a, "cert-create", name);
	if (vault_cert_create(f->v, &a, name, rq, &version, err, sizeof(err)) != 0)
		fail_msg("cert create %s: %s", name, err);
	assert_int_equal(version, 1);
}

static X509 *read_cert(struct test_vault *f, const char *name, uint64_t version)
{
	struct secbuf *pem = NULL;
	X509 *x;
	BIO *b;

	assert_int_equal(certs_file_read(f->v->store, name, version, CERTS_CERT, &pem), 0);
	b = BIO_new_mem_buf(secbuf_data(pem), (int)secbuf_len(pem));
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	secbuf_free(pem);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *read_key(struct test_vault *f, const char *name, uint64_t version)
{
	struct secbuf *pem = NULL;
	EVP_PKEY *k;
	BIO *b;

	assert_int_equal(certs_file_read(f->v->store, name, version, CERTS_KEY, &pem), 0);
	assert_non_null(
		memmem(secbuf_data(pem), secbuf_len(pem), "-----BEGIN PRIVATE KEY-----", 27));
	b = BIO_new_mem_buf(secbuf_data(pem), (int)secbuf_len(pem));
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	secbuf_free(pem);
	assert_non_null(k);
	return k;
}

static void test_exportable_key(void **state)
{
	struct test_vault *f = *state;
	struct certs_request rq = { .subject = "/CN=exp", .type = "rsa-2048", .exportable = 1 };
	struct certs_request ec = { .subject = "/CN=ec", .type = "ec-p384" };
	struct secbuf *pem = NULL;
	struct vault_act a;
	uint64_t version = 0;
	unsigned mask = 0;
	char err[256] = "";
	int pending = 0;
	X509 *x;
	EVP_PKEY *k;

	create(f, "exp", &rq);
	assert_int_equal(certs_version_files(f->v->store, "exp", 0, &mask, NULL), 0);
	assert_int_equal(mask, CERTS_FILE_BIT(CERTS_CERT) | CERTS_FILE_BIT(CERTS_CHAIN) |
				       CERTS_FILE_BIT(CERTS_FULLCHAIN) | CERTS_FILE_BIT(CERTS_KEY));
	x = read_cert(f, "exp", 0);
	k = read_key(f, "exp", 0);
	assert_int_equal(X509_check_private_key(x, k), 1);
	X509_free(x);
	/* a renewal that keeps the key serves the same key.pem */
	test_admin_act(&a, "cert-renew", "exp");
	assert_int_equal(vault_cert_renew(f->v, &a, "exp", CERTS_REUSE_KEY, &version, &pending, err,
					  sizeof(err)),
			 0);
	assert_int_equal(version, 2);
	x = read_cert(f, "exp", 2);
	assert_int_equal(X509_check_private_key(x, k), 1);
	X509_free(x);
	EVP_PKEY_free(k);
	/* without --exportable there is no key.pem */
	create(f, "ec", &ec);
	assert_int_equal(certs_version_files(f->v->store, "ec", 0, &mask, NULL), 0);
	assert_int_equal(mask & CERTS_FILE_BIT(CERTS_KEY), 0);
	assert_int_equal(certs_file_read(f->v->store, "ec", 0, CERTS_KEY, &pem), -ENOENT);
	assert_int_equal(certs_file_read(f->v->store, "ec", 0, CERTS_CSR, &pem), -ENOENT);
}

static void test_lifetime(void **state)
{
	struct test_vault *f = *state;
	struct certs_request self = { .subject = "/CN=self",
				      .validity = 10 * 86400,
				      .renew_kind = CERTS_RENEW_PERCENT,
				      .renew_value = 50 };
	struct certs_request ext = { .subject = "/CN=ext",
				     .issuer = "unknown",
				     .validity = 10 * 86400,
				     .renew_kind = CERTS_RENEW_DAYS,
				     .renew_value = 2 * 86400 };
	struct certs_request plain = { .subject = "/CN=plain", .validity = 10 * 86400 };
	int64_t now = time_now_us();
	unsigned renewed = 9, pending = 9, mask = 0;
	struct certs_info c;
	X509 *x1, *x2;

	create(f, "self", &self);
	create(f, "plain", &plain);
	create(f, "ext", &ext); /* pending: not renewed while it waits */
	assert_int_equal(certs_get(f->v->store, "self", 0, &c), 0);
	assert_int_equal(certs_state_of(&c, now / 1000000), CERTS_EXPIRING); /* 10 < 30 days */
	assert_int_equal(certs_state_of(&c, c.not_after), CERTS_EXPIRED);
	/* 4 days on: before the 50% point, nothing is due */
	assert_int_equal(vault_certs_lifetime(f->v, now + 4 * DAY, &renewed, &pending), 0);
	assert_int_equal(renewed, 0);
	assert_int_equal(pending, 0);
	/* 6 days on: the self-signed one is renewed, with a new serial and a new key */
	assert_int_equal(vault_certs_lifetime(f->v, now + 6 * DAY, &renewed, &pending), 0);
	assert_int_equal(renewed, 1);
	assert_int_equal(pending, 0);
	assert_int_equal(certs_get(f->v->store, "self", 0, &c), 0);
	assert_int_equal(c.current, 2);
	x1 = read_cert(f, "self", 1);
	x2 = read_cert(f, "self", 2);
	assert_int_not_equal(
		ASN1_INTEGER_cmp(X509_get0_serialNumber(x1), X509_get0_serialNumber(x2)), 0);
	assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(x1), X509_get0_pubkey(x2)), 1);
	X509_free(x1);
	X509_free(x2);
	assert_int_equal(certs_get(f->v->store, "plain", 0, &c), 0);
	assert_int_equal(c.current, 1); /* no renew-at: never renewed on its own */
	(void)mask;
}

/* The outside CA's answer to @name's pending request: a certificate for its key. */
static void merge_outside(struct test_vault *f, const char *name, uint64_t version, int days)
{
	EVP_PKEY *ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct secbuf *pem = NULL;
	struct vault_act a;
	unsigned char *der = NULL;
	uint64_t merged = 0;
	char err[256] = "";
	X509_REQ *req;
	X509 *x = X509_new();
	BIO *b;
	int n;

	assert_int_equal(certs_file_read(f->v->store, name, version, CERTS_CSR, &pem), 0);
	b = BIO_new_mem_buf(secbuf_data(pem), (int)secbuf_len(pem));
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	secbuf_free(pem);
	assert_non_null(req);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_subject_name(x, X509_REQ_get_subject_name(req));
	X509_set_issuer_name(x, X509_REQ_get_subject_name(req));
	X509_set_pubkey(x, X509_REQ_get0_pubkey(req));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
	assert_true(X509_sign(x, ca, EVP_sha256()) > 0);
	n = i2d_X509(x, &der);
	test_admin_act(&a, "cert-merge", name);
	if (vault_cert_merge(f->v, &a, name, der, (size_t)n, &merged, err, sizeof(err)) != 0)
		fail_msg("merge: %s", err);
	assert_int_equal(merged, version);
	OPENSSL_free(der);
	X509_free(x);
	X509_REQ_free(req);
	EVP_PKEY_free(ca);
}

static void test_lifetime_issuers(void **state)
{
	struct test_vault *f = *state;
	struct certs_request ca = { .subject = "/CN=ca", .is_ca = 1, .validity = 100 * 86400 };
	struct certs_request leaf = { .subject = "/CN=leaf",
				      .issuer = "ca",
				      .validity = 10 * 86400,
				      .renew_kind = CERTS_RENEW_DAYS,
				      .renew_value = 3 * 86400 };
	struct certs_request ext = { .subject = "/CN=ext",
				     .issuer = "unknown",
				     .renew_kind = CERTS_RENEW_PERCENT,
				     .renew_value = 50 };
	int64_t now = time_now_us();
	unsigned renewed = 0, pending = 0, mask = 0;
	struct certs_info c;
	X509 *x;
	char trail[PATH_MAX + 16];

	create(f, "ca", &ca);
	create(f, "leaf", &leaf);
	create(f, "ext", &ext);
	merge_outside(f, "ext", 1, 10);
	assert_int_equal(certs_get(f->v->store, "ext", 0, &c), 0);
	assert_int_equal(c.current, 1);
	assert_int_equal(c.pending, 0);
	/* 8 days on: the vault CA's leaf renewed by the CA, the outside one pending */
	assert_int_equal(vault_certs_lifetime(f->v, now + 8 * DAY, &renewed, &pending), 0);
	assert_int_equal(renewed, 1);
	assert_int_equal(pending, 1);
	assert_int_equal(certs_get(f->v->store, "leaf", 0, &c), 0);
	assert_int_equal(c.current, 2);
	assert_string_equal(c.issuer, "ca");
	x = read_cert(f, "leaf", 2);
	{
		X509 *cax = read_cert(f, "ca", 0);

		assert_int_equal(X509_verify(x, X509_get0_pubkey(cax)), 1);
		X509_free(cax);
	}
	X509_free(x);
	assert_int_equal(certs_get(f->v->store, "ext", 0, &c), 0);
	assert_int_equal(c.current, 1); /* still served until the answer comes */
	assert_int_equal(c.pending, 2);
	assert_int_equal(certs_version_files(f->v->store, "ext", 2, &mask, NULL), 0);
	assert_int_equal(mask, CERTS_FILE_BIT(CERTS_CSR));
	/* a pending one is not started again (the leaf, made at the real now, is due again
	 * at that time) */
	assert_int_equal(vault_certs_lifetime(f->v, now + 8 * DAY, &renewed, &pending), 0);
	assert_int_equal(pending, 0);
	assert_int_equal(certs_get(f->v->store, "ext", 0, &c), 0);
	assert_int_equal(c.pending, 2);
	merge_outside(f, "ext", 2, 10);
	assert_int_equal(certs_get(f->v->store, "ext", 0, &c), 0);
	assert_int_equal(c.current, 2);
	assert_int_equal(c.pending, 0);
	snprintf(trail, sizeof(trail), "%s/audit.log", f->dir);
	assert_true(test_file_contains(trail, "\"rule\":\"lifetime\"", 17) > 0);
}

/* A renew-at window as long as the validity would make every renewal due again at once:
 * the lifetime check would make a new version and a new token key at every interval. */
static void test_renew_window(void **state)
{
	struct test_vault *f = *state;
	struct certs_request whole = { .subject = "/CN=whole",
				       .validity = 10 * 86400,
				       .renew_kind = CERTS_RENEW_DAYS,
				       .renew_value = 30 * 86400 };
	struct certs_request dflt = { .subject = "/CN=dflt",
				      .renew_kind = CERTS_RENEW_DAYS,
				      .renew_value = 365 * 86400 };
	struct certs_request part = { .subject = "/CN=part",
				      .validity = 10 * 86400,
				      .renew_kind = CERTS_RENEW_DAYS,
				      .renew_value = 9 * 86400 };
	int64_t now = time_now_us();
	unsigned renewed = 9, pending = 9;
	struct certs_info c;
	struct vault_act a;
	uint64_t version = 0;
	char err[256] = "";

	test_admin_act(&a, "cert-create", "whole");
	assert_int_equal(vault_cert_create(f->v, &a, "whole", &whole, &version, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "--renew-at"));
	assert_int_equal(certs_get(f->v->store, "whole", 0, &c), -ENOENT);
	err[0] = '\0';
	test_admin_act(&a, "cert-create", "dflt");
	assert_int_equal(vault_cert_create(f->v, &a, "dflt", &dflt, &version, err, sizeof(err)),
			 -EINVAL);
	/* a window inside the validity: renewed when due, and the new version is not due */
	create(f, "part", &part);
	assert_int_equal(vault_certs_lifetime(f->v, now + 2 * DAY, &renewed, &pending), 0);
	assert_int_equal(renewed, 1);
	assert_int_equal(vault_certs_lifetime(f->v, time_now_us(), &renewed, &pending), 0);
	assert_int_equal(renewed, 0);
	assert_int_equal(certs_get(f->v->store, "part", 0, &c), 0);
	assert_int_equal(c.current, 2);
}

/* Failed records of cert-renew of certs/@name in the trail. */
static int renew_failures(struct test_vault *f, const char *name)
{
	char trail[PATH_MAX + 16], needle[256], *line = NULL;
	size_t cap = 0;
	int n = 0;
	FILE *fp;

	snprintf(trail, sizeof(trail), "%s/audit.log", f->dir);
	snprintf(needle, sizeof(needle), "\"op\":\"cert-renew\",\"path\":\"certs/%s\"", name);
	fp = fopen(trail, "r");
	assert_non_null(fp);
	while (getline(&line, &cap, fp) > 0)
		if (strstr(line, needle) && !strstr(line, "\"result\":0"))
			n++;
	free(line);
	fclose(fp);
	return n;
}

/* A renewal that cannot succeed (its vault CA deleted) is tried, and its failure
 * recorded, once a day: not at every lifetime check, however short the interval. */
static void test_renew_failed_daily(void **state)
{
	struct test_vault *f = *state;
	struct certs_request ca = { .subject = "/CN=ca", .is_ca = 1, .validity = 100 * 86400 };
	struct certs_request leaf = { .subject = "/CN=leaf",
				      .issuer = "ca",
				      .validity = 10 * 86400,
				      .renew_kind = CERTS_RENEW_DAYS,
				      .renew_value = 3 * 86400 };
	/* noon of a day past the renew-at point: the checks below stay inside that day */
	int64_t at = (time_now_us() / DAY + 8) * DAY + DAY / 2;
	unsigned renewed = 9, pending = 9;
	struct certs_info c;
	struct vault_act a;

	create(f, "ca", &ca);
	create(f, "leaf", &leaf);
	test_admin_act(&a, "cert-delete", "ca");
	assert_int_equal(vault_cert_delete(f->v, &a, "ca"), 0);
	assert_true(vault_certs_lifetime(f->v, at, &renewed, &pending) < 0);
	assert_int_equal(renewed, 0);
	assert_int_equal(renew_failures(f, "leaf"), 1);
	for (int i = 1; i <= 5; i++) /* the rest of that day */
		assert_int_equal(vault_certs_lifetime(f->v, at + i * 1000000, &renewed, &pending),
				 0);
	assert_int_equal(renew_failures(f, "leaf"), 1);
	assert_true(vault_certs_lifetime(f->v, at + DAY, &renewed, &pending) < 0);
	assert_int_equal(renew_failures(f, "leaf"), 2);
	/* its CA back: the next day's check renews it */
	test_admin_act(&a, "cert-recover", "ca");
	assert_int_equal(vault_cert_recover(f->v, &a, "ca"), 0);
	assert_int_equal(vault_certs_lifetime(f->v, at + 2 * DAY, &renewed, &pending), 0);
	assert_int_equal(renewed, 1);
	assert_int_equal(certs_get(f->v->store, "leaf", 0, &c), 0);
	assert_int_equal(c.current, 2);
}

/* An imported certificate's subject as its renewal asks for it again: a '/' inside a value,
 * UTF-8 and a multi-valued RDN come back as they were, not as X509_NAME_oneline writes them
 * (which the -subj reader cannot read back). */
static void test_import_subject_renewed(void **state)
{
	static const unsigned char org[] = "Soci\xc3\xa9t\xc3\xa9 A/B";
	struct test_vault *f = *state;
	struct certs_import_options o = { 0 };
	struct certs_bundle b = { 0 };
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_NAME *n = X509_NAME_new();
	struct secbuf *pem = NULL;
	struct vault_act a;
	uint64_t version = 0;
	char err[256] = "";
	int pending = 0;
	X509_REQ *req;
	BIO *bio;

	assert_non_null(key);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, org, -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
						    (const unsigned char *)"web+1", -1, -1, 0),
			 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
						    (const unsigned char *)"ops\\x", -1, -1, 1),
			 1);
	b.leaf = X509_new();
	assert_int_equal(X509_set_version(b.leaf, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(b.leaf), 9);
	X509_set_subject_name(b.leaf, n);
	X509_set_issuer_name(b.leaf, n);
	X509_set_pubkey(b.leaf, key);
	X509_gmtime_adj(X509_getm_notBefore(b.leaf), 0);
	X509_gmtime_adj(X509_getm_notAfter(b.leaf), 90L * 86400);
	assert_true(X509_sign(b.leaf, key, EVP_sha256()) > 0);
	b.key = key;
	if (certs_import(f->v->store, f->v->hsm, "imp", &b, &o, time_now_us(), &version, err,
			 sizeof(err)) != 0)
		fail_msg("import: %s", err);
	test_admin_act(&a, "cert-renew", "imp");
	if (vault_cert_renew(f->v, &a, "imp", 0, &version, &pending, err, sizeof(err)) != 0)
		fail_msg("renew: %s", err);
	assert_int_equal(pending, 1);
	assert_int_equal(certs_file_read(f->v->store, "imp", version, CERTS_CSR, &pem), 0);
	bio = BIO_new_mem_buf(secbuf_data(pem), (int)secbuf_len(pem));
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	secbuf_free(pem);
	assert_non_null(req);
	assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(req), n), 0);
	X509_REQ_free(req);
	X509_NAME_free(n);
	certs_bundle_clear(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exportable_key, test_vault_setup,
						test_vault_teardown),
		cmocka_unit_test_setup_teardown(test_lifetime, test_vault_setup,
						test_vault_teardown),
		cmocka_unit_test_setup_teardown(test_lifetime_issuers, test_vault_setup,
						test_vault_teardown),
		cmocka_unit_test_setup_teardown(test_renew_window, test_vault_setup,
						test_vault_teardown),
		cmocka_unit_test_setup_teardown(test_renew_failed_daily, test_vault_setup,
						test_vault_teardown),
		cmocka_unit_test_setup_teardown(test_import_subject_renewed, test_vault_setup,
						test_vault_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * keys: users' keys (keys.h). The token does every private-key and secret-key operation;
 * this file hashes, pads, encodes and decodes around it with OpenSSL's EVP interfaces,
 * and keeps the vault's record of each key in the store. It never holds a private or
 * secret key, except an imported one on its way into the token — read into secbufs and
 * wiped at once.
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "keys_internal.h"
#include "keys_pem.h"
#include "log.h"
#include "names.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PEM_MAX (64 * 1024)

static const struct keys_type_info types[] = {
	{ { "ec-p256", KEY_BIT(KEY_SIGN) }, HSM_KEY_EC, 256, "prime256v1" },
	{ { "ec-p384", KEY_BIT(KEY_SIGN) }, HSM_KEY_EC, 384, "secp384r1" },
	{ { "rsa-2048", 0x1f }, HSM_KEY_RSA, 2048, NULL },
	{ { "rsa-3072", 0x1f }, HSM_KEY_RSA, 3072, NULL },
	{ { "rsa-4096", 0x1f }, HSM_KEY_RSA, 4096, NULL },
	{ { "aes-256", 0x1f & ~KEY_BIT(KEY_SIGN) }, HSM_KEY_AES, 256, NULL },
};

static const char *const op_names[KEY_OP_COUNT] = {
	[KEY_SIGN] = "sign", [KEY_ENCRYPT] = "encrypt", [KEY_DECRYPT] = "decrypt",
	[KEY_WRAP] = "wrap", [KEY_UNWRAP] = "unwrap",
};

const struct keys_type_info *keys_type_info(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (strcmp(types[i].t.name, name) == 0)
			return &types[i];
	return NULL;
}

const struct keys_type *keys_type_find(const char *name)
{
	const struct keys_type_info *t = keys_type_info(name);

	return t ? &t->t : NULL;
}

const char *keys_op_name(enum key_op op)
{
	return op < KEY_OP_COUNT ? op_names[op] : "?";
}

int keys_op_from_name(const char *name)
{
	for (int i = 0; i < KEY_OP_COUNT; i++)
		if (strcmp(op_names[i], name) == 0)
			return i;
	return -1;
}

int keys_ops_parse(const char *list, unsigned *ret)
{
	char buf[128], *save = NULL, *w;
	unsigned ops = 0;

	if (strcmp(list, "*") == 0) {
		*ret = (1u << KEY_OP_COUNT) - 1;
		return 0;
	}
	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return -EINVAL;
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int op = keys_op_from_name(w);

		if (op < 0)
			return -EINVAL;
		ops |= KEY_BIT(op);
	}
	if (!ops)
		return -EINVAL;
	*ret = ops;
	return 0;
}

static unsigned hsm_usage(const struct keys_type_info *t, unsigned ops)
{
	unsigned u = 0;

	if (ops & KEY_BIT(KEY_SIGN))
		u |= HSM_USE_SIGN;
	if (t->kind == HSM_KEY_RSA) {
		/* encrypt and wrap use the public key, outside the token */
		if (ops & (KEY_BIT(KEY_DECRYPT) | KEY_BIT(KEY_UNWRAP)))
			u |= HSM_USE_DECRYPT;
	} else if (t->kind == HSM_KEY_AES) {
		if (ops & KEY_BIT(KEY_ENCRYPT))
			u |= HSM_USE_ENCRYPT;
		if (ops & KEY_BIT(KEY_DECRYPT))
			u |= HSM_USE_DECRYPT;
		if (ops & KEY_BIT(KEY_WRAP))
			u |= HSM_USE_WRAP;
		if (ops & KEY_BIT(KEY_UNWRAP))
			u |= HSM_USE_UNWRAP;
	}
	return u;
}

static void label_for(struct store *s, const char *name, uint64_t version, char *buf, size_t len)
{
	const uint8_t *id = store_vault_id(s);

	snprintf(buf, len, "vaultfs-%02x%02x%02x%02x%02x%02x%02x%02x-%s@%llu", id[0], id[1], id[2],
		 id[3], id[4], id[5], id[6], id[7], name, (unsigned long long)version);
}

/* SubjectPublicKeyInfo DER of an EVP_PKEY, malloc'ed. */
static int spki_der(EVP_PKEY *pkey, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der); /* before der is read: argument order is unspecified */
	int r = crypto_der_copy(der, n, ret, ret_len);

	OPENSSL_free(der);
	return r;
}

/* The token's public components as SubjectPublicKeyInfo DER. */
static int public_der(const struct keys_type_info *t, const struct hsm_public *p, uint8_t **ret,
		      size_t *ret_len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	int r = -EIO;

	if (!bld)
		return -ENOMEM;
	if (t->kind == HSM_KEY_RSA) {
		n = BN_bin2bn(p->a, (int)p->a_len, NULL);
		e = BN_bin2bn(p->b, (int)p->b_len, NULL);
		if (!n || !e || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
	} else {
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, t->group,
						     0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, p->a, p->a_len))
			goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, t->kind == HSM_KEY_RSA ? "RSA" : "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	r = spki_der(pkey, ret, ret_len);
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

/* A new version's objects in the token: made, with a fresh id; public half in @v. */
static int generate(struct store *s, struct hsm *h, const char *name, uint64_t version,
		    const struct keys_type_info *t, unsigned ops, struct store_key_version *v)
{
	struct hsm_key_spec spec = { .kind = t->kind, .bits = t->bits };
	struct hsm_public pub = { 0 };
	char label[256];
	int r;

	spec.usage = hsm_usage(t, ops);
	label_for(s, name, version, label, sizeof(label));
	spec.label = label;
	r = crypto_random(spec.id, sizeof(spec.id));
	if (r < 0)
		return r;
	memset(v, 0, sizeof(*v));
	memcpy(v->token_id, spec.id, HSM_KEY_ID_LEN);
	r = hsm_key_generate(h, &spec, &pub);
	if (r < 0)
		return r;
	if (t->kind != HSM_KEY_AES) {
		r = public_der(t, &pub, &v->public_der, &v->public_len);
		hsm_public_clear(&pub);
		if (r < 0)
			(void)hsm_key_destroy(h, spec.id);
	}
	return r;
}

static int check_options(const struct keys_type_info *t, const struct keys_options *o,
			 struct store_key *k)
{
	unsigned ops = o->ops ? o->ops : t->t.ops;

	if ((ops & ~t->t.ops) || (o->pss && t->kind != HSM_KEY_RSA) || o->rotate_every < 0 ||
	    o->expires < 0)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	snprintf(k->type, sizeof(k->type), "%s", t->t.name);
	snprintf(k->alg, sizeof(k->alg), "%s",
		 t->kind == HSM_KEY_EC	  ? "ecdsa"
		 : t->kind == HSM_KEY_AES ? "gcm"
		 : o->pss		  ? "pss"
					  : "pkcs1");
	k->ops = ops;
	k->rotate_every = o->rotate_every;
	k->expires = o->expires;
	return 0;
}

int keys_create(struct store *s, struct hsm *h, const char *name, const struct keys_options *o,
		int64_t now)
{
	const struct keys_type_info *t = o->type ? keys_type_info(o->type) : NULL;
	struct store_key_version v;
	struct store_key k;
	int r;

	if (!t || name_single_check(name) < 0 || check_options(t, o, &k) < 0)
		return -EINVAL;
	/* a soft-deleted key holds its name until it is purged */
	r = store_key_get_any(s, name, &(struct store_key){ 0 });
	if (r != -ENOENT)
		return r == 0 ? -EEXIST : r;
	r = generate(s, h, name, 1, t, k.ops, &v);
	if (r < 0)
		return r;
	r = store_key_add(s, name, &k, &v, now);
	if (r < 0)
		(void)hsm_key_destroy(h, v.token_id);
	store_key_version_clear(&v);
	return r;
}

int keys_rotate(struct store *s, struct hsm *h, const char *name, int64_t now,
		uint64_t *ret_version)
{
	const struct keys_type_info *t;
	struct store_key_version v;
	struct store_key k;
	int r;

	r = store_key_get(s, name, &k);
	if (r < 0)
		return r;
	t = keys_type_info(k.type);
	if (!t)
		return -EUCLEAN;
	r = generate(s, h, name, k.current + 1, t, k.ops, &v);
	if (r < 0)
		return r;
	r = store_key_add_version(s, name, &v, now, ret_version);
	if (r < 0)
		(void)hsm_key_destroy(h, v.token_id);
	store_key_version_clear(&v);
	return r;
}

int keys_delete(struct store *s, const char *name, int64_t now)
{
	return store_key_soft_delete(s, name, now);
}

int keys_recover(struct store *s, const char *name)
{
	return store_key_recover(s, name);
}

int keys_set_lifetime(struct store *s, const char *name, int64_t rotate_every_s, int64_t expires_us)
{
	return store_key_set_lifetime(s, name, rotate_every_s, expires_us);
}

int keys_purge(struct store *s, struct hsm *h, const char *name)
{
	uint8_t(*ids)[STORE_KEY_ID_LEN] = NULL;
	size_t n = 0;
	int r, left = 0;

	r = store_key_delete(s, name, &ids, &n);
	/* Forgotten first: a key the token still holds is harmless; a record of one that is
	 * gone is not. */
	for (size_t i = 0; r >= 0 && i < n; i++) {
		int d = hsm_key_destroy(h, ids[i]);

		if (d < 0) {
			log_debug("Key \"%s\": version %zu's token objects: %s", name, i + 1,
				  strerror(-d));
			left++;
		}
	}
	free(ids);
	return r < 0 ? r : left;
}

int keys_public_pem(struct store *s, const char *name, uint64_t version, char **ret,
		    size_t *ret_len)
{
	struct store_key_version v;
	const unsigned char *p;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem;
	int r;

	r = store_key_version_get(s, name, version, &v);
	if (r < 0)
		return r;
	if (!v.public_der) {
		r = -ENODATA;
		goto out;
	}
	p = v.public_der;
	pkey = d2i_PUBKEY(NULL, &p, (long)v.public_len);
	bio = BIO_new(BIO_s_mem());
	r = -EIO;
	if (!pkey || !bio || PEM_write_bio_PUBKEY(bio, pkey) != 1)
		goto out;
	BIO_get_mem_ptr(bio, &mem);
	*ret = malloc(mem->length);
	if (!*ret) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(*ret, mem->data, mem->length);
	*ret_len = mem->length;
	r = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	store_key_version_clear(&v);
	return r;
}

/* ---- import ---- */

/* A BIGNUM parameter of @pkey as a big-endian secbuf (@pad: at least that many bytes). */
static int bn_param(EVP_PKEY *pkey, const char *name, size_t pad, struct secbuf **ret)
{
	BIGNUM *bn = NULL;
	struct secbuf *b = NULL;
	size_t len;
	int r;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		return -EINVAL;
	len = (size_t)BN_num_bytes(bn);
	if (len < pad)
		len = pad;
	r = secbuf_new(len ? len : 1, &b);
	if (r == 0)
		r = secbuf_resize(b, len);
	if (r == 0 && BN_bn2binpad(bn, secbuf_mutable_data(b), (int)len) != (int)len)
		r = -EIO;
	BN_clear_free(bn);
	if (r < 0) {
		secbuf_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

static int import_rsa(struct hsm *h, const struct hsm_key_spec *spec, EVP_PKEY *pkey)
{
	static const char *const names[8] = {
		OSSL_PKEY_PARAM_RSA_N,	       OSSL_PKEY_PARAM_RSA_E,
		OSSL_PKEY_PARAM_RSA_D,	       OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	struct secbuf *parts[8] = { 0 };
	struct hsm_rsa_parts k;
	int r = 0;

	for (int i = 0; i < 8 && r == 0; i++)
		r = bn_param(pkey, names[i], 0, &parts[i]);
	if (r == 0) {
		k = (struct hsm_rsa_parts){ parts[0], parts[1], parts[2], parts[3],
					    parts[4], parts[5], parts[6], parts[7] };
		r = hsm_key_import_rsa(h, spec, &k);
	}
	for (int i = 0; i < 8; i++)
		secbuf_free(parts[i]);
	return r;
}

static int import_ec(struct hsm *h, const struct hsm_key_spec *spec, EVP_PKEY *pkey)
{
	struct secbuf *d = NULL;
	int r;

	r = bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, spec->bits / 8, &d);
	if (r == 0)
		r = secbuf_len(d) == spec->bits / 8 ? hsm_key_import_ec(h, spec, d) : -EINVAL;
	secbuf_free(d);
	return r;
}

/* The type of @pkey, if vaultfs keeps such keys. */
static const struct keys_type_info *type_of(EVP_PKEY *pkey)
{
	char group[64];
	char name[16];

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		snprintf(name, sizeof(name), "rsa-%d", EVP_PKEY_get_bits(pkey));
		return keys_type_info(name);
	}
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   NULL) == 1) {
		for (size_t i = 0; i < ARRAY_SIZE(types); i++)
			if (types[i].group && strcmp(types[i].group, group) == 0)
				return &types[i];
	}
	return NULL;
}

static int read_pem(const char *path, struct secbuf **ret, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(errno));
		return r;
	}
	r = secbuf_read_fd(fd, PEM_MAX, ret);
	close(fd);
	if (r < 0)
		snprintf(err, errlen, "cannot read \"%s\": %s", path,
			 r == -EFBIG ? "too large for a key" : strerror(-r));
	return r;
}

int keys_import(struct store *s, struct hsm *h, const char *name, const char *pem,
		const struct secbuf *passphrase, const struct keys_options *o, int64_t now,
		char *err, size_t errlen)
{
	struct secbuf *text = NULL;
	struct store_key_version v = { 0 };
	struct hsm_key_spec spec = { 0 };
	const struct keys_type_info *t;
	struct store_key k;
	EVP_PKEY *pkey = NULL;
	char label[256];
	int r;

	if (name_single_check(name) < 0) {
		snprintf(err, errlen, "invalid key name");
		return -EINVAL;
	}
	r = store_key_get_any(s, name, &k);
	if (r != -ENOENT) {
		snprintf(err, errlen, "%s",
			 r != 0	     ? strerror(-r)
			 : k.deleted ? "a deleted key holds that name (recover or purge it)"
				     : "a key of that name exists");
		return r == 0 ? -EEXIST : r;
	}
	r = read_pem(pem, &text, err, errlen);
	if (r < 0)
		return r;
	r = keys_pem_read(text, passphrase, pem, &pkey, err, errlen);
	if (r < 0)
		goto out;
	t = type_of(pkey);
	if (!t) {
		r = -EINVAL;
		snprintf(err, errlen,
			 "\"%s\": only EC P-256, P-384 and RSA 2048, 3072, 4096 keys "
			 "are kept",
			 pem);
		goto out;
	}
	if ((o->type && strcmp(o->type, t->t.name) != 0) || check_options(t, o, &k) < 0) {
		r = -EINVAL;
		snprintf(err, errlen, "\"%s\" is an %s key: --type or --ops do not fit it", pem,
			 t->t.name);
		goto out;
	}
	spec.kind = t->kind;
	spec.bits = t->bits;
	spec.usage = hsm_usage(t, k.ops);
	label_for(s, name, 1, label, sizeof(label));
	spec.label = label;
	r = crypto_random(spec.id, sizeof(spec.id));
	if (r < 0)
		goto out;
	memcpy(v.token_id, spec.id, HSM_KEY_ID_LEN);
	r = spki_der(pkey, &v.public_der, &v.public_len);
	if (r < 0)
		goto out;
	r = t->kind == HSM_KEY_RSA ? import_rsa(h, &spec, pkey) : import_ec(h, &spec, pkey);
	if (r < 0) {
		snprintf(err, errlen, "the token refused the key: %s", strerror(-r));
		goto out;
	}
	r = store_key_add(s, name, &k, &v, now);
	if (r < 0) {
		(void)hsm_key_destroy(h, spec.id);
		snprintf(err, errlen, "cannot record the key: %s", strerror(-r));
	}
out:
	store_key_version_clear(&v);
	EVP_PKEY_free(pkey);
	secbuf_free(text);
	return r;
}

/* ---- versions made for a certificate (certs.h) ---- */

int keys_make_version(struct store *s, struct hsm *h, const char *name, uint64_t version,
		      const char *type, EVP_PKEY *pkey, struct store_key *ret_k,
		      struct store_key_version *ret_v)
{
	const struct keys_type_info *t = keys_type_info(type);
	struct store_key_version v = { 0 };
	struct hsm_key_spec spec = { 0 };
	struct store_key k;
	char label[256];
	int r;

	if (!t || t->kind == HSM_KEY_AES || name_single_check(name) < 0 ||
	    check_options(t, &(struct keys_options){ .type = type }, &k) < 0)
		return -EINVAL;
	if (!pkey) {
		r = generate(s, h, name, version, t, k.ops, &v);
		if (r < 0)
			return r;
		goto done;
	}
	if (type_of(pkey) != t)
		return -EINVAL;
	spec.kind = t->kind;
	spec.bits = t->bits;
	spec.usage = hsm_usage(t, k.ops);
	label_for(s, name, version, label, sizeof(label));
	spec.label = label;
	r = crypto_random(spec.id, sizeof(spec.id));
	if (r < 0)
		return r;
	memcpy(v.token_id, spec.id, HSM_KEY_ID_LEN);
	r = spki_der(pkey, &v.public_der, &v.public_len);
	if (r < 0)
		return r;
	r = t->kind == HSM_KEY_RSA ? import_rsa(h, &spec, pkey) : import_ec(h, &spec, pkey);
	if (r < 0) {
		store_key_version_clear(&v);
		return r;
	}
done:
	v.version = version;
	*ret_k = k;
	*ret_v = v;
	return 0;
}

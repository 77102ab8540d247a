/*
 * keys_run: one key operation — the input as it arrives, then the token's work and the
 * encoding around it (keys.h gives the formats). Sign input is hashed as it comes, so a
 * message may be of any size; every other input is held in a secbuf up to its limit.
 *
 * Every failure of a ciphertext, a tag or a padding is -EBADMSG and nothing else, so that
 * the answer tells an attacker nothing about where it failed.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "keys_header.h"
#include "keys_internal.h"
#include "log.h"
#include "names.h"
#include "oaep.h"
#include "timeutil.h"

#define WRAP_MAX 4096 /* key material: far above any key */

/* SoftHSM2 2.6 refuses OAEP with SHA-256: once the token has, go to raw RSA directly. */
static atomic_int token_lacks_oaep256;

struct keys_input {
	struct store *s;
	char name[NAME_SEGMENT_MAX + 1];
	const struct keys_type_info *t;
	struct store_key key;
	struct store_key_version v; /* the version asked for (or current) */
	int version_fixed; /* NAME@N: decrypt takes no other version */
	enum key_op op;
	EVP_MD_CTX *md; /* sign */
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned digest_len; /* 0 until the input is all hashed */
	uint8_t last_id[STORE_KEY_ID_LEN]; /* of the object last used */
	struct secbuf *buf; /* the rest */
	size_t limit;
	int too_long; /* decrypt, unwrap: more came than any ciphertext has; dropped */
};

void keys_input_free(struct keys_input *in)
{
	if (!in)
		return;
	EVP_MD_CTX_free(in->md);
	secbuf_free(in->buf);
	store_key_version_clear(&in->v);
	free(in);
}

/* The size of an RSA key's modulus, in bytes. */
static size_t rsa_bytes(const struct keys_type_info *t)
{
	return t->bits / 8;
}

int keys_input_new(struct store *s, const char *name, uint64_t version, enum key_op op,
		   struct keys_input **ret)
{
	struct keys_input *in = calloc(1, sizeof(*in));
	int r;

	if (!in)
		return -ENOMEM;
	in->s = s;
	in->op = op;
	snprintf(in->name, sizeof(in->name), "%s", name);
	r = store_key_get(s, name, &in->key);
	if (r < 0)
		goto fail;
	in->t = keys_type_info(in->key.type);
	if (!in->t) {
		r = -EUCLEAN;
		goto fail;
	}
	if (op >= KEY_OP_COUNT || !(in->key.ops & KEY_BIT(op))) {
		r = -EOPNOTSUPP;
		goto fail;
	}
	if (in->key.expires && (op == KEY_SIGN || op == KEY_ENCRYPT || op == KEY_WRAP) &&
	    time_now_us() >= in->key.expires) {
		r = -EKEYEXPIRED; /* decrypt and unwrap go on: old data stays readable */
		goto fail;
	}
	in->version_fixed = version != 0;
	r = store_key_version_get(s, name, version, &in->v);
	if (r < 0)
		goto fail;
	if (in->version_fixed && in->v.version != in->key.current && op != KEY_DECRYPT &&
	    op != KEY_UNWRAP) {
		r = -EOPNOTSUPP; /* an older version only decrypts and unwraps */
		goto fail;
	}
	if (op == KEY_SIGN) {
		const EVP_MD *md = in->t->kind == HSM_KEY_EC && in->t->bits == 384 ? EVP_sha384()
										   : EVP_sha256();

		in->md = EVP_MD_CTX_new();
		if (!in->md || EVP_DigestInit_ex(in->md, md, NULL) != 1) {
			r = -ENOMEM;
			goto fail;
		}
	} else {
		if (in->t->kind == HSM_KEY_RSA)
			in->limit = op == KEY_DECRYPT || op == KEY_UNWRAP ? rsa_bytes(in->t)
									  : rsa_bytes(in->t) - 66;
		else if (op == KEY_WRAP)
			in->limit = WRAP_MAX;
		else if (op == KEY_UNWRAP)
			in->limit = WRAP_MAX + 16;
		else
			in->limit = KEYS_INPUT_MAX +
				    (op == KEY_DECRYPT ? KEYS_AES_HEADER + KEYS_AES_TAG : 0);
		r = secbuf_new(0, &in->buf);
		if (r < 0)
			goto fail;
	}
	*ret = in;
	return 0;
fail:
	keys_input_free(in);
	return r;
}

int keys_input_add(struct keys_input *in, const void *data, size_t len)
{
	if (in->md)
		return EVP_DigestUpdate(in->md, data, len) == 1 ? 0 : -EIO;
	if (in->too_long)
		return 0;
	if (len > in->limit || secbuf_len(in->buf) > in->limit - len) {
		if (in->op != KEY_DECRYPT && in->op != KEY_UNWRAP)
			return -EFBIG;
		/* Longer than any ciphertext the key makes: bad input, told at read as SPEC
		 * says, and nothing more is kept. */
		in->too_long = 1;
		secbuf_truncate(in->buf, 0);
		return 0;
	}
	return secbuf_append(in->buf, data, len);
}

size_t keys_input_held(const struct keys_input *in)
{
	return in ? secbuf_held(in->buf) : 0;
}

size_t keys_input_held_after(const struct keys_input *in, size_t len)
{
	/* as keys_input_add decides: sign keeps a hash, input past the limit is not kept */
	if (!in || !in->buf || in->too_long || len > in->limit ||
	    secbuf_len(in->buf) > in->limit - len)
		return keys_input_held(in);
	return secbuf_held_after(in->buf, secbuf_len(in->buf) + len);
}

static int key_object(struct hsm *h, struct keys_input *in, const struct store_key_version *v,
		      CK_OBJECT_HANDLE *ret)
{
	memcpy(in->last_id, v->token_id, STORE_KEY_ID_LEN);
	/* -ENOKEY: the vault names a key the token does not hold (after a retry, -EUCLEAN:
	 * the vault is damaged, not the input) */
	return hsm_key_object(h, in->t->kind, v->token_id, ret);
}

/* DER ECDSA-Sig-Value from the token's r || s. */
static int ecdsa_der(const uint8_t *rs, size_t len, struct secbuf **ret)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)(len / 2), NULL);
	BIGNUM *s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL);
	unsigned char *der = NULL;
	int n, rc = -EIO;

	if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* the signature owns them */
	n = i2d_ECDSA_SIG(sig, &der);
	if (n > 0)
		rc = secbuf_from(der, (size_t)n, ret);
	OPENSSL_free(der);
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

static int run_sign(struct keys_input *in, struct hsm *h, struct secbuf **ret)
{
	/* DigestInfo of SHA-256 (RFC 8017 9.2, note 1) */
	static const uint8_t sha256_info[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
					       0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
					       0x01, 0x05, 0x00, 0x04, 0x20 };
	uint8_t in_buf[sizeof(sha256_info) + EVP_MAX_MD_SIZE];
	const uint8_t *digest = in->digest;
	uint8_t sig[1024];
	size_t sig_len = sizeof(sig), in_len;
	unsigned dlen;
	CK_OBJECT_HANDLE key;
	enum hsm_sign_mech mech;
	int r;

	if (!in->digest_len && EVP_DigestFinal_ex(in->md, in->digest, &in->digest_len) != 1)
		return -EIO;
	dlen = in->digest_len;
	r = key_object(h, in, &in->v, &key);
	if (r < 0)
		return r;
	if (in->t->kind == HSM_KEY_EC) {
		mech = HSM_SIGN_ECDSA;
		memcpy(in_buf, digest, dlen);
		in_len = dlen;
	} else if (strcmp(in->key.alg, "pss") == 0) {
		mech = HSM_SIGN_RSA_PSS_SHA256;
		memcpy(in_buf, digest, dlen);
		in_len = dlen;
	} else {
		mech = HSM_SIGN_RSA_PKCS1;
		memcpy(in_buf, sha256_info, sizeof(sha256_info));
		memcpy(in_buf + sizeof(sha256_info), digest, dlen);
		in_len = sizeof(sha256_info) + dlen;
	}
	r = hsm_key_sign(h, key, mech, in_buf, in_len, sig, &sig_len);
	if (r < 0)
		return r;
	if (in->t->kind == HSM_KEY_EC)
		return ecdsa_der(sig, sig_len, ret);
	return secbuf_from(sig, sig_len, ret);
}

/*
 * The OAEP label of an RSA operation: wrap and unwrap use KEYS_WRAP_LABEL, encrypt and
 * decrypt the empty label, so that a right to decrypt is no right to unwrap key material
 * (and unwrap never serves what encrypt made).
 */
static size_t rsa_label(const struct keys_input *in, const uint8_t **ret)
{
	if (in->op == KEY_WRAP || in->op == KEY_UNWRAP) {
		*ret = (const uint8_t *)KEYS_WRAP_LABEL;
		return sizeof(KEYS_WRAP_LABEL) - 1;
	}
	*ret = NULL;
	return 0;
}

/* RSA-OAEP (SHA-256) with the public key and the operation's label: what openssl pkeyutl
 * -decrypt with the private key (and -pkeyopt rsa_oaep_label:HEX for wrap) undoes. */
static int rsa_encrypt(struct keys_input *in, struct secbuf **ret)
{
	const unsigned char *p = in->v.public_der;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)in->v.public_len);
	EVP_PKEY_CTX *ctx = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
	struct secbuf *out = NULL;
	const uint8_t *label;
	size_t label_len = rsa_label(in, &label), olen = 0;
	void *label_copy = NULL;
	int r = -EIO;

	if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1)
		goto out;
	if (label_len) {
		/* set0: the context takes the copy and frees it */
		label_copy = OPENSSL_memdup(label, label_len);
		if (!label_copy ||
		    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label_copy, (int)label_len) != 1) {
			OPENSSL_free(label_copy);
			goto out;
		}
	}
	if (EVP_PKEY_encrypt(ctx, NULL, &olen, secbuf_data(in->buf), secbuf_len(in->buf)) != 1)
		goto out;
	r = secbuf_new(olen, &out);
	if (r < 0)
		goto out;
	r = -EIO;
	if (EVP_PKEY_encrypt(ctx, secbuf_mutable_data(out), &olen, secbuf_data(in->buf),
			     secbuf_len(in->buf)) != 1)
		goto out;
	r = secbuf_set_len(out, olen);
	if (r < 0)
		goto out;
	*ret = out;
	out = NULL;
	r = 0;
out:
	secbuf_free(out);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return r;
}

static int rsa_decrypt(struct keys_input *in, struct hsm *h, struct secbuf **ret)
{
	struct secbuf *em = NULL;
	const uint8_t *label;
	size_t label_len = rsa_label(in, &label);
	CK_OBJECT_HANDLE key;
	int r;

	if (secbuf_len(in->buf) != rsa_bytes(in->t))
		return -EBADMSG;
	r = key_object(h, in, &in->v, &key);
	if (r < 0)
		return r;
	if (!atomic_load(&token_lacks_oaep256)) {
		r = hsm_key_rsa_decrypt(h, key, 1, label, label_len, secbuf_data(in->buf),
					secbuf_len(in->buf), ret);
		if (r != -EOPNOTSUPP)
			return r;
		atomic_store(&token_lacks_oaep256, 1);
		log_debug("the token has no OAEP with SHA-256: raw RSA, padding removed here");
	}
	r = hsm_key_rsa_decrypt(h, key, 0, NULL, 0, secbuf_data(in->buf), secbuf_len(in->buf), &em);
	if (r < 0)
		return r;
	r = oaep_sha256_decode(em, rsa_bytes(in->t), label, label_len, ret);
	secbuf_free(em);
	return r;
}

static int aes_encrypt(struct keys_input *in, struct hsm *h, struct secbuf **ret)
{
	uint8_t head[KEYS_AES_HEADER], nonce[KEYS_AES_NONCE],
		aad[KEYS_AES_AAD_MAX(NAME_SEGMENT_MAX)];
	struct secbuf *ct = NULL, *out = NULL;
	uint64_t v = in->v.version;
	CK_OBJECT_HANDLE key;
	int r;

	if (v > UINT32_MAX)
		return -EOVERFLOW; /* the header has 32 bits for it */
	r = crypto_random(nonce, sizeof(nonce));
	if (r < 0)
		return r;
	keys_aes_header_make(v, nonce, head);
	r = key_object(h, in, &in->v, &key);
	if (r < 0)
		return r;
	r = hsm_key_aes_gcm(h, key, 1, head + 8, aad, keys_aes_aad(head, in->name, aad),
			    secbuf_data(in->buf), secbuf_len(in->buf), &ct);
	if (r < 0)
		return r;
	r = secbuf_new(KEYS_AES_HEADER + secbuf_len(ct), &out);
	if (r == 0)
		r = secbuf_append(out, head, KEYS_AES_HEADER);
	if (r == 0)
		r = secbuf_append(out, secbuf_data(ct), secbuf_len(ct));
	if (r == 0)
		*ret = out;
	else
		secbuf_free(out);
	secbuf_free(ct);
	return r;
}

static int aes_decrypt(struct keys_input *in, struct hsm *h, struct secbuf **ret,
		       uint64_t *ret_version)
{
	const uint8_t *c = secbuf_data(in->buf);
	uint8_t aad[KEYS_AES_AAD_MAX(NAME_SEGMENT_MAX)];
	struct store_key_version other = { 0 };
	const struct store_key_version *v = &in->v;
	CK_OBJECT_HANDLE key;
	uint64_t version;
	int r;

	if (!in->version_fixed)
		*ret_version = 0; /* none, until the input names one that exists */
	if (keys_aes_header_parse(c, secbuf_len(in->buf), &version) < 0)
		return -EBADMSG;
	if (version != in->v.version) {
		if (in->version_fixed)
			return -EBADMSG;
		r = store_key_version_get(in->s, in->name, version, &other);
		if (r < 0)
			return r == -ENOENT ? -EBADMSG : r;
		v = &other;
	}
	*ret_version = version;
	r = key_object(h, in, v, &key);
	if (r >= 0)
		r = hsm_key_aes_gcm(h, key, 0, c + 8, aad, keys_aes_aad(c, in->name, aad),
				    c + KEYS_AES_HEADER, secbuf_len(in->buf) - KEYS_AES_HEADER,
				    ret);
	store_key_version_clear(&other);
	return r;
}

static int run_once(struct keys_input *in, struct hsm *h, struct secbuf **ret,
		    uint64_t *ret_version)
{
	CK_OBJECT_HANDLE key;
	int r;

	*ret_version = in->v.version;
	switch (in->op) {
	case KEY_SIGN:
		return run_sign(in, h, ret);
	case KEY_ENCRYPT:
	case KEY_WRAP:
		if (in->op == KEY_WRAP && secbuf_len(in->buf) == 0)
			return -EINVAL;
		if (in->t->kind == HSM_KEY_RSA)
			return rsa_encrypt(in, ret);
		if (in->op == KEY_ENCRYPT)
			return aes_encrypt(in, h, ret);
		r = key_object(h, in, &in->v, &key);
		if (r < 0)
			return r;
		{
			uint8_t *w = NULL;
			size_t wlen = 0;

			r = hsm_key_aes_wrap(h, key, in->buf, &w, &wlen);
			if (r < 0)
				return r;
			r = secbuf_from(w, wlen, ret);
			free(w);
			return r;
		}
	case KEY_DECRYPT:
	case KEY_UNWRAP:
		if (in->t->kind == HSM_KEY_RSA)
			return rsa_decrypt(in, h, ret);
		if (in->op == KEY_DECRYPT)
			return aes_decrypt(in, h, ret, ret_version);
		r = key_object(h, in, &in->v, &key);
		if (r < 0)
			return r;
		return hsm_key_aes_unwrap(h, key, secbuf_data(in->buf), secbuf_len(in->buf), ret);
	default:
		return -EINVAL;
	}
}

/*
 * The key's state now, not at open: a file opened before the key expired, was deleted
 * (with its certificate or alone) or rotated must not run what a fresh open would refuse.
 * -EKEYREVOKED once the key left keys/, -EKEYEXPIRED past --expires for sign, encrypt
 * and wrap; those on the current version move to the new one after a rotation, and
 * NAME@N's go no further (-EOPNOTSUPP), as at open.
 */
static int recheck(struct keys_input *in)
{
	int makes = in->op == KEY_SIGN || in->op == KEY_ENCRYPT || in->op == KEY_WRAP;
	struct store_key_version v;
	struct store_key k;
	int r;

	r = store_key_get(in->s, in->name, &k);
	if (r == -ENOENT)
		return -EKEYREVOKED;
	if (r < 0)
		return r;
	if (makes && k.expires && time_now_us() >= k.expires)
		return -EKEYEXPIRED;
	if (!makes || k.current == in->v.version)
		return 0;
	if (in->version_fixed)
		return -EOPNOTSUPP;
	r = store_key_version_get(in->s, in->name, k.current, &v);
	if (r < 0)
		return r;
	store_key_version_clear(&in->v);
	in->v = v;
	in->key = k;
	return 0;
}

int keys_input_run(struct keys_input *in, struct hsm *h, struct secbuf **ret, uint64_t *ret_version)
{
	int r;

	if (in->too_long) {
		*ret_version = in->v.version;
		return -EBADMSG;
	}
	r = in->s ? recheck(in) : 0; /* keys_sign_made's key is not in the store yet */
	if (r < 0) {
		*ret_version = in->v.version;
		return r;
	}
	/* the handle found is used under the same hold: a reopen cannot swap its object */
	hsm_hold(h);
	r = run_once(in, h, ret, ret_version);

	/* a remembered handle that went stale: search the token again, once */
	if (r == -ENOKEY) {
		hsm_key_forget(h, in->last_id);
		r = run_once(in, h, ret, ret_version);
	}
	hsm_release(h);
	return r == -ENOKEY ? -EUCLEAN : r;
}

int keys_sign_made(struct hsm *h, const struct store_key *k, const struct store_key_version *v,
		   const void *msg, size_t len, struct secbuf **ret)
{
	struct keys_input *in = calloc(1, sizeof(*in));
	uint64_t version;
	int r;

	if (!in)
		return -ENOMEM;
	in->op = KEY_SIGN;
	in->key = *k;
	in->v = *v;
	in->v.public_der = NULL; /* not ours, and signing needs only the token's object */
	in->v.public_len = 0;
	in->t = keys_type_info(k->type);
	r = -EOPNOTSUPP;
	if (!in->t || !(k->ops & KEY_BIT(KEY_SIGN)))
		goto out;
	/* the hash keys_input_new starts for sign */
	in->md = EVP_MD_CTX_new();
	if (!in->md ||
	    EVP_DigestInit_ex(in->md,
			      in->t->kind == HSM_KEY_EC && in->t->bits == 384 ? EVP_sha384()
									      : EVP_sha256(),
			      NULL) != 1) {
		r = -ENOMEM;
		goto out;
	}
	r = keys_input_add(in, msg, len);
	if (r == 0)
		r = keys_input_run(in, h, ret, &version);
out:
	keys_input_free(in);
	return r;
}

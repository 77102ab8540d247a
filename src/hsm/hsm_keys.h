/*
 * hsm_keys: the keys that users keep in the vault's token — EC P-256 and P-384, RSA 2048 to
 * 4096, AES-256 — made or imported there, and used there: sign, decrypt, AES-GCM, key wrap.
 * Every private or secret key object is CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE and not
 * CKA_EXTRACTABLE, with only the usages its key allows. Public halves leave the token as
 * raw components; turning them into files is keys.c's work.
 *
 * Objects are found by CKA_ID (16 random bytes the vault records) and class. Like hsm.c,
 * this file never logs a key byte, and turns every CK_RV into an errno.
 */
#ifndef VAULTFS_HSM_KEYS_H
#define VAULTFS_HSM_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "hsm.h"
#include "secbuf.h"

#define HSM_KEY_ID_LEN 16

enum hsm_key_kind {
	HSM_KEY_EC,
	HSM_KEY_RSA,
	HSM_KEY_AES,
};

/* usages */
#define HSM_USE_SIGN 0x1
#define HSM_USE_DECRYPT 0x2
#define HSM_USE_ENCRYPT 0x4
#define HSM_USE_WRAP 0x8
#define HSM_USE_UNWRAP 0x10

struct hsm_key_spec {
	enum hsm_key_kind kind;
	unsigned bits; /* RSA modulus bits; EC 256 or 384; AES 256 */
	unsigned usage; /* HSM_USE_* */
	const char *label;
	uint8_t id[HSM_KEY_ID_LEN];
};

/* A public key as the token gives it: RSA modulus and exponent, or the EC point
 * (an uncompressed point, without its DER wrapping). malloc'ed. */
struct hsm_public {
	uint8_t *a;
	size_t a_len;
	uint8_t *b;
	size_t b_len;
};

void hsm_public_clear(struct hsm_public *p);

/* Makes a key in the token; an asymmetric key's public half comes back in @ret_pub
 * (its own object is a session object, gone when this returns). */
int hsm_key_generate(struct hsm *h, const struct hsm_key_spec *spec, struct hsm_public *ret_pub);

/* RSA private key parts, big-endian, in the order of PKCS#1. */
struct hsm_rsa_parts {
	const struct secbuf *n, *e, *d, *p, *q, *dp, *dq, *qinv;
};

/* Brings a private key in: sensitive and non-extractable from then on. */
int hsm_key_import_rsa(struct hsm *h, const struct hsm_key_spec *spec,
		       const struct hsm_rsa_parts *k);
int hsm_key_import_ec(struct hsm *h, const struct hsm_key_spec *spec,
		      const struct secbuf *private_value);

/* The private (asymmetric) or secret (AES) key object with CKA_ID @id: -ENOKEY if none.
 * Handles are remembered; an operation that finds one stale (-ENOKEY) calls
 * hsm_key_forget and asks again. */
int hsm_key_object(struct hsm *h, enum hsm_key_kind kind, const uint8_t id[HSM_KEY_ID_LEN],
		   CK_OBJECT_HANDLE *ret);
void hsm_key_forget(struct hsm *h, const uint8_t id[HSM_KEY_ID_LEN]);

/* Destroys every object with CKA_ID @id. Returns the number destroyed, or -errno. */
int hsm_key_destroy(struct hsm *h, const uint8_t id[HSM_KEY_ID_LEN]);

enum hsm_sign_mech {
	HSM_SIGN_ECDSA, /* @in is the digest; out is r || s */
	HSM_SIGN_RSA_PKCS1, /* @in is the DigestInfo */
	HSM_SIGN_RSA_PSS_SHA256, /* @in is the SHA-256 digest; salt of 32 bytes */
};

/* Signs @len bytes at @in; the signature goes to @out (of *@out_len bytes, updated). */
int hsm_key_sign(struct hsm *h, CK_OBJECT_HANDLE key, enum hsm_sign_mech mech, const uint8_t *in,
		 size_t len, uint8_t *out, size_t *out_len);

/*
 * RSA decryption: with @oaep, RSAES-OAEP with SHA-256, MGF1-SHA-256 and the label @label
 * (@label_len bytes, 0 for the empty label) in the token (-EOPNOTSUPP if the token does
 * not offer it with those parameters); without, the raw RSA operation (the caller removes
 * the padding and checks the label). -EBADMSG for a bad ciphertext.
 */
int hsm_key_rsa_decrypt(struct hsm *h, CK_OBJECT_HANDLE key, int oaep, const uint8_t *label,
			size_t label_len, const uint8_t *in, size_t len, struct secbuf **ret);

/* AES-256-GCM with a 12-byte @nonce and 16-byte tag appended (encrypt) or expected at the
 * end of @in (decrypt: -EBADMSG when it does not hold). */
int hsm_key_aes_gcm(struct hsm *h, CK_OBJECT_HANDLE key, int encrypt, const uint8_t nonce[12],
		    const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
		    struct secbuf **ret);

/* RFC 5649 key wrap with padding of @material under @key; unwrap gives it back
 * (-EBADMSG for a damaged or foreign input). Wrap is -EINVAL for empty material, and for
 * material whose length is no multiple of 8 where the token does not keep that length
 * (SoftHSM2 2.6: unwrap would give it back with zeros appended). */
int hsm_key_aes_wrap(struct hsm *h, CK_OBJECT_HANDLE key, const struct secbuf *material,
		     uint8_t **ret, size_t *ret_len);
int hsm_key_aes_unwrap(struct hsm *h, CK_OBJECT_HANDLE key, const uint8_t *in, size_t len,
		       struct secbuf **ret);

#endif

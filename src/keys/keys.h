/*
 * keys: the vault's keys as users see them — a name, a type, the operations it allows,
 * versions — made or imported into the token, rotated, deleted, and used: sign, encrypt,
 * decrypt, wrap, unwrap. The token holds every private and secret key; this module holds
 * only public halves and the work around the token's: hashing, DER, PEM, OAEP padding,
 * the AES-GCM header.
 *
 * Formats users see:
 *   sign     EC: DER ECDSA-Sig-Value over SHA-256 (P-256) or SHA-384 (P-384) of the message;
 *            RSA: PKCS#1 v1.5 with SHA-256, or PSS (SHA-256, MGF1-SHA-256, 32-byte salt)
 *   encrypt  RSA: OAEP with SHA-256 and MGF1-SHA-256; AES: the header below
 *   wrap     AES: RFC 5649; RSA: OAEP as encrypt, with the label KEYS_WRAP_LABEL, so that
 *            decrypt (empty label) cannot unwrap and unwrap cannot decrypt
 * The AES-256-GCM output is "VKA1" (4 bytes), the key version (4 bytes, big-endian), a
 * 12-byte nonce, the ciphertext and the 16-byte tag; the associated data is the first 8
 * bytes and the key's name, so a ciphertext opens only under the key and version it names.
 */
#ifndef VAULTFS_KEYS_H
#define VAULTFS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "hsm.h"
#include "secbuf.h"
#include "store.h"

/* The OAEP label of RSA wrap and unwrap (SPEC), without a terminating NUL in the label. */
#define KEYS_WRAP_LABEL "vaultfs-wrap"

enum key_op {
	KEY_SIGN,
	KEY_ENCRYPT,
	KEY_DECRYPT,
	KEY_WRAP,
	KEY_UNWRAP,
	KEY_OP_COUNT,
};

#define KEY_BIT(op) (1u << (op))

/* The largest input an operation takes (sign takes any size: it is hashed as it comes). */
#define KEYS_INPUT_MAX (1024 * 1024)

struct keys_type {
	const char *name; /* "ec-p256", ... */
	unsigned ops; /* the operations the type can do */
};

/* The type named @name, or NULL. */
const struct keys_type *keys_type_find(const char *name);
/* Parses "sign,decrypt" (or "*"); -EINVAL on an unknown word. */
int keys_ops_parse(const char *list, unsigned *ret);
const char *keys_op_name(enum key_op op);
/* The file name of an operation ("sign", ...), and back (-1 if it is none). */
int keys_op_from_name(const char *name);

struct keys_options {
	const char *type; /* keys_type_find name */
	int pss; /* RSA: sign with PSS */
	unsigned ops; /* 0: all the type can do */
	int64_t rotate_every; /* seconds between rotations by a mounted vault; 0: none */
	int64_t expires; /* time (us) from which it no longer signs, encrypts or wraps; 0: none */
};

/* Makes key @name in the token (version 1). -EEXIST, -EINVAL (bad name, type, ops). */
int keys_create(struct store *s, struct hsm *h, const char *name, const struct keys_options *o,
		int64_t now);

/*
 * Imports the private key in the PEM file @pem (PKCS#8, or traditional RSA/EC) as key
 * @name; @passphrase for an encrypted one (NULL: refused). The type comes from the key.
 * Fills @err with what is wrong: a public key, encrypted without a passphrase, a wrong
 * passphrase, an unsupported key, not PEM.
 */
int keys_import(struct store *s, struct hsm *h, const char *name, const char *pem,
		const struct secbuf *passphrase, const struct keys_options *o, int64_t now,
		char *err, size_t errlen);

/* A new version of @name, of the same type (a new key for imported ones too). */
int keys_rotate(struct store *s, struct hsm *h, const char *name, int64_t now,
		uint64_t *ret_version);

/* Soft-deletes the live key @name at @now: it leaves keys/, its versions and token
 * objects are kept until keys_purge. -ENOENT if there is no live key of that name. */
int keys_delete(struct store *s, const char *name, int64_t now);

/* Brings the soft-deleted key @name back: -ENOENT if there is none, -EEXIST if the key of
 * that name is live. */
int keys_recover(struct store *s, const char *name);

/* Purges the soft-deleted key @name: its record, then every version's objects in the
 * token. Returns 0, the number of versions whose objects the token kept (> 0: the key is
 * gone all the same), or -errno (nothing removed): -ENOENT, -EBUSY for a live key. */
int keys_purge(struct store *s, struct hsm *h, const char *name);

/* keys_set_lifetime: leave that setting as it is */
#define KEYS_LIFETIME_KEEP STORE_LIFETIME_KEEP

/* Sets the live key @name's rotation period (seconds) and expiry (time in us); 0 clears
 * one, KEYS_LIFETIME_KEEP leaves it. -ENOENT, -EINVAL. */
int keys_set_lifetime(struct store *s, const char *name, int64_t rotate_every_s,
		      int64_t expires_us);

/* The PEM SubjectPublicKeyInfo of version @version (0: current), malloc'ed. -ENODATA for
 * an AES key. */
int keys_public_pem(struct store *s, const char *name, uint64_t version, char **ret,
		    size_t *ret_len);

/*
 * For a certificate's key (certs.h), whose record the certificate's own transaction
 * writes: makes the token objects of version @version of key @name, of type @type (not
 * aes-256) with every operation the type allows — generated in the token, or (@pkey not
 * NULL) @pkey brought in, non-extractable there like an imported key. Nothing is recorded:
 * the caller records *@ret_k and *@ret_v (free with store_key_version_clear), or
 * destroys the objects by ret_v->token_id (hsm_key_destroy). -EINVAL for a bad name or
 * type, or a @pkey not of @type.
 */
int keys_make_version(struct store *s, struct hsm *h, const char *name, uint64_t version,
		      const char *type, EVP_PKEY *pkey, struct store_key *ret_k,
		      struct store_key_version *ret_v);

/* Signs @msg (@len bytes) as keys/NAME/sign does, with key version @v of a key @k that
 * may not be recorded yet (keys_make_version's). -EOPNOTSUPP for a key that does not
 * sign. */
int keys_sign_made(struct hsm *h, const struct store_key *k, const struct store_key_version *v,
		   const void *msg, size_t len, struct secbuf **ret);

/* One operation in progress: the input as it arrives. */
struct keys_input;

/* Starts @op on version @version (0: current) of @name: -ENOENT, -EOPNOTSUPP (the key does
 * not allow @op), -EKEYEXPIRED (sign, encrypt or wrap once the key's expiry has passed;
 * decrypt and unwrap go on, so that old data can be read). */
int keys_input_new(struct store *s, const char *name, uint64_t version, enum key_op op,
		   struct keys_input **ret);
/* Appends input: -EFBIG past the limit of what encrypt or wrap takes (sign has none).
 * decrypt and unwrap take any length: past the longest ciphertext the key makes, the run
 * is -EBADMSG. */
int keys_input_add(struct keys_input *in, const void *data, size_t len);
/* The bytes of locked memory @in holds (0 for NULL), and what it would hold once @len
 * more bytes were added (the same when keys_input_add would refuse or drop them). */
size_t keys_input_held(const struct keys_input *in);
size_t keys_input_held_after(const struct keys_input *in, size_t len);
/* Runs the operation in the token: the result in *ret, and the version used (for
 * decrypt, the one the input names). -EBADMSG for bad or tampered input. The key is
 * checked again as it is now: -EKEYREVOKED once deleted, -EKEYEXPIRED past --expires
 * (sign, encrypt, wrap), -EOPNOTSUPP for NAME@N's sign, encrypt or wrap once rotated. */
int keys_input_run(struct keys_input *in, struct hsm *h, struct secbuf **ret,
		   uint64_t *ret_version);
void keys_input_free(struct keys_input *in);

#endif

/*
 * oaep: removing RSAES-OAEP padding (SHA-256, MGF1-SHA-256, with a label) from the output
 * of a raw RSA decryption done in the token. Constant-time in everything but the length of
 * the message it returns (the label is public: it says what the ciphertext is for).
 */
#ifndef VAULTFS_OAEP_H
#define VAULTFS_OAEP_H

#include <stddef.h>
#include <stdint.h>

#include "secbuf.h"

/*
 * Decodes @em, the raw RSA output for a modulus of @k bytes, made with the label @label
 * (@label_len bytes; 0 for the empty label). Returns 0 and the message in *ret, or
 * -EBADMSG for anything that is not a valid encoding under that label.
 */
int oaep_sha256_decode(const struct secbuf *em, size_t k, const uint8_t *label, size_t label_len,
		       struct secbuf **ret);

#endif

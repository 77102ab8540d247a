/*
 * oaep: removing RSAES-OAEP padding (SHA-256, MGF1-SHA-256, empty label) from the output
 * of a raw RSA decryption done in the token. Constant-time in everything but the length of
 * the message it returns.
 */
#ifndef VAULTFS_OAEP_H
#define VAULTFS_OAEP_H

#include <stddef.h>
#include <stdint.h>

#include "secbuf.h"

/* Decodes @em, the raw RSA output for a modulus of @k bytes. Returns 0 and the message in
 * *ret, or -EBADMSG for anything that is not a valid encoding. */
int oaep_sha256_decode(const struct secbuf *em, size_t k, struct secbuf **ret);

#endif

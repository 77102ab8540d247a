/*
 * keys_header: the header of an AES-256-GCM ciphertext that keys/NAME/encrypt makes and
 * keys/NAME/decrypt takes (keys.h gives the format): made, parsed and turned into the
 * associated data. A decrypt's input is anyone's bytes, so the parser is pure — no token,
 * no store — and never reads past what it is given.
 */
#ifndef VAULTFS_KEYS_HEADER_H
#define VAULTFS_KEYS_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_AES_MAGIC "VKA1"
#define KEYS_AES_NONCE 12
#define KEYS_AES_HEADER (4 + 4 + KEYS_AES_NONCE)
#define KEYS_AES_TAG 16
/* The associated data's size for a key name of at most @name_max bytes. */
#define KEYS_AES_AAD_MAX(name_max) (8 + (name_max))

/* Writes the header of version @version (1 .. UINT32_MAX) with @nonce into @head. */
void keys_aes_header_make(uint64_t version, const uint8_t nonce[KEYS_AES_NONCE],
			  uint8_t head[KEYS_AES_HEADER]);

/*
 * Parses the @len bytes of ciphertext @c: 0 and the key version it names, or -EBADMSG if
 * it is too short to hold a header and a tag, has another magic, or names version 0.
 */
int keys_aes_header_parse(const uint8_t *c, size_t len, uint64_t *ret_version);

/* The associated data of a ciphertext whose header is @head, under the key @name: the
 * header's first 8 bytes and the name. Returns its length; @aad holds 8 + strlen(@name). */
size_t keys_aes_aad(const uint8_t *head, const char *name, uint8_t *aad);

#endif

/*
 * keys_header: the AES-GCM ciphertext header (keys_header.h).
 */
#include "keys_header.h"

#include <errno.h>
#include <string.h>

void keys_aes_header_make(uint64_t version, const uint8_t nonce[KEYS_AES_NONCE],
			  uint8_t head[KEYS_AES_HEADER])
{
	memcpy(head, KEYS_AES_MAGIC, 4);
	head[4] = (uint8_t)(version >> 24);
	head[5] = (uint8_t)(version >> 16);
	head[6] = (uint8_t)(version >> 8);
	head[7] = (uint8_t)version;
	memcpy(head + 8, nonce, KEYS_AES_NONCE);
}

int keys_aes_header_parse(const uint8_t *c, size_t len, uint64_t *ret_version)
{
	uint64_t version;

	if (len < KEYS_AES_HEADER + KEYS_AES_TAG || memcmp(c, KEYS_AES_MAGIC, 4) != 0)
		return -EBADMSG;
	version = (uint64_t)c[4] << 24 | (uint64_t)c[5] << 16 | (uint64_t)c[6] << 8 | c[7];
	if (version == 0)
		return -EBADMSG; /* versions count from 1; 0 would ask for the current one */
	*ret_version = version;
	return 0;
}

size_t keys_aes_aad(const uint8_t *head, const char *name, uint8_t *aad)
{
	size_t n = strlen(name);

	memcpy(aad, head, 8);
	memcpy(aad + 8, name, n);
	return 8 + n;
}

/*
 * fuzz: the input layout the targets that take a password share (fuzz.h), so that every
 * seed corpus made for one of them reads the same in the others. It must never hide an
 * input from a target: an empty one is the only input it turns away.
 */
#include "fuzz.h"

#include <errno.h>

#include "secbuf.h"

int fuzz_password_split(const uint8_t *data, size_t size, struct secbuf **ret_pass,
			const uint8_t **ret_rest, size_t *ret_len)
{
	struct secbuf *pass = NULL;
	size_t plen;

	if (size < 1)
		return -EINVAL;
	plen = data[0] == 255 ? 0 : data[0];
	if (plen > size - 1)
		plen = size - 1;
	if (data[0] != 255 && secbuf_from(data + 1, plen, &pass) < 0)
		return -ENOMEM;
	*ret_pass = pass;
	*ret_rest = data + 1 + plen;
	*ret_len = size - 1 - plen;
	return 0;
}

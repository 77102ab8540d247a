/*
 * fuzz: what the libFuzzer targets of tests/fuzz share — the entry point libFuzzer's main
 * calls, declared once, and the split of an input that begins with a password. Nothing
 * here checks what a parser returns: each target states its own rules.
 */
#ifndef VAULTFS_FUZZ_H
#define VAULTFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct secbuf;

/* One input, from libFuzzer's main: 0, or abort() when the target's rules are broken. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * An input that carries a password: its first byte gives the password's length (255:
 * none given; a length past the end is cut to it), then come the password and the rest.
 * 0 with the password in *@ret_pass (NULL for none) and the rest in *@ret_rest and
 * *@ret_len; -EINVAL for an empty input, -ENOMEM when the password's secbuf cannot be
 * had, with the ret_* untouched.
 */
int fuzz_password_split(const uint8_t *data, size_t size, struct secbuf **ret_pass,
			const uint8_t **ret_rest, size_t *ret_len);

#endif

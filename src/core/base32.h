/*
 * base32 (RFC 4648 section 6), as authenticator apps take a TOTP secret: the upper-case
 * alphabet A-Z 2-7, written without '=' padding. The decoder also takes lower case and
 * ignores spaces and '=' at the end (people copy secrets by hand), but refuses any other byte
 * and non-zero trailing bits.
 */
#ifndef GW_CORE_BASE32_H
#define GW_CORE_BASE32_H

#include <stddef.h>

/* Characters gw_base32_encode writes for n bytes (no NUL counted). */
#define GW_BASE32_ENCODED_LEN(n) (((n)*8 + 4) / 5)

/* Encodes in[0..n) without padding into out and NUL-terminates it; cap must be at least
 * GW_BASE32_ENCODED_LEN(n) + 1, else GW_ENOMEM. Returns 0. */
int gw_base32_encode(const void *in, size_t n, char *out, size_t cap);

/* Decodes in[0..n) into out[0..cap), the length into *out_len. 0, GW_EINVAL (a foreign byte,
 * an impossible length, non-zero trailing bits) or GW_ENOMEM (cap too small). */
int gw_base32_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len);

#endif

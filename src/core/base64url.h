/*
 * base64url (RFC 4648 section 5) without padding, as JOSE uses it (RFC 7515 section 2).
 *
 * The decoder is strict: '=' padding, whitespace, the '+' and '/' of plain base64, a length
 * of 1 mod 4 and non-zero trailing bits are all refused, so each byte string has exactly one
 * accepted encoding.
 */
#ifndef GW_CORE_BASE64URL_H
#define GW_CORE_BASE64URL_H

#include <stddef.h>

/* Bytes gw_base64url_decode writes at most for an n-character input. */
#define GW_BASE64URL_DECODED_MAX(n) ((n) / 4 * 3 + 2)

/* Characters gw_base64url_encode writes for n bytes (no NUL counted). */
#define GW_BASE64URL_ENCODED_LEN(n) ((n) / 3 * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/*
 * Decodes in[0..n) into out[0..cap) and stores the decoded length in *out_len. Returns 0,
 * GW_EINVAL when the input is not canonical unpadded base64url, or GW_ENOMEM when cap is too
 * small (GW_BASE64URL_DECODED_MAX(n) always suffices). out is unspecified on error.
 */
int gw_base64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len);

/*
 * Encodes in[0..n) into out without padding and NUL-terminates it; cap must be at least
 * GW_BASE64URL_ENCODED_LEN(n) + 1, else GW_ENOMEM. Stores the length (no NUL) in *out_len
 * when out_len is not NULL. Returns 0.
 */
int gw_base64url_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len);

#endif

/*
 * Secrets sealed at rest with libsodium's XChaCha20-Poly1305 (IETF): a random 24-byte nonce
 * per seal, then the ciphertext and its 16-byte tag, bound to associated data (the record the
 * secret belongs to, so a box cannot be moved to another one). Keys are 64 hex digits in the
 * configuration; a short key id (derived from the key and a label naming its use) is kept
 * beside each box so that a replaced key can still open what it sealed. Used by registered
 * backends' tokens (registry/registry_token.c) and built-in identity's TOTP secrets.
 */
#ifndef GW_CORE_SEAL_H
#define GW_CORE_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#define GW_SEAL_KEY_BYTES 32
#define GW_SEAL_OVERHEAD 40 /* nonce (24) + tag (16) */

/* The key of hex (64 hex digits) into key, and its id (8 hex digits and a NUL: 4 bytes of the
 * key's BLAKE2b keyed with label) into id. False when hex is NULL or not 64 hex digits. */
bool gw_seal_key(const char *hex, const char *label, unsigned char key[GW_SEAL_KEY_BYTES],
                 char id[9]);

/* Seals plain[0..n) under key with associated data ad[0..adlen) into box[0..n +
 * GW_SEAL_OVERHEAD). -1 only when libsodium cannot start, else 0. */
int gw_seal(const unsigned char key[GW_SEAL_KEY_BYTES], const void *ad, size_t adlen,
            const void *plain, size_t n, unsigned char *box);

/* Opens box[0..len) sealed by gw_seal with the same key and ad into out[0..len -
 * GW_SEAL_OVERHEAD). 0, or -1 when the box is short, forged, or sealed otherwise (out is then
 * wiped). */
int gw_seal_open(const unsigned char key[GW_SEAL_KEY_BYTES], const void *ad, size_t adlen,
                 const unsigned char *box, size_t len, unsigned char *out);

#endif

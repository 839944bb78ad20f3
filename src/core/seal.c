/* XChaCha20-Poly1305 sealing of secrets at rest (core/seal.h). */
#include "core/seal.h"

#include <sodium.h>
#include <string.h>

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(NONCE + TAG == GW_SEAL_OVERHEAD, "nonce and tag sizes");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == GW_SEAL_KEY_BYTES, "key size");

bool gw_seal_key(const char *hex, const char *label, unsigned char key[GW_SEAL_KEY_BYTES],
                 char id[9])
{
    size_t n = 0;
    if (sodium_init() < 0 || hex == NULL || strlen(hex) != 64 ||
        sodium_hex2bin(key, GW_SEAL_KEY_BYTES, hex, 64, NULL, &n, NULL) != 0 ||
        n != GW_SEAL_KEY_BYTES)
        return false;
    unsigned char h[crypto_generichash_BYTES_MIN];
    crypto_generichash(h, sizeof h, key, GW_SEAL_KEY_BYTES, (const unsigned char *)label,
                       strlen(label));
    sodium_bin2hex(id, 9, h, 4);
    return true;
}

int gw_seal(const unsigned char key[GW_SEAL_KEY_BYTES], const void *ad, size_t adlen,
            const void *plain, size_t n, unsigned char *box)
{
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(box, NONCE);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(box + NONCE, &clen, plain, n, ad, adlen, NULL, box,
                                               key);
    return 0;
}

int gw_seal_open(const unsigned char key[GW_SEAL_KEY_BYTES], const void *ad, size_t adlen,
                 const unsigned char *box, size_t len, unsigned char *out)
{
    unsigned long long n = 0;
    if (len < GW_SEAL_OVERHEAD || sodium_init() < 0)
        return -1;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &n, NULL, box + NONCE, len - NONCE, ad,
                                                   adlen, box, key) != 0) {
        sodium_memzero(out, len - GW_SEAL_OVERHEAD);
        return -1;
    }
    return 0;
}

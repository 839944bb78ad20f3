/*
 * Backend tokens of registrations, sealed at rest with libsodium's XChaCha20-Poly1305 (IETF):
 * a random 24-byte nonce per seal, the registration id as associated data (a box cannot be
 * moved to another registration), and the id of the key kept beside the box, so that a key
 * can be replaced: registration.previous_keys still open what the older keys sealed, and the
 * next publication seals it again with the current key.
 *
 * The plaintext exists only while a configuration is built (the header line of the target,
 * wiped when that configuration is freed) and in the few bytes handled here, wiped at once.
 */
#include "registry/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/error.h"

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

bool gw__registry_key_id(const char *hex, unsigned char key[32], char id[9])
{
    size_t n = 0;
    if (hex == NULL || strlen(hex) != 64 || sodium_hex2bin(key, 32, hex, 64, NULL, &n, NULL) != 0 ||
        n != 32)
        return false;
    unsigned char h[crypto_generichash_BYTES_MIN];
    static const char label[] = "gantry registration key id";
    crypto_generichash(h, sizeof h, key, 32, (const unsigned char *)label, sizeof label - 1);
    sodium_bin2hex(id, 9, h, 4);
    return true;
}

void gw__registry_wipe(char *s, size_t len)
{
    if (s == NULL)
        return;
    sodium_memzero(s, len);
    free(s);
}

int gw__registry_seal(const struct gw_config *cfg, struct gw_registration *e, const char *token)
{
    unsigned char key[32];
    char id[9];
    if (sodium_init() < 0 || !gw__registry_key_id(cfg->registration.encryption_key, key, id))
        return GW_EINVAL;
    size_t n = strlen(token);
    unsigned char *box = malloc(NONCE + n + TAG);
    if (box == NULL) {
        sodium_memzero(key, sizeof key);
        return GW_ENOMEM;
    }
    randombytes_buf(box, NONCE);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(box + NONCE, &clen, (const unsigned char *)token, n,
                                               (const unsigned char *)e->id, strlen(e->id), NULL,
                                               box, key);
    sodium_memzero(key, sizeof key);
    free(e->token_box);
    e->token_box = box;
    e->token_box_len = NONCE + (size_t)clen;
    memcpy(e->key_id, id, sizeof id);
    return 0;
}

static char *open_with(const char *hex, const struct gw_registration *e, size_t *len)
{
    unsigned char key[32];
    char id[9];
    if (!gw__registry_key_id(hex, key, id) || strcmp(id, e->key_id) != 0) {
        sodium_memzero(key, sizeof key);
        return NULL;
    }
    size_t max = e->token_box_len - NONCE - TAG;
    char *out = malloc(max + 1);
    unsigned long long n = 0;
    if (out == NULL ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)out, &n, NULL, e->token_box + NONCE, e->token_box_len - NONCE,
            (const unsigned char *)e->id, strlen(e->id), e->token_box, key) != 0) {
        sodium_memzero(key, sizeof key);
        gw__registry_wipe(out, max + 1);
        return NULL;
    }
    sodium_memzero(key, sizeof key);
    out[n] = '\0';
    *len = (size_t)n;
    return out;
}

char *gw__registry_open(const struct gw_config *cfg, const struct gw_registration *e, size_t *len)
{
    if (e->token_box == NULL || e->token_box_len < NONCE + TAG || sodium_init() < 0)
        return NULL;
    char *t = open_with(cfg->registration.encryption_key, e, len);
    for (size_t i = 0; t == NULL && i < cfg->registration.nprevious_keys; i++)
        t = open_with(cfg->registration.previous_keys[i], e, len);
    return t;
}

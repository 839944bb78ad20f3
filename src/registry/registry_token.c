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
#include "core/seal.h"

bool gw__registry_key_id(const char *hex, unsigned char key[32], char id[9])
{
    return gw_seal_key(hex, "gantry registration key id", key, id);
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
    if (!gw__registry_key_id(cfg->registration.encryption_key, key, id))
        return GW_EINVAL;
    size_t n = strlen(token);
    unsigned char *box = malloc(n + GW_SEAL_OVERHEAD);
    if (box == NULL) {
        sodium_memzero(key, sizeof key);
        return GW_ENOMEM;
    }
    (void)gw_seal(key, e->id, strlen(e->id), token, n, box);
    sodium_memzero(key, sizeof key);
    free(e->token_box);
    e->token_box = box;
    e->token_box_len = n + GW_SEAL_OVERHEAD;
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
    size_t max = e->token_box_len - GW_SEAL_OVERHEAD;
    char *out = malloc(max + 1);
    if (out == NULL || gw_seal_open(key, e->id, strlen(e->id), e->token_box, e->token_box_len,
                                    (unsigned char *)out) != 0) {
        sodium_memzero(key, sizeof key);
        free(out);
        return NULL;
    }
    sodium_memzero(key, sizeof key);
    out[max] = '\0';
    *len = max;
    return out;
}

char *gw__registry_open(const struct gw_config *cfg, const struct gw_registration *e, size_t *len)
{
    if (e->token_box == NULL || e->token_box_len < GW_SEAL_OVERHEAD)
        return NULL;
    char *t = open_with(cfg->registration.encryption_key, e, len);
    for (size_t i = 0; t == NULL && i < cfg->registration.nprevious_keys; i++)
        t = open_with(cfg->registration.previous_keys[i], e, len);
    return t;
}

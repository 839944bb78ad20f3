/*
 * Backend tokens of registrations, sealed at rest with libsodium's XChaCha20-Poly1305 (IETF):
 * a random 24-byte nonce per seal, the registration id as associated data (a box cannot be
 * moved to another registration), and the id of the key kept beside the box, so that a key
 * can be replaced: registration.previous_keys still open what the older keys sealed, and the
 * next publication seals it again with the current key.
 *
 * A client may seal the token itself before sending it ("sealed_token", `gantry register
 * --encryption-key`): then it never travels in clear, not even over http://; the gateway opens
 * it with the key of its id (the same keys) and seals it again as above.
 *
 * The plaintext exists only while a configuration is built (the header line of the target,
 * wiped when that configuration is freed) and in the few bytes handled here, wiped at once.
 */
#include "registry/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/base64url.h"
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

/* ---- tokens sealed by the registering client (`gantry register --encryption-key`) -------- */

#define TRANSIT_LABEL "gantry sealed registration token"
#define TRANSIT_VERSION "v1."

/* The associated data of a token sealed for transit: label, name and URL, NUL-separated, so a
 * box sealed for one registration is refused for another. NULL when out of memory. */
static unsigned char *transit_ad(const char *name, const char *url, size_t *len)
{
    size_t l = sizeof TRANSIT_LABEL, n = strlen(name) + 1, u = strlen(url);
    unsigned char *ad = malloc(l + n + u);
    if (ad == NULL)
        return NULL;
    memcpy(ad, TRANSIT_LABEL, l);
    memcpy(ad + l, name, n);
    memcpy(ad + l + n, url, u);
    *len = l + n + u;
    return ad;
}

char *gw_registry_token_seal(const char *key_hex, const char *name, const char *url,
                             const char *token)
{
    unsigned char key[32];
    char id[9];
    size_t adlen = 0, n = strlen(token), boxlen = n + GW_SEAL_OVERHEAD;
    unsigned char *ad = NULL, *box = NULL;
    char *out = NULL;
    if (!gw__registry_key_id(key_hex, key, id))
        return NULL;
    size_t cap = sizeof TRANSIT_VERSION + 9 + GW_BASE64URL_ENCODED_LEN(boxlen) + 1;
    ad = transit_ad(name, url, &adlen);
    box = malloc(boxlen);
    out = malloc(cap);
    if (ad == NULL || box == NULL || out == NULL || gw_seal(key, ad, adlen, token, n, box) != 0)
        goto fail;
    size_t k = (size_t)snprintf(out, cap, "%s%s.", TRANSIT_VERSION, id);
    if (gw_base64url_encode(box, boxlen, out + k, cap - k, NULL) != 0)
        goto fail;
    sodium_memzero(key, sizeof key);
    free(ad);
    free(box);
    return out;
fail:
    sodium_memzero(key, sizeof key);
    free(ad);
    free(box);
    free(out);
    return NULL;
}

/* Opens box with the key hex when its id is id. The plaintext or NULL. */
static char *unseal_with(const char *hex, const char *id, const unsigned char *ad, size_t adlen,
                         const unsigned char *box, size_t boxlen)
{
    unsigned char key[32];
    char kid[9];
    char *out = NULL;
    if (hex == NULL || !gw__registry_key_id(hex, key, kid) || strcmp(kid, id) != 0)
        goto out;
    out = malloc(boxlen - GW_SEAL_OVERHEAD + 1);
    if (out != NULL && gw_seal_open(key, ad, adlen, box, boxlen, (unsigned char *)out) != 0) {
        free(out);
        out = NULL;
    }
    if (out != NULL)
        out[boxlen - GW_SEAL_OVERHEAD] = '\0';
out:
    sodium_memzero(key, sizeof key);
    return out;
}

char *gw__registry_token_unseal(const struct gw_config *cfg, const char *name, const char *url,
                                const char *sealed, size_t *len, const char **why)
{
    size_t n = strlen(sealed), vl = sizeof TRANSIT_VERSION - 1, adlen = 0, boxlen = 0;
    unsigned char *box = NULL, *ad = NULL;
    char id[9], *plain = NULL;
    *why = "expected \"v1.KEYID.BOX\" as gantry register --encryption-key writes it";
    if (n < vl + 9 || memcmp(sealed, TRANSIT_VERSION, vl) != 0 || sealed[vl + 8] != '.')
        return NULL;
    memcpy(id, sealed + vl, 8);
    id[8] = '\0';
    const char *b64 = sealed + vl + 9;
    size_t b64len = n - vl - 9;
    box = malloc(b64len);
    if (box == NULL || gw_base64url_decode(b64, b64len, box, b64len, &boxlen) != 0 ||
        boxlen <= GW_SEAL_OVERHEAD)
        goto out;
    *why = "out of memory";
    ad = transit_ad(name, url, &adlen);
    if (ad == NULL)
        goto out;
    plain = unseal_with(cfg->registration.encryption_key, id, ad, adlen, box, boxlen);
    for (size_t i = 0; plain == NULL && i < cfg->registration.nprevious_keys; i++)
        plain = unseal_with(cfg->registration.previous_keys[i], id, ad, adlen, box, boxlen);
    if (plain == NULL) {
        *why = "it does not open with any key of this gateway (registration.encryption_key, "
               "previous_keys): sealed with another key, or for another name or url";
        goto out;
    }
    *len = boxlen - GW_SEAL_OVERHEAD;
out:
    free(box);
    free(ad);
    return plain;
}

/* API keys: hashing, parsing the configured hash, the immutable digest table. */
#include "policy/apikey.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "core/hex.h"

#define HASH_PREFIX "sha256:"
#define HASH_PREFIX_LEN (sizeof(HASH_PREFIX) - 1)

struct apikey_slot {
    uint8_t digest[GW_APIKEY_DIGEST_LEN];
    uint32_t consumer;
    bool used;
};

/* Open addressing with linear probing, at most half full so every probe run is short. */
struct gw_apikey_table {
    struct apikey_slot *slots;
    size_t mask; /* number of slots - 1, a power of two minus one */
    size_t count;
    size_t max;
};

static int digest_of(const void *key, size_t len, uint8_t digest[GW_APIKEY_DIGEST_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(key, len, digest, &n, EVP_sha256(), NULL) != 1 || n != GW_APIKEY_DIGEST_LEN)
        return GW_ENOMEM; /* the one way a SHA-256 of a buffer can fail here */
    return 0;
}

int gw_apikey_hash(const void *key, size_t len, char out[GW_APIKEY_HASH_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[GW_APIKEY_DIGEST_LEN];
    int rc;

    if (key == NULL || len == 0 || len > GW_APIKEY_MAX_LEN)
        return GW_EINVAL;
    rc = digest_of(key, len, d);
    if (rc < 0)
        return rc;
    memcpy(out, HASH_PREFIX, HASH_PREFIX_LEN);
    for (size_t i = 0; i < sizeof(d); i++) {
        out[HASH_PREFIX_LEN + 2 * i] = hex[d[i] >> 4];
        out[HASH_PREFIX_LEN + 2 * i + 1] = hex[d[i] & 0xf];
    }
    out[HASH_PREFIX_LEN + 2 * sizeof(d)] = '\0';
    return 0;
}

int gw_apikey_parse_hash(const char *s, uint8_t digest[GW_APIKEY_DIGEST_LEN])
{
    if (s == NULL || strncmp(s, HASH_PREFIX, HASH_PREFIX_LEN) != 0)
        return GW_EINVAL;
    s += HASH_PREFIX_LEN;
    if (strlen(s) != 2 * GW_APIKEY_DIGEST_LEN)
        return GW_EINVAL;
    for (size_t i = 0; i < GW_APIKEY_DIGEST_LEN; i++) {
        int hi = gw_hex_digit((unsigned char)s[2 * i]);
        int lo = gw_hex_digit((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return GW_EINVAL;
        digest[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int gw_apikey_table_new(struct gw_apikey_table **out, size_t n)
{
    struct gw_apikey_table *t = NULL;
    size_t nslots = 2;

    if (n == 0 || n > SIZE_MAX / 4 / sizeof(struct apikey_slot))
        return GW_EINVAL;
    while (nslots < 2 * n)
        nslots <<= 1;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return GW_ENOMEM;
    t->slots = calloc(nslots, sizeof(*t->slots));
    if (t->slots == NULL) {
        free(t);
        return GW_ENOMEM;
    }
    t->mask = nslots - 1;
    t->max = n;
    *out = t;
    return 0;
}

/*
 * First slot to probe. SHA-256 output is uniform, so a few of its bytes are a good hash. The
 * slot a lookup starts from (and so the length of its probe run) depends on these bytes only,
 * never on how the rest compares; learning them tells nothing about any key.
 */
static size_t first_slot(const struct gw_apikey_table *t, const uint8_t *digest)
{
    uint64_t h;
    memcpy(&h, digest, sizeof(h));
    return (size_t)h & t->mask;
}

/* The slot holding digest, or NULL. Each comparison covers all 32 bytes in constant time. */
static const struct apikey_slot *find(const struct gw_apikey_table *t, const uint8_t *digest)
{
    for (size_t i = first_slot(t, digest);; i = (i + 1) & t->mask) {
        const struct apikey_slot *s = &t->slots[i];
        if (!s->used)
            return NULL;
        if (CRYPTO_memcmp(s->digest, digest, GW_APIKEY_DIGEST_LEN) == 0)
            return s;
    }
}

int gw_apikey_table_add(struct gw_apikey_table *t, const uint8_t digest[GW_APIKEY_DIGEST_LEN],
                        uint32_t consumer_index)
{
    size_t i;

    if (t->count >= t->max || find(t, digest) != NULL)
        return GW_EINVAL;
    /* The table is never more than half full, so a free slot exists and ends every probe. */
    for (i = first_slot(t, digest); t->slots[i].used; i = (i + 1) & t->mask)
        ;
    memcpy(t->slots[i].digest, digest, GW_APIKEY_DIGEST_LEN);
    t->slots[i].consumer = consumer_index;
    t->slots[i].used = true;
    t->count++;
    return 0;
}

int gw_apikey_table_lookup(const struct gw_apikey_table *t, const void *key, size_t len,
                           uint32_t *consumer_index)
{
    uint8_t d[GW_APIKEY_DIGEST_LEN];
    const struct apikey_slot *s;

    if (key == NULL || len == 0 || len > GW_APIKEY_MAX_LEN)
        return GW_EAPIKEY;
    if (digest_of(key, len, d) < 0)
        return GW_EAPIKEY;
    s = find(t, d);
    OPENSSL_cleanse(d, sizeof(d));
    if (s == NULL)
        return GW_EAPIKEY;
    *consumer_index = s->consumer;
    return 0;
}

size_t gw_apikey_table_count(const struct gw_apikey_table *t)
{
    return t->count;
}

void gw_apikey_table_free(struct gw_apikey_table *t)
{
    if (t == NULL)
        return;
    OPENSSL_cleanse(t->slots, (t->mask + 1) * sizeof(*t->slots));
    free(t->slots);
    free(t);
}

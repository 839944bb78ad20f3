/* The sharded verified-token cache; see state/token_cache.h. */
#include "state/token_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "core/shard_table.h"

#define TC_DIGEST_LEN 32

struct tc_entry {
    struct gw_shard_entry link; /* link.size: bytes of this allocation */
    bool negative;
    uint8_t digest[TC_DIGEST_LEN]; /* SHA-256 of the token: the token itself is never kept */
    struct gw_identity id;         /* strings point into data[] */
    char data[];
};

struct gw_token_cache {
    struct gw_shard_table *table;
};

static struct tc_entry *tc_entry_of(const struct gw_shard_entry *e)
{
    return gw_container_of(e, struct tc_entry, link);
}

static bool digest_eq(const struct gw_shard_entry *e, const void *digest, size_t len)
{
    return len == TC_DIGEST_LEN && CRYPTO_memcmp(tc_entry_of(e)->digest, digest, len) == 0;
}

static void free_entry(struct gw_shard_entry *e, void *ctx)
{
    struct tc_entry *t = tc_entry_of(e);
    size_t size = e->size;
    (void)ctx;
    /* The identity is a credential's worth of authority: do not leave it in freed memory. */
    OPENSSL_cleanse(t, size);
    free(t);
}

/* Digest bytes are uniform already: the first 8, mixed with the table's seed, pick the bucket
 * (the seed keeps a client from aiming tokens it chooses at one bucket). */
static uint64_t hash_digest(const struct gw_token_cache *c, const uint8_t *d)
{
    uint64_t x;
    memcpy(&x, d, sizeof(x));
    return gw_shard_table_mix(c->table, x);
}

static int digest_token(const void *token, size_t len, uint8_t d[TC_DIGEST_LEN])
{
    unsigned int n = 0;
    if (token == NULL || len == 0)
        return GW_EINVAL;
    if (EVP_Digest(token, len, d, &n, EVP_sha256(), NULL) != 1 || n != TC_DIGEST_LEN)
        return GW_ENOMEM;
    return 0;
}

/* ---- identities ------------------------------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

void gw_identity_clear(struct gw_identity *id)
{
    if (id == NULL)
        return;
    free(id->consumer);
    free(id->user);
    free(id->roles);
    free(id->perms);
    memset(id, 0, sizeof(*id));
}

int gw_identity_copy(struct gw_identity *dst, const struct gw_identity *src)
{
    const char *from[4] = {src->consumer, src->user, src->roles, src->perms};
    char *to[4] = {NULL, NULL, NULL, NULL};

    for (int i = 0; i < 4; i++) {
        if (from[i] == NULL)
            continue;
        to[i] = dup_str(from[i]);
        if (to[i] == NULL)
            goto fail;
    }
    dst->consumer = to[0];
    dst->user = to[1];
    dst->roles = to[2];
    dst->perms = to[3];
    dst->exp = src->exp;
    dst->jti_key = src->jti_key;
    dst->sid_key = src->sid_key;
    return 0;
fail:
    for (int i = 0; i < 4; i++)
        free(to[i]);
    memset(dst, 0, sizeof(*dst));
    return GW_ENOMEM;
}

/* ---- the cache -------------------------------------------------------------------------- */

int gw_token_cache_new(struct gw_token_cache **out, size_t max_entries)
{
    struct gw_token_cache *c = NULL;
    int rc = GW_EINVAL;

    if (max_entries == 0)
        goto fail;
    rc = GW_ENOMEM;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    const struct gw_shard_table_conf tc = {
        .max_entries = max_entries,
        .max_shards = GW_TOKEN_CACHE_SHARDS,
        .min_per_shard = GW_TOKEN_CACHE_MIN_PER_SHARD,
        .expiry_heap = true,
        .key_eq = digest_eq,
        .free_entry = free_entry,
    };
    rc = gw_shard_table_new(&c->table, &tc);
    if (rc != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    free(c);
    return rc;
}

void gw_token_cache_free(struct gw_token_cache *c)
{
    if (c == NULL)
        return;
    gw_shard_table_free(c->table);
    free(c);
}

/* Copies s into the entry's data area at *pos; returns the copy (NULL for NULL). */
static char *place(struct tc_entry *e, size_t *pos, const char *s)
{
    char *p;
    size_t n;
    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    p = e->data + *pos;
    memcpy(p, s, n);
    *pos += n;
    return p;
}

/* One allocation for the entry and its identity's strings. Called without a lock. */
static struct tc_entry *entry_new(const uint8_t *digest, uint64_t hash,
                                  const struct gw_identity *id, uint64_t expires_at)
{
    size_t extra = 0, pos = 0;
    struct tc_entry *e;

    if (id != NULL) {
        const char *s[4] = {id->consumer, id->user, id->roles, id->perms};
        for (int i = 0; i < 4; i++)
            extra += s[i] != NULL ? strlen(s[i]) + 1 : 0;
    }
    e = calloc(1, sizeof(*e) + extra);
    if (e == NULL)
        return NULL;
    e->link.hash = hash;
    e->link.expires_at = expires_at;
    e->link.size = sizeof(*e) + extra;
    memcpy(e->digest, digest, TC_DIGEST_LEN);
    e->negative = id == NULL;
    if (id != NULL) {
        e->id.consumer = place(e, &pos, id->consumer);
        e->id.user = place(e, &pos, id->user);
        e->id.roles = place(e, &pos, id->roles);
        e->id.perms = place(e, &pos, id->perms);
        e->id.exp = id->exp;
        e->id.jti_key = id->jti_key;
        e->id.sid_key = id->sid_key;
    }
    return e;
}

int gw_token_cache_put(struct gw_token_cache *c, const void *token, size_t len,
                       const struct gw_identity *id, uint64_t expires_at_us)
{
    uint8_t d[TC_DIGEST_LEN];
    int rc = digest_token(token, len, d);
    if (rc < 0)
        return rc;
    uint64_t h = hash_digest(c, d);
    struct tc_entry *e = entry_new(d, h, id, expires_at_us);
    if (e == NULL)
        return GW_ENOMEM;
    struct gw_shard *sh = gw_shard_table_lock(c->table, h);
    struct gw_shard_entry *old = gw_shard_find(sh, h, d, TC_DIGEST_LEN);
    if (old != NULL)
        gw_shard_remove(sh, old);
    /* No clock here: a full shard judges expiry by the latest lookup it saw. */
    gw_shard_insert(sh, &e->link, 0);
    gw_shard_unlock(sh);
    return 0;
}

int gw_token_cache_get(struct gw_token_cache *c, const void *token, size_t len, uint64_t now_us,
                       struct gw_identity *out)
{
    uint8_t d[TC_DIGEST_LEN];
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    rc = digest_token(token, len, d);
    if (rc < 0)
        return rc;
    uint64_t h = hash_digest(c, d);
    struct gw_shard *sh = gw_shard_table_lock(c->table, h);
    struct gw_shard_entry *found = gw_shard_lookup(sh, h, d, TC_DIGEST_LEN, now_us);
    rc = 0;
    if (found != NULL) {
        const struct tc_entry *e = tc_entry_of(found);
        rc = 2;
        if (!e->negative)
            rc = out == NULL ? 1 : (gw_identity_copy(out, &e->id) == 0 ? 1 : GW_ENOMEM);
    }
    gw_shard_unlock(sh);
    return rc;
}

size_t gw_token_cache_sweep(struct gw_token_cache *c, uint64_t now_us)
{
    return gw_shard_table_sweep(c->table, now_us);
}

size_t gw_token_cache_clear(struct gw_token_cache *c)
{
    return gw_shard_table_clear(c->table);
}

void gw_token_cache_stats(struct gw_token_cache *c, struct gw_token_cache_stats *out)
{
    struct gw_shard_table_stats ts;
    gw_shard_table_stats(c->table, &ts);
    out->hits = ts.hits;
    out->misses = ts.misses;
    out->entries = ts.entries;
    out->evictions = ts.evictions;
    out->expired = ts.expired;
    out->bytes = ts.bytes;
}

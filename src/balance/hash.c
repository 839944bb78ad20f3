/*
 * Hash-based strategies and the 64-bit hash they share.
 *
 * ip_hash: the key (normally the client IP as text) hashed onto the cumulative weights, so a
 * fixed set of targets always sends one client to one target. A key whose target is not
 * eligible is rehashed (up to REHASH_TRIES times, as nginx does), then falls back to a random
 * pick seeded by the key: only that target's clients move. Adding or removing a target remaps
 * most keys; use consistent_hash when the set changes.
 *
 * consistent_hash: a ring of virtual nodes (vnodes_per_weight points per unit of weight, hashed
 * from the target id and the point's number). A key goes to the first point at or after its
 * hash (binary search, O(log points)); when that target is not eligible the walk continues to
 * the next distinct target on the ring. A target's points depend only on its own id and
 * weight, so adding a target takes keys only from the arcs its new points cut (about
 * 1/(n+1) of them) and removing one moves only its own keys.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "balance/internal.h"
#include "core/error.h"

#define REHASH_TRIES 20
#define SEED_KEY UINT64_C(0x6b65792d68617368)  /* request keys */
#define SEED_RING UINT64_C(0x72696e672d707473) /* ring points */

#define P0 UINT64_C(0xa0761d6478bd642f)
#define P1 UINT64_C(0xe7037ed1a0b428db)
#define P2 UINT64_C(0x8ebc6af09c88c6e3)

/* 64x64 -> 128 multiply. */
static inline void mul128(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__)
    unsigned __int128 r = (unsigned __int128)a * b;
    *lo = (uint64_t)r;
    *hi = (uint64_t)(r >> 64);
#else
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    *lo = (ll & 0xffffffffu) | (mid << 32);
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/* Multiply and fold: every input bit reaches every output bit. */
static inline uint64_t fold(uint64_t a, uint64_t b)
{
    uint64_t lo, hi;
    mul128(a, b, &lo, &hi);
    return lo ^ hi;
}

/* Little-endian loads, so hashes (and sticky cookies) agree across architectures. */
static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t rd32(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

uint64_t gw__balance_hash(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *p = data;
    size_t left = n;
    uint64_t s = gw__balance_mix(seed) ^ P0;
    uint64_t a, b, lo, hi;

    while (left > 16) {
        s = fold(rd64(p) ^ P1, rd64(p + 8) ^ s);
        p += 16;
        left -= 16;
    }
    /* 0..16 bytes remain; the reads below overlap rather than run past the end. */
    if (left > 8) {
        a = rd64(p);
        b = rd64(p + left - 8);
    } else if (left >= 4) {
        a = rd32(p) << 32 | rd32(p + left - 4);
        b = 0;
    } else if (left > 0) {
        a = (uint64_t)p[0] << 16 | (uint64_t)p[left >> 1] << 8 | p[left - 1];
        b = 0;
    } else {
        a = b = 0;
    }
    mul128(a ^ P1, b ^ s, &lo, &hi);
    return fold(lo ^ P0 ^ (uint64_t)n, hi ^ P2);
}

static int ip_hash_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                        const struct gw__balance_filter *f, uint64_t rnd)
{
    if (key == NULL || key->n == 0 || b->total_weight == 0)
        return gw__balance_pick_random(b, f, rnd, true);
    uint64_t h = gw__balance_hash(key->p, key->n, SEED_KEY);
    for (int k = 0; k < REHASH_TRIES; k++) {
        size_t i = gw__balance_weight_slot(b, gw__balance_below(h, b->total_weight));
        if (gw__balance_eligible(b, f, i))
            return (int)i;
        h = gw__balance_mix(h);
    }
    return gw__balance_pick_random(b, f, h, true);
}

const struct gw__balance_ops gw__balance_ip_hash = {
    .name = "ip_hash",
    .pick = ip_hash_pick,
};

static int cmp_point(const void *pa, const void *pb)
{
    const struct gw_balance_point *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return (a->target > b->target) - (a->target < b->target);
}

static int ring_build(struct gw_balancer *b)
{
    double want = (double)b->total_weight * b->vnodes_per_weight;
    double scale = want > GW__BALANCE_RING_MAX_POINTS ? GW__BALANCE_RING_MAX_POINTS / want : 1.0;
    size_t len = 0, k = 0;

    if (b->n == 0 || b->total_weight == 0)
        return 0;
    /* Scaling only happens above the cap; below it a target's points never depend on the
     * others, which is what bounds the remapping. */
    uint32_t *count = calloc(b->n, sizeof(*count));
    if (count == NULL)
        return GW_ENOMEM;
    for (size_t i = 0; i < b->n; i++) {
        if (b->targets[i].weight == 0)
            continue;
        double v = floor((double)b->targets[i].weight * b->vnodes_per_weight * scale);
        count[i] = v < 1 ? 1 : (uint32_t)v;
        len += count[i];
        b->ring_targets++;
    }
    b->ring = malloc(len * sizeof(*b->ring));
    if (b->ring == NULL) {
        free(count);
        return GW_ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++) {
        const char *id = b->targets[i].id;
        size_t idlen = strlen(id);
        for (uint32_t v = 0; v < count[i]; v++) {
            b->ring[k].hash = gw__balance_hash(id, idlen, SEED_RING + v);
            b->ring[k].target = (uint32_t)i;
            k++;
        }
    }
    free(count);
    qsort(b->ring, len, sizeof(*b->ring), cmp_point);
    b->ring_len = len;
    return 0;
}

static int ring_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                     const struct gw__balance_filter *f, uint64_t rnd)
{
    uint64_t seen[GW_BALANCE_EXCLUDE_WORDS] = {0};
    size_t lo = 0, hi = b->ring_len, distinct = 0;

    if (key == NULL || key->n == 0 || b->ring_len == 0)
        return gw__balance_pick_random(b, f, rnd, true);
    uint64_t h = gw__balance_hash(key->p, key->n, SEED_KEY);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->ring[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t j = 0; j < b->ring_len && distinct < b->ring_targets; j++) {
        size_t pos = lo + j;
        if (pos >= b->ring_len)
            pos -= b->ring_len;
        uint32_t t = b->ring[pos].target;
        if (seen[t / 64] >> (t % 64) & 1)
            continue;
        seen[t / 64] |= UINT64_C(1) << (t % 64);
        distinct++;
        if (gw__balance_eligible(b, f, t))
            return (int)t;
    }
    return -1;
}

const struct gw__balance_ops gw__balance_consistent_hash = {
    .name = "consistent_hash",
    .build = ring_build,
    .pick = ring_pick,
};

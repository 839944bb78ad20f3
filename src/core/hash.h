/*
 * Non-cryptographic hashing for in-process tables: 64-bit FNV-1a and a finishing mixer.
 *
 * FNV-1a (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/) is a running state:
 * gw_fnv1a64_step folds one more byte in, so a caller walking a string can read the hash of
 * every prefix on the way (the router does). Its low bits are weak for short keys, so a table
 * that indexes by the low bits should finish with gw_hash_mix64 (murmur3's fmix64, a
 * bijection that spreads every input bit over every output bit).
 *
 * A table keyed by client input seeds its hash with a per-process random value
 * (gw_hash_seeded), so that bucket choices cannot be predicted from outside. No hash from here
 * is stored or sent anywhere: they only need to be stable within one process.
 */
#ifndef GW_CORE_HASH_H
#define GW_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 64-bit offset basis (14695981039346656037) and prime (1099511628211). */
#define GW_FNV1A64_OFFSET UINT64_C(0xcbf29ce484222325)
#define GW_FNV1A64_PRIME UINT64_C(0x100000001b3)

/* Folds byte c into the running FNV-1a state h (start from GW_FNV1A64_OFFSET). */
static inline uint64_t gw_fnv1a64_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * GW_FNV1A64_PRIME;
}

/* Folds data[0..len) into the running state h. */
static inline uint64_t gw_fnv1a64_update(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = gw_fnv1a64_step(h, p[i]);
    return h;
}

/* FNV-1a of data[0..len). */
static inline uint64_t gw_fnv1a64(const void *data, size_t len)
{
    return gw_fnv1a64_update(GW_FNV1A64_OFFSET, data, len);
}

/* FNV-1a of the NUL-terminated string s (without the NUL). */
static inline uint64_t gw_fnv1a64_str(const char *s)
{
    uint64_t h = GW_FNV1A64_OFFSET;
    for (; *s != '\0'; s++)
        h = gw_fnv1a64_step(h, (unsigned char)*s);
    return h;
}

/* murmur3's 64-bit finaliser: a bijection whose every output bit depends on every input bit. */
static inline uint64_t gw_hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/*
 * A well-spread 64-bit hash of data[0..len) under seed: FNV-1a started from the offset basis
 * XOR seed, then gw_hash_mix64. With a random per-process seed (gw_random_u64) clients cannot
 * aim keys they choose at one bucket without seeing the table.
 */
static inline uint64_t gw_hash_seeded(uint64_t seed, const void *data, size_t len)
{
    return gw_hash_mix64(gw_fnv1a64_update(GW_FNV1A64_OFFSET ^ seed, data, len));
}

#endif

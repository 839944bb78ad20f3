#include "core/random.h"

#include <sys/random.h>
#include <time.h>

#include "core/hex.h"

static _Thread_local uint64_t state[4];
static _Thread_local int seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static void seed(void)
{
    if (getrandom(state, sizeof(state), 0) != (ssize_t)sizeof(state)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)&ts;
        for (int i = 0; i < 4; i++) {
            s += 0x9E3779B97F4A7C15ull;
            uint64_t z = s;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            state[i] = z ^ (z >> 31);
        }
    }
    seeded = 1;
}

uint64_t gw_random_u64(void)
{
    if (!seeded)
        seed();
    uint64_t result = rotl(state[1] * 5, 7) * 9;
    uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
}

void gw_random_fill(uint64_t *out, size_t n)
{
    if (!seeded)
        seed();
    /* The same steps as gw_random_u64 on locals: the state is loaded and stored once, not per
     * number (thread-local memory the compiler must otherwise reload after each store). */
    uint64_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
    for (size_t i = 0; i < n; i++) {
        out[i] = rotl(s1 * 5, 7) * 9;
        uint64_t t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 45);
    }
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = s3;
}

void gw_random_request_id(char out[33])
{
    uint64_t ab[2];
    gw_random_fill(ab, 2);
    uint64_t a = ab[0], b = ab[1];
    gw_hex_lower8((uint32_t)a, out);
    gw_hex_lower8((uint32_t)(a >> 32), out + 8);
    gw_hex_lower8((uint32_t)b, out + 16);
    gw_hex_lower8((uint32_t)(b >> 32), out + 24);
    out[32] = '\0';
}

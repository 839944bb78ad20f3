/* Per-thread fast random numbers (xoshiro256**), seeded from the kernel. Not for secrets. */
#ifndef GW_CORE_RANDOM_H
#define GW_CORE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

uint64_t gw_random_u64(void);

/* n numbers of the same sequence as n calls of gw_random_u64, cheaper (one call, the state kept
 * in registers): for the ids of one request. */
void gw_random_fill(uint64_t *out, size_t n);

/* Writes a request id: 32 lowercase hex characters (128 random bits) and a NUL. */
void gw_random_request_id(char out[33]);

#endif

/* Per-thread fast random numbers (xoshiro256**), seeded from the kernel. Not for secrets. */
#ifndef GW_CORE_RANDOM_H
#define GW_CORE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

uint64_t gw_random_u64(void);

/* Writes a request id: 32 lowercase hex characters (128 random bits) and a NUL. */
void gw_random_request_id(char out[33]);

#endif

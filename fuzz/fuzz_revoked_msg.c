/*
 * libFuzzer target for the messages of the Redis revocation channel (state/revoked_redis.c,
 * gw_revoked_redis_parse): whatever another publisher sends there. Must never crash; what it
 * accepts is exactly "<16 lowercase hex> <decimal>", with a key that is not 0, and printing the
 * result the same way gives the input back.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "state/revoked_redis.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t key;
    int64_t until;
    if (gw_revoked_redis_parse((const char *)data, size, &key, &until) != 0)
        return 0;
    CHECK(key != 0 && until > 0);
    char again[64];
    int n = snprintf(again, sizeof again, "%016" PRIx64 " %" PRId64, key, until);
    /* Leading zeros of the expiry are the only spelling that differs. */
    if (size > 17 && data[17] != '0') {
        CHECK((size_t)n == size);
        CHECK(memcmp(again, data, size) == 0);
    }
    return 0;
}

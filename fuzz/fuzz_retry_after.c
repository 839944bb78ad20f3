/*
 * libFuzzer target for the Retry-After parser (trace/retry.c). Checks: a parsed wait is never
 * above the cap; the input is never read past its end (exact-size copy). Any violation traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/retry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    uint64_t ms = 0;
    if (gw_trace_retry_after_parse(s, size, INT64_C(1796515200), &ms) == 0 &&
        ms > GW_TRACE_RETRY_AFTER_MAX_MS)
        __builtin_trap();
    free(s);
    return 0;
}

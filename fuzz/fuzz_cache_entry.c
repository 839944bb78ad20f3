/*
 * libFuzzer target for the decoder of stored entries (cache/entry.c): the Redis backend reads
 * them back from Redis, which is input like any other. Checks: a decoded entry's parts lie
 * inside the input and in order, its numbers are in range, its head is NUL-terminated; an
 * object made from it encodes back to exactly the input. Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/entry.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && (size_t)(p - buf) <= len && n <= len - (size_t)(p - buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct gw_cache_entry e;
    if (gw_cache_entry_decode(buf, size, &e) != 0)
        return 0;
    CHECK(inside(e.key, e.key_len, buf, size) &&
          inside(e.vary_names, e.vary_names_len, buf, size) &&
          inside(e.vary_sig, e.vary_sig_len, buf, size) && inside(e.head, e.head_len, buf, size) &&
          inside(e.tags, e.tags_len, buf, size) && inside(e.body, e.body_len, buf, size));
    CHECK(e.status >= 100 && e.status <= 599 && e.lifetime >= 0 && e.initial_age >= 0);
    CHECK(e.head_len >= 1 && e.head[e.head_len - 1] == '\0' && strlen(e.head) == e.head_len - 1);
    struct gw_cache_obj *o = gw_cache_entry_obj(&e);
    if (o == NULL)
        return 0;
    CHECK(gw_cache_entry_size(o) == size);
    char *out = malloc(size);
    if (out != NULL) {
        CHECK(gw_cache_entry_encode(o, out, size) == size && memcmp(out, buf, size) == 0);
        free(out);
    }
    gw_cache_obj_release(o);
    return 0;
}

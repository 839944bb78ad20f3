/*
 * Comparing a header field's name with a lowercase name a policy knows, a word at a time: the
 * answer hooks' field step (policy/answer.c) and the security headers (policy/sechdr.c) run it
 * on the fields of every upstream answer.
 */
#ifndef GW_POLICY_FIELDNAME_H
#define GW_POLICY_FIELDNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* name[0..n) equals lower[0..n) ignoring ASCII case, for n >= 4; lower is lowercase. Reads
 * nothing outside either (the last word overlaps the one before it). Field names are tokens:
 * or-ing 0x20 into each byte lowercases the letters and turns no other byte a name may hold
 * into one of lower's ('-' stays '-'). */
static inline bool gw_fieldname_eq(const char *name, const char *lower, size_t n)
{
    uint64_t a, b;
    if (n < 8) {
        uint32_t x, y, z, w;
        memcpy(&x, name, 4);
        memcpy(&y, lower, 4);
        memcpy(&z, name + n - 4, 4);
        memcpy(&w, lower + n - 4, 4);
        return (x | 0x20202020u) == y && (z | 0x20202020u) == w;
    }
    const uint64_t fold = 0x2020202020202020ull;
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&a, name + i, 8);
        memcpy(&b, lower + i, 8);
        if ((a | fold) != b)
            return false;
    }
    memcpy(&a, name + n - 8, 8);
    memcpy(&b, lower + n - 8, 8);
    return (a | fold) == b;
}

#endif

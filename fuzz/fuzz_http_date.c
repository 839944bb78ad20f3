/*
 * libFuzzer target for the HTTP-date parser (cache/date.c). Checks: a parsed date lies between
 * year 0 and 9999; an IMF-fixdate formatted from it parses back to the same time; the input
 * is never read past its end (exact-size copy). Any violation traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/date.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    int64_t t = 0, back = 0;
    if (gw_http_date_parse(s, size, INT64_C(1796515200), &t) == 0) {
        CHECK(t >= INT64_C(-62167219200) && t < INT64_C(253402300800));
        if (t >= 0) {
            char out[GW_HTTP_DATE_LEN];
            CHECK(gw_http_date_format(t, out) == 29);
            CHECK(gw_http_date_parse(out, 29, INT64_C(1796515200), &back) == 0 && back == t);
        }
    }
    free(s);
    return 0;
}

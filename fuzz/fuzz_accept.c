/*
 * libFuzzer target for the Accept negotiation (http1/accept.c). The input is split at its first
 * NUL into two field lines. Checks: the choice is -1 or one of the offered types; the two lines
 * as two Accept fields choose what they choose joined into one list (RFC 9110 5.3); a type the
 * value does not name (no "/" in it) is never chosen when the value has no wildcard range.
 * Any violation traps. Inputs are copied to exact-size heap buffers, so ASan sees any read past
 * a line.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1/accept.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const char *const OFFERED[] = {"text/plain", "application/json", "text/html"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t n1 = nul ? (size_t)(nul - s) : size;
    size_t n2 = nul ? size - n1 - 1 : 0;
    char *a = malloc(n1 ? n1 : 1), *b = malloc(n2 ? n2 : 1), *joined = malloc(n1 + n2 + 1);
    if (!a || !b || !joined)
        goto out;
    memcpy(a, s, n1);
    if (nul)
        memcpy(b, nul + 1, n2);
    memcpy(joined, a, n1);
    joined[n1] = ',';
    memcpy(joined + n1 + 1, b, n2);

    struct gw_http1_header h[2] = {
        {.name = "Accept", .name_len = 6, .value = a, .value_len = (uint32_t)n1},
        {.name = "accept", .name_len = 6, .value = b, .value_len = (uint32_t)n2},
    };
    struct gw_http1_message m = {.headers = h, .num_headers = nul ? 2 : 1};
    int c = gw_accept_choose(&m, OFFERED, 3);
    CHECK(c >= -1 && c < 3);
    int cj = nul ? gw_accept_choose_value(joined, n1 + n2 + 1, OFFERED, 3)
                 : gw_accept_choose_value(a, n1, OFFERED, 3);
    CHECK(c == cj);
    if (c >= 0 && memchr(joined, '*', n1 + n2 + 1) == NULL) {
        const char *t = OFFERED[c];
        size_t tl = strlen(t);
        bool named = false;
        for (size_t i = 0; i + tl <= n1 + n2 + 1 && !named; i++) {
            named = true;
            for (size_t k = 0; k < tl && named; k++) {
                char x = joined[i + k];
                named = (x >= 'A' && x <= 'Z' ? (char)(x + 32) : x) == t[k];
            }
        }
        CHECK(named);
    }
out:
    free(a);
    free(b);
    free(joined);
    return 0;
}

/*
 * libFuzzer target for the Vary parser and request signatures (cache/vary.c). The input is split
 * at its first NUL: a Vary field value, then request field lines "name: value" separated by LF.
 * Checks: the canonical list stays within its bounds, is lower case and holds no duplicate;
 * parsing it again gives itself; a signature fits its buffer or says it does not, and two
 * computations agree. Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/vary.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_FIELDS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t n1 = nul ? (size_t)(nul - s) : size;
    char *v = malloc(n1 ? n1 : 1);
    if (v == NULL)
        return 0;
    memcpy(v, s, n1);
    struct gw_vary vy;
    gw_vary_init(&vy);
    gw_vary_parse(&vy, v, n1);
    CHECK(vy.len <= GW_VARY_NAMES_MAX && vy.count <= GW_VARY_MAX_FIELDS);
    for (uint32_t i = 0; i < vy.len; i++)
        CHECK(!(vy.names[i] >= 'A' && vy.names[i] <= 'Z'));
    struct gw_vary again;
    gw_vary_init(&again);
    gw_vary_parse(&again, vy.names, vy.len);
    CHECK(!again.bad && again.count == vy.count && again.len == vy.len &&
          memcmp(again.names, vy.names, vy.len) == 0);

    struct gw_http1_header h[MAX_FIELDS];
    struct gw_http1_message m = {.headers = h, .headers_capacity = MAX_FIELDS};
    const char *p = nul ? nul + 1 : s + size, *end = s + size;
    while (p < end && m.num_headers < MAX_FIELDS) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *e = lf ? lf : end;
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (colon != NULL) {
            h[m.num_headers++] = (struct gw_http1_header){
                .name = p,
                .name_len = (uint32_t)(colon - p),
                .value = colon + 1,
                .value_len = (uint32_t)(e - colon - 1),
            };
        }
        p = lf ? lf + 1 : end;
    }
    char out1[256], out2[256];
    /* with the coding pseudo-field too (a compressing service's), under each normalisation */
    struct gw_vary coded = vy;
    gw_vary_add_coding(&coded);
    static const unsigned norms[] = {0u, GW_VARY_NORM_ACCEPT_ENCODING, GW_VARY_NORM_CODINGS(6u),
                                     GW_VARY_NORM_ACCEPT_ENCODING | GW_VARY_NORM_CODINGS(2u)};
    for (unsigned k = 0; k < 2 * sizeof norms / sizeof norms[0]; k++) {
        const struct gw_vary *list = k & 1u ? &coded : &vy;
        unsigned norm = norms[k / 2];
        if (list->bad)
            continue;
        long l1 = gw_vary_signature(list->names, list->len, &m, norm, out1, sizeof out1);
        long l2 = gw_vary_signature(list->names, list->len, &m, norm, out2, sizeof out2);
        CHECK(l1 == l2 && l1 >= -1 && l1 <= (long)sizeof out1);
        if (l1 > 0)
            CHECK(memcmp(out1, out2, (size_t)l1) == 0);
    }
    free(v);
    return 0;
}

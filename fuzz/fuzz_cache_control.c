/*
 * libFuzzer target for the Cache-Control parser (cache/cc.c) and the freshness decisions fed by
 * it (cache/fresh.c). The input is split at its first NUL into two field lines. Checks: every
 * number is -1 or within 0..2^31; parsing the two lines as one list (joined with a comma) gives
 * the same directives; a malformed freshness gives a lifetime of 0; the reuse decision is one of
 * the four and never "fresh" for a no-cache request. Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cc.h"
#include "cache/fresh.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static bool num_ok(int64_t v)
{
    return v == -1 || (v >= 0 && v <= INT64_C(2147483648));
}

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

    struct gw_cc cc, one;
    gw_cc_init(&cc);
    gw_cc_parse(&cc, a, n1);
    if (nul)
        gw_cc_parse(&cc, b, n2);
    gw_cc_parse_pragma(&cc, a, n1);
    CHECK(num_ok(cc.max_age) && num_ok(cc.s_maxage) && num_ok(cc.max_stale) &&
          num_ok(cc.min_fresh) && num_ok(cc.stale_while_revalidate) && num_ok(cc.stale_if_error));
    /* An unterminated quote swallows the rest of a line, so the joined form only compares
     * when neither line leaves one open. */
    size_t quotes = 0;
    for (size_t i = 0; i < n1; i++)
        quotes += a[i] == '"' || a[i] == '\\';
    if (nul && quotes == 0) {
        gw_cc_init(&one);
        gw_cc_parse(&one, joined, n1 + n2 + 1);
        CHECK(one.flags == cc.flags && one.max_age == cc.max_age && one.s_maxage == cc.s_maxage &&
              one.max_stale == cc.max_stale && one.min_fresh == cc.min_fresh);
    }

    struct gw_cache_resp_info r = {.status = 200, .date = -1, .last_modified = -1, .age = -1};
    r.cc = cc;
    struct gw_cache_fresh_conf conf = {
        .heuristic_percent = 10, .heuristic_max = 3600, .default_ttl = 60};
    int64_t life = gw_cache_freshness_lifetime(&r, &conf, 1000);
    CHECK(life >= 0);
    if (cc.flags & GW_CC_BAD_FRESHNESS)
        CHECK(life == 0);
    struct gw_cc req;
    gw_cc_init(&req);
    if (nul)
        gw_cc_parse(&req, b, n2);
    for (int64_t age = 0; age < 3; age++) {
        enum gw_cache_use u = gw_cache_usable(&cc, life, age * life, &req, 600);
        CHECK(u >= GW_CACHE_USE_FRESH && u <= GW_CACHE_USE_VALIDATE);
        if ((req.flags | cc.flags) & GW_CC_NO_CACHE)
            CHECK(u == GW_CACHE_USE_VALIDATE);
        (void)gw_cache_stale_if_error(&cc, life, age * life, &req, 600);
    }
out:
    free(a);
    free(b);
    free(joined);
    return 0;
}

/*
 * libFuzzer target for built-in identity's chunked request bodies (identity/body.c
 * gw_idp_body_dechunk: an HTTP/1.1 chunked body, or an HTTP/2 body without content-length as
 * the h2 session frames it). The first byte picks the piece size (1..256) and the payload cap
 * (small caps reach the 413 path); the rest is fed once whole and once in pieces. Both must
 * agree: the same outcome, and unless it is an error the same payload and the same number of
 * bytes taken; the payload never passes the cap, and no more bytes are taken than given. Any
 * violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "http1/chunked.h"
#include "identity/identity.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static char whole_out[GW_IDP_BODY_MAX], split_out[GW_IDP_BODY_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] & 0xff) + 1;
    size_t cap = data[0] & 1 ? 16 : GW_IDP_BODY_MAX;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;

    struct gw_chunked_decoder d;
    gw_chunked_init(&d, 0, 0);
    size_t wlen = 0, wused = 0;
    int wrc = gw_idp_body_dechunk(&d, in, n, &wused, whole_out, &wlen, cap);
    CHECK(wused <= n && wlen <= cap);
    CHECK(wrc != 0 || wused == n);

    gw_chunked_init(&d, 0, 0);
    size_t slen = 0, sused = 0;
    int src = 0;
    while (sused < n) {
        size_t k = n - sused < step ? n - sused : step, u = 0;
        src = gw_idp_body_dechunk(&d, in + sused, k, &u, split_out, &slen, cap);
        CHECK(u <= k && slen <= cap);
        sused += u;
        if (src != 0)
            break;
        CHECK(u == k);
    }
    CHECK((wrc < 0) == (src < 0));
    if (wrc >= 0) {
        CHECK(wrc == src);
        CHECK(wlen == slen && memcmp(whole_out, split_out, wlen) == 0);
        CHECK(wused == sused);
    } else {
        CHECK((wrc == GW_EBODYTOOLARGE) == (src == GW_EBODYTOOLARGE));
    }
    return 0;
}

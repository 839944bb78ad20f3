/*
 * libFuzzer target for policy/version_extract.c: reading an API version from an Accept field
 * value (media-type parameters, quoted strings), from headers and from a query. The input is
 * split at its first two 0 bytes into (Accept value, query, another header's value).
 * Invariants (any violation traps):
 *   - a found value lies inside the buffer it was read from, and never spans a ',' outside a
 *     quoted-string or a ';' in a token value (it is one parameter's value);
 *   - the Accept parameter is found by gw_version_extract exactly when gw_version_accept_param
 *     finds it, with the same slice;
 *   - a query value never contains '&';
 *   - gw_version_token accepts only the characters it documents.
 * Inputs are copied to exact-size heap buffers, so ASan catches any read past the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/version.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static char *dup_exact(const uint8_t *p, size_t n)
{
    char *s = malloc(n ? n : 1);
    if (s && n)
        memcpy(s, p, n);
    return s;
}

static bool inside(const char *v, size_t vl, const char *buf, size_t n)
{
    return v >= buf && v + vl <= buf + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *z1 = memchr(data, 0, size);
    size_t an = z1 ? (size_t)(z1 - data) : size;
    const uint8_t *rest = z1 ? z1 + 1 : data + size;
    size_t rn = (size_t)(data + size - rest);
    const uint8_t *z2 = memchr(rest, 0, rn);
    size_t qn = z2 ? (size_t)(z2 - rest) : rn;
    const uint8_t *hv = z2 ? z2 + 1 : rest + rn;
    size_t hn = (size_t)(data + size - hv);

    char *acc = dup_exact(data, an);
    char *q = dup_exact(rest, qn);
    char *h = dup_exact(hv, hn);
    if (!acc || !q || !h)
        goto done;

    const char *v = NULL;
    size_t vl = 0;
    bool a = gw_version_accept_param(acc, an, "version", 7, &v, &vl);
    if (a) {
        CHECK(inside(v, vl, acc, an));
        bool quoted = v > acc && v[-1] == '"';
        if (!quoted)
            CHECK(memchr(v, ',', vl) == NULL && memchr(v, ';', vl) == NULL);
        else
            CHECK(memchr(v, '"', vl) == NULL && memchr(v, '\\', vl) == NULL);
    }

    struct gw_http1_header hdrs[2] = {
        {.name = "Accept", .name_len = 6, .value = acc, .value_len = (uint32_t)an},
        {.name = "X-Version", .name_len = 9, .value = h, .value_len = (uint32_t)hn},
    };
    struct gw_http1_message m = {.headers = hdrs, .num_headers = 2};
    char *names[] = {"X-Version"};
    struct gw_versioning_conf vc = {
        .order = {GW_VSRC_ACCEPT},
        .norder = 1,
        .headers = names,
        .nheaders = 1,
        .query = "version",
        .accept_param = "version",
    };
    const char *e = NULL;
    size_t el = 0;
    bool b = gw_version_extract(&vc, &m, q, qn, &e, &el);
    CHECK(a == b);
    if (a)
        CHECK(e == v && el == vl);

    vc.order[0] = GW_VSRC_QUERY;
    if (gw_version_extract(&vc, &m, q, qn, &e, &el)) {
        CHECK(inside(e, el, q, qn));
        CHECK(memchr(e, '&', el) == NULL);
    }
    vc.order[0] = GW_VSRC_HEADER;
    CHECK(gw_version_extract(&vc, &m, q, qn, &e, &el));
    CHECK(e == h && el == hn);

    if (gw_version_token(h, hn)) {
        CHECK(hn > 0 && hn <= GW_VERSION_MAX);
        for (size_t i = 0; i < hn; i++) {
            unsigned char c = (unsigned char)h[i];
            CHECK((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '.' ||
                  c == '_' || c == '-');
        }
    }
done:
    free(acc);
    free(q);
    free(h);
    return 0;
}

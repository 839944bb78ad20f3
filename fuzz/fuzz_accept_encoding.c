/*
 * libFuzzer target for the Accept-Encoding parser (http1/accept_encoding.c). The input is split
 * at its first NUL into two field lines. Checks: every qvalue read is unset or within 0..1000;
 * the choice is one of the offered codings or identity, never a coding whose q is 0, and never
 * a coding when the client named identity with a higher q; parsing the two lines as one list
 * (joined with a comma) gives the same preferences. Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1/accept_encoding.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static bool q_ok(int q)
{
    return q == GW_QVALUE_UNSET || (q >= 0 && q <= 1000);
}

static int q_of(int named, int star)
{
    return named != GW_QVALUE_UNSET ? named : star != GW_QVALUE_UNSET ? star : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t n1 = nul ? (size_t)(nul - s) : size;
    const char *l2 = nul ? nul + 1 : s + size;
    size_t n2 = nul ? size - n1 - 1 : 0;

    /* Exact-size copies so the sanitizer sees any read past a line. */
    char *a = malloc(n1 ? n1 : 1), *b = malloc(n2 ? n2 : 1), *joined = malloc(n1 + n2 + 1);
    if (!a || !b || !joined)
        goto out;
    memcpy(a, s, n1);
    memcpy(b, l2, n2);
    memcpy(joined, s, n1);
    joined[n1] = ',';
    memcpy(joined + n1 + 1, l2, n2);

    struct gw_accept_encoding p, q;
    gw_accept_encoding_init(&p);
    gw_accept_encoding_parse(&p, a, n1);
    if (nul)
        gw_accept_encoding_parse(&p, b, n2);
    CHECK(q_ok(p.gzip) && q_ok(p.br) && q_ok(p.identity) && q_ok(p.star));
    if (nul) {
        gw_accept_encoding_init(&q);
        gw_accept_encoding_parse(&q, joined, n1 + n2 + 1);
        CHECK(q.gzip == p.gzip && q.br == p.br && q.identity == p.identity && q.star == p.star);
    }
    for (unsigned offered = 0; offered < 8; offered += 2) {
        enum gw_coding c = gw_accept_encoding_choose(&p, offered);
        CHECK(c == GW_CODING_IDENTITY || c == GW_CODING_GZIP || c == GW_CODING_BR);
        if (c == GW_CODING_IDENTITY)
            continue;
        CHECK(offered & GW_CODING_BIT(c));
        int qc = q_of(c == GW_CODING_GZIP ? p.gzip : p.br, p.star);
        CHECK(qc > 0);
        CHECK(p.identity == GW_QVALUE_UNSET || p.identity <= qc);
    }
out:
    free(a);
    free(b);
    free(joined);
    return 0;
}

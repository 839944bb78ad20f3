/*
 * libFuzzer target for tls/peer_name.c: the SAN text of a client certificate and the consumer
 * matching on it. The input is a list of entries separated by '\n' (NUL bytes and all), each
 * a type byte (DNS, email, URI by its value mod 3) and the entry's bytes. A certificate with
 * those entries gives a SAN text that must hold only printable ASCII; each entry without a NUL
 * must match itself (type prefix and bytes) when the text had room for all, and its value less
 * its last byte must match no entry but one that is exactly that. The whole input is also
 * matched as a SAN text against each entry (it must not crash or read past its end).
 * Any violation traps.
 */
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/internal.h"
#include "tls/peer_name.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_ENTRIES 16
#define TEXT_CAP 1024

static const int types[] = {GEN_DNS, GEN_EMAIL, GEN_URI};
static const char *const prefixes[] = {"DNS:", "email:", "URI:"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *ent[MAX_ENTRIES];
    size_t len[MAX_ENTRIES], n = 0;
    for (size_t at = 0; at < size && n < MAX_ENTRIES;) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t l = nl ? (size_t)(nl - (data + at)) : size - at;
        if (l >= 2 && l < 300) {
            ent[n] = data + at;
            len[n++] = l;
        }
        at += l + 1;
    }
    X509 *x = X509_new();
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    CHECK(x && gens);
    for (size_t i = 0; i < n; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_STRING *v = ASN1_IA5STRING_new();
        CHECK(g && v && ASN1_STRING_set(v, ent[i] + 1, (int)len[i] - 1) == 1);
        GENERAL_NAME_set0_value(g, types[ent[i][0] % 3], v);
        CHECK(sk_GENERAL_NAME_push(gens, g) > 0);
    }
    if (n > 0)
        CHECK(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) == 1);
    GENERAL_NAMES_free(gens);
    char *text = n > 0 ? gw__tls_san_text(x, TEXT_CAP) : NULL;
    X509_free(x);
    CHECK(n == 0 || text);
    for (const char *p = text; p && *p; p++)
        CHECK(*p >= 0x20 && *p < 0x7f);
    /* every entry fits when the text has room for each one fully escaped */
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += 2 + strlen(prefixes[ent[i][0] % 3]) + 3 * (len[i] - 1);
    char *raw = malloc(size + 1);
    CHECK(raw);
    memcpy(raw, data, size);
    raw[size] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *prefix = prefixes[ent[i][0] % 3];
        size_t pn = strlen(prefix), vn = len[i] - 1;
        char *want = malloc(pn + vn + 1);
        CHECK(want);
        memcpy(want, prefix, pn);
        memcpy(want + pn, ent[i] + 1, vn);
        want[pn + vn] = '\0';
        bool nul = memchr(ent[i] + 1, '\0', vn) != NULL;
        if (!nul && total <= TEXT_CAP)
            CHECK(gw_tls_san_has(text, want));
        /* a proper prefix of an entry is never that entry (unless another entry is it) */
        if (!nul && vn > 1) {
            want[pn + vn - 1] = '\0';
            bool other = false;
            for (size_t k = 0; k < n; k++)
                other |= ent[k][0] % 3 == ent[i][0] % 3 && len[k] == len[i] - 1 &&
                         memcmp(ent[k] + 1, ent[i] + 1, vn - 1) == 0;
            CHECK(other || !gw_tls_san_has(text, want));
        }
        (void)gw_tls_san_has(raw, want);
        free(want);
    }
    free(raw);
    free(text);
    return 0;
}

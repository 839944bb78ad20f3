/*
 * The admin key: which key a request carries, and the constant-time comparison with the one
 * the config names (admin.h has the contracts).
 */
#include "admin/admin.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "http1/parser.h"

static bool sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

bool gw__admin_key_equal(const char *expected, const char *given, size_t given_len)
{
    unsigned char want[32];
    unsigned char got[32];
    if (expected == NULL || given == NULL)
        return false;
    if (!sha256(expected, strlen(expected), want) || !sha256(given, given_len, got))
        return false;
    return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

bool gw__admin_request_key(const struct gw_http1_message *m, struct gw__admin_slice *key)
{
    int i = gw_http1_find_header(m, "authorization", 13);
    if (i >= 0) {
        const char *v = m->headers[i].value;
        size_t n = m->headers[i].value_len;
        if (n > 7 && strncasecmp(v, "bearer ", 7) == 0) {
            v += 7;
            n -= 7;
            while (n > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                n--;
            }
            if (n > 0) {
                key->p = v;
                key->n = n;
                return true;
            }
        }
    }
    i = gw_http1_find_header(m, "x-api-key", 9);
    if (i >= 0 && m->headers[i].value_len > 0) {
        key->p = m->headers[i].value;
        key->n = m->headers[i].value_len;
        return true;
    }
    return false;
}

void gw__admin_key_id(const struct gw__admin_slice *given, char out[20])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    out[0] = '\0';
    if (given->p == NULL || !sha256(given->p, given->n, md))
        return;
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < 6; i++) {
        out[7 + 2 * i] = digits[md[i] >> 4];
        out[8 + 2 * i] = digits[md[i] & 15];
    }
    out[19] = '\0';
}

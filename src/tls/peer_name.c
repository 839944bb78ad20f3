/*
 * The SAN text of a client certificate and its matching (see peer_name.h).
 */
#include "tls/peer_name.h"

#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/internal.h"

/* Whether a value byte is written %XX: the escape itself, the separator's comma, and anything
 * but visible ASCII. */
static bool escaped(unsigned char ch)
{
    return ch <= 0x20 || ch >= 0x7f || ch == '%' || ch == ',';
}

/* Appends "prefix" and the escaped value v[0..n) to out (cap bytes with the NUL), after ", "
 * when out is not empty; false when it would not fit whole (out is then unchanged). */
static bool append_entry(char *out, size_t cap, const char *prefix, const unsigned char *v,
                         size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t at = strlen(out);
    size_t need = (at ? 2 : 0) + strlen(prefix);
    for (size_t i = 0; i < n; i++)
        need += escaped(v[i]) ? 3 : 1;
    if (at + need + 1 > cap)
        return false;
    if (at) {
        memcpy(out + at, ", ", 2);
        at += 2;
    }
    memcpy(out + at, prefix, strlen(prefix));
    at += strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        if (escaped(v[i])) {
            out[at++] = '%';
            out[at++] = hex[v[i] >> 4];
            out[at++] = hex[v[i] & 15];
        } else {
            out[at++] = (char)v[i];
        }
    }
    out[at] = '\0';
    return true;
}

char *gw__tls_san_text(X509 *x, size_t cap)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!gens)
        return NULL;
    char *out = calloc(1, cap);
    for (int i = 0; out && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const char *prefix = NULL;
        const ASN1_STRING *v = NULL;
        if (g->type == GEN_DNS) {
            prefix = "DNS:";
            v = g->d.dNSName;
        } else if (g->type == GEN_EMAIL) {
            prefix = "email:";
            v = g->d.rfc822Name;
        } else if (g->type == GEN_URI) {
            prefix = "URI:";
            v = g->d.uniformResourceIdentifier;
        } else if (g->type == GEN_IPADD) {
            const unsigned char *b = ASN1_STRING_get0_data(g->d.iPAddress);
            int len = ASN1_STRING_length(g->d.iPAddress);
            char ip[64] = "";
            if (len == 4) {
                snprintf(ip, sizeof ip, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
            } else {
                /* other lengths (IPv6) as colon-separated hex bytes, as OpenSSL prints them */
                for (int k = 0; k < len && k < 20; k++)
                    snprintf(ip + strlen(ip), sizeof ip - strlen(ip), k ? ":%02X" : "%02X", b[k]);
            }
            if (!append_entry(out, cap, "IP:", (const unsigned char *)ip, strlen(ip)))
                break;
            continue;
        }
        if (!prefix || !v)
            continue;
        const unsigned char *p = ASN1_STRING_get0_data(v);
        size_t n = (size_t)ASN1_STRING_length(v);
        if (memchr(p, '\0', n))
            continue;
        if (!append_entry(out, cap, prefix, p, n))
            break;
    }
    GENERAL_NAMES_free(gens);
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Whether the entry e[0..n) of a SAN text, decoded, is want[0..wn) (the type prefix is never
 * escaped, so it is compared as the rest). */
static bool entry_is(const char *e, size_t n, const char *want, size_t wn)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++, w++) {
        int ch = (unsigned char)e[i];
        if (ch == '%') {
            int hi = i + 2 < n ? hexval(e[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(e[i + 2]) : -1;
            if (lo < 0)
                return false;
            ch = hi << 4 | lo;
            i += 2;
        }
        if (w >= wn || (unsigned char)want[w] != ch)
            return false;
    }
    return w == wn;
}

bool gw_tls_san_has(const char *san, const char *want)
{
    size_t wn = strlen(want);
    for (const char *p = san; p && *p;) {
        const char *end = strstr(p, ", ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (entry_is(p, len, want, wn))
            return true;
        p = end ? end + 2 : p + len;
    }
    return false;
}

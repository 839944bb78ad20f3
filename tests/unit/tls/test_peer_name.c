/* Unit tests for src/tls/peer_name.c: the SAN text of generated certificates whose entries hold
 * the separator, escapes, controls and NUL bytes, and the consumer matching on it (type and
 * exact bytes: an entry that only looks like another once printed is not that entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "tls/internal.h"
#include "tls/peer_name.h"

struct san {
    int type;
    const char *bytes;
    size_t len; /* 0: strlen(bytes) */
};

/* A certificate (unsigned: only its SAN extension is read) with the entries sans[0..n). */
static X509 *cert_with(const struct san *sans, size_t n)
{
    X509 *x = X509_new();
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    assert_non_null(x);
    assert_non_null(gens);
    for (size_t i = 0; i < n; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_STRING *v = sans[i].type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
        size_t len = sans[i].len ? sans[i].len : strlen(sans[i].bytes);
        assert_int_equal(ASN1_STRING_set(v, sans[i].bytes, (int)len), 1);
        GENERAL_NAME_set0_value(g, sans[i].type, v);
        assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
    }
    assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
    GENERAL_NAMES_free(gens);
    return x;
}

static char *text_of(const struct san *sans, size_t n, size_t cap)
{
    X509 *x = cert_with(sans, n);
    char *t = gw__tls_san_text(x, cap);
    X509_free(x);
    assert_non_null(t);
    return t;
}

static void plain_entries_read_as_before(void **state)
{
    (void)state;
    const struct san s[] = {{GEN_EMAIL, "alice@example.com", 0},
                            {GEN_DNS, "alice.example", 0},
                            {GEN_URI, "spiffe://corp/billing", 0},
                            {GEN_IPADD, "\x0a\x00\x00\x01", 4}};
    char *t = text_of(s, 4, 1024);
    assert_string_equal(t, "email:alice@example.com, DNS:alice.example, "
                           "URI:spiffe://corp/billing, IP:10.0.0.1");
    assert_true(gw_tls_san_has(t, "URI:spiffe://corp/billing"));
    assert_true(gw_tls_san_has(t, "email:alice@example.com"));
    assert_true(gw_tls_san_has(t, "DNS:alice.example"));
    assert_true(gw_tls_san_has(t, "IP:10.0.0.1"));
    /* the type is part of the name; a prefix or an extension of a value is another value */
    assert_false(gw_tls_san_has(t, "DNS:spiffe://corp/billing"));
    assert_false(gw_tls_san_has(t, "URI:spiffe://corp/bill"));
    assert_false(gw_tls_san_has(t, "URI:spiffe://corp/billingX"));
    assert_false(gw_tls_san_has(t, "alice.example"));
    assert_false(gw_tls_san_has(t, ""));
    assert_false(gw_tls_san_has(NULL, "DNS:alice.example"));
    free(t);
}

static void a_separator_inside_a_value_is_escaped(void **state)
{
    (void)state;
    /* one email and one DNS entry whose text holds ", URI:spiffe://corp/billing" */
    const struct san s[] = {{GEN_EMAIL, "eve@x.example, URI:spiffe://corp/billing", 0},
                            {GEN_DNS, "eve.example, URI:spiffe://corp/billing", 0}};
    char *t = text_of(s, 2, 1024);
    assert_string_equal(t, "email:eve@x.example%2C%20URI:spiffe://corp/billing, "
                           "DNS:eve.example%2C%20URI:spiffe://corp/billing");
    assert_false(gw_tls_san_has(t, "URI:spiffe://corp/billing"));
    /* the entries themselves still match, byte for byte */
    assert_true(gw_tls_san_has(t, "email:eve@x.example, URI:spiffe://corp/billing"));
    assert_true(gw_tls_san_has(t, "DNS:eve.example, URI:spiffe://corp/billing"));
    assert_false(gw_tls_san_has(t, "email:eve@x.example"));
    free(t);
}

static void nul_entries_are_left_out(void **state)
{
    (void)state;
    const struct san s[] = {{GEN_URI, "spiffe://corp/billing\0evil", 26},
                            {GEN_EMAIL, "x@y\0z", 5},
                            {GEN_URI, "spiffe://corp/eve", 0}};
    char *t = text_of(s, 3, 1024);
    assert_string_equal(t, "URI:spiffe://corp/eve");
    assert_false(gw_tls_san_has(t, "URI:spiffe://corp/billing"));
    assert_false(gw_tls_san_has(t, "email:x@y"));
    free(t);
    /* only NUL entries: an empty text, which matches nothing */
    t = text_of(s, 2, 1024);
    assert_string_equal(t, "");
    assert_false(gw_tls_san_has(t, "URI:spiffe://corp/billing"));
    free(t);
}

static void controls_escapes_and_non_ascii_are_escaped(void **state)
{
    (void)state;
    const struct san s[] = {{GEN_URI, "spiffe://corp/eve\r\nx-injected: 1", 0},
                            {GEN_DNS, "caf\xc3\xa9%41", 0}};
    char *t = text_of(s, 2, 1024);
    assert_string_equal(t, "URI:spiffe://corp/eve%0D%0Ax-injected:%201, DNS:caf%C3%A9%2541");
    for (const char *p = t; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_true(gw_tls_san_has(t, "DNS:caf\xc3\xa9%41"));
    assert_false(gw_tls_san_has(t, "DNS:cafA"));
    assert_false(gw_tls_san_has(t, "DNS:caf\xc3\xa9"
                                   "A"));
    /* a text not made by gw__tls_san_text (a truncated escape) matches nothing */
    assert_false(gw_tls_san_has("DNS:a%4", "DNS:a%4"));
    assert_false(gw_tls_san_has("DNS:a%zz", "DNS:a%zz"));
    free(t);
}

static void entries_that_do_not_fit_are_left_out_whole(void **state)
{
    (void)state;
    const struct san s[] = {{GEN_DNS, "a.example", 0}, {GEN_DNS, "bbbbbbbbbb.example", 0}};
    char *t = text_of(s, 2, 20);
    assert_string_equal(t, "DNS:a.example");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_entries_read_as_before),
        cmocka_unit_test(a_separator_inside_a_value_is_escaped),
        cmocka_unit_test(nul_entries_are_left_out),
        cmocka_unit_test(controls_escapes_and_non_ascii_are_escaped),
        cmocka_unit_test(entries_that_do_not_fit_are_left_out_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

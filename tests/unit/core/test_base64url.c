/* Unit tests for src/core/base64url.c: unpadded base64url (RFC 4648 section 5) as JOSE uses it.
 * The decoder accepts exactly one encoding per byte string; both sides respect their caps.
 * (tests/unit/policy/test_jwt.c checks the RFC 4648 vectors as JWT decoding meets them.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64url.h"
#include "core/error.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Deterministic bytes for the round trips. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char e[16];
        unsigned char d[16];
        size_t n = 99;
        assert_int_equal(gw_base64url_encode(plain[i], strlen(plain[i]), e, sizeof e, &n), 0);
        assert_string_equal(e, enc[i]);
        assert_int_equal(n, strlen(enc[i]));
        assert_int_equal(gw_base64url_decode(enc[i], strlen(enc[i]), d, sizeof d, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
    }
}

/* Bytes 0xfb 0xff are "+/8" in base64 and "-_8" here. */
static void test_url_safe_alphabet(void **state)
{
    (void)state;
    static const unsigned char in[] = {0xfb, 0xff, 0xbf};
    char e[8];
    assert_int_equal(gw_base64url_encode(in, 3, e, sizeof e, NULL), 0);
    assert_string_equal(e, "-_-_");
    /* every character of the alphabet decodes to its value */
    for (int v = 0; v < 64; v++) {
        char four[4] = {ALPHABET[v], 'A', 'A', 'A'};
        unsigned char d[3];
        size_t n;
        assert_int_equal(gw_base64url_decode(four, 4, d, sizeof d, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(d[0] >> 2, v);
    }
}

static void test_round_trips_of_every_length(void **state)
{
    (void)state;
    for (size_t len = 0; len <= 200; len++) {
        unsigned char in[200], out[200];
        char e[GW_BASE64URL_ENCODED_LEN(200) + 1];
        size_t elen, dlen;
        fill(in, len, (unsigned)len);
        assert_int_equal(gw_base64url_encode(in, len, e, GW_BASE64URL_ENCODED_LEN(len) + 1, &elen),
                         0);
        assert_int_equal(elen, GW_BASE64URL_ENCODED_LEN(len));
        assert_int_equal(strlen(e), elen);
        assert_int_not_equal(elen % 4, 1);
        for (size_t i = 0; i < elen; i++)
            assert_non_null(strchr(ALPHABET, e[i]));
        assert_true(GW_BASE64URL_DECODED_MAX(elen) >= len);
        assert_int_equal(gw_base64url_decode(e, elen, out, len, &dlen), 0); /* exact cap */
        assert_int_equal(dlen, len);
        if (len)
            assert_memory_equal(out, in, len);
    }
}

static void test_caps(void **state)
{
    (void)state;
    unsigned char out[8];
    char e[16];
    size_t n = 77;
    /* decode: one byte short of what the input decodes to */
    assert_int_equal(gw_base64url_decode("Zm9vYmFy", 8, out, 5, &n), GW_ENOMEM);
    assert_int_equal(gw_base64url_decode("Zm9vYmE", 7, out, 4, &n), GW_ENOMEM);
    assert_int_equal(gw_base64url_decode("Zm9vYg", 6, out, 3, &n), GW_ENOMEM);
    assert_int_equal(n, 77); /* untouched on error */
    assert_int_equal(gw_base64url_decode("Zm9vYg", 6, out, 4, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(gw_base64url_decode("", 0, out, 0, &n), 0);
    assert_int_equal(n, 0);
    /* encode: the NUL needs its byte */
    assert_int_equal(gw_base64url_encode("foob", 4, e, 6, NULL), GW_ENOMEM);
    assert_int_equal(gw_base64url_encode("foob", 4, e, 7, NULL), 0);
    assert_string_equal(e, "Zm9vYg");
    assert_int_equal(gw_base64url_encode("", 0, e, 0, NULL), GW_ENOMEM);
    assert_int_equal(gw_base64url_encode("", 0, e, 1, &n), 0);
    assert_string_equal(e, "");
    assert_int_equal(n, 0);
}

/* Padding, whitespace, the '+' and '/' of plain base64, and any other byte are refused
 * wherever they stand. */
static void test_every_foreign_byte_is_refused_anywhere(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        if (c != 0 && strchr(ALPHABET, c))
            continue;
        for (size_t pos = 0; pos < 8; pos++) {
            char in[8];
            unsigned char out[8];
            size_t n;
            memcpy(in, "Zm9vYmFy", 8);
            in[pos] = (char)c;
            assert_int_equal(gw_base64url_decode(in, 8, out, sizeof out, &n), GW_EINVAL);
        }
    }
}

/* A length of 1 mod 4 cannot end on a byte, and the bits a short final group leaves over must
 * be zero: each byte string has exactly one accepted encoding. */
static void test_only_the_canonical_encoding_is_accepted(void **state)
{
    (void)state;
    unsigned char out[8];
    size_t n;
    assert_int_equal(gw_base64url_decode("Z", 1, out, sizeof out, &n), GW_EINVAL);
    assert_int_equal(gw_base64url_decode("Zm9vY", 5, out, sizeof out, &n), GW_EINVAL);
    for (int v = 0; v < 64; v++) {
        /* two characters carry 12 bits for one byte: the last 4 must be 0 */
        char two[2] = {'Z', ALPHABET[v]};
        int rc = gw_base64url_decode(two, 2, out, sizeof out, &n);
        assert_int_equal(rc, (v & 15) == 0 ? 0 : GW_EINVAL);
        /* three characters carry 18 bits for two bytes: the last 2 must be 0 */
        char three[3] = {'Z', 'm', ALPHABET[v]};
        rc = gw_base64url_decode(three, 3, out, sizeof out, &n);
        assert_int_equal(rc, (v & 3) == 0 ? 0 : GW_EINVAL);
    }
    /* so decode then encode gives the input back for every accepted 3-character input */
    for (int a = 0; a < 64; a++)
        for (int b = 0; b < 64; b++)
            for (int c = 0; c < 64; c += 3) {
                char in[3] = {ALPHABET[a], ALPHABET[b], ALPHABET[c]};
                char e[8];
                if (gw_base64url_decode(in, 3, out, sizeof out, &n) != 0)
                    continue;
                assert_int_equal(n, 2);
                assert_int_equal(gw_base64url_encode(out, n, e, sizeof e, NULL), 0);
                assert_memory_equal(e, in, 3);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_url_safe_alphabet),
        cmocka_unit_test(test_round_trips_of_every_length),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_every_foreign_byte_is_refused_anywhere),
        cmocka_unit_test(test_only_the_canonical_encoding_is_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

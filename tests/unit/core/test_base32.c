/* Unit tests for src/core/base32.c: base32 (RFC 4648 section 6) without padding, as TOTP
 * secrets are written. The RFC's vectors, round trips of every length, what the decoder
 * forgives (lower case, spaces, trailing '=') and what it refuses, and the caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/base32.h"
#include "core/error.h"

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",        "MY",       "MZXQ",      "MZXW6",
                                      "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char e[32];
        unsigned char d[32];
        size_t n = 99;
        assert_int_equal(gw_base32_encode(plain[i], strlen(plain[i]), e, sizeof e), 0);
        assert_string_equal(e, enc[i]);
        assert_int_equal(strlen(e), GW_BASE32_ENCODED_LEN(strlen(plain[i])));
        assert_int_equal(gw_base32_decode(enc[i], strlen(enc[i]), d, sizeof d, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
    }
    /* The RFC's padded forms decode too. */
    unsigned char d[8];
    size_t n = 0;
    assert_int_equal(gw_base32_decode("MZXW6YQ=", 8, d, sizeof d, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(d, "foob", 4);
}

static void test_round_trips_and_forgiveness(void **state)
{
    (void)state;
    unsigned char in[40], out[40];
    for (size_t len = 0; len <= sizeof in; len++) {
        for (size_t i = 0; i < len; i++)
            in[i] = (unsigned char)(i * 37 + len * 11);
        char e[80];
        size_t n = 0;
        assert_int_equal(gw_base32_encode(in, len, e, sizeof e), 0);
        assert_int_equal(gw_base32_decode(e, strlen(e), out, sizeof out, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(in, out, len);
        for (char *p = e; *p; p++) /* lower case is the same secret */
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        assert_int_equal(gw_base32_decode(e, strlen(e), out, sizeof out, &n), 0);
        assert_memory_equal(in, out, len);
    }
    unsigned char d[16];
    size_t n = 0;
    /* Spaces as people group the characters. */
    assert_int_equal(gw_base32_decode("MZXW 6YTB OI", 12, d, sizeof d, &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(d, "foobar", 6);
}

static void test_refusals_and_caps(void **state)
{
    (void)state;
    unsigned char d[16];
    size_t n = 0;
    assert_int_equal(gw_base32_decode("MZXW1", 5, d, sizeof d, &n), GW_EINVAL);  /* '1' */
    assert_int_equal(gw_base32_decode("MZ=XW", 5, d, sizeof d, &n), GW_EINVAL);  /* inner '=' */
    assert_int_equal(gw_base32_decode("M", 1, d, sizeof d, &n), GW_EINVAL);      /* 1 of 8 */
    assert_int_equal(gw_base32_decode("MZX", 3, d, sizeof d, &n), GW_EINVAL);    /* 3 of 8 */
    assert_int_equal(gw_base32_decode("MZXW6Y", 6, d, sizeof d, &n), GW_EINVAL); /* 6 of 8 */
    assert_int_equal(gw_base32_decode("MZ", 2, d, sizeof d, &n), GW_EINVAL);     /* trailing 01 */
    assert_int_equal(gw_base32_decode("MZXW6", 5, d, 2, &n), GW_ENOMEM);
    char e[8];
    assert_int_equal(gw_base32_encode("foo", 3, e, 5), GW_ENOMEM); /* 5 chars + NUL */
    assert_int_equal(gw_base32_encode("foo", 3, e, 6), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_round_trips_and_forgiveness),
        cmocka_unit_test(test_refusals_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

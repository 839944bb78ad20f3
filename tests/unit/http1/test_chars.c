/* Unit tests for src/http1/chars.h's case-insensitive comparison: the 8-bytes-at-a-time
 * gw__ieq against a byte-by-byte reference, for every byte value and every length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http1/chars.h"

static int reference(const char *s, size_t len, const char *lit, size_t lit_len)
{
    if (len != lit_len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c | 0x20);
        if (c != lit[i])
            return 0;
    }
    return 1;
}

/* Every byte value in every position of every length up to 24, against a lowercase literal
 * holding that position's lowercase letter or punctuation: only 'A'..'Z' may fold. */
static void test_each_byte_value_in_each_position(void **state)
{
    (void)state;
    const char *base = "proxy-authorization-xyz!"; /* 24 bytes, lowercase */
    char s[32], lit[32];
    for (size_t len = 1; len <= 24; len++) {
        memcpy(lit, base, len);
        for (size_t pos = 0; pos < len; pos++) {
            for (int v = 0; v < 256; v++) {
                memcpy(s, lit, len);
                s[pos] = (char)v;
                int want = reference(s, len, lit, len);
                if (gw__ieq(s, len, lit, len) != want)
                    fail_msg("len %zu pos %zu byte 0x%02x: want %d", len, pos, v, want);
            }
        }
    }
}

/* Mixed case matches; other lengths never do. */
static void test_case_and_length(void **state)
{
    (void)state;
    assert_true(gw__ieq("Content-Length", 14, "content-length", 14));
    assert_true(gw__ieq("CONTENT-LENGTH", 14, "content-length", 14));
    assert_false(gw__ieq("Content-Lengti", 14, "content-length", 14));
    assert_false(gw__ieq("Content-Length", 13, "content-length", 14));
    assert_true(gw__ieq("Transfer-Encoding", 17, "transfer-encoding", 17));
    assert_false(gw__ieq("Transfer_Encoding", 17, "transfer-encoding", 17));
    assert_true(gw__ieq("TE", 2, "te", 2));
    assert_true(gw__ieq("", 0, "", 0));
    /* '@' and '[' sit beside 'A' and 'Z': they must not fold to '`' and '{'. */
    assert_false(gw__ieq("@abcdefgh", 9, "`abcdefgh", 9));
    assert_false(gw__ieq("[abcdefgh", 9, "{abcdefgh", 9));
    /* A byte with the high bit set never folds. */
    assert_false(gw__ieq("\xc1"
                         "bcdefgh",
                         8,
                         "\xe1"
                         "bcdefgh",
                         8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_byte_value_in_each_position),
        cmocka_unit_test(test_case_and_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

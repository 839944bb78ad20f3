/*
 * Unit tests for src/identity/totp.c: HOTP against RFC 4226 appendix D, TOTP (HMAC-SHA1)
 * against RFC 6238 appendix B, the window and the "later than the last step" rule that refuses
 * a replay, the sealing of secrets (bound to the user, opened by a previous key, not by an
 * unknown one) and recovery codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "identity/internal.h"

static const unsigned char RFC_KEY[] = "12345678901234567890"; /* 20 bytes + NUL */

static void test_hotp_rfc4226_vectors(void **state)
{
    (void)state;
    static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
                                    254676, 287922, 162583, 399871, 520489};
    for (uint64_t c = 0; c < 10; c++)
        assert_int_equal(gw__idp_hotp(RFC_KEY, 20, c, 6), want[c]);
}

static void test_totp_rfc6238_sha1_vectors(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *code;
    } v[] = {
        {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
        {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int64_t step = -1;
        char got[9];
        snprintf(got, sizeof got, "%08u",
                 (unsigned)gw__idp_hotp(RFC_KEY, 20, (uint64_t)(v[i].t / 30), 8));
        assert_string_equal(got, v[i].code);
        /* window 0: exactly that step */
        assert_true(gw__idp_totp_check(RFC_KEY, 20, v[i].code, v[i].t, 30, 0, 8, -1, &step));
        assert_int_equal(step, v[i].t / 30);
    }
}

static void code_at(int64_t step, char *out)
{
    snprintf(out, 7, "%06u", (unsigned)gw__idp_hotp(RFC_KEY, 20, (uint64_t)step, 6));
}

static void test_window_and_replay(void **state)
{
    (void)state;
    int64_t now = 1700000000, t = now / 30, step = 0;
    char c[7];
    for (int64_t d = -1; d <= 1; d++) {
        code_at(t + d, c);
        assert_true(gw__idp_totp_check(RFC_KEY, 20, c, now, 30, 1, 6, -1, &step));
        assert_int_equal(step, t + d);
        assert_false(gw__idp_totp_check(RFC_KEY, 20, c, now, 30, 0, 6, -1, &step) && d != 0);
    }
    code_at(t + 2, c);
    assert_false(gw__idp_totp_check(RFC_KEY, 20, c, now, 30, 1, 6, -1, &step));
    assert_true(gw__idp_totp_check(RFC_KEY, 20, c, now, 30, 2, 6, -1, &step));
    /* A step not later than the last one used is refused: the same code twice, or an older. */
    code_at(t, c);
    assert_false(gw__idp_totp_check(RFC_KEY, 20, c, now, 30, 1, 6, t, &step));
    assert_false(gw__idp_totp_check(RFC_KEY, 20, c, now, 30, 1, 6, t + 1, &step));
    assert_true(gw__idp_totp_check(RFC_KEY, 20, c, now, 30, 1, 6, t - 1, &step));
    /* Wrong length, wrong key, another period. */
    assert_false(gw__idp_totp_check(RFC_KEY, 20, "12345", now, 30, 1, 6, -1, &step));
    assert_false(gw__idp_totp_check((const unsigned char *)"another key of 20 by", 20, c, now, 30,
                                    1, 6, -1, &step));
    assert_false(gw__idp_totp_check(RFC_KEY, 20, c, now * 3, 60, 1, 6, -1, &step));
}

static void test_seal_binds_user_and_key(void **state)
{
    (void)state;
    char k1[] = "1111111111111111111111111111111111111111111111111111111111111111";
    char k2[] = "2222222222222222222222222222222222222222222222222222222222222222";
    char *prev[] = {k1};
    struct gw_identity_conf ic = {.totp_key = k1};
    unsigned char box[GW__IDP_TOTP_BOX], out[GW__IDP_TOTP_SECRET];
    assert_int_equal(gw__idp_totp_seal(&ic, 7, RFC_KEY, box), 0);
    assert_null(memmem(box, sizeof box, RFC_KEY, 20));
    assert_int_equal(gw__idp_totp_open(&ic, 7, box, out), 0);
    assert_memory_equal(out, RFC_KEY, 20);
    assert_int_equal(gw__idp_totp_open(&ic, 8, box, out), GW_EINVAL); /* another user's row */
    ic.totp_key = k2;
    assert_int_equal(gw__idp_totp_open(&ic, 7, box, out), GW_EINVAL); /* unknown key */
    ic.totp_previous_keys = prev;
    ic.ntotp_previous_keys = 1;
    assert_int_equal(gw__idp_totp_open(&ic, 7, box, out), 0); /* the previous key opens it */
    assert_memory_equal(out, RFC_KEY, 20);
    box[sizeof box - 1] ^= 1;
    assert_int_equal(gw__idp_totp_open(&ic, 7, box, out), GW_EINVAL); /* tampered */
    ic.totp_key = "not hex";
    assert_int_equal(gw__idp_totp_seal(&ic, 7, RFC_KEY, box), GW_EINVAL);
}

static void test_recovery_codes(void **state)
{
    (void)state;
    char a[GW_IDP_RECOVERY_LEN + 1], b[GW_IDP_RECOVERY_LEN + 1], ha[65], hb[65], h[65];
    gw__idp_recovery_new(a, ha);
    gw__idp_recovery_new(b, hb);
    assert_int_equal(strlen(a), GW_IDP_RECOVERY_LEN);
    assert_int_equal(strspn(a, "abcdefghijklmnopqrstuvwxyz234567"), GW_IDP_RECOVERY_LEN);
    assert_string_not_equal(a, b);
    gw__idp_recovery_hash(a, h);
    assert_string_equal(h, ha);
    assert_int_equal(strlen(h), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotp_rfc4226_vectors),
        cmocka_unit_test(test_totp_rfc6238_sha1_vectors),
        cmocka_unit_test(test_window_and_replay),
        cmocka_unit_test(test_seal_binds_user_and_key),
        cmocka_unit_test(test_recovery_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

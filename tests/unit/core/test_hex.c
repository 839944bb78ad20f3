/* Unit tests for src/core/hex.h: the value of one hexadecimal digit, for every byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/hex.h"

static void test_every_byte(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int want = -1;
        if (c >= '0' && c <= '9')
            want = c - '0';
        else if (c >= 'a' && c <= 'f')
            want = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            want = c - 'A' + 10;
        if (gw_hex_digit((unsigned char)c) != want)
            fail_msg("byte 0x%02x: %d, want %d", (unsigned)c, gw_hex_digit((unsigned char)c), want);
    }
}

/* The neighbours of the ranges, and bytes that become hex letters when bit 0x20 is set. */
static void test_edges(void **state)
{
    (void)state;
    assert_int_equal(gw_hex_digit('/'), -1);
    assert_int_equal(gw_hex_digit(':'), -1);
    assert_int_equal(gw_hex_digit('@'), -1);
    assert_int_equal(gw_hex_digit('G'), -1);
    assert_int_equal(gw_hex_digit('`'), -1);
    assert_int_equal(gw_hex_digit('g'), -1);
    assert_int_equal(gw_hex_digit('\0'), -1);
    assert_int_equal(gw_hex_digit(0xC1), -1); /* 0xC1 | 0x20 is 0xE1, not 'a' */
    assert_int_equal(gw_hex_digit(0x10), -1); /* 0x10 | 0x20 is '0' */
    assert_int_equal(gw_hex_digit(0x19), -1); /* 0x19 | 0x20 is '9' */
    assert_int_equal(gw_hex_digit('F'), 15);
    assert_int_equal(gw_hex_digit('f'), 15);
    assert_int_equal(gw_hex_digit('0'), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

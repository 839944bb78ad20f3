/* Unit tests for src/core/hex.h: the value of one hexadecimal digit, for every byte, and
 * fixed-length hex numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

static void test_parse(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_true(gw_hex_parse("0", 1, &v));
    assert_true(v == 0);
    assert_true(gw_hex_parse("00e9", 4, &v));
    assert_true(v == 0xe9);
    assert_true(gw_hex_parse("D83Dxyz", 4, &v)); /* only the first n characters are read */
    assert_true(v == 0xd83d);
    assert_true(gw_hex_parse("ffffffffffffffff", 16, &v));
    assert_true(v == UINT64_MAX);
    assert_true(gw_hex_parse("0123456789AbCdEf", 16, &v));
    assert_true(v == UINT64_C(0x0123456789abcdef));
}

static void test_parse_refuses(void **state)
{
    (void)state;
    uint64_t v = 42;
    assert_false(gw_hex_parse("", 0, &v));
    assert_false(gw_hex_parse("00000000000000000", 17, &v)); /* more than 64 bits */
    assert_false(gw_hex_parse("12g4", 4, &v));
    assert_false(gw_hex_parse(" 123", 4, &v));
    assert_false(gw_hex_parse("-123", 4, &v));
    assert_false(gw_hex_parse("0x12", 4, &v));
    assert_false(gw_hex_parse("12\0"
                              "4",
                              4, &v));
    assert_true(v == 42); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

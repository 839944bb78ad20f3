/* Unit tests for src/core/hex.h: the value of one hexadecimal digit, for every byte, and
 * fixed-length hex numbers, and the word-at-a-time encoder gw_hex_lower8. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/hex.h"

/* gw_hex_lower8 against printf's %08x: every 16-bit value in each half (so every digit in
 * every position, next to every neighbour), and a walk through the rest of the range. */
static void test_lower8_is_printf(void **state)
{
    (void)state;
    char want[9], got[9];
    uint64_t seen = 0;
    for (uint64_t i = 0; i < 0x10000; i++) {
        uint32_t vs[3] = {(uint32_t)i, (uint32_t)(i << 16), (uint32_t)(i * 0x9E3779B1u)};
        for (int k = 0; k < 3; k++) {
            snprintf(want, sizeof want, "%08" PRIx32, vs[k]);
            gw_hex_lower8(vs[k], got);
            got[8] = '\0';
            assert_string_equal(got, want);
            seen++;
        }
    }
    gw_hex_lower8(0xFFFFFFFFu, got);
    assert_memory_equal(got, "ffffffff", 8);
    gw_hex_lower8(0x9A09F0A9u, got);
    assert_memory_equal(got, "9a09f0a9", 8);
    assert_int_equal(seen, 3 * 0x10000);
}

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
        cmocka_unit_test(test_lower8_is_printf),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/core/buf.c: the capped growable buffer. Every append fits under the
 * declared maximum or fails with GW_ENOMEM and leaves the buffer as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"

static void assert_buf(const struct gw_buf *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    if (b->len)
        assert_memory_equal(b->data, want, b->len);
    assert_true(b->len <= b->cap);
    assert_true(b->cap <= b->max);
}

static void test_init_is_empty_and_allocates_nothing(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 100);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 100);
    assert_int_equal(gw_buf_reserve(&b, 0), 0);
    assert_int_equal(gw_buf_append(&b, "", 0), 0);
    assert_int_equal(b.len, 0);
    gw_buf_free(&b);
    gw_buf_free(&b); /* twice is harmless: data is NULL again */
    assert_null(b.data);
}

static void test_append_up_to_the_max_exactly(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 10);
    assert_int_equal(gw_buf_append(&b, "hello", 5), 0);
    assert_int_equal(gw_buf_append_str(&b, "world"), 0);
    assert_buf(&b, "helloworld");
    assert_int_equal(b.cap, 10); /* the first allocation is capped at max, not 256 */
    /* one more byte does not fit; the buffer is unchanged */
    assert_int_equal(gw_buf_append(&b, "!", 1), GW_ENOMEM);
    assert_int_equal(gw_buf_reserve(&b, 1), GW_ENOMEM);
    assert_buf(&b, "helloworld");
    assert_int_equal(gw_buf_append(&b, "", 0), 0);
    /* reset keeps the memory */
    char *data = b.data;
    gw_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(gw_buf_append_str(&b, "0123456789"), 0);
    assert_buf(&b, "0123456789");
    gw_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_a_refused_append_changes_nothing(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 8);
    assert_int_equal(gw_buf_append_str(&b, "abc"), 0);
    assert_int_equal(gw_buf_append_str(&b, "123456"), GW_ENOMEM);
    assert_int_equal(gw_buf_appendf(&b, "%s", "123456"), GW_ENOMEM);
    assert_int_equal(gw_buf_append_u64(&b, 123456), GW_ENOMEM);
    assert_buf(&b, "abc");
    assert_int_equal(gw_buf_append_str(&b, "12345"), 0);
    assert_buf(&b, "abc12345");
    gw_buf_free(&b);
}

static void test_growth_doubles_from_256_and_stops_at_max(void **state)
{
    (void)state;
    struct gw_buf b;
    char chunk[100];
    memset(chunk, 'x', sizeof chunk);
    gw_buf_init(&b, 1000);
    assert_int_equal(gw_buf_append(&b, chunk, 1), 0);
    assert_int_equal(b.cap, 256);
    assert_int_equal(gw_buf_reserve(&b, 255), 0);
    assert_int_equal(b.cap, 256); /* already room */
    assert_int_equal(gw_buf_reserve(&b, 256), 0);
    assert_int_equal(b.cap, 512);
    assert_int_equal(gw_buf_reserve(&b, 700), 0);
    assert_int_equal(b.cap, 1000); /* 1024 would pass the max */
    for (int i = 0; i < 9; i++)
        assert_int_equal(gw_buf_append(&b, chunk, sizeof chunk), 0);
    assert_int_equal(b.len, 901);
    assert_int_equal(gw_buf_append(&b, chunk, sizeof chunk), GW_ENOMEM);
    assert_int_equal(gw_buf_append(&b, chunk, 99), 0);
    assert_int_equal(b.len, 1000);
    gw_buf_free(&b);
}

/* A buffer whose max is SIZE_MAX (no cap of its own): a request for more than half the address
 * space must fail, not double the capacity until it wraps around to 0 and loop for ever. */
static void test_huge_reserve_on_an_uncapped_buffer_fails(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, SIZE_MAX);
    assert_int_equal(gw_buf_append_str(&b, "abc"), 0);
    alarm(10); /* a hang is a failure */
    assert_int_equal(gw_buf_reserve(&b, SIZE_MAX / 2 + 2), GW_ENOMEM);
    assert_int_equal(gw_buf_reserve(&b, SIZE_MAX - 3), GW_ENOMEM);
    alarm(0);
    assert_int_equal(gw_buf_reserve(&b, SIZE_MAX - 2), GW_ENOMEM); /* more than max - len */
    assert_buf(&b, "abc");
    gw_buf_free(&b);
}

static void test_appendf(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 4096);
    assert_int_equal(gw_buf_appendf(&b, "%d-%s-%c", 42, "x", 'y'), 0);
    assert_int_equal(gw_buf_appendf(&b, "%s", ""), 0);
    assert_buf(&b, "42-x-y");
    /* longer than the first allocation */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(gw_buf_appendf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 6 + 2 + 999);
    assert_int_equal(b.data[6], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    gw_buf_free(&b);
}

/* Formatted text that ends exactly at the max fits, as the same bytes do with gw_buf_append
 * (the NUL vsnprintf writes is not part of the buffer). */
static void test_appendf_up_to_the_max_exactly(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 10);
    assert_int_equal(gw_buf_appendf(&b, "%s", "0123456789"), 0);
    assert_buf(&b, "0123456789");
    gw_buf_free(&b);

    gw_buf_init(&b, 10);
    assert_int_equal(gw_buf_append_str(&b, "abcd"), 0);
    assert_int_equal(gw_buf_appendf(&b, "%d", 123456), 0);
    assert_buf(&b, "abcd123456");
    assert_int_equal(gw_buf_appendf(&b, "%s", "x"), GW_ENOMEM);
    assert_buf(&b, "abcd123456");
    gw_buf_free(&b);

    /* a buffer allocated to the byte by earlier appends */
    gw_buf_init(&b, 300);
    char fill[295];
    memset(fill, 'f', sizeof fill);
    assert_int_equal(gw_buf_append(&b, fill, sizeof fill), 0);
    assert_int_equal(gw_buf_appendf(&b, "%05d", 7), 0);
    assert_int_equal(b.len, 300);
    assert_memory_equal(b.data + 295, "00007", 5);
    gw_buf_free(&b);
}

static void test_append_u64(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {10, "10"},
        {1000000, "1000000"},
        {UINT64_C(4294967296), "4294967296"},
        {UINT64_MAX, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gw_buf b;
        gw_buf_init(&b, 64);
        assert_int_equal(gw_buf_append_u64(&b, cases[i].v), 0);
        assert_buf(&b, cases[i].text);
        gw_buf_free(&b);
    }
    struct gw_buf b;
    gw_buf_init(&b, 20);
    assert_int_equal(gw_buf_append_u64(&b, UINT64_MAX), 0);
    assert_int_equal(gw_buf_append_u64(&b, 0), GW_ENOMEM);
    gw_buf_free(&b);
}

static void expect_json(const char *in, size_t n, const char *want)
{
    struct gw_buf b;
    gw_buf_init(&b, 1024);
    assert_int_equal(gw_buf_append_json_escaped(&b, in, n), 0);
    assert_buf(&b, want);
    gw_buf_free(&b);
}

static void test_json_escaping(void **state)
{
    (void)state;
    expect_json("", 0, "");
    expect_json("plain text / 123", 16, "plain text / 123");
    expect_json("a\"b\\c", 5, "a\\\"b\\\\c");
    expect_json("\n\r\t\b\f", 5, "\\u000a\\u000d\\u0009\\u0008\\u000c");
    expect_json("\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f");
    expect_json("a\0b", 3, "a\\u0000b"); /* the length counts, not a NUL */
    expect_json("caf\xc3\xa9 \xe2\x82\xac", 9, "caf\xc3\xa9 \xe2\x82\xac"); /* UTF-8 as is */
    expect_json("</script>", 9, "</script>");
    /* every byte below 0x20 is escaped, nothing else but '"', '\\' and DEL */
    for (int c = 0; c < 256; c++) {
        char in = (char)c;
        struct gw_buf b;
        gw_buf_init(&b, 16);
        assert_int_equal(gw_buf_append_json_escaped(&b, &in, 1), 0);
        if (c < 0x20 || c == 0x7f) {
            char want[7];
            snprintf(want, sizeof want, "\\u%04x", (unsigned)c);
            assert_buf(&b, want);
        } else if (c == '"' || c == '\\') {
            assert_int_equal(b.len, 2);
            assert_int_equal(b.data[0], '\\');
            assert_int_equal(b.data[1], c);
        } else {
            assert_int_equal(b.len, 1);
            assert_int_equal((unsigned char)b.data[0], c);
        }
        gw_buf_free(&b);
    }
}

static void test_json_escaping_at_the_max(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 6);
    assert_int_equal(gw_buf_append_json_escaped(&b, "\n", 1), 0);
    assert_buf(&b, "\\u000a");
    assert_int_equal(gw_buf_append_json_escaped(&b, "x", 1), GW_ENOMEM);
    gw_buf_free(&b);
    gw_buf_init(&b, 5);
    assert_int_equal(gw_buf_append_json_escaped(&b, "\n", 1), GW_ENOMEM);
    assert_int_equal(b.len, 0);
    gw_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_empty_and_allocates_nothing),
        cmocka_unit_test(test_append_up_to_the_max_exactly),
        cmocka_unit_test(test_a_refused_append_changes_nothing),
        cmocka_unit_test(test_growth_doubles_from_256_and_stops_at_max),
        cmocka_unit_test(test_huge_reserve_on_an_uncapped_buffer_fails),
        cmocka_unit_test(test_appendf),
        cmocka_unit_test(test_appendf_up_to_the_max_exactly),
        cmocka_unit_test(test_append_u64),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_escaping_at_the_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

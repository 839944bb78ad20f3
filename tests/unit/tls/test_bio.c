/* Unit tests for src/tls/bio.c: the ciphertext queues give their buffer back when drained, keep
 * what is left across pushes in order, and the session's BIO asks OpenSSL to retry (never EOF)
 * when it has nothing to read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <string.h>

#include "core/error.h"
#include "tls/internal.h"

static void test_queue_frees_its_buffer_when_drained(void **state)
{
    (void)state;
    struct gw__tls_queue q = {0};
    assert_int_equal(gw__tls_queue_push(&q, "hello", 5), 0);
    assert_non_null(q.data);
    assert_true(q.cap >= 5);
    gw__tls_queue_drop(&q, 2);
    assert_int_equal(q.len - q.off, 3);
    assert_memory_equal(q.data + q.off, "llo", 3);
    gw__tls_queue_drop(&q, 3);
    assert_null(q.data);
    assert_int_equal(q.cap, 0);
    assert_int_equal(q.len, 0);
    /* dropping more than is held drains it too */
    assert_int_equal(gw__tls_queue_push(&q, "ab", 2), 0);
    gw__tls_queue_drop(&q, 100);
    assert_null(q.data);
    assert_int_equal(gw__tls_queue_push(&q, "", 0), 0);
    assert_null(q.data);
}

static void test_queue_keeps_order_across_growth(void **state)
{
    (void)state;
    struct gw__tls_queue q = {0};
    char big[5000], out[10000];
    size_t outn = 0;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(gw__tls_queue_push(&q, big, 1000), 0);
    memcpy(out + outn, q.data + q.off, 600);
    outn += 600;
    gw__tls_queue_drop(&q, 600);
    /* the 400 left move to the front when the push needs room */
    assert_int_equal(gw__tls_queue_push(&q, big + 1000, 4000), 0);
    assert_int_equal(q.off, 0);
    memcpy(out + outn, q.data + q.off, q.len - q.off);
    outn += q.len - q.off;
    assert_int_equal(outn, 5000);
    assert_memory_equal(out, big, 5000);
    gw__tls_queue_free(&q);
    assert_null(q.data);
}

static void test_bio_reads_writes_and_retries(void **state)
{
    (void)state;
    struct gw__tls_io io = {0};
    BIO *b = gw__tls_bio_new(&io);
    assert_non_null(b);
    char buf[16];
    size_t got = 99;
    /* empty: retry, not EOF */
    assert_int_equal(BIO_read_ex(b, buf, sizeof buf, &got), 0);
    assert_int_equal(got, 0);
    assert_true(BIO_should_retry(b));
    assert_true(BIO_should_read(b));
    assert_int_equal(BIO_eof(b), 0);
    assert_int_equal(gw__tls_queue_push(&io.in, "0123456789", 10), 0);
    assert_int_equal((int)BIO_ctrl_pending(b), 10);
    assert_int_equal(BIO_read_ex(b, buf, 4, &got), 1);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "0123", 4);
    assert_int_equal(BIO_read_ex(b, buf, sizeof buf, &got), 1);
    assert_int_equal(got, 6);
    assert_false(BIO_should_retry(b));
    assert_null(io.in.data); /* drained: freed */
    size_t put = 0;
    assert_int_equal(BIO_write_ex(b, "abc", 3, &put), 1);
    assert_int_equal(put, 3);
    assert_int_equal((int)BIO_ctrl_wpending(b), 3);
    assert_int_equal(BIO_flush(b), 1);
    assert_memory_equal(io.out.data, "abc", 3);
    BIO_free(b);
    gw__tls_queue_free(&io.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_frees_its_buffer_when_drained),
        cmocka_unit_test(test_queue_keeps_order_across_growth),
        cmocka_unit_test(test_bio_reads_writes_and_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/hub/frames.c: the frame head the broadcast builds once, and when a whole
 * frame may bypass wslay's queue. The head is checked against what wslay itself sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hub/internal.h"

struct sink {
    uint8_t buf[1 << 17];
    size_t n;
};

static int out(void *arg, const char *p, size_t n)
{
    struct sink *s = arg;
    assert_true(s->n + n <= sizeof s->buf);
    memcpy(s->buf + s->n, p, n);
    s->n += n;
    return 0;
}

static void on_msg(void *arg, bool text, const char *p, size_t n)
{
    (void)arg;
    (void)text;
    (void)p;
    (void)n;
}

/* The head we build equals the one wslay builds for the same text message. */
static void check_head(size_t len)
{
    struct sink *s = calloc(1, sizeof *s);
    assert_non_null(s);
    struct gw__hub_frames f;
    assert_int_equal(gw__hub_frames_init(&f, 1 << 20, out, on_msg, s), 0);
    char *payload = malloc(len + 1);
    assert_non_null(payload);
    memset(payload, 'x', len);
    assert_true(gw__hub_frames_idle(&f));
    assert_int_equal(gw__hub_frames_queue(&f, WSLAY_TEXT_FRAME, payload, len), 0);
    assert_false(gw__hub_frames_idle(&f)); /* a message waits in wslay */
    assert_int_equal(gw__hub_frames_flush(&f), 0);
    assert_true(gw__hub_frames_idle(&f)); /* the send callback took all of it */
    uint8_t head[10];
    size_t hl = gw__hub_frames_head(head, len);
    assert_int_equal(s->n, hl + len);
    assert_memory_equal(s->buf, head, hl);
    assert_int_equal(hl, len < 126 ? 2 : len <= 0xffff ? 4 : 10);
    /* after a close frame went, nothing may follow it */
    assert_int_equal(gw__hub_frames_close(&f, 1000, NULL), 0);
    assert_int_equal(gw__hub_frames_flush(&f), 0);
    assert_false(gw__hub_frames_idle(&f));
    gw__hub_frames_free(&f);
    free(payload);
    free(s);
}

static void test_heads_match_wslay(void **unused)
{
    (void)unused;
    check_head(0);
    check_head(1);
    check_head(125);
    check_head(126);
    check_head(65535);
    check_head(65536);
    check_head(100000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads_match_wslay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

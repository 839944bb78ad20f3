/* Unit tests for src/ws/frame_track.c: following WebSocket frames (RFC 6455 5.2) and the
 * close frames a tunnel sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ws/frame_track.h"

static const unsigned char stream[] = {
    0x81, 0x05, 'h',  'e',  'l', 'l', 'o',                   /* text, 5 bytes, unmasked */
    0x82, 0xfe, 0x00, 0x03, 1,   2,   3,   4, 'a', 'b', 'c', /* binary, 16-bit length, masked */
    0x89, 0x80, 9,    9,    9,   9,                          /* ping, empty, masked */
    0x02, 0x7f, 0,    0,    0,   0,   0,   0, 0,   2,   'x', 'y', /* 64-bit length */
};
/* where each frame ends */
static const size_t ends[] = {7, 18, 24, 36};

static void test_whole_and_bytewise(void **unused)
{
    (void)unused;
    struct gw_ws_track t = {0};
    assert_true(gw_ws_track_boundary(&t));
    assert_int_equal(gw_ws_track(&t, stream, sizeof stream, false), sizeof stream);
    assert_true(gw_ws_track_boundary(&t));
    struct gw_ws_track b = {0};
    size_t e = 0;
    for (size_t i = 0; i < sizeof stream; i++) {
        gw_ws_track(&b, stream + i, 1, false);
        bool at_end = e < 4 && i + 1 == ends[e];
        if (at_end)
            e++;
        assert_int_equal(gw_ws_track_boundary(&b), at_end);
    }
}

/* Split in two anywhere (a header whole in one read, or cut across two): the same frames. */
static void test_every_split(void **unused)
{
    (void)unused;
    for (size_t k = 0; k <= sizeof stream; k++) {
        struct gw_ws_track t = {0};
        assert_int_equal(gw_ws_track(&t, stream, k, false), k);
        bool at_end = k == 0;
        for (size_t e = 0; e < 4; e++)
            at_end = at_end || k == ends[e];
        assert_int_equal(gw_ws_track_boundary(&t), at_end);
        assert_int_equal(gw_ws_track(&t, stream + k, sizeof stream - k, false), sizeof stream - k);
        assert_true(gw_ws_track_boundary(&t));
    }
    /* a header cut after its first byte: the same state whether the frame before it came
     * whole (read at once) or byte by byte */
    unsigned char more[sizeof stream + 1];
    memcpy(more, stream, sizeof stream);
    more[sizeof stream] = 0x81;
    struct gw_ws_track w = {0}, b = {0};
    assert_int_equal(gw_ws_track(&w, more, sizeof more, false), sizeof more);
    for (size_t i = 0; i < sizeof more; i++)
        gw_ws_track(&b, more + i, 1, false);
    assert_int_equal(w.hpos, 1);
    assert_int_equal(b.hpos, 1);
    assert_int_equal(w.hneed, b.hneed);
    assert_int_equal(w.len, b.len);
    /* one read holding a whole 64-bit-length header and part of its payload */
    struct gw_ws_track t = {0};
    assert_int_equal(gw_ws_track(&t, stream + 24, 11, false), 11);
    assert_int_equal(t.left, 1);
}

static void test_stop_at_each_frame(void **unused)
{
    (void)unused;
    struct gw_ws_track t = {0};
    size_t off = 0;
    /* at a boundary, stop consumes nothing */
    assert_int_equal(gw_ws_track(&t, stream, sizeof stream, true), 0);
    for (size_t f = 0; f < 4; f++) {
        assert_int_equal(gw_ws_track(&t, stream + off, 1, false), 1);
        off += 1;
        off += gw_ws_track(&t, stream + off, sizeof stream - off, true);
        assert_int_equal(off, ends[f]);
        assert_true(gw_ws_track_boundary(&t));
    }
    /* mid-frame: stops nowhere in a piece that does not finish the frame */
    struct gw_ws_track m = {0};
    assert_int_equal(gw_ws_track(&m, stream, 4, false), 4);
    assert_int_equal(gw_ws_track(&m, stream + 4, 2, true), 2);
    assert_false(gw_ws_track_boundary(&m));
    assert_int_equal(gw_ws_track(&m, stream + 6, sizeof stream - 6, true), 1);
}

static void test_close_frames(void **unused)
{
    (void)unused;
    unsigned char f[8];
    assert_int_equal(gw_ws_close_frame(f, 1001, false, 0), 4);
    assert_memory_equal(f, "\x88\x02\x03\xe9", 4);
    assert_int_equal(gw_ws_close_frame(f, 1001, true, 0x01020304), 8);
    assert_memory_equal(f, "\x88\x82\x01\x02\x03\x04", 6);
    assert_int_equal(f[6] ^ 0x01, 0x03);
    assert_int_equal(f[7] ^ 0x02, 0xe9);
    struct gw_ws_track t = {0};
    assert_int_equal(gw_ws_track(&t, f, 8, false), 8);
    assert_true(gw_ws_track_boundary(&t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_and_bytewise),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_stop_at_each_frame),
        cmocka_unit_test(test_close_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

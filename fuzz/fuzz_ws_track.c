/*
 * libFuzzer target for ws/frame_track.c, the WebSocket frame follower of tunnels. The input is
 * a byte stream of one direction. Invariants (any violation traps):
 *   - fed whole, split in two at an offset from the input, or one byte at a time, the tracker
 *     ends in the same state;
 *   - it agrees with a plain reference model that walks the frames header by header;
 *   - fed with stop, it consumes the stream in pieces that each end at a frame boundary
 *     (except the last), and ends in the same state as without stop;
 *   - close frames are 4 bytes unmasked and 8 masked, and the tracker sees each as one frame.
 * Inputs are copied to exact-size heap buffers, so ASan catches any read past the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/frame_track.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct gw_ws_track *a, const struct gw_ws_track *b)
{
    return a->left == b->left && a->hpos == b->hpos &&
           (a->hpos == 0 || (a->len == b->len && a->hneed == b->hneed));
}

/* The reference: whether the stream ends between two frames. */
static bool model_boundary(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (n - i < 2)
            return false;
        unsigned l7 = p[i + 1] & 0x7fu;
        size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
        size_t hl = 2 + ext + ((p[i + 1] & 0x80u) ? 4 : 0);
        if (n - i < hl)
            return false;
        uint64_t len = ext ? 0 : l7;
        for (size_t k = 0; k < ext; k++)
            len = (len << 8) | p[i + 2 + k];
        i += hl;
        if ((uint64_t)(n - i) < len)
            return false;
        i += (size_t)len;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    if (size)
        memcpy(in, data, size);

    struct gw_ws_track whole = {0}, split = {0}, bytes = {0}, stop = {0};
    CHECK(gw_ws_track(&whole, in, size, false) == size);
    CHECK(gw_ws_track_boundary(&whole) == model_boundary(in, size));

    size_t k = size ? in[0] % (size + 1) : 0;
    CHECK(gw_ws_track(&split, in, k, false) == k);
    CHECK(gw_ws_track(&split, in + k, size - k, false) == size - k);
    CHECK(same(&whole, &split));

    for (size_t i = 0; i < size; i++) {
        unsigned char *one = malloc(1);
        if (!one)
            break;
        one[0] = in[i];
        CHECK(gw_ws_track(&bytes, one, 1, false) == 1);
        free(one);
    }
    CHECK(same(&whole, &bytes));

    size_t off = 0, rounds = 0;
    while (off < size && rounds++ <= size + 1) {
        size_t got = gw_ws_track(&stop, in + off, size - off, true);
        off += got;
        if (off < size) {
            CHECK(gw_ws_track_boundary(&stop));
            CHECK(model_boundary(in, off));
            /* at a boundary, stop consumes nothing: step past one byte without stop */
            CHECK(gw_ws_track(&stop, in + off, size - off, true) == 0);
            CHECK(gw_ws_track(&stop, in + off, 1, false) == 1);
            off += 1;
        }
    }
    CHECK(off == size);
    CHECK(same(&whole, &stop));

    unsigned char frame[8];
    uint32_t mask =
        size >= 5 ? (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4]
                  : 0;
    for (int masked = 0; masked <= 1; masked++) {
        size_t n = gw_ws_close_frame(frame, 1001, masked, mask);
        CHECK(n == (masked ? 8u : 4u));
        struct gw_ws_track t = {0};
        CHECK(gw_ws_track(&t, frame, n, false) == n && gw_ws_track_boundary(&t));
        CHECK(((frame[n - 2] ^ (masked ? frame[2] : 0)) << 8 |
               (frame[n - 1] ^ (masked ? frame[3] : 0))) == 1001);
    }
    free(in);
    return 0;
}

/*
 * libFuzzer target for the hub's framing glue (hub/frames.c over wslay): the input is what a
 * client sends, fed in pieces whose sizes come from the input's first byte. Every text message
 * goes to the hub protocol parser, as a connection does. Invariants (any violation traps):
 *   - what the server sends is well-framed: unmasked frames (RFC 6455 5.1), followed by
 *     ws/frame_track.h to a frame boundary once the exchange is over;
 *   - a message handed up is never longer than the configured maximum;
 *   - once the peer's stream is done with a close frame, queueing more fails.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/internal.h"
#include "hub/proto.h"
#include "ws/frame_track.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_MESSAGE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    struct gw_ws_track track;
    size_t bytes;
    bool first_byte_of_frame;
    uint8_t hdr[2];
    size_t hpos;
    struct gw__hub_frames *f;
};

static int out(void *arg, const char *p, size_t n)
{
    struct sink *s = arg;
    /* The mask bit of every frame the server sends is 0: check the second header byte of each
     * frame as the tracker finds frame starts. */
    for (size_t i = 0; i < n; i++) {
        if (gw_ws_track_boundary(&s->track))
            s->hpos = 0;
        if (s->hpos < 2)
            s->hdr[s->hpos++] = (uint8_t)p[i];
        if (s->hpos == 2) {
            CHECK((s->hdr[1] & 0x80) == 0);
            s->hpos = 3;
        }
        gw_ws_track(&s->track, (const unsigned char *)p + i, 1, false);
    }
    s->bytes += n;
    return 0;
}

static void msg(void *arg, bool text, const char *p, size_t n)
{
    struct sink *s = arg;
    CHECK(n <= MAX_MESSAGE);
    if (text) {
        struct gw_hub_cmd c;
        if (gw_hub_cmd_parse(p, n, &c) == 0) {
            gw_hub_cmd_clear(&c);
            gw__hub_frames_queue(s->f, WSLAY_TEXT_FRAME, "{\"type\":\"pong\"}", 15);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    struct sink s = {0};
    struct gw__hub_frames f;
    s.f = &f;
    if (gw__hub_frames_init(&f, MAX_MESSAGE, out, msg, &s) != 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        uint8_t *piece = malloc(n);
        CHECK(piece != NULL);
        memcpy(piece, data + off, n);
        int rc = gw__hub_frames_feed(&f, piece, n);
        free(piece);
        off += n;
        if (rc < 0 || gw__hub_frames_flush(&f) < 0)
            break;
        if (gw__hub_frames_done(&f))
            break;
    }
    gw__hub_frames_flush(&f);
    if (wslay_event_get_close_sent(f.ws))
        CHECK(gw__hub_frames_queue(&f, WSLAY_TEXT_FRAME, "x", 1) < 0);
    CHECK(gw_ws_track_boundary(&s.track));
    gw__hub_frames_free(&f);
    return 0;
}

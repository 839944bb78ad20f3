/*
 * Where the frames of a WebSocket byte stream begin and end (RFC 6455 5.2), without reading
 * their payload: what a tunnel needs to add a close frame of its own between two frames (a
 * control frame may come between the fragments of a message, RFC 6455 5.4, but never inside a
 * frame). Pure code: no allocation, no I/O; fuzzed (fuzz/fuzz_ws_track.c).
 */
#ifndef GW_WS_FRAME_TRACK_H
#define GW_WS_FRAME_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_ws_track {
    uint64_t left; /** payload bytes of the current frame still to pass */
    uint64_t len;  /** the payload length read so far from the next frame's header */
    uint8_t hpos;  /** header bytes seen of the next frame (0: at a frame boundary) */
    uint8_t hneed; /** that header's length, once its second byte was seen (else 0) */
    uint8_t ext;   /** bytes of its extended payload length (0, 2 or 8) */
};

/* Follows p[0..n) of one direction of a WebSocket connection. With stop, it stops right after
 * the first frame that ends in those bytes (at once when already at a boundary). Returns the
 * bytes it followed: n, unless it stopped. A zeroed struct is at the start of a stream. */
size_t gw_ws_track(struct gw_ws_track *t, const unsigned char *p, size_t n, bool stop);

/* Between two frames: a frame of one's own may be sent here. */
static inline bool gw_ws_track_boundary(const struct gw_ws_track *t)
{
    return t->left == 0 && t->hpos == 0;
}

/* A close frame with status code code (RFC 6455 5.5.1), masked with mask when masked (frames
 * from a client are masked, 5.3): writes 4 or 8 bytes into out[8] and returns how many. */
size_t gw_ws_close_frame(unsigned char out[8], uint16_t code, bool masked, uint32_t mask);

#endif

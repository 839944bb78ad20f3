/*
 * The glue between wslay's event API and a byte stream (hub/internal.h, struct gw__hub_frames):
 * no socket, no loop, so the fuzz target (fuzz/fuzz_hub_frames.c) drives exactly what a hub
 * connection runs.
 *
 * wslay pulls input through its recv callback: here that hands it the bytes of the current
 * feed and then says "would block", so one feed is consumed whole. It pushes output through its
 * send callback: here that passes everything to the owner's out function, which must take all
 * of it (the hub connection writes or queues it), so wslay never waits for writability.
 */
#include "hub/internal.h"

#include <string.h>

#include "ws/frame_track.h"

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct gw__hub_frames *f = user;
    if (f->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < f->in_len ? len : f->in_len;
    memcpy(buf, f->in, n);
    f->in += n;
    f->in_len -= n;
    return (ssize_t)n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    struct gw__hub_frames *f = user;
    if (f->out(f->arg, (const char *)data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    (void)ctx;
    struct gw__hub_frames *f = user;
    /* Control frames: wslay answers pings and close frames itself. */
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
        f->msg(f->arg, arg->opcode == WSLAY_TEXT_FRAME, (const char *)arg->msg, arg->msg_length);
}

int gw__hub_frames_init(struct gw__hub_frames *f, uint32_t max_message, gw__hub_out_fn out,
                        gw__hub_msg_fn msg, void *arg)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = on_recv,
        .send_callback = on_send,
        .on_msg_recv_callback = on_msg,
    };
    memset(f, 0, sizeof *f);
    f->out = out;
    f->msg = msg;
    f->arg = arg;
    if (wslay_event_context_server_init(&f->ws, &cbs, f) != 0)
        return -1;
    /* Over it: close 1009 (RFC 6455 7.4.1); reserved bits stay refused (no extension). */
    wslay_event_config_set_max_recv_msg_length(f->ws, max_message);
    return 0;
}

int gw__hub_frames_feed(struct gw__hub_frames *f, const uint8_t *p, size_t n)
{
    if (f->refused)
        return 0; /* nothing more is read */
    f->in = p;
    f->in_len = n;
    int rc = wslay_event_recv(f->ws);
    f->in_len = 0;
    if (rc == 0)
        return 0;
    if (rc == WSLAY_ERR_NOMEM)
        return -1;
    /* wslay's frame layer refused a header (a control frame over 125 bytes, or fragmented: RFC
     * 6455 5.5): it stops reading and queues a close without a status code. The peer gets 1002
     * (7.4.1) from us instead, and nothing more from wslay. The send callback takes whole
     * frames, so the stream is at a frame boundary here. */
    f->refused = true;
    unsigned char close[8];
    size_t k = gw_ws_close_frame(close, 1002, false, 0);
    return f->out(f->arg, (const char *)close, k) < 0 ? -1 : 0;
}

bool gw__hub_frames_refused(const struct gw__hub_frames *f)
{
    return f->refused;
}

int gw__hub_frames_queue(struct gw__hub_frames *f, int opcode, const char *p, size_t n)
{
    if (f->refused)
        return -1;
    struct wslay_event_msg m = {(uint8_t)opcode, (const uint8_t *)p, n};
    return wslay_event_queue_msg(f->ws, &m) == 0 ? 0 : -1;
}

int gw__hub_frames_close(struct gw__hub_frames *f, uint16_t code, const char *reason)
{
    if (f->refused)
        return -1;
    size_t n = reason ? strlen(reason) : 0;
    return wslay_event_queue_close(f->ws, code, (const uint8_t *)reason, n < 123 ? n : 0) == 0 ? 0
                                                                                               : -1;
}

int gw__hub_frames_flush(struct gw__hub_frames *f)
{
    if (f->refused)
        return 0;
    return wslay_event_send(f->ws) < 0 ? -1 : 0;
}

bool gw__hub_frames_done(const struct gw__hub_frames *f)
{
    return f->refused || (!wslay_event_want_read(f->ws) && !wslay_event_want_write(f->ws));
}

bool gw__hub_frames_idle(const struct gw__hub_frames *f)
{
    /* The send callback takes everything (see above): with no message queued, wslay is between
     * two frames, and bytes written past it cannot split one of its frames. */
    return !f->refused && wslay_event_get_queued_msg_count(f->ws) == 0 &&
           !wslay_event_get_close_sent(f->ws);
}

size_t gw__hub_frames_head(uint8_t head[10], size_t len)
{
    head[0] = 0x81; /* FIN, text (RFC 6455 5.2); a server's frames are not masked */
    if (len < 126) {
        head[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        head[1] = 126;
        head[2] = (uint8_t)(len >> 8);
        head[3] = (uint8_t)len;
        return 4;
    }
    head[1] = 127;
    for (int i = 0; i < 8; i++)
        head[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

size_t gw__hub_frames_queued(const struct gw__hub_frames *f)
{
    return wslay_event_get_queued_msg_length(f->ws);
}

void gw__hub_frames_free(struct gw__hub_frames *f)
{
    if (f->ws)
        wslay_event_context_free(f->ws);
    f->ws = NULL;
}

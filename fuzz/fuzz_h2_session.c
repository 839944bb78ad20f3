/*
 * libFuzzer target: gantry's HTTP/2 glue (h2/session.h) with nghttp2 as the parser. The input
 * is what a client sent after the connection preface (which the target adds), fed in pieces
 * whose sizes come from the first byte. The owner behaves like the downstream: it parses each
 * request head with the HTTP/1 parser (the head the glue built must always parse, or be refused
 * by that parser with an error code: never half-read), answers every request with a small body
 * (from inside the request callback, or once its body ended), consumes request bodies as they
 * come, and writes the session's output away. Limits are small so that the protections (header
 * list, resets, PING/SETTINGS, CONTINUATION) are reached. Extended CONNECT is offered (RFC
 * 8441): a websocket stream's head must be a WebSocket handshake, and its DATA are echoed back
 * raw, as a tunnel would; some bodies are answered early (the stream released before its body
 * ended, which then lingers and is reset with NO_ERROR), others wait for more with the body
 * timeout running, and at the end the per-stream timeouts expire (gw_h2_session_expire, a clock
 * far ahead). Closed streams go to spares kept across inputs, as a worker's are (h2/session.h
 * gw_h2_session_use_spares), so a reused stream must start clean. Nothing may crash, leak, or
 * read outside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bufcache.h"
#include "h2/session.h"
#include "http1/parser.h"

static const struct gw_h2_limits limits = {
    .max_concurrent_streams = 8,
    .max_header_list_size = 2048,
    .initial_window_size = 16384,
    .max_resets = 20,
    .max_control = 20,
    .max_continuations = 4,
    .max_empty = 100,
    .connect_protocol = true,
};

static int marker;

static void answer(struct gw_h2_stream *s)
{
    static const char lines[] = "Content-Type: text/plain\r\nConnection: close\r\nX-A: b\r\n";
    if (gw_h2_stream_respond(s, 200, lines, sizeof lines - 1, true, s->id % 4 == 1) < 0)
        return;
    if (s->id % 4 == 1)
        gw_h2_stream_write(s, "5\r\nhello\r\n0\r\n\r\n", 15);
    else
        gw_h2_stream_write(s, "hello", 5);
    gw_h2_stream_end(s);
}

static int on_request(void *owner, struct gw_h2_stream *s)
{
    (void)owner;
    struct gw_http1_limits lim = {
        .max_request_line = 8192, .max_header_bytes = 4096, .max_headers = 64};
    struct gw_http1_header h[64];
    struct gw_http1_message m = {.headers = h, .headers_capacity = 64};
    struct gw_http1_parser p;
    gw_http1_parser_init_request(&p, &lim);
    int rc = gw_http1_parse_request(&p, s->head.data, s->head.len, &m);
    if (rc == GW_HTTP1_PARTIAL)
        abort(); /* the glue always builds a whole head */
    s->owner_data = &marker;
    if (s->ext_connect == GW_H2_EXT_WEBSOCKET) {
        /* The glue's handshake: GET with Upgrade and a key, no body framing. */
        if (rc == 0 && (!m.upgrade || m.body != GW_BODY_NONE || !s->tunnel))
            abort();
        if (rc < 0) {
            answer(s); /* more fields than this parser takes */
            return 0;
        }
        if (gw_h2_stream_respond(s, 200, "", 0, true, false) < 0)
            return 0;
        if (s->body_end)
            gw_h2_stream_end(s);
        return 0;
    }
    if (rc < 0 || s->body_end) {
        answer(s);
    } else if (s->id % 8 == 3) {
        /* An early answer (a 401 before the body): the rest is dropped, then the stream is
         * reset with NO_ERROR after its linger. */
        answer(s);
        gw_h2_stream_release(s);
    } else {
        gw_h2_stream_body_wait(s);
    }
    return 0;
}

static void on_body(void *owner, struct gw_h2_stream *s)
{
    (void)owner;
    const char *p;
    size_t n = gw_h2_stream_body_peek(s, &p);
    if (s->tunnel) {
        /* A tunnel's bytes go back as they came. */
        if (n && gw_h2_stream_write(s, p, n) >= 0)
            gw_h2_stream_body_consume(s, n);
        if (s->body_end)
            gw_h2_stream_end(s);
        return;
    }
    if (n)
        gw_h2_stream_body_consume(s, n);
    if (s->body_end && !s->responded)
        answer(s);
    else if (!s->body_end)
        gw_h2_stream_body_wait(s);
}

static void on_sent(void *owner, struct gw_h2_stream *s)
{
    (void)owner;
    (void)s;
}

static void on_closed(void *owner, struct gw_h2_stream *s, uint32_t error)
{
    (void)owner;
    (void)error;
    s->owner_data = NULL;
}

static void on_timeout(void *owner, struct gw_h2_stream *s, enum gw_h2_timeout which)
{
    (void)owner;
    if (which == GW_H2_TIMEOUT_BODY && !s->responded) {
        gw_h2_stream_cut(s);
        answer(s);
    } else {
        gw_h2_stream_reset(s, 8);
    }
    gw_h2_stream_release(s);
}

static void on_event(void *owner, enum gw_h2_event ev)
{
    (void)owner;
    if ((unsigned)ev >= GW_H2_EV__COUNT)
        abort();
}

static const struct gw_h2_handler handler = {.request = on_request,
                                             .body = on_body,
                                             .sent = on_sent,
                                             .closed = on_closed,
                                             .event = on_event,
                                             .timeout = on_timeout};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    static struct gw_bufcache spares; /* kept across inputs: still reachable at the exit */
    struct gw_h2_session *s = gw_h2_session_new(&limits, &handler, NULL);
    if (!s)
        return 0;
    gw_h2_session_use_spares(s, &spares);
    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    int rc = gw_h2_session_input(s, preface, sizeof preface - 1);
    while (rc == 0 && size > 0) {
        size_t n = size < piece ? size : piece;
        rc = gw_h2_session_input(s, (const char *)data, n);
        data += n;
        size -= n;
        gw_buf_reset(&out);
        if (gw_h2_session_output(s, &out, 65536) < 0)
            break;
    }
    gw_buf_reset(&out);
    gw_h2_session_output(s, &out, 1 << 19);
    /* Two sweeps: the first stamps the waits that only the sweep times (a linger). */
    for (uint64_t later = 3600000; later <= 7200000 && gw_h2_session_waiting(s); later += 3600000) {
        gw_h2_session_expire(s, gw_h2_clock_ms() + later, 1000, 1000);
        gw_buf_reset(&out);
        gw_h2_session_output(s, &out, 1 << 19);
    }
    gw_buf_free(&out);
    gw_h2_session_free(s);
    return 0;
}

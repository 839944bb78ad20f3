/*
 * libFuzzer target: gantry's HTTP/2 glue (h2/session.h) with nghttp2 as the parser. The input
 * is what a client sent after the connection preface (which the target adds), fed in pieces
 * whose sizes come from the first byte. The owner behaves like the downstream: it parses each
 * request head with the HTTP/1 parser (the head the glue built must always parse, or be refused
 * by that parser with an error code: never half-read), answers every request with a small body
 * (from inside the request callback, or once its body ended), consumes request bodies as they
 * come, and writes the session's output away. Limits are small so that the protections (header
 * list, resets, PING/SETTINGS, CONTINUATION) are reached. Nothing may crash, leak, or read
 * outside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/session.h"
#include "http1/parser.h"

static const struct gw_h2_limits limits = {
    .max_concurrent_streams = 8,
    .max_header_list_size = 2048,
    .initial_window_size = 16384,
    .max_resets = 20,
    .max_control = 20,
    .max_continuations = 4,
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
    if (rc < 0 || s->body_end)
        answer(s);
    return 0;
}

static void on_body(void *owner, struct gw_h2_stream *s)
{
    (void)owner;
    const char *p;
    size_t n = gw_h2_stream_body_peek(s, &p);
    if (n)
        gw_h2_stream_body_consume(s, n);
    if (s->body_end && !s->responded)
        answer(s);
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
                                             .event = on_event};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    struct gw_h2_session *s = gw_h2_session_new(&limits, &handler, NULL);
    if (!s)
        return 0;
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
    gw_buf_free(&out);
    gw_h2_session_free(s);
    return 0;
}

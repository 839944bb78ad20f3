/*
 * libFuzzer target: gantry's HTTP/2 client glue (h2/client.h) with nghttp2 as the parser, and
 * the translation of a request head into HTTP/2 fields (upstream/h2_upstream.h). The first
 * bytes up to an empty line are the HTTP/1.1 head to translate (whatever it is); the rest is
 * what an upstream sent after its SETTINGS, fed in pieces whose sizes come from the first
 * byte, to a session with a few streams open (with and without a request body). The owner
 * behaves like upstream/h2_upstream.c: it takes response payload as it comes, releases streams
 * once closed and one of them early. Nothing may crash, leak, or read outside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/client.h"
#include "upstream/h2_upstream.h"

static int live[8];

static void on_stream(void *owner, struct gw_h2c_stream *st)
{
    (void)owner;
    int *slot = st->owner_data;
    const char *p;
    size_t n = gw_h2c_stream_data(st, &p);
    if (n)
        gw_h2c_stream_data_consume(st, n);
    if (st->ev_head && st->status < 200)
        abort(); /* interim answers never reach the owner as a head */
    if (st->ev_closed)
        *slot = 0;
}

static const struct gw_h2c_handler handler = {.stream = on_stream};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    const uint8_t *end = memmem(data, size, "\r\n\r\n", 4);
    size_t hlen = end ? (size_t)(end - data) + 4 : 0;
    static struct gw_h2up_head h;
    (void)gw_h2up_translate_head((const char *)data, hlen, size > 0 && (data[0] & 1), 1000, &h);
    data += hlen;
    size -= hlen;

    struct gw_h2c_session *s = gw_h2c_session_new(&handler, NULL);
    if (!s)
        return 0;
    struct gw_buf out;
    gw_buf_init(&out, 1 << 20);
    static const struct gw_h2c_field f[] = {
        {":method", 7, "POST", 4}, {":scheme", 6 + 1, "http", 4}, {":authority", 10, "u", 1},
        {":path", 5, "/p", 2},     {"te", 2, "trailers", 8},
    };
    struct gw_h2c_stream *st[8] = {0};
    for (int i = 0; i < 8; i++) {
        int err;
        live[i] = 1;
        st[i] = gw_h2c_stream_open(s, f, 5, i % 2 == 0, &live[i], &err);
        if (!st[i])
            live[i] = 0;
        else if (i % 2 == 0) {
            gw_h2c_stream_write(st[i], "0123456789", 10);
            gw_h2c_stream_end(st[i]);
        }
    }
    int rc = gw_h2c_session_output(s, &out, 1 << 19);
    static const uint8_t settings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    if (rc == 0)
        rc = gw_h2c_session_input(s, (const char *)settings, sizeof settings);
    int released = 0;
    while (rc == 0 && size > 0) {
        size_t n = size < piece ? size : piece;
        rc = gw_h2c_session_input(s, (const char *)data, n);
        data += n;
        size -= n;
        gw_buf_reset(&out);
        if (rc == 0 && gw_h2c_session_output(s, &out, 65536) < 0)
            break;
        if (!released && live[3]) {
            released = 1;
            live[3] = 0;
            gw_h2c_stream_release(st[3]);
        }
    }
    (void)gw_h2c_session_can_open(s);
    gw_buf_free(&out);
    gw_h2c_session_free(s);
    return 0;
}

/* Unit tests for src/h2/session.c: a request's HTTP/1.1 head, the response's fields, spare
 * streams, extended CONNECT (RFC 8441) and the per-stream timeouts, with a real nghttp2 client
 * session on the other end (bytes passed by hand, no sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "core/bufcache.h"
#include "h2/session.h"

/* The stream's head as a string (the buffer has no NUL). */
static char *head_text(const struct gw_h2_stream *st)
{
    char *h = malloc(st->head.len + 1);
    assert_non_null(h);
    memcpy(h, st->head.data, st->head.len);
    h[st->head.len] = '\0';
    return h;
}

/* ---- the owner: records what the session told it ------------------------------------------ */

struct owner {
    struct gw_h2_stream *st; /* the last stream whose request came */
    int requests, bodies, timeouts_body, timeouts_send, closed;
    bool wait_body;         /* the request callback starts the body timeout */
    bool answer_on_timeout; /* the body timeout is answered 408 */
};

static int marker;

static int on_request(void *o, struct gw_h2_stream *s)
{
    struct owner *ow = o;
    ow->requests++;
    ow->st = s;
    s->owner_data = &marker;
    if (ow->wait_body)
        gw_h2_stream_body_wait(s);
    return 0;
}

static void on_body(void *o, struct gw_h2_stream *s)
{
    (void)s;
    ((struct owner *)o)->bodies++;
}

static void on_sent(void *o, struct gw_h2_stream *s)
{
    (void)o;
    (void)s;
}

static void on_closed(void *o, struct gw_h2_stream *s, uint32_t error)
{
    (void)error;
    struct owner *ow = o;
    ow->closed++;
    if (ow->st == s)
        ow->st = NULL;
}

static void on_event(void *o, enum gw_h2_event ev)
{
    (void)o;
    (void)ev;
}

static void on_timeout(void *o, struct gw_h2_stream *s, enum gw_h2_timeout which)
{
    struct owner *ow = o;
    if (which == GW_H2_TIMEOUT_BODY)
        ow->timeouts_body++;
    else
        ow->timeouts_send++;
    if (which == GW_H2_TIMEOUT_BODY && ow->answer_on_timeout) {
        /* What the downstream does: a 408, the request let go. */
        gw_h2_stream_cut(s);
        assert_int_equal(gw_h2_stream_respond(s, 408, "", 0, true, false), 0);
        gw_h2_stream_write(s, "timeout", 7);
        gw_h2_stream_end(s);
        gw_h2_stream_release(s);
    }
}

static const struct gw_h2_handler handler = {.request = on_request,
                                             .body = on_body,
                                             .sent = on_sent,
                                             .closed = on_closed,
                                             .event = on_event,
                                             .timeout = on_timeout};

/* ---- the client: nghttp2 -----------------------------------------------------------------------
 */

struct client {
    nghttp2_session *ng;
    uint32_t rst[16]; /* RST_STREAM code per stream id (index id), 0xffffffff none */
    int status[16];
    size_t got[16];
    char fields[512]; /* the last response's field names, each followed by ';' */
    bool rid_never;   /* its x-request-id came as a literal never indexed */
};

static int c_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
    (void)ng;
    struct client *c = arg;
    if (f->hd.type == NGHTTP2_RST_STREAM && f->hd.stream_id < 16)
        c->rst[f->hd.stream_id] = f->rst_stream.error_code;
    return 0;
}

static int c_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                       size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                       void *arg)
{
    (void)ng;
    struct client *c = arg;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0 && valuelen == 3 && f->hd.stream_id < 16) {
        c->status[f->hd.stream_id] =
            (value[0] - '0') * 100 + (value[1] - '0') * 10 + value[2] - '0';
        c->fields[0] = '\0';
        c->rid_never = false;
        return 0;
    }
    size_t at = strlen(c->fields);
    if (at + namelen + 2 < sizeof c->fields) {
        memcpy(c->fields + at, name, namelen);
        memcpy(c->fields + at + namelen, ";", 2);
    }
    if (namelen == 12 && memcmp(name, "x-request-id", 12) == 0)
        c->rid_never = (flags & NGHTTP2_NV_FLAG_NO_INDEX) != 0;
    return 0;
}

static int c_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *p, size_t n,
                     void *arg)
{
    (void)ng;
    (void)flags;
    (void)p;
    struct client *c = arg;
    if (id < 16)
        c->got[id] += n;
    return 0;
}

static void client_init(struct client *c, uint32_t window)
{
    memset(c, 0, sizeof *c);
    memset(c->rst, 0xff, sizeof c->rst);
    nghttp2_session_callbacks *cb;
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_on_frame_recv);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_on_data);
    nghttp2_option *opt;
    assert_int_equal(nghttp2_option_new(&opt), 0);
    /* The stream's window is opened by hand (window 0: never). */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    assert_int_equal(nghttp2_session_client_new2(&c->ng, cb, c, opt), 0);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    assert_int_equal(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 1), 0);
}

/* Passes bytes both ways until neither side has more to say. */
static void pump(struct client *c, struct gw_h2_session *s)
{
    for (int round = 0; round < 64; round++) {
        bool moved = false;
        const uint8_t *p;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(c->ng, &p)) > 0) {
            assert_int_equal(gw_h2_session_input(s, (const char *)p, (size_t)n), 0);
            moved = true;
        }
        struct gw_buf out;
        gw_buf_init(&out, 1 << 20);
        assert_int_equal(gw_h2_session_output(s, &out, 1 << 19), 0);
        if (out.len) {
            assert_int_equal(nghttp2_session_mem_recv(c->ng, (const uint8_t *)out.data, out.len),
                             (ssize_t)out.len);
            moved = true;
        }
        gw_buf_free(&out);
        if (!moved)
            return;
    }
}

static const struct gw_h2_limits limits = {
    .max_concurrent_streams = 16,
    .max_header_list_size = 16384,
    .initial_window_size = 65535,
    .max_resets = 100,
    .max_control = 100,
    .max_continuations = 8,
    .max_empty = 1000,
    .connect_protocol = true,
};

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE         \
    }

static const nghttp2_nv ext_connect[] = {
    NV(":method", "CONNECT"), NV(":protocol", "websocket"),    NV(":scheme", "https"),
    NV(":path", "/chat?t=1"), NV(":authority", "example.com"), NV("sec-websocket-version", "13"),
};

/* A session, a client, the SETTINGS exchanged. */
static struct gw_h2_session *start(struct client *c, struct owner *ow,
                                   const struct gw_h2_limits *lim, uint32_t window)
{
    memset(ow, 0, sizeof *ow);
    client_init(c, window);
    struct gw_h2_session *s = gw_h2_session_new(lim, &handler, ow);
    assert_non_null(s);
    pump(c, s);
    return s;
}

static void finish(struct client *c, struct gw_h2_session *s)
{
    gw_h2_session_free(s);
    nghttp2_session_del(c->ng);
}

static void test_setting_offered_only_when_asked(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    assert_int_equal(
        nghttp2_session_get_remote_settings(c.ng, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL), 1);
    finish(&c, s);
    struct gw_h2_limits off = limits;
    off.connect_protocol = false;
    s = start(&c, &ow, &off, 65535);
    assert_int_equal(
        nghttp2_session_get_remote_settings(c.ng, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL), 0);
    /* Without the setting, :protocol is refused (nghttp2: RFC 8441 3). */
    int32_t id = nghttp2_submit_request(c.ng, NULL, ext_connect, 6, NULL, NULL);
    pump(&c, s);
    assert_int_equal(ow.requests, 0);
    assert_int_equal(c.rst[id], NGHTTP2_PROTOCOL_ERROR);
    finish(&c, s);
}

static void test_websocket_becomes_an_http1_handshake(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    int32_t id = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, ext_connect, 6, NULL);
    assert_true(id > 0);
    pump(&c, s);
    assert_int_equal(ow.requests, 1);
    struct gw_h2_stream *st = ow.st;
    assert_non_null(st);
    assert_int_equal(st->ext_connect, GW_H2_EXT_WEBSOCKET);
    assert_true(st->tunnel);
    assert_false(st->body_end);
    char *h = head_text(st);
    assert_memory_equal(h, "GET /chat?t=1 HTTP/1.1\r\nhost: example.com\r\n", 43);
    assert_non_null(strstr(h, "connection: upgrade\r\nupgrade: websocket\r\n"));
    assert_non_null(strstr(h, "sec-websocket-version: 13\r\n"));
    assert_null(strstr(h, "transfer-encoding"));
    const char *k = strstr(h, "sec-websocket-key: ");
    assert_non_null(k);
    k += 19;
    const char *e = strstr(k, "\r\n");
    assert_int_equal(e - k, 24);
    assert_memory_equal(k + 22, "==", 2);
    for (const char *p = k; p < k + 22; p++)
        assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '+' || *p == '/');
    /* The last character of 16 bytes carries 2 bits: one of A, Q, g, w. */
    assert_non_null(strchr("AQgw", k[21]));
    free(h);
    finish(&c, s);
}

static ssize_t read_abc(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *arg)
{
    (void)ng;
    (void)id;
    (void)len;
    (void)src;
    (void)arg;
    memcpy(buf,
           "\x81\x03"
           "abc",
           5);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 5;
}

static void test_tunnel_bytes_are_raw_and_end_with_the_stream(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    nghttp2_data_provider prd = {.read_callback = read_abc};
    int32_t id = nghttp2_submit_request(c.ng, NULL, ext_connect, 6, &prd, NULL);
    pump(&c, s);
    assert_int_equal(ow.requests, 1);
    struct gw_h2_stream *st = ow.st;
    const char *p;
    size_t n = gw_h2_stream_body_peek(st, &p);
    assert_int_equal(n, 5);
    assert_memory_equal(p,
                        "\x81\x03"
                        "abc",
                        5);
    assert_true(st->body_end);
    gw_h2_stream_body_consume(st, n);
    /* The 200 and bytes back; END_STREAM closes the stream both ways. */
    assert_int_equal(gw_h2_stream_respond(st, 200, "", 0, true, false), 0);
    assert_int_equal(gw_h2_stream_write(st, "\x81\x02hi", 4), 1);
    gw_h2_stream_end(st);
    pump(&c, s);
    assert_int_equal(c.status[id], 200);
    assert_int_equal(c.got[id], 4);
    assert_int_equal(ow.closed, 1);
    finish(&c, s);
}

static void test_malformed_extended_connects_are_reset(void **unused)
{
    (void)unused;
    /* Each misses one thing RFC 8441 4 asks for, or has what a tunnel cannot have. */
    static const char *const drop[] = {":path", ":scheme", ":authority", NULL};
    for (int k = 0; k < 4; k++) {
        struct client c;
        struct owner ow;
        struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
        nghttp2_nv nv[8];
        size_t n = 0;
        for (size_t i = 0; i < 6; i++) {
            if (drop[k] && strlen(drop[k]) == ext_connect[i].namelen &&
                memcmp(drop[k], ext_connect[i].name, ext_connect[i].namelen) == 0)
                continue;
            nv[n++] = ext_connect[i];
        }
        if (!drop[k])
            nv[n++] = (nghttp2_nv)NV("content-length", "3");
        int32_t id = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, nv, n, NULL);
        pump(&c, s);
        assert_int_equal(ow.requests, 0);
        assert_int_equal(c.rst[id], NGHTTP2_PROTOCOL_ERROR);
        finish(&c, s);
    }
}

static void test_other_protocol_is_passed_on_for_a_refusal(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    nghttp2_nv nv[6];
    memcpy(nv, ext_connect, sizeof nv);
    nv[1] = (nghttp2_nv)NV(":protocol", "connect-udp");
    nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, nv, 6, NULL);
    pump(&c, s);
    assert_int_equal(ow.requests, 1);
    assert_int_equal(ow.st->ext_connect, GW_H2_EXT_OTHER);
    char *h = head_text(ow.st);
    assert_non_null(strstr(h, "upgrade: connect-udp\r\n"));
    assert_null(strstr(h, "sec-websocket-key"));
    free(h);
    finish(&c, s);
}

static void test_body_timeout_fires_once_and_only_while_waiting(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    ow.wait_body = true;
    static const nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"),
                                      NV(":path", "/up"), NV(":authority", "x"),
                                      NV("content-length", "10")};
    int32_t id = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, post, 5, NULL);
    pump(&c, s);
    assert_int_equal(ow.requests, 1);
    assert_true(gw_h2_session_waiting(s));
    assert_true(ow.st->body_wait);
    /* The request path only flags the wait: the first sweep stamps it. */
    uint64_t t0 = 5000;
    gw_h2_session_expire(s, t0, 1000, 0);
    assert_int_equal(ow.st->body_since, t0);
    gw_h2_session_expire(s, t0 + 999, 1000, 0);
    assert_int_equal(ow.timeouts_body, 0);
    gw_h2_session_expire(s, t0 + 1000, 1000, 0);
    assert_int_equal(ow.timeouts_body, 1);
    assert_false(gw_h2_session_waiting(s));
    gw_h2_session_expire(s, t0 + 5000, 1000, 0);
    assert_int_equal(ow.timeouts_body, 1);
    /* Waiting again, then bytes arrive: the wait is over. */
    gw_h2_stream_body_wait(ow.st);
    assert_true(ow.st->body_wait && ow.st->body_since == 0);
    nghttp2_session_del(c.ng); /* hand-made DATA frame: 3 bytes, no END_STREAM */
    static const char data[] = {0, 0, 3, 0, 0, 0, 0, 0, 1, 'a', 'b', 'c'};
    assert_int_equal(id, 1);
    assert_int_equal(gw_h2_session_input(s, data, sizeof data), 0);
    assert_int_equal(ow.bodies, 1);
    assert_false(ow.st->body_wait);
    gw_h2_session_free(s);
}

static void test_answer_written_by_the_timeout_goes_out(void **unused)
{
    (void)unused;
    /* The 408 written inside the expiry pass starts a send wait: it must not count as expired
     * in the same pass (it did once: the 408 became RST_STREAM CANCEL). */
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    ow.wait_body = true;
    ow.answer_on_timeout = true;
    static const nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"),
                                      NV(":path", "/up"), NV(":authority", "x"),
                                      NV("content-length", "10")};
    int32_t id = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, post, 5, NULL);
    pump(&c, s);
    gw_h2_session_expire(s, 100, 1, 1);
    gw_h2_session_expire(s, 101, 1, 1);
    assert_int_equal(ow.timeouts_body, 1);
    pump(&c, s);
    assert_int_equal(c.status[id], 408);
    assert_int_equal(c.got[id], 7);
    assert_int_equal(c.rst[id], NGHTTP2_NO_ERROR); /* after the answer (RFC 9113 8.1) */
    finish(&c, s);
}

static void test_send_timeout_and_released_streams(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    /* The client's stream window is 0: nothing of the payload moves. */
    struct gw_h2_session *s = start(&c, &ow, &limits, 0);
    static const nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"),
                                     NV(":path", "/big"), NV(":authority", "x")};
    int32_t a = nghttp2_submit_request(c.ng, NULL, get, 4, NULL, NULL);
    pump(&c, s);
    struct gw_h2_stream *sa = ow.st;
    int32_t b = nghttp2_submit_request(c.ng, NULL, get, 4, NULL, NULL);
    pump(&c, s);
    struct gw_h2_stream *sb = ow.st;
    assert_int_equal(ow.requests, 2);
    static char chunk[1000];
    for (struct gw_h2_stream *st = sa; st; st = st == sa ? sb : NULL) {
        assert_int_equal(gw_h2_stream_respond(st, 200, "", 0, true, false), 0);
        assert_int_equal(gw_h2_stream_write(st, chunk, sizeof chunk), 1);
    }
    pump(&c, s);
    assert_true(gw_h2_session_waiting(s));
    assert_true(sa->send_wait && sb->send_wait);
    uint64_t t0 = 7000;
    gw_h2_session_expire(s, t0, 0, 1000); /* first seen */
    /* b's owner lets go (its request finished): the stream keeps its bytes. */
    gw_h2_stream_end(sb);
    gw_h2_stream_release(sb);
    /* a moves a little (100 bytes of window): its bound starts again at the next sweep. */
    assert_int_equal(nghttp2_submit_window_update(c.ng, NGHTTP2_FLAG_NONE, a, 100), 0);
    pump(&c, s);
    assert_int_equal(c.got[a], 100);
    gw_h2_session_expire(s, t0 + 100, 0, 1000);
    assert_int_equal(ow.timeouts_send, 0);
    gw_h2_session_expire(s, t0 + 1000, 0, 1000);
    /* b: nobody waits for it, the session resets it (CANCEL); a moved, so not yet. */
    assert_int_equal(ow.timeouts_send, 0);
    pump(&c, s);
    assert_int_equal(c.rst[b], NGHTTP2_CANCEL);
    assert_int_equal(c.rst[a], 0xffffffffu);
    gw_h2_session_expire(s, t0 + 1099, 0, 1000);
    assert_int_equal(ow.timeouts_send, 0);
    gw_h2_session_expire(s, t0 + 1100, 0, 1000);
    assert_int_equal(ow.timeouts_send, 1); /* the owner hears (and would reset it) */
    finish(&c, s);
}

static void test_cut_stream_is_reset_with_no_error_after_its_answer(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    static const nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"),
                                      NV(":path", "/up"), NV(":authority", "x"),
                                      NV("content-length", "10")};
    int32_t id = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, post, 5, NULL);
    pump(&c, s);
    struct gw_h2_stream *st = ow.st;
    gw_h2_stream_cut(st);
    assert_int_equal(gw_h2_stream_respond(st, 408, "", 0, true, false), 0);
    gw_h2_stream_write(st, "late", 4);
    gw_h2_stream_end(st);
    gw_h2_stream_release(st);
    pump(&c, s);
    assert_int_equal(c.status[id], 408);
    assert_int_equal(c.got[id], 4);
    assert_int_equal(c.rst[id], NGHTTP2_NO_ERROR);
    finish(&c, s);
}

/* A request body the client streams: its data provider hands out `budget` bytes (of 'b'), then
 * waits (DEFERRED) until the test adds more and resumes the stream. */
struct upload {
    size_t budget, left;
};

static ssize_t read_upload(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                           uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    (void)ng;
    (void)id;
    (void)arg;
    struct upload *u = src->ptr;
    size_t n = u->budget < len ? u->budget : len;
    if (n == 0)
        return NGHTTP2_ERR_DEFERRED;
    memset(buf, 'b', n);
    u->budget -= n;
    u->left -= n;
    if (u->left == 0)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* A DATA frame of n bytes (at most 16384) on stream id, without END_STREAM, made by hand: what a
 * client that has not seen our RST_STREAM yet still sends. */
static void late_data(struct gw_h2_session *s, int32_t id, size_t n)
{
    static char frame[9 + 16384];
    frame[0] = (char)(n >> 16);
    frame[1] = (char)(n >> 8);
    frame[2] = (char)n;
    frame[3] = 0; /* DATA */
    frame[4] = 0;
    frame[5] = (char)((uint32_t)id >> 24);
    frame[6] = (char)((uint32_t)id >> 16);
    frame[7] = (char)((uint32_t)id >> 8);
    frame[8] = (char)id;
    memset(frame + 9, 'z', n);
    assert_int_equal(gw_h2_session_input(s, frame, 9 + n), 0);
}

static void test_early_answer_lingers_then_resets_with_no_error(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    /* A 200000-byte upload of which 10000 bytes came when the owner answers 401. */
    static const nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"),
                                      NV(":path", "/up"), NV(":authority", "x"),
                                      NV("content-length", "200000")};
    struct upload up = {.budget = 10000, .left = 200000};
    nghttp2_data_provider prd = {.source.ptr = &up, .read_callback = read_upload};
    int32_t id = nghttp2_submit_request(c.ng, NULL, post, 5, &prd, NULL);
    pump(&c, s);
    struct gw_h2_stream *st = ow.st;
    assert_non_null(st);
    assert_false(st->body_end);
    assert_int_equal(gw_h2_stream_respond(st, 401, "", 0, true, false), 0);
    assert_int_equal(gw_h2_stream_write(st, "no", 2), 1);
    gw_h2_stream_end(st);
    gw_h2_stream_release(st);
    /* The client goes on sending while the answer travels: dropped, the window given back. */
    up.budget = 30000;
    assert_int_equal(nghttp2_session_resume_data(c.ng, id), 0);
    pump(&c, s);
    assert_int_equal(c.status[id], 401);
    assert_int_equal(c.got[id], 2);
    /* The stream lingers first: the client gets the time to read the answer. */
    assert_int_equal(c.rst[id], 0xffffffffu);
    assert_true(st->linger);
    assert_true(gw_h2_session_waiting(s));
    gw_h2_session_expire(s, 9000, 0, 0); /* the first sweep stamps the linger */
    gw_h2_session_expire(s, 9000 + GW_H2_LINGER_MS - 1, 0, 0);
    pump(&c, s);
    assert_int_equal(c.rst[id], 0xffffffffu);
    gw_h2_session_expire(s, 9000 + GW_H2_LINGER_MS, 0, 0);
    assert_false(gw_h2_session_waiting(s));
    pump(&c, s);
    /* RFC 9113 8.1: after the complete response, "abort transmission ... without error". */
    assert_int_equal(c.rst[id], NGHTTP2_NO_ERROR);
    assert_int_equal(ow.closed, 0);      /* the owner let go before: it hears nothing */
    assert_false(gw_h2_session_busy(s)); /* the stream is freed */
    /* DATA that was in flight when the reset left: most of a connection window of it (the
     * client's session does not know: the frames are made by hand). Were it not counted as
     * consumed, only 1535 bytes of window would be left for the next upload, which would pass it
     * (a connection error: GOAWAY FLOW_CONTROL_ERROR). */
    for (int i = 0; i < 4; i++)
        late_data(s, id, 16000);
    pump(&c, s);
    struct upload up2 = {.budget = 40000, .left = 40000};
    static const nghttp2_nv post2[] = {NV(":method", "POST"), NV(":scheme", "http"),
                                       NV(":path", "/up"), NV(":authority", "x"),
                                       NV("content-length", "40000")};
    nghttp2_data_provider prd2 = {.source.ptr = &up2, .read_callback = read_upload};
    int32_t id2 = nghttp2_submit_request(c.ng, NULL, post2, 5, &prd2, NULL);
    pump(&c, s);
    assert_true(gw_h2_session_alive(s));
    assert_int_equal(ow.requests, 2);
    const char *p;
    assert_int_equal(gw_h2_stream_body_peek(ow.st, &p), 40000);
    assert_true(ow.st->body_end);
    /* A complete request answered: nothing to stop, no reset. */
    assert_int_equal(gw_h2_stream_respond(ow.st, 200, "", 0, false, false), 0);
    gw_h2_stream_release(ow.st);
    pump(&c, s);
    assert_int_equal(c.status[id2], 200);
    assert_int_equal(c.rst[id2], 0xffffffffu);
    assert_false(gw_h2_session_busy(s));
    finish(&c, s);
}

static void test_release_after_the_end_went_out_resets_too(void **unused)
{
    (void)unused;
    /* An owner that keeps the stream after its END_STREAM (a tunnel reading the client's half)
     * and lets go later: the reset goes out then. */
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    static const nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"),
                                      NV(":path", "/up"), NV(":authority", "x")};
    int32_t id = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, post, 4, NULL);
    pump(&c, s);
    struct gw_h2_stream *st = ow.st;
    assert_int_equal(gw_h2_stream_respond(st, 200, "", 0, false, false), 0);
    pump(&c, s);
    assert_int_equal(c.status[id], 200);
    assert_true(st->end_sent);
    assert_int_equal(c.rst[id], 0xffffffffu); /* still the owner's: the client may go on */
    gw_h2_stream_release(st);
    pump(&c, s);
    assert_true(st->linger);
    gw_h2_session_expire(s, 100, 0, 0);
    gw_h2_session_expire(s, 100 + GW_H2_LINGER_MS, 0, 0);
    pump(&c, s);
    assert_int_equal(c.rst[id], NGHTTP2_NO_ERROR);
    assert_false(gw_h2_session_busy(s));
    finish(&c, s);
}

static void test_client_ending_its_body_in_the_linger_gets_no_reset(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    static const nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"),
                                      NV(":path", "/up"), NV(":authority", "x"),
                                      NV("content-length", "3000")};
    struct upload up = {.budget = 1000, .left = 3000};
    nghttp2_data_provider prd = {.source.ptr = &up, .read_callback = read_upload};
    int32_t id = nghttp2_submit_request(c.ng, NULL, post, 5, &prd, NULL);
    pump(&c, s);
    struct gw_h2_stream *st = ow.st;
    assert_int_equal(gw_h2_stream_respond(st, 413, "", 0, false, false), 0);
    gw_h2_stream_release(st);
    pump(&c, s);
    assert_int_equal(c.status[id], 413);
    assert_true(st->linger);
    gw_h2_session_expire(s, 100, 0, 0);
    /* The client finishes its body: the stream closes both ways, nothing to reset. */
    up.budget = 2000;
    assert_int_equal(nghttp2_session_resume_data(c.ng, id), 0);
    pump(&c, s);
    assert_false(gw_h2_session_busy(s));
    gw_h2_session_expire(s, 100 + GW_H2_LINGER_MS, 0, 0);
    assert_false(gw_h2_session_waiting(s));
    pump(&c, s);
    assert_int_equal(c.rst[id], 0xffffffffu);
    finish(&c, s);
}

/* Sends one request (end_stream: no body) and returns its stream id. */
static int32_t send_request(struct client *c, const nghttp2_nv *nv, size_t n, bool end_stream)
{
    int32_t id = nghttp2_submit_headers(c->ng, end_stream ? NGHTTP2_FLAG_END_STREAM : 0, -1, NULL,
                                        nv, n, NULL);
    assert_true(id > 0);
    return id;
}

static void assert_head(const struct gw_h2_stream *st, const char *want)
{
    char *h = head_text(st);
    assert_string_equal(h, want);
    free(h);
}

static void test_request_heads(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    /* Host from :authority, the fields in order, cookies joined (RFC 9113 8.2.3), a host field
     * naming the same authority not repeated. */
    static const nghttp2_nv get[] = {
        NV(":method", "GET"),       NV(":scheme", "https"), NV(":path", "/p?q=1"),
        NV(":authority", "a.test"), NV("cookie", "a=1"),    NV("user-agent", "t/1"),
        NV("host", "A.test"),       NV("cookie", "b=2"),    NV("accept", "*/*"),
    };
    send_request(&c, get, 9, true);
    pump(&c, s);
    assert_int_equal(ow.requests, 1);
    assert_true(ow.st->body_end);
    assert_head(ow.st, "GET /p?q=1 HTTP/1.1\r\nhost: a.test\r\nuser-agent: t/1\r\n"
                       "accept: */*\r\ncookie: a=1; b=2\r\n\r\n");
    /* No :authority: the host field is the Host. A body without a length is chunked. */
    static const nghttp2_nv post[] = {NV(":method", "POST"), NV(":scheme", "http"),
                                      NV(":path", "/up"), NV("host", "h.test")};
    send_request(&c, post, 4, false);
    pump(&c, s);
    assert_int_equal(ow.requests, 2);
    assert_false(ow.st->body_end);
    assert_head(ow.st, "POST /up HTTP/1.1\r\nhost: h.test\r\ntransfer-encoding: chunked\r\n\r\n");
    /* Pseudo-fields only. */
    static const nghttp2_nv bare[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                                      NV(":authority", "b.test")};
    send_request(&c, bare, 4, true);
    pump(&c, s);
    assert_int_equal(ow.requests, 3);
    assert_head(ow.st, "GET / HTTP/1.1\r\nhost: b.test\r\n\r\n");
    /* RFC 9113 8.3.1: a Host naming another authority is malformed; two are refused too. */
    static const nghttp2_nv other[] = {NV(":method", "GET"), NV(":scheme", "http"),
                                       NV(":path", "/"), NV(":authority", "a.test"),
                                       NV("host", "b.test")};
    int32_t id = send_request(&c, other, 5, true);
    pump(&c, s);
    assert_int_equal(ow.requests, 3);
    assert_int_equal(c.rst[id], NGHTTP2_PROTOCOL_ERROR);
    static const nghttp2_nv two[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                                     NV("host", "b.test"), NV("host", "b.test")};
    id = send_request(&c, two, 5, true);
    pump(&c, s);
    assert_int_equal(ow.requests, 3);
    assert_true(c.rst[id] != 0xffffffffu);
    finish(&c, s);
}

/* A response's fields: names lowercased, connection-specific ones dropped, X-Request-ID a
 * literal never indexed (RFC 7541 6.2.3), the others as sent. */
static void test_response_fields(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    static const nghttp2_nv get[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                                     NV(":authority", "a.test")};
    for (int i = 0; i < 2; i++) {
        int32_t id = send_request(&c, get, 4, true);
        pump(&c, s);
        static const char lines[] =
            "Server: t\r\nConnection: keep-alive\r\nX-Request-ID: 0123abcd\r\n"
            "Keep-Alive: timeout=5\r\nContent-Type:  text/plain \r\n"
            "Transfer-Encoding: chunked\r\nX-Long: v";
        assert_int_equal(gw_h2_stream_respond(ow.st, 200, lines, sizeof lines - 1, true, false), 0);
        assert_int_equal(gw_h2_stream_write(ow.st, "hi", 2), 1);
        gw_h2_stream_end(ow.st);
        gw_h2_stream_release(ow.st);
        pump(&c, s);
        assert_int_equal(c.status[id], 200);
        assert_int_equal(c.got[id], 2);
        assert_string_equal(c.fields, "server;x-request-id;content-type;x-long;");
        assert_true(c.rid_never);
    }
    /* More fields than the session's stack array (32): every one arrives, in order. */
    int32_t id = send_request(&c, get, 4, true);
    pump(&c, s);
    char many[2048] = "", want[512] = "";
    for (int i = 0; i < 45; i++) {
        char line[32], name[16];
        snprintf(line, sizeof line, "%sX-F%02d: %d\r\n", i == 20 ? "Connection: close\r\n" : "", i,
                 i);
        strcat(many, line);
        snprintf(name, sizeof name, "x-f%02d;", i);
        strcat(want, name);
    }
    assert_int_equal(gw_h2_stream_respond(ow.st, 200, many, strlen(many) - 2, false, false), 0);
    gw_h2_stream_release(ow.st);
    pump(&c, s);
    assert_int_equal(c.status[id], 200);
    assert_string_equal(c.fields, want);
    finish(&c, s);
}

/* Closed streams go to the spares and come back, emptied, for the next requests. */
static void test_spare_streams_are_reused_clean(void **unused)
{
    (void)unused;
    struct gw_bufcache spares;
    gw_bufcache_init(&spares, 0);
    struct client c;
    struct owner ow;
    memset(&ow, 0, sizeof ow);
    client_init(&c, 65535);
    struct gw_h2_session *s = gw_h2_session_new(&limits, &handler, &ow);
    assert_non_null(s);
    gw_h2_session_use_spares(s, &spares);
    pump(&c, s);
    static const nghttp2_nv first[] = {NV(":method", "POST"),         NV(":scheme", "http"),
                                       NV(":path", "/a-longer-path"), NV(":authority", "a.test"),
                                       NV("content-length", "2"),     NV("x-first", "1")};
    int32_t id = send_request(&c, first, 6, false);
    pump(&c, s);
    struct gw_h2_stream *was = ow.st;
    assert_non_null(was);
    assert_int_equal(gw_h2_stream_respond(was, 200, "", 0, true, false), 0);
    assert_int_equal(gw_h2_stream_write(was, "one", 3), 1);
    gw_h2_stream_end(was);
    gw_h2_stream_release(was);
    pump(&c, s);
    assert_int_equal(c.got[id], 3);
    /* The client resets it (its body is not wanted): the stream closes and is kept. */
    assert_int_equal(nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
    pump(&c, s);
    assert_int_equal(spares.n, 1);
    static const nghttp2_nv second[] = {NV(":method", "GET"), NV(":scheme", "http"),
                                        NV(":path", "/b"), NV(":authority", "b.test")};
    id = send_request(&c, second, 4, true);
    pump(&c, s);
    assert_int_equal(spares.n, 0);
    assert_ptr_equal(ow.st, was);
    assert_true(ow.st->body_end);
    assert_false(ow.st->has_cl);
    assert_head(ow.st, "GET /b HTTP/1.1\r\nhost: b.test\r\n\r\n");
    assert_int_equal(gw_h2_stream_respond(ow.st, 204, "", 0, false, false), 0);
    gw_h2_stream_release(ow.st);
    pump(&c, s);
    assert_int_equal(c.status[id], 204);
    assert_int_equal(c.got[id], 0);
    finish(&c, s);
    assert_int_equal(spares.n, 1); /* the second stream, back when the session ended */
    gw_h2_spares_clear(&spares);
    assert_int_equal(spares.n, 0);
}

/* A frame made by hand: its 9-byte header, then payload. */
static void put_frame(struct gw_h2_session *s, uint8_t type, uint8_t flags, int32_t id,
                      const uint8_t *payload, size_t n)
{
    static uint8_t frame[9 + 16384];
    assert_true(n <= 16384);
    frame[0] = (uint8_t)(n >> 16);
    frame[1] = (uint8_t)(n >> 8);
    frame[2] = (uint8_t)n;
    frame[3] = type;
    frame[4] = flags;
    frame[5] = (uint8_t)((uint32_t)id >> 24);
    frame[6] = (uint8_t)((uint32_t)id >> 16);
    frame[7] = (uint8_t)((uint32_t)id >> 8);
    frame[8] = (uint8_t)id;
    memcpy(frame + 9, payload, n);
    assert_int_equal(gw_h2_session_input(s, (const char *)frame, 9 + n), 0);
}

/* A stream's bytes_in (what the access log's bytes_in is over HTTP/2): the payloads of its
 * HEADERS and CONTINUATION frames, padding included, of its DATA frames, padding included, and
 * of its trailers; not the frame headers, nor another stream's or the connection's frames. */
static void test_bytes_in_are_the_stream_frames_payloads(void **unused)
{
    (void)unused;
    struct client c;
    struct owner ow;
    struct gw_h2_session *s = start(&c, &ow, &limits, 65535);
    const nghttp2_nv nv[] = {NV(":method", "POST"), NV(":path", "/upload"), NV(":scheme", "http"),
                             NV(":authority", "x"), NV("x-filler", "0123456789abcdef")};
    nghttp2_hd_deflater *d;
    assert_int_equal(nghttp2_hd_deflate_new(&d, 4096), 0);
    uint8_t block[256], payload[300];
    ssize_t bn = nghttp2_hd_deflate_hd(d, block, sizeof block, nv, sizeof nv / sizeof nv[0]);
    assert_true(bn > 10);
    size_t half = (size_t)bn / 2;
    /* HEADERS, padded (1 length byte + 7 bytes of padding), half the block; CONTINUATION. */
    payload[0] = 7;
    memcpy(payload + 1, block, half);
    memset(payload + 1 + half, 0, 7);
    put_frame(s, NGHTTP2_HEADERS, NGHTTP2_FLAG_PADDED, 1, payload, 1 + half + 7);
    put_frame(s, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block + half,
              (size_t)bn - half);
    assert_int_equal(ow.requests, 1);
    assert_non_null(ow.st);
    uint64_t want = 1 + half + 7 + ((size_t)bn - half);
    assert_int_equal(ow.st->bytes_in, want);
    /* DATA: 100 bytes, then 50 with 9 bytes of padding (1 + 9 more). */
    memset(payload, 'b', 100);
    put_frame(s, NGHTTP2_DATA, 0, 1, payload, 100);
    payload[0] = 9;
    memset(payload + 1, 'c', 50);
    memset(payload + 51, 0, 9);
    put_frame(s, NGHTTP2_DATA, NGHTTP2_FLAG_PADDED, 1, payload, 60);
    want += 100 + 60;
    assert_int_equal(ow.st->bytes_in, want);
    /* Trailers end the stream. */
    const nghttp2_nv tr[] = {NV("x-checksum", "abc")};
    bn = nghttp2_hd_deflate_hd(d, block, sizeof block, tr, 1);
    assert_true(bn > 0);
    put_frame(s, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, block,
              (size_t)bn);
    want += (uint64_t)bn;
    assert_int_equal(ow.st->bytes_in, want);
    nghttp2_hd_deflate_del(d);
    finish(&c, s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_heads),
        cmocka_unit_test(test_bytes_in_are_the_stream_frames_payloads),
        cmocka_unit_test(test_response_fields),
        cmocka_unit_test(test_spare_streams_are_reused_clean),
        cmocka_unit_test(test_setting_offered_only_when_asked),
        cmocka_unit_test(test_websocket_becomes_an_http1_handshake),
        cmocka_unit_test(test_tunnel_bytes_are_raw_and_end_with_the_stream),
        cmocka_unit_test(test_malformed_extended_connects_are_reset),
        cmocka_unit_test(test_other_protocol_is_passed_on_for_a_refusal),
        cmocka_unit_test(test_body_timeout_fires_once_and_only_while_waiting),
        cmocka_unit_test(test_answer_written_by_the_timeout_goes_out),
        cmocka_unit_test(test_send_timeout_and_released_streams),
        cmocka_unit_test(test_cut_stream_is_reset_with_no_error_after_its_answer),
        cmocka_unit_test(test_early_answer_lingers_then_resets_with_no_error),
        cmocka_unit_test(test_client_ending_its_body_in_the_linger_gets_no_reset),
        cmocka_unit_test(test_release_after_the_end_went_out_resets_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

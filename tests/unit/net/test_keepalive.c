/*
 * Unit tests for src/net/keepalive.c: the client posts on a test loop to a small libuv server in
 * the same loop that plays a script, one step per request received (answer, answer and close,
 * close without an answer, stay silent). Each test checks the outcomes the callback receives,
 * the connections the server accepted and the requests it read, and ends by proving that the
 * loop closes with no live handle (ASan's leak check covers the memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "core/error.h"
#include "net/keepalive.h"

/* ---- scripted server ------------------------------------------------------------------- */

enum step_kind {
    ANSWER,       /* send text, keep the connection */
    ANSWER_CLOSE, /* send text, then close */
    DROP,         /* close without answering */
    SILENT,       /* never answer */
};

struct step {
    enum step_kind kind;
    const char *text;
};

struct server {
    uv_tcp_t listener;
    uv_loop_t *loop;
    const struct step *script;
    size_t nsteps;
    uint16_t port;
    unsigned accepted;
    unsigned requests;
    char last[512]; /* the start of the last request */
};

struct sconn {
    uv_tcp_t tcp;
    struct server *srv;
    char buf[1 << 16];
    size_t len;
};

static void on_sconn_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Whether buf holds a whole request (head, and Content-Length bytes of body): its length. */
static size_t request_length(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    const char *cl = memmem(buf, (size_t)(end - buf), "\r\nContent-Length: ", 18);
    size_t body = cl ? strtoull(cl + 18, NULL, 10) : 0;
    size_t need = (size_t)(end + 4 - buf) + body;
    return len >= need ? need : 0;
}

static void on_salloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sconn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void on_sread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sconn *c = s->data;
    struct server *srv = c->srv;
    (void)buf;
    if (nread < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_sconn_closed);
        return;
    }
    c->len += (size_t)nread;
    size_t n;
    while ((n = request_length(c->buf, c->len)) > 0) {
        size_t k = n < sizeof srv->last - 1 ? n : sizeof srv->last - 1;
        memcpy(srv->last, c->buf, k);
        srv->last[k] = '\0';
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        assert_true(srv->requests < srv->nsteps);
        const struct step *st = &srv->script[srv->requests++];
        if (st->kind == SILENT)
            return;
        if (st->kind == ANSWER || st->kind == ANSWER_CLOSE) {
            uv_buf_t b = uv_buf_init((char *)st->text, (unsigned)strlen(st->text));
            assert_int_equal(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)b.len);
        }
        if (st->kind != ANSWER) {
            uv_close((uv_handle_t *)&c->tcp, on_sconn_closed);
            return;
        }
    }
}

static void on_sconnection(uv_stream_t *l, int status)
{
    struct server *srv = l->data;
    assert_int_equal(status, 0);
    struct sconn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    srv->accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, on_salloc, on_sread);
}

static void server_start(struct server *srv, uv_loop_t *loop, const struct step *script,
                         size_t nsteps)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->script = script;
    srv->nsteps = nsteps;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    assert_int_equal(uv_tcp_bind(&srv->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv->listener, 16, on_sconnection), 0);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &sl);
    srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->data == NULL ? NULL : on_sconn_closed);
}

/* ---- client side ----------------------------------------------------------------------- */

struct outcome {
    int calls;
    int err;
    int status;
};

static void on_done(void *arg, int err, const struct gw_fetch_resp *resp)
{
    struct outcome *o = arg;
    o->calls++;
    o->err = err;
    o->status = resp->status;
    assert_non_null(resp->why);
    if (err == 0)
        assert_string_equal(resp->body, "");
}

/* Posts body and runs the loop until the callback came. */
static struct outcome post(uv_loop_t *loop, struct gw_keepalive *k, const char *body,
                           uint64_t timeout_ms)
{
    struct outcome o = {0};
    assert_int_equal(gw_keepalive_post(k, body, strlen(body), timeout_ms, on_done, &o), 0);
    assert_int_equal(o.calls, 0); /* never inline */
    while (o.calls == 0)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(o.calls, 1);
    return o;
}

/* Runs the loop once more so that a close from the server is seen while idle. */
static void settle(uv_loop_t *loop)
{
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

static struct gw_keepalive *client(uv_loop_t *loop, const struct server *srv)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/traces", srv->port);
    struct gw_keepalive *k = NULL;
    assert_int_equal(gw_keepalive_new(&k, loop, url, "Content-Type: application/json\r\n"), 0);
    return k;
}

static void finish(uv_loop_t *loop, struct gw_keepalive *k, struct server *srv)
{
    gw_keepalive_close(k);
    uv_close((uv_handle_t *)&srv->listener, NULL);
    uv_walk(loop, close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

#define OK_LEN "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
#define OK_CHUNKED                                                                                 \
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"           \
    "2\r\n{}\r\n0\r\n\r\n"

/* ---- tests ----------------------------------------------------------------------------- */

static void test_posts_share_one_connection(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const struct step script[] = {{ANSWER, OK_LEN},
                                         {ANSWER, OK_CHUNKED},
                                         {ANSWER, "HTTP/1.1 503 No\r\nContent-Length: 0\r\n\r\n"}};
    struct server srv;
    server_start(&srv, &loop, script, 3);
    struct gw_keepalive *k = client(&loop, &srv);
    struct outcome o = post(&loop, k, "{\"a\":1}", 5000);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.status, 200);
    assert_non_null(strstr(srv.last, "POST /v1/traces HTTP/1.1\r\n"));
    assert_non_null(strstr(srv.last, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(srv.last, "\r\nContent-Length: 7\r\n\r\n{\"a\":1}"));
    assert_null(strstr(srv.last, "Connection: close"));
    o = post(&loop, k, "{\"b\":2}", 5000);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.status, 200);
    /* a status other than 2xx is the caller's business; the connection stays */
    o = post(&loop, k, "{}", 5000);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.status, 503);
    assert_int_equal(srv.accepted, 1);
    assert_int_equal(srv.requests, 3);
    assert_int_equal(gw_keepalive_connections(k), 1);
    finish(&loop, k, &srv);
}

static void test_connection_close_and_idle_close_reconnect(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const struct step script[] = {
        {ANSWER, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
        {ANSWER_CLOSE, OK_LEN}, /* closes while the client is idle */
        {ANSWER_CLOSE, "HTTP/1.0 200 OK\r\n\r\n{}"},
        {ANSWER, OK_LEN}};
    struct server srv;
    server_start(&srv, &loop, script, 4);
    struct gw_keepalive *k = client(&loop, &srv);
    assert_int_equal(post(&loop, k, "1", 5000).err, 0);
    assert_int_equal(post(&loop, k, "2", 5000).err, 0);
    settle(&loop);
    /* HTTP/1.0 without a length: the body ends with the connection, which is not kept */
    struct outcome o = post(&loop, k, "3", 5000);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.status, 200);
    assert_int_equal(post(&loop, k, "4", 5000).err, 0);
    assert_int_equal(srv.accepted, 4);
    assert_int_equal(srv.requests, 4);
    finish(&loop, k, &srv);
}

/* The server closes a kept connection as the next request arrives, without answering it: the
 * request goes once more on a new connection and succeeds. Dropped on a new connection, it
 * fails (no second resend). */
static void test_a_request_lost_on_a_reused_connection_is_sent_again(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const struct step script[] = {
        {ANSWER, OK_LEN}, {DROP, NULL}, {ANSWER, OK_LEN}, {DROP, NULL}, {DROP, NULL}};
    struct server srv;
    server_start(&srv, &loop, script, 5);
    struct gw_keepalive *k = client(&loop, &srv);
    assert_int_equal(post(&loop, k, "1", 5000).err, 0);
    struct outcome o = post(&loop, k, "2", 5000);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.status, 200);
    assert_int_equal(srv.accepted, 2);
    assert_int_equal(srv.requests, 3);
    /* reused connection dropped, then the new one dropped too: the post fails */
    o = post(&loop, k, "3", 5000);
    assert_int_equal(o.err, GW_EFETCH);
    assert_int_equal(srv.accepted, 3);
    assert_int_equal(srv.requests, 5);
    finish(&loop, k, &srv);
}

static void test_timeout_refused_and_one_at_a_time(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const struct step script[] = {{SILENT, NULL}, {ANSWER, OK_LEN}};
    struct server srv;
    server_start(&srv, &loop, script, 2);
    struct gw_keepalive *k = client(&loop, &srv);
    struct outcome o = {0};
    assert_int_equal(gw_keepalive_post(k, "x", 1, 100, on_done, &o), 0);
    assert_int_equal(gw_keepalive_post(k, "y", 1, 100, on_done, &o), GW_EINVAL);
    while (o.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(o.err, GW_EFETCHTIMEOUT);
    /* the silent connection is not reused */
    assert_int_equal(post(&loop, k, "z", 5000).err, 0);
    assert_int_equal(srv.accepted, 2);
    /* nobody listening: a connect error */
    uint16_t port = srv.port;
    gw_keepalive_close(k);
    uv_close((uv_handle_t *)&srv.listener, NULL);
    uv_walk(&loop, close_walk, NULL);
    settle(&loop);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
    assert_int_equal(gw_keepalive_new(&k, &loop, url, NULL), 0);
    o = post(&loop, k, "q", 5000);
    assert_int_equal(o.err, GW_EFETCH);
    assert_int_equal(o.status, 0);
    /* cancel: no callback */
    struct outcome c = {0};
    assert_int_equal(gw_keepalive_post(k, "c", 1, 5000, on_done, &c), 0);
    gw_keepalive_cancel(k);
    settle(&loop);
    assert_int_equal(c.calls, 0);
    gw_keepalive_close(k);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(gw_keepalive_new(&k, &loop, "https://127.0.0.1/", NULL), GW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posts_share_one_connection),
        cmocka_unit_test(test_connection_close_and_idle_close_reconnect),
        cmocka_unit_test(test_a_request_lost_on_a_reused_connection_is_sent_again),
        cmocka_unit_test(test_timeout_refused_and_one_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

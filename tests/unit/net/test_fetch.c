/*
 * Unit tests for src/upstream/fetch.c: the client runs on a test loop against a small libuv
 * server in the same loop that answers with canned bytes (whole, or dripped a few bytes per
 * tick), stays silent, resets or closes. Each test checks the outcome the callback receives,
 * the bytes the server received, and ends by proving that the loop closes with no live handle
 * (ASan's leak check covers the memory).
 */
#include <netdb.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "core/error.h"
#include "core/list.h"
#include "net/fetch.h"

/* ---- test server ----------------------------------------------------------------------- */

enum mode {
    S_REPLY,     /* reads the whole request, then sends reply */
    S_SILENT,    /* reads, never answers */
    S_RESET,     /* reads the whole request, then resets the connection */
    S_CLOSE_NOW, /* closes as soon as it accepts */
};

struct server {
    uv_tcp_t listener;
    uv_loop_t *loop;
    enum mode mode;
    const char *reply;
    size_t reply_len;
    bool close_after; /* close once the reply is sent (else wait for the client to close) */
    size_t piece;     /* bytes sent per tick; 0: as many as the socket takes */
    uint16_t port;
    unsigned accepted;
    unsigned requests; /* complete requests received */
    unsigned eofs;     /* connections the client closed */
    char *req;         /* the last complete request */
    size_t req_len;
    struct gw_list conns;
};

struct sconn {
    uv_tcp_t tcp;
    uv_timer_t tick;
    struct server *srv;
    struct gw_list link;
    char *buf;
    size_t len, cap;
    size_t sent;
    bool replying;
    bool closing;
    int open; /* handles not yet closed */
};

static void on_sconn_closed(uv_handle_t *h)
{
    struct sconn *c = h->data;
    if (--c->open == 0) {
        free(c->buf);
        free(c);
    }
}

static void sconn_close(struct sconn *c, bool reset)
{
    if (c->closing)
        return;
    c->closing = true;
    gw_list_remove(&c->link);
    uv_close((uv_handle_t *)&c->tick, on_sconn_closed);
    if (reset)
        uv_tcp_close_reset(&c->tcp, on_sconn_closed);
    else
        uv_close((uv_handle_t *)&c->tcp, on_sconn_closed);
}

static void on_tick(uv_timer_t *t)
{
    struct sconn *c = t->data;
    struct server *srv = c->srv;
    size_t left = srv->reply_len - c->sent;
    size_t n = srv->piece && srv->piece < left ? srv->piece : left;

    if (n > 0) {
        uv_buf_t b = uv_buf_init((char *)srv->reply + c->sent, (unsigned)n);
        int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (w == UV_EAGAIN)
            return;
        if (w < 0) {
            sconn_close(c, false);
            return;
        }
        c->sent += (size_t)w;
    }
    if (c->sent == srv->reply_len) {
        uv_timer_stop(&c->tick);
        if (srv->close_after)
            sconn_close(c, false);
    }
}

/* Whether buf holds a whole request: head, and Content-Length bytes of body when announced. */
static bool request_complete(const char *buf, size_t len)
{
    const char *end = strstr(buf, "\r\n\r\n");
    const char *cl;
    size_t body = 0;
    (void)len;
    if (end == NULL)
        return false;
    cl = strcasestr(buf, "\r\nContent-Length: ");
    if (cl != NULL && cl < end)
        body = strtoull(cl + 18, NULL, 10);
    return len >= (size_t)(end + 4 - buf) + body;
}

static void on_salloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sconn *c = h->data;
    (void)suggested;
    if (c->cap - c->len < 65536 + 1) {
        c->cap = c->cap * 2 + 65536 + 1;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len - 1));
}

static void on_sread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sconn *c = s->data;
    struct server *srv = c->srv;
    (void)buf;
    if (nread < 0) {
        if (nread == UV_EOF)
            srv->eofs++;
        sconn_close(c, false);
        return;
    }
    c->len += (size_t)nread;
    c->buf[c->len] = '\0';
    if (c->replying || !request_complete(c->buf, c->len))
        return;
    c->replying = true;
    srv->requests++;
    free(srv->req);
    srv->req = malloc(c->len + 1);
    assert_non_null(srv->req);
    memcpy(srv->req, c->buf, c->len + 1);
    srv->req_len = c->len;
    if (srv->mode == S_RESET)
        sconn_close(c, true);
    else if (srv->mode == S_REPLY)
        uv_timer_start(&c->tick, on_tick, 0, 1);
}

static void on_sconnection(uv_stream_t *l, int status)
{
    struct server *srv = l->data;
    struct sconn *c = calloc(1, sizeof(*c));
    assert_int_equal(status, 0);
    assert_non_null(c);
    c->srv = srv;
    assert_int_equal(uv_tcp_init(l->loop, &c->tcp), 0);
    assert_int_equal(uv_timer_init(l->loop, &c->tick), 0);
    c->tcp.data = c;
    c->tick.data = c;
    c->open = 2;
    gw_list_insert_tail(&srv->conns, &c->link);
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    srv->accepted++;
    if (srv->mode == S_CLOSE_NOW) {
        sconn_close(c, false);
        return;
    }
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_salloc, on_sread), 0);
}

/* Listens on ip (127.0.0.1 or ::1) at a free port. Returns 0 or the bind error. */
static int server_start_at(uv_loop_t *loop, struct server *srv, const char *ip, enum mode mode,
                           const char *reply, size_t reply_len)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int rc;

    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->mode = mode;
    srv->reply = reply;
    srv->reply_len = reply ? (reply_len ? reply_len : strlen(reply)) : 0;
    srv->close_after = true;
    gw_list_init(&srv->conns);
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':'))
        assert_int_equal(uv_ip6_addr(ip, 0, (struct sockaddr_in6 *)&ss), 0);
    else
        assert_int_equal(uv_ip4_addr(ip, 0, (struct sockaddr_in *)&ss), 0);
    assert_int_equal(uv_tcp_init(loop, &srv->listener), 0);
    srv->listener.data = srv;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_sconnection);
    if (rc != 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        return rc;
    }
    assert_int_equal(uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len), 0);
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

static void server_start(uv_loop_t *loop, struct server *srv, enum mode mode, const char *reply)
{
    assert_int_equal(server_start_at(loop, srv, "127.0.0.1", mode, reply, 0), 0);
}

static void server_stop(struct server *srv)
{
    while (!gw_list_empty(&srv->conns))
        sconn_close(gw_container_of(srv->conns.next, struct sconn, link), false);
    uv_close((uv_handle_t *)&srv->listener, NULL);
    free(srv->req);
    srv->req = NULL;
}

/* A port where nothing listens: bound, read and closed again. */
static uint16_t refused_port(uv_loop_t *loop)
{
    struct server srv;
    uint16_t port;
    server_start(loop, &srv, S_SILENT, NULL);
    port = srv.port;
    server_stop(&srv);
    uv_run(loop, UV_RUN_NOWAIT);
    return port;
}

/* ---- client side ----------------------------------------------------------------------- */

struct result {
    int calls;
    int err;
    int status;
    char *body;
    size_t body_len;
    char why[160];
};

static void on_done(void *arg, int err, const struct gw_fetch_resp *resp)
{
    struct result *r = arg;
    assert_non_null(resp);
    assert_non_null(resp->why);
    r->calls++;
    r->err = err;
    r->status = resp->status;
    snprintf(r->why, sizeof(r->why), "%s", resp->why);
    free(r->body);
    r->body = NULL;
    r->body_len = resp->body_len;
    if (err == 0) {
        assert_non_null(resp->body);
        assert_int_equal(resp->body[resp->body_len], '\0');
        r->body = malloc(resp->body_len + 1);
        assert_non_null(r->body);
        memcpy(r->body, resp->body, resp->body_len + 1);
        assert_string_equal(resp->why, "");
    } else {
        assert_null(resp->body);
        assert_true(resp->why[0] != '\0');
    }
}

static void result_free(struct result *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Starts a fetch of url; asserts that the callback has not run yet. */
static struct gw_fetch *start(uv_loop_t *loop, struct gw_fetch_req *req, struct result *r)
{
    struct gw_fetch *f = NULL;
    memset(r, 0, sizeof(*r));
    assert_int_equal(gw_fetch_start(loop, req, on_done, r, &f), 0);
    assert_non_null(f);
    assert_int_equal(r->calls, 0);
    return f;
}

static void wait_done(uv_loop_t *loop, const struct result *r)
{
    while (r->calls == 0)
        uv_run(loop, UV_RUN_ONCE);
}

/* Closes the server, runs the loop dry and proves nothing is left on it. */
static void finish_loop(uv_loop_t *loop, struct server *srv)
{
    if (srv)
        server_stop(srv);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static char *url_of(char *buf, size_t cap, uint16_t port, const char *path)
{
    snprintf(buf, cap, "http://127.0.0.1:%u%s", (unsigned)port, path);
    return buf;
}

/* One GET of path against a server answering reply in `mode`; r receives the outcome. */
static void fetch_once(enum mode mode, const char *reply, bool close_after, size_t piece,
                       size_t max_body, struct result *r)
{
    uv_loop_t loop;
    struct server srv;
    char url[128];
    struct gw_fetch_req req = {.max_body = max_body};

    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, mode, reply);
    srv.close_after = close_after;
    srv.piece = piece;
    req.url = url_of(url, sizeof(url), srv.port, "/x");
    start(&loop, &req, r);
    wait_done(&loop, r);
    finish_loop(&loop, &srv);
    assert_int_equal(r->calls, 1);
}

/* ---- complete responses ---------------------------------------------------------------- */

static void test_content_length(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct result r;
    char url[128], host[64];
    struct gw_fetch_req req = {.headers = "Accept: application/json\r\nX-Trace: a b\r\n"};
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, S_REPLY,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                 "12\r\n\r\n{\"keys\":[]}\n");
    /* The server keeps the connection open: the body ends by its length alone. */
    srv.close_after = false;
    req.url = url_of(url, sizeof(url), srv.port, "/jwks.json?x=1&y=%20#fragment");
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 12);
    assert_string_equal(r.body, "{\"keys\":[]}\n");
    /* The request as sent. */
    assert_non_null(srv.req);
    assert_true(strncmp(srv.req, "GET /jwks.json?x=1&y=%20 HTTP/1.1\r\n", 35) == 0);
    snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%u\r\n", (unsigned)srv.port);
    assert_non_null(strstr(srv.req, host));
    assert_non_null(strstr(srv.req, "\r\nUser-Agent: gantry\r\n"));
    assert_non_null(strstr(srv.req, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(srv.req, "\r\nAccept: application/json\r\nX-Trace: a b\r\n\r\n"));
    assert_null(strstr(srv.req, "fragment"));
    assert_null(strcasestr(srv.req, "content-length"));
    assert_int_equal(srv.req_len, strstr(srv.req, "\r\n\r\n") + 4 - srv.req);
    /* The client closed its side after the response. */
    while (srv.eofs == 0)
        uv_run(&loop, UV_RUN_ONCE);
    result_free(&r);
    finish_loop(&loop, &srv);
}

static void test_chunked(void **state)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    struct result r;
    (void)state;

    fetch_once(S_REPLY, reply, false, 0, 0, &r);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "hello world");
    result_free(&r);
    /* The same bytes a few at a time, and one at a time. */
    fetch_once(S_REPLY, reply, false, 3, 0, &r);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "hello world");
    result_free(&r);
    fetch_once(S_REPLY, reply, false, 1, 0, &r);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "hello world");
    result_free(&r);
    /* Empty chunked body. */
    fetch_once(S_REPLY, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, 0,
               0, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(r.body, "");
    result_free(&r);
}

static void test_until_close(void **state)
{
    struct result r;
    (void)state;

    fetch_once(S_REPLY, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", true, 0,
               0, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "until the end");
    result_free(&r);
    fetch_once(S_REPLY, "HTTP/1.1 200 OK\r\n\r\nbody of 1.1 without length", true, 2, 0, &r);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "body of 1.1 without length");
    result_free(&r);
    /* Closed right after the head: an empty body. */
    fetch_once(S_REPLY, "HTTP/1.1 200 OK\r\n\r\n", true, 0, 0, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.body_len, 0);
    result_free(&r);
}

static void test_other_statuses(void **state)
{
    struct result r;
    (void)state;

    fetch_once(S_REPLY, "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", false, 0, 0, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "nope");
    result_free(&r);
    fetch_once(S_REPLY, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", false, 0,
               0, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 500);
    assert_int_equal(r.body_len, 0);
    result_free(&r);
    /* 204 has no body whatever follows; the server keeps the connection open. */
    fetch_once(S_REPLY, "HTTP/1.1 204 No Content\r\n\r\n", false, 0, 0, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    result_free(&r);
    /* Interim responses are skipped. */
    fetch_once(S_REPLY,
               "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
               "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
               false, 4, 0, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "ok");
    result_free(&r);
}

static void test_head_method(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct result r;
    char url[128];
    struct gw_fetch_req req = {.method = "HEAD"};
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, S_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    srv.close_after = false;
    req.url = url_of(url, sizeof(url), srv.port, "");
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    assert_true(strncmp(srv.req, "HEAD / HTTP/1.1\r\n", 17) == 0);
    result_free(&r);
    finish_loop(&loop, &srv);
}

static void test_post_body(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct result r;
    char url[128], cl[64];
    size_t n = 200 * 1024;
    unsigned char *body = malloc(n);
    const char *sent_body;
    struct gw_fetch_req req = {
        .method = "POST",
        .headers = "Content-Type: application/octet-stream\r\n",
    };
    (void)state;

    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (unsigned char)(i * 7 + (i >> 8));
    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, S_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    req.url = url_of(url, sizeof(url), srv.port, "/introspect");
    req.body = body;
    req.body_len = n;
    start(&loop, &req, &r);
    /* The request was copied: the caller's buffer may change at once. */
    memset(body, 0, n);
    wait_done(&loop, &r);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "ok");
    assert_true(strncmp(srv.req, "POST /introspect HTTP/1.1\r\n", 27) == 0);
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", n);
    assert_non_null(strstr(srv.req, cl));
    assert_non_null(strstr(srv.req, "\r\nContent-Type: application/octet-stream\r\n"));
    sent_body = strstr(srv.req, "\r\n\r\n") + 4;
    assert_int_equal(srv.req_len - (size_t)(sent_body - srv.req), n);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)sent_body[i] != (unsigned char)(i * 7 + (i >> 8)))
            fail_msg("body byte %zu differs", i);
    }
    result_free(&r);

    /* An empty body is still announced. */
    req.body_len = 0;
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, 0);
    assert_non_null(strstr(srv.req, "\r\nContent-Length: 0\r\n"));
    result_free(&r);

    /* A borrowed body is sent from the caller's memory, after the head, whole. */
    for (size_t i = 0; i < n; i++)
        body[i] = (unsigned char)(i * 13 + (i >> 9));
    req.body_len = n;
    req.body_borrowed = true;
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, 0);
    assert_non_null(strstr(srv.req, cl));
    sent_body = strstr(srv.req, "\r\n\r\n") + 4;
    assert_int_equal(srv.req_len - (size_t)(sent_body - srv.req), n);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)sent_body[i] != (unsigned char)(i * 13 + (i >> 9)))
            fail_msg("borrowed body byte %zu differs", i);
    }
    result_free(&r);
    free(body);
    finish_loop(&loop, &srv);
}

/* ---- failures -------------------------------------------------------------------------- */

static void test_garbage(void **state)
{
    static const char *const replies[] = {
        "SSH-2.0-OpenSSH_9.6\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n", /* bare LF */
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
        "\x16\x03\x01\x02\x01\x01\xfc\x03\x03", /* TLS-like bytes, no line feed */
        "HTTP/2 200\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
    };
    struct result r;
    (void)state;

    for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
        fetch_once(S_REPLY, replies[i], false, 0, 0, &r);
        if (r.err != GW_EFETCH)
            fail_msg("reply %zu: err %d (%s)", i, r.err, r.why);
        result_free(&r);
    }
}

static void test_truncated(void **state)
{
    static const char *const replies[] = {
        "",
        "HTTP/1.1 200 OK\r\nContent-Le",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n",
    };
    struct result r;
    (void)state;

    for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
        fetch_once(S_REPLY, replies[i], true, 0, 0, &r);
        if (r.err != GW_EFETCH || strstr(r.why, "closed") == NULL)
            fail_msg("reply %zu: err %d (%s)", i, r.err, r.why);
        result_free(&r);
    }
    fetch_once(S_CLOSE_NOW, NULL, true, 0, 0, &r);
    assert_int_equal(r.err, GW_EFETCH);
    assert_int_equal(r.status, 0);
    result_free(&r);
    fetch_once(S_RESET, NULL, true, 0, 0, &r);
    assert_int_equal(r.err, GW_EFETCH);
    result_free(&r);
}

static void test_huge_head(void **state)
{
    size_t n = GW_FETCH_MAX_HEAD + 4096;
    char *reply = malloc(n + 64);
    struct result r;
    size_t k;
    (void)state;

    assert_non_null(reply);
    /* One enormous header field. */
    k = (size_t)snprintf(reply, n, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(reply + k, 'a', n - k);
    memcpy(reply + n, "\r\nContent-Length: 0\r\n\r\n", 24);
    fetch_once(S_REPLY, reply, false, 0, 0, &r);
    assert_int_equal(r.err, GW_EFETCH);
    assert_int_equal(r.status, 0);
    result_free(&r);
    /* Many small ones. */
    k = (size_t)snprintf(reply, n, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 300; i++)
        k += (size_t)snprintf(reply + k, n - k, "X-H%d: v\r\n", i);
    snprintf(reply + k, n - k, "Content-Length: 0\r\n\r\n");
    fetch_once(S_REPLY, reply, false, 0, 0, &r);
    assert_int_equal(r.err, GW_EFETCH);
    result_free(&r);
    free(reply);
}

static void test_too_large(void **state)
{
    struct result r;
    (void)state;

    /* Announced length over the limit: refused before reading the body. */
    fetch_once(S_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", false, 0, 10, &r);
    assert_int_equal(r.err, GW_EFETCHTOOLARGE);
    assert_int_equal(r.status, 200);
    result_free(&r);
    /* Exactly the limit is fine. */
    fetch_once(S_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false, 0, 10,
               &r);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "0123456789");
    result_free(&r);
    /* Chunked and close-delimited bodies growing past it. */
    fetch_once(S_REPLY,
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n"
               "5\r\n67890\r\n0\r\n\r\n",
               false, 0, 10, &r);
    assert_int_equal(r.err, GW_EFETCHTOOLARGE);
    result_free(&r);
    fetch_once(S_REPLY, "HTTP/1.0 200 OK\r\n\r\n0123456789A", true, 1, 10, &r);
    assert_int_equal(r.err, GW_EFETCHTOOLARGE);
    result_free(&r);
    fetch_once(S_REPLY, "HTTP/1.0 200 OK\r\n\r\n0123456789", true, 1, 10, &r);
    assert_int_equal(r.err, 0);
    result_free(&r);
}

static void test_timeout(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct result r;
    char url[128];
    struct gw_fetch_req req = {.timeout_ms = 50};
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, S_SILENT, NULL);
    req.url = url_of(url, sizeof(url), srv.port, "/slow");
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, GW_EFETCHTIMEOUT);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.why, "timed out"));
    assert_int_equal(srv.accepted, 1);
    /* The timeout closed the connection. */
    while (srv.eofs == 0)
        uv_run(&loop, UV_RUN_ONCE);
    result_free(&r);
    /* A body that trickles in forever is cut by the same whole-exchange timer. */
    srv.mode = S_REPLY;
    srv.reply = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789";
    srv.reply_len = strlen(srv.reply);
    srv.piece = 1;
    srv.close_after = false;
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, GW_EFETCHTIMEOUT);
    result_free(&r);
    finish_loop(&loop, &srv);
}

static void test_refused(void **state)
{
    uv_loop_t loop;
    struct result r;
    char url[128];
    struct gw_fetch_req req = {0};
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    req.url = url_of(url, sizeof(url), refused_port(&loop), "/");
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, GW_EFETCH);
    assert_non_null(strstr(r.why, "connect"));
    result_free(&r);
    /* A connect that may fail inside gw_fetch_start still reports through the loop. */
    req.url = "http://255.255.255.255:9/";
    req.timeout_ms = 500;
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_true(r.err == GW_EFETCH || r.err == GW_EFETCHTIMEOUT);
    result_free(&r);
    finish_loop(&loop, NULL);
}

/* ---- names and addresses --------------------------------------------------------------- */

static void test_localhost_name(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct result r;
    char url[128], host[64];
    struct gw_fetch_req req = {0};
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    (void)state;

    if (getaddrinfo("localhost", NULL, &hints, &ai) != 0)
        skip();
    freeaddrinfo(ai);
    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, S_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nname");
    /* Upper-case scheme, no path: the target is "/". If localhost also resolves to ::1, where
     * nothing listens, the client goes on to the next address. */
    snprintf(url, sizeof(url), "HTTP://localhost:%u", (unsigned)srv.port);
    req.url = url;
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "name");
    snprintf(host, sizeof(host), "GET / HTTP/1.1\r\nHost: localhost:%u\r\n", (unsigned)srv.port);
    assert_true(strncmp(srv.req, host, strlen(host)) == 0);
    result_free(&r);
    finish_loop(&loop, &srv);
}

static void test_ipv6_literal(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct result r;
    char url[128], host[64];
    struct gw_fetch_req req = {0};
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    if (server_start_at(&loop, &srv, "::1", S_REPLY,
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6", 0) != 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        skip();
    }
    snprintf(url, sizeof(url), "http://[::1]:%u/six?q", (unsigned)srv.port);
    req.url = url;
    start(&loop, &req, &r);
    wait_done(&loop, &r);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "v6");
    snprintf(host, sizeof(host), "\r\nHost: [::1]:%u\r\n", (unsigned)srv.port);
    assert_non_null(strstr(srv.req, host));
    assert_true(strncmp(srv.req, "GET /six?q HTTP/1.1\r\n", 21) == 0);
    result_free(&r);
    finish_loop(&loop, &srv);
}

/* ---- arguments ------------------------------------------------------------------------- */

/* gw_fetch_check_url says why gw_fetch_start would refuse a URL (the config check uses it). */
static void test_check_url(void **state)
{
    static const struct {
        const char *url, *why; /* why NULL: accepted */
    } cases[] = {
        {"http://127.0.0.1:9/", NULL},
        {"HTTP://idp.internal/.well-known/jwks.json?x=1#frag", NULL},
        {"http://[::1]:8080/six?q", NULL},
        {"https://idp/jwks", "https is not supported for URLs gantry fetches yet; serve it on a "
                             "loopback or internal http:// address"},
        {"ftp://idp/jwks", "not an http:// URL"},
        {"idp/jwks", "not an http:// URL"},
        {"http://gw:secret@idp/i", "user information (\"user@\") is not allowed in a URL gantry "
                                   "fetches"},
        {"http://idp:0/", "the port must be a number between 1 and 65535"},
        {"http://idp/a b", "invalid character in the path (percent-encode it)"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = gw_fetch_check_url(cases[i].url);
        if (cases[i].why == NULL && why != NULL)
            fail_msg("%s refused: %s", cases[i].url, why);
        if (cases[i].why != NULL && (why == NULL || strcmp(why, cases[i].why) != 0))
            fail_msg("%s: got %s", cases[i].url, why ? why : "(accepted)");
    }
    char *longer = malloc(GW_FETCH_MAX_URL + 2);
    assert_non_null(longer);
    memcpy(longer, "http://h/", 9);
    memset(longer + 9, 'a', GW_FETCH_MAX_URL + 1 - 9);
    longer[GW_FETCH_MAX_URL + 1] = '\0';
    assert_string_equal(gw_fetch_check_url(longer), "longer than 8192 bytes");
    /* with allow_https (the OpenAPI sources) https:// is taken, the rest judged alike */
    assert_null(gw_fetch_check_url_https("https://idp/jwks"));
    assert_null(gw_fetch_check_url_https("http://idp/jwks"));
    assert_string_equal(gw_fetch_check_url_https("ftp://idp/jwks"), "not an http:// URL");
    assert_string_equal(gw_fetch_check_url_https("https://gw:secret@idp/i"),
                        "user information (\"user@\") is not allowed in a URL gantry fetches");
    longer[GW_FETCH_MAX_URL] = '\0';
    assert_null(gw_fetch_check_url(longer));
    free(longer);
}

static void test_invalid_arguments(void **state)
{
    static const char *const urls[] = {
        "https://127.0.0.1/",
        "ftp://127.0.0.1/",
        "http:/127.0.0.1/",
        "http://",
        "http:///x",
        "http://user@127.0.0.1/",
        "http://user:pw@127.0.0.1/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:/",
        "http://127.0.0.1:8a/",
        "http://127.0.0.1:000080/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[zz::1]/",
        "http://[]/",
        "http://[::1%25lo]/",
        "http://ho st/",
        "http://h%41/",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/a\r\nX-Injected: 1",
        "http://127.0.0.1/\x7f",
        "http://127.0.0.1/\xc3\xa9",
    };
    static const char *const methods[] = {"", "GE T", "GET\r\n", "G/T",
                                          "AVERYLONGMETHODNAMEOVERTHIRTYTWOCHARS"};
    static const char *const headers[] = {
        "X-A: b",
        "X-A: b\r\n\r\n",
        "X-A b\r\n",
        ": b\r\n",
        "X-A: b\r",
        "X-A: b\nc\r\n",
        "X-A: b\r\nX-B: c",
        "Host: evil\r\n",
        "content-length: 3\r\n",
        "Transfer-Encoding: chunked\r\n",
        "CONNECTION: keep-alive\r\n",
        "X-A: \x01\r\n",
        "\r\n",
    };
    uv_loop_t loop;
    struct gw_fetch *f = (struct gw_fetch *)&loop; /* must stay untouched */
    struct result r;
    struct gw_fetch_req req = {.url = "http://127.0.0.1:9/"};
    (void)state;

    memset(&r, 0, sizeof(r));
    assert_int_equal(uv_loop_init(&loop), 0);
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        req.url = urls[i];
        if (gw_fetch_start(&loop, &req, on_done, &r, &f) != GW_EINVAL)
            fail_msg("url %zu (%s) accepted", i, urls[i]);
    }
    req.url = "http://127.0.0.1:9/";
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        req.method = methods[i];
        assert_int_equal(gw_fetch_start(&loop, &req, on_done, &r, &f), GW_EINVAL);
    }
    req.method = NULL;
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        req.headers = headers[i];
        if (gw_fetch_start(&loop, &req, on_done, &r, &f) != GW_EINVAL)
            fail_msg("headers %zu accepted", i);
    }
    req.headers = NULL;
    req.body_len = 3; /* with a NULL body */
    assert_int_equal(gw_fetch_start(&loop, &req, on_done, &r, &f), GW_EINVAL);
    req.body_len = 0;
    assert_int_equal(gw_fetch_start(&loop, &req, NULL, &r, &f), GW_EINVAL);
    assert_int_equal(gw_fetch_start(NULL, &req, on_done, &r, &f), GW_EINVAL);
    assert_int_equal(gw_fetch_start(&loop, NULL, on_done, &r, &f), GW_EINVAL);
    req.url = NULL;
    assert_int_equal(gw_fetch_start(&loop, &req, on_done, &r, &f), GW_EINVAL);
    assert_ptr_equal(f, (struct gw_fetch *)&loop);
    /* Nothing was started: the loop has nothing to run, no callback ran. */
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- cancellation ---------------------------------------------------------------------- */

static void test_cancel_phases(void **state)
{
    uv_loop_t loop;
    struct server srv;
    struct result r;
    char url[128];
    struct gw_fetch_req req = {0};
    struct gw_fetch *f;
    unsigned base;
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, S_SILENT, NULL);
    req.url = url_of(url, sizeof(url), srv.port, "/");

    /* Before the connect completes. */
    f = start(&loop, &req, &r);
    gw_fetch_cancel(f);
    uv_run(&loop, UV_RUN_NOWAIT);

    /* After the connect, while waiting for the answer. */
    f = start(&loop, &req, &r);
    while (srv.requests < 1)
        uv_run(&loop, UV_RUN_ONCE);
    gw_fetch_cancel(f);
    while (srv.eofs < 1)
        uv_run(&loop, UV_RUN_ONCE);

    /* In the middle of the body. */
    base = srv.requests;
    srv.mode = S_REPLY;
    srv.reply = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabcdefghijklmnopqrstuvwxyz";
    srv.reply_len = strlen(srv.reply);
    srv.piece = 1;
    srv.close_after = false;
    f = start(&loop, &req, &r);
    while (srv.requests == base || gw_list_empty(&srv.conns) ||
           gw_container_of(srv.conns.prev, struct sconn, link)->sent < srv.reply_len - 5)
        uv_run(&loop, UV_RUN_ONCE);
    gw_fetch_cancel(f);

    /* During DNS, when the name needs resolving. */
    snprintf(url, sizeof(url), "http://localhost:%u/", (unsigned)srv.port);
    f = start(&loop, &req, &r);
    gw_fetch_cancel(f);

    gw_fetch_cancel(NULL);
    finish_loop(&loop, &srv);
    assert_int_equal(r.calls, 0);
}

/* A deferred failure (nothing to connect to) cancelled before the loop delivers it. */
static void test_cancel_pending_failure(void **state)
{
    uv_loop_t loop;
    struct result r;
    char url[128];
    struct gw_fetch_req req = {0};
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    req.url = url_of(url, sizeof(url), refused_port(&loop), "/");
    gw_fetch_cancel(start(&loop, &req, &r));
    req.url = "http://255.255.255.255:9/";
    gw_fetch_cancel(start(&loop, &req, &r));
    finish_loop(&loop, NULL);
    assert_int_equal(r.calls, 0);
}

/* What a callback may do: cancel itself (a no-op) and start the next fetch. */
struct chain {
    uv_loop_t *loop;
    struct gw_fetch *self;
    const char *url;
    int remaining;
    int done;
    int errors;
};

static void on_chain(void *arg, int err, const struct gw_fetch_resp *resp)
{
    struct chain *c = arg;
    struct gw_fetch_req req = {.url = c->url};
    gw_fetch_cancel(c->self);
    c->done++;
    if (err != 0 || resp->status != 200)
        c->errors++;
    if (--c->remaining > 0)
        assert_int_equal(gw_fetch_start(c->loop, &req, on_chain, c, &c->self), 0);
}

static void test_callback_reentry(void **state)
{
    uv_loop_t loop;
    struct server srv;
    char url[128];
    struct chain c = {.loop = &loop, .remaining = 5};
    struct gw_fetch_req req = {0};
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, S_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.url = req.url = url_of(url, sizeof(url), srv.port, "/");
    assert_int_equal(gw_fetch_start(&loop, &req, on_chain, &c, &c.self), 0);
    while (c.remaining > 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(c.done, 5);
    assert_int_equal(c.errors, 0);
    finish_loop(&loop, &srv);
}

static void test_concurrent(void **state)
{
    enum {
        N = 32
    };
    uv_loop_t loop;
    struct server srv;
    struct result r[N];
    char url[128];
    struct gw_fetch_req req = {0};
    int done;
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop, &srv, S_REPLY,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n");
    srv.piece = 7;
    req.url = url_of(url, sizeof(url), srv.port, "/many");
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        /* No handle wanted. */
        assert_int_equal(gw_fetch_start(&loop, &req, on_done, &r[i], NULL), 0);
    }
    do {
        uv_run(&loop, UV_RUN_ONCE);
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].calls;
    } while (done < N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].err, 0);
        assert_string_equal(r[i].body, "body");
        result_free(&r[i]);
    }
    assert_int_equal(srv.accepted, N);
    finish_loop(&loop, &srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),   cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_until_close),      cmocka_unit_test(test_other_statuses),
        cmocka_unit_test(test_head_method),      cmocka_unit_test(test_post_body),
        cmocka_unit_test(test_garbage),          cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_huge_head),        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_timeout),          cmocka_unit_test(test_refused),
        cmocka_unit_test(test_localhost_name),   cmocka_unit_test(test_ipv6_literal),
        cmocka_unit_test(test_check_url),        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_cancel_phases),    cmocka_unit_test(test_cancel_pending_failure),
        cmocka_unit_test(test_callback_reentry), cmocka_unit_test(test_concurrent),
    };
    /* The server side writes to connections the client may already have closed. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

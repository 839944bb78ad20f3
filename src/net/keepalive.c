/*
 * Kept-alive HTTP/1.1 POSTs to one URL: see keepalive.h for the contract.
 *
 * Shape: the client owns a timer (the exchange's timeout), a DNS request while one runs, and at
 * most one connection (struct kconn, its own allocation because a dropped connection's handle
 * is still closing while the next one is made). refs counts what will still call back (the
 * owner until gw_keepalive_close, the timer's close, a running DNS request, connections not
 * yet closed); the last of them frees the client. Reading stays on for the connection's whole
 * life: while no exchange is running, whatever arrives (an EOF, a reset, stray bytes) ends the
 * connection, so that a server that went away is noticed before the next post.
 */
#include "net/keepalive.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/url.h"
#include "http1/chunked.h"
#include "http1/parser.h"

#define MAX_ADDRS 8
#define MAX_HOST 253
#define MAX_RESP_HEADERS 64u
#define MAX_HEAD 16384u
#define MAX_BODY_OUT INT32_MAX

struct kconn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct gw_keepalive *k;
    bool connected;
    unsigned exchanges; /* requests written on it */
};

struct gw_keepalive {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    bool gai_active;
    bool closing;
    unsigned refs;
    uint64_t connections;
    /* where */
    char host[MAX_HOST + 1];
    char port[6];
    bool literal;
    struct sockaddr_storage addrs[MAX_ADDRS];
    size_t naddrs;
    size_t next_addr;
    int connect_err;
    char *head; /* "POST <path> HTTP/1.1\r\nHost: ...\r\n<headers>" without Content-Length */
    size_t head_len;
    struct kconn *conn;
    /* the exchange */
    bool active;
    bool in_post;   /* inside gw_keepalive_post: an outcome must wait for the loop */
    bool resent;    /* sent a second time on a new connection already */
    bool on_reused; /* written on a connection that had carried a request before */
    int deferred_err;
    gw_fetch_cb cb;
    void *arg;
    const char *body;
    size_t body_len;
    uint64_t timeout_ms;
    char clen[48]; /* "Content-Length: N\r\n\r\n" */
    size_t clen_len;
    /* the response */
    struct gw_http1_parser parser;
    struct gw_http1_message msg;
    struct gw_http1_header headers[MAX_RESP_HEADERS];
    struct gw_chunked_decoder chunked;
    bool head_done;
    uint64_t body_seen;
    size_t head_off;
    size_t in_len;
    char why[160];
    char retry_after[GW_FETCH_RETRY_AFTER_MAX + 1]; /* the head's Retry-After ("": none) */
    char in[MAX_HEAD];
};

static const struct gw_http1_limits RESP_LIMITS = {
    .max_request_line = GW_HTTP1_DEFAULT_MAX_REQUEST_LINE,
    .max_header_bytes = MAX_HEAD,
    .max_headers = MAX_RESP_HEADERS,
};

/* ---- lifetime ------------------------------------------------------------------------- */

static void release(struct gw_keepalive *k)
{
    if (--k->refs > 0)
        return;
    free(k->head);
    free(k);
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct kconn *c = h->data;
    struct gw_keepalive *k = c->k;
    free(c);
    release(k);
}

static void drop_conn(struct gw_keepalive *k)
{
    struct kconn *c = k->conn;
    if (c == NULL)
        return;
    k->conn = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---- outcome -------------------------------------------------------------------------- */

static const char *error_text(int err)
{
    return strcmp(gw_err_name(err), "UNKNOWN") != 0 ? gw_strerror(err) : uv_strerror(err);
}

static void deliver(struct gw_keepalive *k, int err)
{
    struct gw_fetch_resp resp = {
        .status = k->head_done ? k->msg.status : 0,
        .body = err == 0 ? "" : NULL,
        .why = err == 0 ? "" : k->why,
        .retry_after = k->head_done && k->retry_after[0] != '\0' ? k->retry_after : NULL};
    uv_timer_stop(&k->timer);
    k->active = false;
    k->cb(k->arg, err, &resp); /* may post again */
}

static void on_timer(uv_timer_t *t)
{
    struct gw_keepalive *k = t->data;
    if (!k->active)
        return;
    int err = k->deferred_err;
    if (err == 0) {
        snprintf(k->why, sizeof k->why, "timed out after %" PRIu64 " ms", k->timeout_ms);
        err = GW_EFETCHTIMEOUT;
        drop_conn(k); /* a response may still be on its way: the connection cannot be reused */
    }
    k->deferred_err = 0;
    deliver(k, err);
}

static void connect_first(struct gw_keepalive *k);

/* The exchange failed with err: "what" or "what: <cause>" says why. */
static void fail(struct gw_keepalive *k, int err, const char *what, int cause)
{
    if (!k->active)
        return;
    bool nothing_back = !k->head_done && k->in_len == 0;
    drop_conn(k);
    if (err == GW_EFETCH && k->on_reused && nothing_back && !k->resent) {
        /* The server closed the kept connection as the request went out: once more on a new
         * one (bounded by the same timeout). */
        k->resent = true;
        k->on_reused = false;
        connect_first(k);
        return;
    }
    if (cause != 0)
        snprintf(k->why, sizeof k->why, "%s: %s", what, error_text(cause));
    else
        snprintf(k->why, sizeof k->why, "%s", what);
    if (k->in_post) {
        /* cb must not run before gw_keepalive_post returns: the timer delivers it */
        k->deferred_err = err;
        uv_timer_start(&k->timer, on_timer, 0, 0);
        return;
    }
    deliver(k, err);
}

/* The response is complete: the connection stays when it may carry the next request. */
static void complete(struct gw_keepalive *k, bool extra_bytes)
{
    if (!k->msg.keep_alive || k->msg.body == GW_BODY_UNTIL_EOF || extra_bytes)
        drop_conn(k);
    deliver(k, 0);
}

/* ---- response ------------------------------------------------------------------------- */

/* Body bytes are counted and dropped. */
static void feed_body(struct gw_keepalive *k, const char *p, size_t n)
{
    switch (k->msg.body) {
    case GW_BODY_LENGTH: {
        uint64_t left = k->msg.content_length - k->body_seen;
        size_t take = n < left ? n : (size_t)left;
        k->body_seen += take;
        if (k->body_seen == k->msg.content_length)
            complete(k, take < n);
        return;
    }
    case GW_BODY_CHUNKED:
        while (n > 0) {
            size_t used = 0, dlen = 0;
            const char *data = NULL;
            int rc = gw_chunked_decode(&k->chunked, p, n, &used, &data, &dlen);
            if (rc < 0) {
                fail(k, GW_EFETCH, "invalid chunked body", rc);
                return;
            }
            p += used;
            n -= used;
            if (rc == GW_CHUNKED_DONE) {
                complete(k, n > 0);
                return;
            }
            if (rc == GW_CHUNKED_PARTIAL)
                return;
        }
        return;
    case GW_BODY_UNTIL_EOF:
    case GW_BODY_NONE:
        return;
    }
}

/* Keeps the head's Retry-After for the caller (a throttled exporter waits as long as it says):
 * once the head is parsed, `in` is scratch space for the body and the field's bytes go. */
static void keep_retry_after(struct gw_keepalive *k)
{
    static const char name[] = "Retry-After";
    int i = gw_http1_find_header(&k->msg, name, sizeof name - 1);
    size_t n = 0;
    if (i >= 0) {
        const struct gw_http1_header *h = &k->msg.headers[i];
        n = h->value_len < GW_FETCH_RETRY_AFTER_MAX ? h->value_len : GW_FETCH_RETRY_AFTER_MAX;
        memcpy(k->retry_after, h->value, n);
    }
    k->retry_after[n] = '\0';
}

static void start_body(struct gw_keepalive *k)
{
    size_t used = k->head_off + k->msg.head_len;
    k->head_done = true;
    keep_retry_after(k);
    switch (k->msg.body) {
    case GW_BODY_NONE:
        complete(k, k->in_len > used);
        return;
    case GW_BODY_LENGTH:
        if (k->msg.content_length == 0) {
            complete(k, k->in_len > used);
            return;
        }
        break;
    case GW_BODY_CHUNKED:
        gw_chunked_init(&k->chunked, 0, 0);
        break;
    case GW_BODY_UNTIL_EOF:
        break;
    }
    if (k->in_len > used)
        feed_body(k, k->in + used, k->in_len - used);
}

static void parse_head(struct gw_keepalive *k)
{
    for (;;) {
        static const char start[] = "HTTP/1.";
        size_t have = k->in_len - k->head_off;
        if (memcmp(k->in + k->head_off, start, have < 7 ? have : 7) != 0) {
            fail(k, GW_EFETCH, "invalid response: not HTTP/1.x", 0);
            return;
        }
        int rc = gw_http1_parse_response(&k->parser, k->in + k->head_off, have, &k->msg);
        if (rc == GW_HTTP1_PARTIAL) {
            if (k->in_len == sizeof k->in)
                fail(k, GW_EFETCH, "response head too large", 0);
            return;
        }
        if (rc < 0) {
            fail(k, GW_EFETCH, "invalid response", rc);
            return;
        }
        if (k->msg.status == 101) {
            fail(k, GW_EFETCH, "unexpected 101 Switching Protocols", 0);
            return;
        }
        if (k->msg.status >= 200)
            break;
        k->head_off += k->msg.head_len; /* 100 Continue, 103 Early Hints: the final one follows */
        gw_http1_parser_init_response(&k->parser, &RESP_LIMITS, GW_METHOD_POST);
    }
    start_body(k);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct kconn *c = h->data;
    struct gw_keepalive *k = c->k;
    (void)suggested;
    /* parse_head fails the exchange when the head fills `in`, so a byte is always free; once
     * the head is parsed (or between exchanges) `in` is scratch space. */
    if (k->active && !k->head_done)
        *buf = uv_buf_init(k->in + k->in_len, (unsigned)(sizeof k->in - k->in_len));
    else
        *buf = uv_buf_init(k->in, (unsigned)sizeof k->in);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct kconn *c = s->data;
    struct gw_keepalive *k = c->k;
    if (c != k->conn || nread == 0)
        return;
    if (!k->active) {
        drop_conn(k); /* the server closed it, reset it or sent what nobody asked for */
        return;
    }
    if (nread == UV_EOF) {
        if (k->head_done && k->msg.body == GW_BODY_UNTIL_EOF)
            complete(k, false);
        else
            fail(k, GW_EFETCH,
                 k->head_done ? "connection closed before the end of the body"
                 : k->in_len  ? "connection closed inside the response head"
                              : "connection closed before a response",
                 0);
        return;
    }
    if (nread < 0) {
        fail(k, GW_EFETCH, "receive", (int)nread);
        return;
    }
    if (k->head_done) {
        feed_body(k, buf->base, (size_t)nread);
        return;
    }
    k->in_len += (size_t)nread;
    parse_head(k);
}

/* ---- request -------------------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    struct kconn *c = req->data;
    struct gw_keepalive *k = c->k;
    if (status == 0 || c != k->conn)
        return;
    fail(k, GW_EFETCH, "send", status);
}

/* Writes the request on the connection (connected). */
static void send_request(struct gw_keepalive *k)
{
    struct kconn *c = k->conn;
    k->head_done = false;
    k->body_seen = 0;
    k->head_off = 0;
    k->in_len = 0;
    gw_http1_parser_init_response(&k->parser, &RESP_LIMITS, GW_METHOD_POST);
    k->on_reused = c->exchanges > 0;
    c->exchanges++;
    uv_buf_t b[3] = {uv_buf_init(k->head, (unsigned)k->head_len),
                     uv_buf_init(k->clen, (unsigned)k->clen_len),
                     uv_buf_init((char *)(uintptr_t)k->body, (unsigned)k->body_len)};
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, b, k->body_len ? 3 : 2, on_write);
    if (rc < 0)
        fail(k, GW_EFETCH, "send", rc);
}

static void connect_next(struct gw_keepalive *k);

static void on_connect(uv_connect_t *req, int status)
{
    struct kconn *c = req->data;
    struct gw_keepalive *k = c->k;
    if (c != k->conn)
        return; /* dropped (ECANCELED) */
    if (status < 0) {
        k->connect_err = status;
        drop_conn(k);
        connect_next(k);
        return;
    }
    c->connected = true;
    k->connections++;
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        fail(k, GW_EFETCH, "receive", rc);
        return;
    }
    if (k->active)
        send_request(k);
    else
        drop_conn(k); /* the exchange ended (cancelled) while this was connecting */
}

/* Tries the next resolved address; fails the exchange when none is left. */
static void connect_next(struct gw_keepalive *k)
{
    while (k->next_addr < k->naddrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&k->addrs[k->next_addr++];
        struct kconn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            fail(k, GW_ENOMEM, "out of memory", 0);
            return;
        }
        int rc = uv_tcp_init(k->loop, &c->tcp);
        if (rc < 0) {
            free(c);
            k->connect_err = rc;
            continue;
        }
        c->k = k;
        c->tcp.data = c;
        c->connect_req.data = c;
        c->write_req.data = c;
        k->refs++;
        k->conn = c;
        rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connect);
        if (rc == 0)
            return;
        k->connect_err = rc;
        drop_conn(k);
    }
    fail(k, GW_EFETCH, "connect", k->connect_err);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct gw_keepalive *k = req->data;
    k->gai_active = false;
    if (k->active && !k->closing && k->conn == NULL) {
        k->naddrs = 0;
        k->next_addr = 0;
        if (status < 0) {
            fail(k, GW_EFETCH, "dns", status);
        } else {
            for (struct addrinfo *ai = res; ai != NULL && k->naddrs < MAX_ADDRS; ai = ai->ai_next) {
                if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                    ai->ai_addrlen > sizeof k->addrs[0])
                    continue;
                memcpy(&k->addrs[k->naddrs++], ai->ai_addr, ai->ai_addrlen);
            }
            if (k->naddrs == 0)
                fail(k, GW_EFETCH, "dns: no IPv4 or IPv6 address", 0);
            else
                connect_next(k);
        }
    }
    uv_freeaddrinfo(res);
    release(k);
}

/* A new connection for the exchange: the addresses again (a literal's is kept), then connect. */
static void connect_first(struct gw_keepalive *k)
{
    k->next_addr = 0;
    k->connect_err = 0;
    if (k->literal) {
        connect_next(k);
        return;
    }
    if (k->gai_active)
        return; /* a lookup of an abandoned exchange still runs: its answer serves this one */
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    k->gai.data = k;
    int rc = uv_getaddrinfo(k->loop, &k->gai, on_resolved, k->host, k->port, &hints);
    if (rc < 0) {
        fail(k, GW_EFETCH, "dns", rc);
        return;
    }
    k->gai_active = true;
    k->refs++;
}

/* ---- API ------------------------------------------------------------------------------ */

int gw_keepalive_new(struct gw_keepalive **out, uv_loop_t *loop, const char *url,
                     const char *headers)
{
    *out = NULL;
    if (loop == NULL || url == NULL || gw_fetch_check_url(url) != NULL)
        return GW_EINVAL;
    struct gw_url u;
    const char *why = NULL;
    if (gw_url_parse(url, strlen(url), &u, &why) < 0 || u.host.host_len > MAX_HOST)
        return GW_EINVAL;
    struct gw_keepalive *k = calloc(1, sizeof *k);
    if (k == NULL)
        return GW_ENOMEM;
    k->loop = loop;
    memcpy(k->host, u.host.host, u.host.host_len);
    snprintf(k->port, sizeof k->port, "%u", (unsigned)u.port);
    if (u.host.kind == GW_URL_HOST_IPV6)
        k->literal = uv_ip6_addr(k->host, u.port, (struct sockaddr_in6 *)&k->addrs[0]) == 0;
    else
        k->literal = uv_ip4_addr(k->host, u.port, (struct sockaddr_in *)&k->addrs[0]) == 0;
    if (k->literal)
        k->naddrs = 1;
    struct gw_buf b;
    gw_buf_init(&b, SIZE_MAX);
    int rc = gw_buf_appendf(&b, "POST %s%.*s%s%.*s HTTP/1.1\r\nHost: %.*s\r\n",
                            u.path_len == 0 ? "/" : "", (int)u.path_len, u.path,
                            u.query != NULL ? "?" : "", (int)u.query_len,
                            u.query != NULL ? u.query : "", (int)u.authority_len, u.authority);
    rc |= gw_buf_append_str(&b, "User-Agent: gantry\r\n");
    if (headers != NULL)
        rc |= gw_buf_append_str(&b, headers);
    if (rc != 0 || uv_timer_init(loop, &k->timer) < 0) {
        gw_buf_free(&b);
        free(k);
        return GW_ENOMEM;
    }
    k->head = b.data;
    k->head_len = b.len;
    k->timer.data = k;
    k->msg.headers = k->headers;
    k->msg.headers_capacity = MAX_RESP_HEADERS;
    k->refs = 2; /* the owner, and the timer's close */
    *out = k;
    return 0;
}

int gw_keepalive_post(struct gw_keepalive *k, const void *body, size_t len, uint64_t timeout_ms,
                      gw_fetch_cb cb, void *arg)
{
    if (k == NULL || k->closing || k->active || cb == NULL || len > MAX_BODY_OUT ||
        (body == NULL && len != 0))
        return GW_EINVAL;
    k->active = true;
    k->cb = cb;
    k->arg = arg;
    k->body = body;
    k->body_len = len;
    k->resent = false;
    k->on_reused = false;
    k->deferred_err = 0;
    k->why[0] = '\0';
    k->head_done = false;
    k->in_len = 0;
    k->clen_len = (size_t)snprintf(k->clen, sizeof k->clen, "Content-Length: %zu\r\n\r\n", len);
    k->timeout_ms = timeout_ms ? timeout_ms : GW_FETCH_DEFAULT_TIMEOUT_MS;
    uv_timer_start(&k->timer, on_timer, k->timeout_ms, 0);
    k->in_post = true;
    if (k->conn != NULL && k->conn->connected)
        send_request(k);
    else if (k->conn == NULL)
        connect_first(k);
    k->in_post = false;
    return 0;
}

void gw_keepalive_cancel(struct gw_keepalive *k)
{
    if (k == NULL || !k->active)
        return;
    k->active = false;
    k->deferred_err = 0;
    uv_timer_stop(&k->timer);
    drop_conn(k);
}

void gw_keepalive_close(struct gw_keepalive *k)
{
    if (k == NULL || k->closing)
        return;
    gw_keepalive_cancel(k);
    k->closing = true;
    drop_conn(k);
    uv_close((uv_handle_t *)&k->timer, on_timer_closed);
    /* A lookup in the thread pool cannot always be cancelled: its callback then only releases. */
    if (k->gai_active)
        uv_cancel((uv_req_t *)&k->gai);
    release(k);
}

uint64_t gw_keepalive_connections(const struct gw_keepalive *k)
{
    return k != NULL ? k->connections : 0;
}

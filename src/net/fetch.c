/*
 * One-shot HTTP/1.1 client: see fetch.h for the contract.
 *
 * Shape: one allocation per fetch holds the timer (the whole-exchange timeout), the DNS
 * request, the request bytes and the response state. Each connection attempt is a separate
 * allocation (struct attempt) because a failed attempt's TCP handle is still closing while the
 * next resolved address is tried. The fetch counts the libuv objects that will still call back
 * (the timer, a running DNS request, attempts not yet closed) in refs and is freed by the last
 * of those callbacks. Once the outcome is known (`done`), every callback only releases.
 */
#include "net/fetch.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/url.h"
#include "http1/chunked.h"
#include "http1/parser.h"
#include "net/internal.h"

#define MAX_ADDRS 8           /* resolved addresses tried in turn */
#define MAX_RESP_HEADERS 100u /* response header fields */
#define MAX_HOST 253          /* DNS name length (RFC 1035), also bounds an IPv6 literal */
#define MAX_METHOD 32
#define MAX_BODY_OUT INT32_MAX /* request body; uv_buf_t lengths are unsigned int */

struct attempt {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct gw_fetch *f;
    struct gw__fetch_tls *tls; /* https://: the TLS client, else NULL */
    bool tls_ready;            /* its handshake is done and the request written */
};

/* A write of TLS records (their own buffer each). */
struct tls_write {
    uv_write_t req;
    struct attempt *a;
    char *data;
};

struct gw_fetch {
    uv_loop_t *loop;
    gw_fetch_cb cb;
    void *arg;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    struct attempt *conn; /* the attempt in use, NULL between attempts */
    unsigned refs;        /* timer + running DNS request + attempts not yet closed */
    bool done;            /* cb called or cancelled */
    bool in_start;        /* inside gw_fetch_start: an outcome must be deferred */
    bool gai_active;
    int deferred_err;
    uint64_t timeout_ms;
    /* where */
    char host[MAX_HOST + 1];
    char port[6];
    struct sockaddr_storage addrs[MAX_ADDRS];
    size_t naddrs;
    size_t next_addr;
    int connect_err; /* of the last failed attempt */
    bool https;
    char *ca_file; /* for https, or NULL */
    bool insecure; /* https without verifying the certificate (req->insecure) */
    /* request */
    char *req;
    size_t req_len;
    const char *body_ref; /* a borrowed body, sent after req (req->body_borrowed), or NULL */
    size_t body_ref_len;
    enum gw_http_method method;
    /* response */
    bool head_done;
    struct gw_http1_parser parser;
    struct gw_http1_message msg;
    struct gw_http1_header headers[MAX_RESP_HEADERS];
    struct gw_chunked_decoder chunked;
    struct gw_buf body;
    size_t max_body;
    size_t head_off; /* start of the head being parsed in `in` (after interim responses) */
    size_t in_len;
    char why[160];
    /* head bytes while the head is read; then scratch space for body reads (this and cin stay
     * last: gw_fetch_start zeroes what comes before them only) */
    char in[GW_FETCH_MAX_HEAD];
    /* https: records as they arrive (the plaintext goes to `in`) */
    char cin[16384];
};

static const struct gw_http1_limits RESP_LIMITS = {
    .max_request_line = GW_HTTP1_DEFAULT_MAX_REQUEST_LINE,
    .max_header_bytes = GW_FETCH_MAX_HEAD,
    .max_headers = MAX_RESP_HEADERS,
};

/* ---- URL, method and header checks ---------------------------------------------------- */

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 9110 section 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * "http://authority[path][?query][#fragment]" (RFC 9110 section 4.2.1) through the one URL
 * parser (core/url.h), which admits no byte that could break out of the request line. No
 * userinfo: RFC 9110 section 4.2.4 forbids sending it. The fragment is not sent.
 */
static const char *parse_url(const char *url, struct gw_url *u, bool allow_https)
{
    const char *why = NULL;
    size_t n = strnlen(url, GW_FETCH_MAX_URL + 1);

    if (n > GW_FETCH_MAX_URL)
        return "longer than 8192 bytes";
    switch (gw_url_scheme_of(url, n)) {
    case GW_URL_HTTP:
        break;
    case GW_URL_HTTPS:
        if (allow_https)
            break;
        return "https is not supported for URLs gantry fetches yet; serve it on a loopback or "
               "internal http:// address";
    default:
        return "not an http:// URL";
    }
    if (gw_url_parse(url, n, u, &why) < 0)
        return why;
    if (u->user != NULL)
        return "user information (\"user@\") is not allowed in a URL gantry fetches";
    return NULL;
}

const char *gw_fetch_check_url_https(const char *url)
{
    struct gw_url u;
    return parse_url(url, &u, true);
}

const char *gw_fetch_check_url(const char *url)
{
    struct gw_url u;
    return parse_url(url, &u, false);
}

static int check_method(const char *m)
{
    size_t n = strnlen(m, MAX_METHOD + 1);
    if (n == 0 || n > MAX_METHOD)
        return GW_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)m[i]))
            return GW_EINVAL;
    }
    return 0;
}

/* Fields whose values this client decides; a second copy would change the framing. */
static bool reserved_field(const char *name, size_t n)
{
    static const char *const names[] = {"host", "connection", "content-length",
                                        "transfer-encoding"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
            return true;
    }
    return false;
}

/* Extra header lines: "name: value\r\n" each, RFC 9110 section 5 characters only. */
static int check_headers(const char *h)
{
    size_t n = strnlen(h, GW_FETCH_MAX_HEADERS + 1);
    size_t i = 0;

    if (n > GW_FETCH_MAX_HEADERS)
        return GW_EINVAL;
    while (i < n) {
        const char *line = h + i;
        const char *cr = memchr(line, '\r', n - i);
        size_t ll, name_len;
        if (cr == NULL || cr + 1 >= h + n || cr[1] != '\n' || cr == line)
            return GW_EINVAL;
        ll = (size_t)(cr - line);
        name_len = 0;
        while (name_len < ll && is_tchar((unsigned char)line[name_len]))
            name_len++;
        if (name_len == 0 || name_len == ll || line[name_len] != ':')
            return GW_EINVAL;
        if (reserved_field(line, name_len))
            return GW_EINVAL;
        for (size_t k = name_len + 1; k < ll; k++) {
            unsigned char c = (unsigned char)line[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return GW_EINVAL;
        }
        i += ll + 2;
    }
    return 0;
}

/* Request head and body in one buffer, written with one uv_write (a borrowed body is left where
 * it is and written after the head). */
static int build_request(struct gw_fetch *f, const char *method, const struct gw_url *u,
                         const char *headers, const struct gw_fetch_req *req)
{
    struct gw_buf b;
    int rc;

    gw_buf_init(&b, SIZE_MAX);
    /* One allocation: growing by doubling would copy a large body (a trace export) many times. */
    bool copy = req->body != NULL && !req->body_borrowed;
    rc = gw_buf_reserve(&b, 256 + strlen(method) + u->path_len + u->query_len + u->authority_len +
                                (headers != NULL ? strlen(headers) : 0) +
                                (copy ? req->body_len : 0));
    if (rc == 0)
        rc = gw_buf_appendf(&b, "%s %s%.*s%s%.*s HTTP/1.1\r\nHost: %.*s\r\n", method,
                            u->path_len == 0 ? "/" : "", (int)u->path_len, u->path,
                            u->query != NULL ? "?" : "", (int)u->query_len,
                            u->query != NULL ? u->query : "", (int)u->authority_len, u->authority);
    if (rc == 0)
        rc = gw_buf_append_str(&b, "User-Agent: gantry\r\nConnection: close\r\n");
    if (rc == 0 && req->body != NULL)
        rc = gw_buf_appendf(&b, "Content-Length: %zu\r\n", req->body_len);
    if (rc == 0 && headers != NULL)
        rc = gw_buf_append_str(&b, headers);
    if (rc == 0)
        rc = gw_buf_append(&b, "\r\n", 2);
    if (rc == 0 && copy)
        rc = gw_buf_append(&b, req->body, req->body_len);
    if (rc < 0) {
        gw_buf_free(&b);
        return rc;
    }
    f->req = b.data;
    f->req_len = b.len;
    if (req->body != NULL && !copy) {
        f->body_ref = req->body;
        f->body_ref_len = req->body_len;
    }
    return 0;
}

/* ---- lifetime ------------------------------------------------------------------------- */

static void release(struct gw_fetch *f)
{
    if (--f->refs > 0)
        return;
    gw_buf_free(&f->body);
    free(f->req);
    free(f->ca_file);
    free(f);
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void on_attempt_closed(uv_handle_t *h)
{
    struct attempt *a = h->data;
    struct gw_fetch *f = a->f;
    gw__fetch_tls_free(a->tls);
    free(a);
    release(f);
}

static void drop_attempt(struct gw_fetch *f)
{
    struct attempt *a = f->conn;
    if (a == NULL)
        return;
    f->conn = NULL;
    uv_close((uv_handle_t *)&a->tcp, on_attempt_closed);
}

/* Stops everything; the memory goes when the last close or DNS callback has run. */
static void teardown(struct gw_fetch *f)
{
    f->done = true;
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
    drop_attempt(f);
    /* A lookup already running in the threadpool cannot be cancelled; its callback then
     * arrives later and only releases. */
    if (f->gai_active)
        uv_cancel((uv_req_t *)&f->gai);
}

/* ---- outcome -------------------------------------------------------------------------- */

/* libuv's messages for its codes ("connection refused"), gantry's for its own. */
static const char *error_text(int err)
{
    return strcmp(gw_err_name(err), "UNKNOWN") != 0 ? gw_strerror(err) : uv_strerror(err);
}

static void deliver(struct gw_fetch *f, int err)
{
    struct gw_fetch_resp resp = {
        .status = f->head_done ? f->msg.status : 0,
        .why = f->why,
    };
    if (err == 0) {
        f->why[0] = '\0';
        resp.body = f->body.data ? f->body.data : "";
        resp.body_len = f->body.len;
    }
    teardown(f);
    f->cb(f->arg, err, &resp);
}

static void on_timer(uv_timer_t *t)
{
    struct gw_fetch *f = t->data;
    if (f->deferred_err == 0)
        snprintf(f->why, sizeof(f->why), "timed out after %" PRIu64 " ms", f->timeout_ms);
    deliver(f, f->deferred_err ? f->deferred_err : GW_EFETCHTIMEOUT);
}

/* Ends the fetch with err; why is "what" or "what: <cause's message>" when cause != 0. */
static void fail(struct gw_fetch *f, int err, const char *what, int cause)
{
    if (f->done)
        return;
    if (cause != 0)
        snprintf(f->why, sizeof(f->why), "%s: %s", what, error_text(cause));
    else
        snprintf(f->why, sizeof(f->why), "%s", what);
    if (f->in_start) {
        /* The callback must not run before gw_fetch_start returns: the timer delivers it. */
        f->deferred_err = err;
        uv_timer_start(&f->timer, on_timer, 0, 0);
        return;
    }
    deliver(f, err);
}

static void complete(struct gw_fetch *f)
{
    /* The body limit leaves room for the terminating NUL (see gw_fetch_start). */
    if (gw_buf_reserve(&f->body, 1) < 0) {
        fail(f, GW_ENOMEM, "out of memory", 0);
        return;
    }
    f->body.data[f->body.len] = '\0';
    deliver(f, 0);
}

/* ---- response ------------------------------------------------------------------------- */

static int append_body(struct gw_fetch *f, const char *p, size_t n)
{
    if (n > f->max_body - f->body.len) {
        char what[80];
        snprintf(what, sizeof(what), "response body over %zu bytes", f->max_body);
        fail(f, GW_EFETCHTOOLARGE, what, 0);
        return -1;
    }
    if (gw_buf_append(&f->body, p, n) < 0) {
        fail(f, GW_ENOMEM, "out of memory", 0);
        return -1;
    }
    return 0;
}

static void feed_body(struct gw_fetch *f, const char *p, size_t n)
{
    switch (f->msg.body) {
    case GW_BODY_LENGTH: {
        uint64_t left = f->msg.content_length - f->body.len;
        /* Bytes after the announced length are not part of this response: ignored. */
        size_t take = n < left ? n : (size_t)left;
        if (append_body(f, p, take) == 0 && f->body.len == f->msg.content_length)
            complete(f);
        return;
    }
    case GW_BODY_CHUNKED:
        while (n > 0) {
            size_t used = 0, dlen = 0;
            const char *data = NULL;
            int rc = gw_chunked_decode(&f->chunked, p, n, &used, &data, &dlen);
            if (rc < 0) {
                fail(f, GW_EFETCH, "invalid chunked body", rc);
                return;
            }
            p += used;
            n -= used;
            if (rc == GW_CHUNKED_DATA && append_body(f, data, dlen) < 0)
                return;
            if (rc == GW_CHUNKED_DONE) {
                complete(f);
                return;
            }
            if (rc == GW_CHUNKED_PARTIAL)
                return;
        }
        return;
    case GW_BODY_UNTIL_EOF:
        append_body(f, p, n);
        return;
    case GW_BODY_NONE:
        return;
    }
}

/* The head is complete: sets up the body's framing and feeds it the bytes already read. */
static void start_body(struct gw_fetch *f)
{
    size_t used = f->head_off + f->msg.head_len;

    f->head_done = true;
    switch (f->msg.body) {
    case GW_BODY_NONE:
        complete(f);
        return;
    case GW_BODY_LENGTH:
        if (f->msg.content_length > f->max_body) {
            char what[96];
            snprintf(what, sizeof(what), "response body of %" PRIu64 " bytes over %zu",
                     f->msg.content_length, f->max_body);
            fail(f, GW_EFETCHTOOLARGE, what, 0);
            return;
        }
        if (f->msg.content_length == 0) {
            complete(f);
            return;
        }
        if (gw_buf_reserve(&f->body, (size_t)f->msg.content_length + 1) < 0) {
            fail(f, GW_ENOMEM, "out of memory", 0);
            return;
        }
        break;
    case GW_BODY_CHUNKED:
        gw_chunked_init(&f->chunked, 0, 0);
        break;
    case GW_BODY_UNTIL_EOF:
        break;
    }
    if (f->in_len > used)
        feed_body(f, f->in + used, f->in_len - used);
}

/* Whether the bytes of a head so far can begin a status line. The parser only judges a line
 * once it ends, and a peer that is not an HTTP server may never send a line feed. */
static bool plausible_start(const char *p, size_t n)
{
    static const char prefix[] = "HTTP/1.";
    size_t k = n < sizeof(prefix) - 1 ? n : sizeof(prefix) - 1;
    return memcmp(p, prefix, k) == 0;
}

static void parse_head(struct gw_fetch *f)
{
    for (;;) {
        int rc;
        if (!plausible_start(f->in + f->head_off, f->in_len - f->head_off)) {
            fail(f, GW_EFETCH, "invalid response: not HTTP/1.x", 0);
            return;
        }
        rc = gw_http1_parse_response(&f->parser, f->in + f->head_off, f->in_len - f->head_off,
                                     &f->msg);
        if (rc == GW_HTTP1_PARTIAL) {
            if (f->in_len == sizeof(f->in))
                fail(f, GW_EFETCH, "response head too large", 0);
            return;
        }
        if (rc < 0) {
            fail(f, GW_EFETCH, "invalid response", rc);
            return;
        }
        if (f->msg.status == 101) {
            fail(f, GW_EFETCH, "unexpected 101 Switching Protocols", 0);
            return;
        }
        if (f->msg.status >= 200)
            break;
        /* An interim response (100 Continue, 103 Early Hints): the final one follows. */
        f->head_off += f->msg.head_len;
        gw_http1_parser_init_response(&f->parser, &RESP_LIMITS, f->method);
    }
    start_body(f);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct attempt *a = h->data;
    struct gw_fetch *f = a->f;
    (void)suggested;
    if (a->tls != NULL) {
        *buf = uv_buf_init(f->cin, (unsigned)sizeof(f->cin));
        return;
    }
    /* parse_head fails the fetch when the head fills `in`, so a byte is always free here.
     * Once the head is parsed, `in` is only scratch space: feed_body copies out of it. */
    if (f->head_done)
        *buf = uv_buf_init(f->in, (unsigned)sizeof(f->in));
    else
        *buf = uv_buf_init(f->in + f->in_len, (unsigned)(sizeof(f->in) - f->in_len));
}

static void on_eof(struct gw_fetch *f)
{
    if (!f->head_done)
        fail(f, GW_EFETCH,
             f->in_len ? "connection closed inside the response head"
                       : "connection closed before a response",
             0);
    else if (f->msg.body == GW_BODY_UNTIL_EOF)
        complete(f);
    else
        fail(f, GW_EFETCH, "connection closed before the end of the body", 0);
}

static void tls_received(struct attempt *a, const char *p, size_t n);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct attempt *a = s->data;
    struct gw_fetch *f = a->f;

    if (f->done || a != f->conn || nread == 0)
        return;
    if (nread == UV_EOF) {
        if (a->tls != NULL && f->head_done && f->msg.body == GW_BODY_UNTIL_EOF)
            fail(f, GW_EFETCH, "connection closed without TLS close_notify (truncated?)", 0);
        else
            on_eof(f);
        return;
    }
    if (nread < 0) {
        fail(f, GW_EFETCH, "receive", (int)nread);
        return;
    }
    if (a->tls != NULL) {
        tls_received(a, buf->base, (size_t)nread);
        return;
    }
    if (f->head_done) {
        feed_body(f, buf->base, (size_t)nread);
        return;
    }
    f->in_len += (size_t)nread;
    parse_head(f);
}

static void on_write(uv_write_t *req, int status)
{
    struct attempt *a = req->data;
    struct gw_fetch *f = a->f;
    if (status == 0 || f->done || a != f->conn)
        return;
    fail(f, GW_EFETCH, "send", status);
}

/* ---- https: the same exchange through TLS (net/fetch_tls.c) ---------------------------- */

static void on_tls_write(uv_write_t *req, int status)
{
    struct tls_write *w = req->data;
    struct attempt *a = w->a;
    struct gw_fetch *f = a->f;
    free(w->data);
    free(w);
    if (status == 0 || f->done || a != f->conn)
        return;
    fail(f, GW_EFETCH, "send", status);
}

/* Sends the records TLS has written. */
static void tls_flush(struct attempt *a)
{
    struct gw_fetch *f = a->f;
    char *data = NULL;
    size_t n = 0;
    if (gw__fetch_tls_take(a->tls, &data, &n) < 0) {
        fail(f, GW_ENOMEM, "out of memory", 0);
        return;
    }
    if (data == NULL)
        return;
    struct tls_write *w = malloc(sizeof *w);
    if (w == NULL) {
        free(data);
        fail(f, GW_ENOMEM, "out of memory", 0);
        return;
    }
    w->a = a;
    w->data = data;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(data, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&a->tcp, &b, 1, on_tls_write);
    if (rc < 0) {
        free(data);
        free(w);
        fail(f, GW_EFETCH, "send", rc);
    }
}

/* Records arrived: the handshake goes on, then the request goes out, then the plaintext
 * received is the response (into `in` while the head is read, then through feed_body). */
static void tls_received(struct attempt *a, const char *p, size_t n)
{
    struct gw_fetch *f = a->f;
    if (gw__fetch_tls_feed(a->tls, p, n) < 0) {
        fail(f, GW_ENOMEM, "out of memory", 0);
        return;
    }
    if (!a->tls_ready) {
        int hs = gw__fetch_tls_handshake(a->tls, f->why, sizeof f->why);
        if (hs < 0) {
            char why[sizeof f->why];
            memcpy(why, f->why, sizeof why);
            fail(f, GW_EFETCH, why, 0);
            return;
        }
        if (hs == 0) {
            tls_flush(a);
            return;
        }
        a->tls_ready = true;
        if (gw__fetch_tls_write(a->tls, f->req, f->req_len) < 0 ||
            (f->body_ref_len && gw__fetch_tls_write(a->tls, f->body_ref, f->body_ref_len) < 0)) {
            fail(f, GW_EFETCH, "tls write", 0);
            return;
        }
    }
    while (!f->done) {
        size_t got = 0;
        char *dst = f->head_done ? f->in : f->in + f->in_len;
        size_t cap = f->head_done ? sizeof f->in : sizeof f->in - f->in_len;
        char why[sizeof f->why];
        int r = gw__fetch_tls_read(a->tls, dst, cap, &got, why, sizeof why);
        if (r == 0)
            break;
        if (r == -1) { /* close_notify: the end of the response */
            on_eof(f);
            return;
        }
        if (r < 0) {
            fail(f, GW_EFETCH, why, 0);
            return;
        }
        if (f->head_done) {
            feed_body(f, dst, got);
        } else {
            f->in_len += got;
            parse_head(f);
        }
    }
    if (!f->done)
        tls_flush(a);
}

static void connect_next(struct gw_fetch *f);

static void on_connect(uv_connect_t *req, int status)
{
    struct attempt *a = req->data;
    struct gw_fetch *f = a->f;
    uv_buf_t b[2];
    int rc;

    if (f->done || a != f->conn)
        return; /* ECANCELED: the attempt was dropped before it connected */
    if (status < 0) {
        f->connect_err = status;
        drop_attempt(f);
        connect_next(f);
        return;
    }
    uv_tcp_nodelay(&a->tcp, 1);
    if (f->https) {
        char why[sizeof f->why];
        rc = gw__fetch_tls_new(f->host, f->ca_file, f->insecure, &a->tls, why, sizeof why);
        if (rc < 0) {
            fail(f, rc == GW_ENOMEM ? GW_ENOMEM : GW_EFETCH,
                 rc == GW_ENOMEM ? "out of memory" : why, 0);
            return;
        }
        if (gw__fetch_tls_handshake(a->tls, f->why, sizeof f->why) < 0) {
            memcpy(why, f->why, sizeof why);
            fail(f, GW_EFETCH, why, 0);
            return;
        }
        tls_flush(a);
        if (!f->done && (rc = uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read)) < 0)
            fail(f, GW_EFETCH, "receive", rc);
        return;
    }
    b[0] = uv_buf_init(f->req, (unsigned)f->req_len);
    b[1] = uv_buf_init((char *)(uintptr_t)f->body_ref, (unsigned)f->body_ref_len);
    rc = uv_write(&a->write_req, (uv_stream_t *)&a->tcp, b, f->body_ref_len ? 2 : 1, on_write);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read);
    if (rc < 0)
        fail(f, GW_EFETCH, "send", rc);
}

/* Tries the next resolved address; fails the fetch when none is left. */
static void connect_next(struct gw_fetch *f)
{
    while (f->next_addr < f->naddrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&f->addrs[f->next_addr++];
        struct attempt *a = calloc(1, sizeof(*a));
        int rc;

        if (a == NULL) {
            fail(f, GW_ENOMEM, "out of memory", 0);
            return;
        }
        rc = uv_tcp_init(f->loop, &a->tcp);
        if (rc < 0) {
            free(a);
            f->connect_err = rc;
            continue;
        }
        a->f = f;
        a->tcp.data = a;
        a->connect_req.data = a;
        a->write_req.data = a;
        f->refs++;
        f->conn = a;
        rc = uv_tcp_connect(&a->connect_req, &a->tcp, sa, on_connect);
        if (rc == 0)
            return;
        f->connect_err = rc;
        drop_attempt(f);
    }
    fail(f, GW_EFETCH, "connect", f->connect_err);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct gw_fetch *f = req->data;

    f->gai_active = false;
    if (!f->done) {
        if (status < 0) {
            fail(f, GW_EFETCH, "dns", status);
        } else {
            for (struct addrinfo *ai = res; ai != NULL && f->naddrs < MAX_ADDRS; ai = ai->ai_next) {
                if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                    ai->ai_addrlen > sizeof(f->addrs[0]))
                    continue;
                memcpy(&f->addrs[f->naddrs++], ai->ai_addr, ai->ai_addrlen);
            }
            if (f->naddrs == 0)
                fail(f, GW_EFETCH, "dns: no IPv4 or IPv6 address", 0);
            else
                connect_next(f);
        }
    }
    uv_freeaddrinfo(res);
    release(f);
}

/* ---- API ------------------------------------------------------------------------------ */

/* Fills f->addrs[0] when the host is an IP literal. */
static bool ip_literal(struct gw_fetch *f, const struct gw_url *u)
{
    if (u->host.kind == GW_URL_HOST_IPV6)
        return uv_ip6_addr(f->host, u->port, (struct sockaddr_in6 *)&f->addrs[0]) == 0;
    return uv_ip4_addr(f->host, u->port, (struct sockaddr_in *)&f->addrs[0]) == 0;
}

int gw_fetch_start(uv_loop_t *loop, const struct gw_fetch_req *req, gw_fetch_cb cb, void *arg,
                   struct gw_fetch **handle)
{
    const char *method;
    struct gw_fetch *f = NULL;
    struct gw_url u;
    bool literal;
    int rc = GW_EINVAL;

    if (loop == NULL || req == NULL || req->url == NULL || cb == NULL)
        return GW_EINVAL;
    method = req->method ? req->method : "GET";
    if (parse_url(req->url, &u, req->allow_https) != NULL || check_method(method) < 0)
        return GW_EINVAL;
    if (req->headers != NULL && check_headers(req->headers) < 0)
        return GW_EINVAL;
    if ((req->body == NULL && req->body_len != 0) || req->body_len > MAX_BODY_OUT)
        return GW_EINVAL;

    /* The read buffers at the end (48 KiB) are written before they are read: zeroing them would
     * cost more than the rest of an export's start (the tracer starts one per batch). */
    f = malloc(sizeof(*f));
    if (f == NULL)
        return GW_ENOMEM;
    memset(f, 0, offsetof(struct gw_fetch, in));
    f->loop = loop;
    f->cb = cb;
    f->arg = arg;
    f->https = gw_url_scheme_of(req->url, strlen(req->url)) == GW_URL_HTTPS;
    f->insecure = req->insecure;
    if (f->https && req->ca_file != NULL && (f->ca_file = strdup(req->ca_file)) == NULL) {
        rc = GW_ENOMEM;
        goto fail;
    }
    memcpy(f->host, u.host.host, u.host.host_len);
    snprintf(f->port, sizeof(f->port), "%u", (unsigned)u.port);
    literal = ip_literal(f, &u);
    if (u.host.kind == GW_URL_HOST_IPV6 && !literal)
        goto fail;
    rc = build_request(f, method, &u, req->headers, req);
    if (rc < 0)
        goto fail;
    f->method = gw_http_method_id(method, strlen(method));
    f->timeout_ms = req->timeout_ms ? req->timeout_ms : GW_FETCH_DEFAULT_TIMEOUT_MS;
    f->max_body = req->max_body ? req->max_body : GW_FETCH_DEFAULT_MAX_BODY;
    if (f->max_body > SIZE_MAX - 1)
        f->max_body = SIZE_MAX - 1;
    gw_buf_init(&f->body, f->max_body + 1); /* + the NUL complete() adds */
    f->msg.headers = f->headers;
    f->msg.headers_capacity = MAX_RESP_HEADERS;
    gw_http1_parser_init_response(&f->parser, &RESP_LIMITS, f->method);
    rc = uv_timer_init(loop, &f->timer);
    if (rc < 0)
        goto fail;
    f->timer.data = f;
    f->refs = 1;

    /* From here on every failure reaches the caller through cb. */
    f->in_start = true;
    uv_timer_start(&f->timer, on_timer, f->timeout_ms, 0);
    if (literal) {
        f->naddrs = 1;
        connect_next(f);
    } else {
        struct addrinfo hints;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_protocol = IPPROTO_TCP;
        f->gai.data = f;
        rc = uv_getaddrinfo(loop, &f->gai, on_resolved, f->host, f->port, &hints);
        if (rc < 0) {
            fail(f, GW_EFETCH, "dns", rc);
        } else {
            f->gai_active = true;
            f->refs++;
        }
    }
    f->in_start = false;
    if (handle != NULL)
        *handle = f;
    return 0;
fail:
    free(f->req);
    free(f->ca_file);
    free(f);
    return rc;
}

void gw_fetch_cancel(struct gw_fetch *f)
{
    if (f == NULL || f->done)
        return;
    teardown(f);
}

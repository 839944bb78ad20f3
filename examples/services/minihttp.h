/*
 * minihttp: the small HTTP/1.1 server shared by the example services.
 *
 * Header-only on purpose: CMake builds each .c file of examples/services/ as its own
 * executable, so code shared by users.c and orders.c lives here as static functions. Every
 * function below is reached from mh_main, so neither includer gets an unused-function warning.
 *
 * One thread, one libuv loop. Requests are parsed with gantry's own HTTP/1 parser and
 * chunked decoder (src/http1/), which makes the examples a little dogfooding exercise.
 * Keep-alive and pipelining: requests on a connection are answered in order as soon as each
 * is complete; reading stops while more than MH_WRITE_HIGH_WATER bytes wait to be written.
 * Every response carries Content-Length (204 none) and "X-Served-By: <service>".
 *
 * A service is one JSON collection (users, orders) under one path prefix:
 *   GET /health                    200 {"status":"ok","service":NAME}
 *   GET /api/NAME                  200 {"NAME":[...],"count":N}
 *   POST /api/NAME                 201 created record (service validates the JSON body)
 *   GET /api/NAME/{id}             200 record, or 404
 *   DELETE /api/NAME/{id}          204, or 404
 * anything else is a 404 (or 405 with Allow) JSON error: {"error":"...","status":N}.
 */
#ifndef GW_EXAMPLES_MINIHTTP_H
#define GW_EXAMPLES_MINIHTTP_H

/* libuv's headers need POSIX types (pthread_rwlock_t) that strict C11 hides; this header is
 * the first include of each service. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "http1/chunked.h"
#include "http1/parser.h"

#define MH_MAX_BODY (1024 * 1024)         /* request bodies above this get a 413 */
#define MH_MAX_HEADERS 100u               /* header fields per request */
#define MH_READ_CHUNK 65536u              /* input buffer growth step */
#define MH_WRITE_HIGH_WATER (1024 * 1024) /* stop reading above this many queued bytes */
#define MH_MAX_RECORDS 10000u             /* POSTs above this get a 507 */

/* Builds a record from a POST body (a JSON object). Returns a new object without "id" or
 * NULL with *err set to a message for a 400. */
typedef json_t *(*mh_create_fn)(const json_t *body, const char **err);

/* Initial records (an array of objects without "id"), or NULL. */
typedef json_t *(*mh_seed_fn)(void);

struct mh_service {
    const char *name;       /* "users": X-Served-By value, collection key, log prefix */
    const char *collection; /* "/api/users" */
    int default_port;
    mh_create_fn create;
    mh_seed_fn seed;
    /* private */
    json_t *items; /* array of records, each with an "id" first */
    json_int_t next_id;
    bool quiet;
    int port; /* the port actually bound */
};

struct mh_server;

enum mh_conn_state {
    MH_HEAD = 0,
    MH_BODY_LENGTH,
    MH_BODY_CHUNKED,
    MH_CLOSING,
};

struct mh_request {
    enum gw_http_method method;
    char method_name[16]; /* for the log line; truncated */
    char *target;         /* owned, NUL-terminated */
    size_t path_len;      /* bytes of target before '?' */
    int minor_version;
    bool keep_alive;
    char *body;
    size_t body_len;
    size_t body_cap;
};

struct mh_conn {
    uv_tcp_t tcp; /* first: the handle's address is the connection's */
    uv_shutdown_t shutdown;
    struct mh_server *srv;
    struct mh_conn *prev;
    struct mh_conn *next;
    char *in; /* unconsumed input, starting at a message boundary or inside a body */
    size_t in_len;
    size_t in_cap;
    enum mh_conn_state state;
    bool paused; /* reading stopped for backpressure */
    uint64_t body_remaining;
    struct gw_http1_parser parser;
    struct gw_http1_message msg;
    struct gw_http1_header headers[MH_MAX_HEADERS];
    struct gw_chunked_decoder chunked;
    struct mh_request req;
};

struct mh_server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    struct mh_service *svc;
    struct mh_conn *conns;
    bool stopping;
};

struct mh_write {
    uv_write_t req;
    struct mh_conn *conn;
    uv_buf_t buf;
    char data[];
};

struct mh_response {
    int status;
    json_t *body;      /* owned; NULL: no body */
    const char *allow; /* for 405 */
    char location[64]; /* for 201; empty: none */
};

static const char *status_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {100, "Continue"},
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {400, "Bad Request"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {417, "Expectation Failed"},
        {431, "Request Header Fields Too Large"},
        {501, "Not Implemented"},
        {505, "HTTP Version Not Supported"},
        {507, "Insufficient Storage"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].status == status)
            return reasons[i].reason;
    }
    return "Internal Server Error";
}

/* ---- collection ------------------------------------------------------------------------ */

static json_t *error_body(int status, const char *msg)
{
    return json_pack("{s:s, s:i}", "error", msg, "status", status);
}

static void set_error(struct mh_response *res, int status, const char *msg)
{
    json_decref(res->body);
    res->status = status;
    res->body = error_body(status, msg);
}

/* Adds a record with the next id; takes the reference to rec. Returns the stored record. */
static json_t *store_record(struct mh_service *svc, json_t *rec)
{
    json_t *stored = json_pack("{s:I}", "id", svc->next_id);
    if (!stored || json_object_update(stored, rec) != 0 ||
        json_array_append(svc->items, stored) != 0) {
        json_decref(stored);
        json_decref(rec);
        return NULL;
    }
    json_decref(rec);
    json_decref(stored); /* the array holds it */
    svc->next_id++;
    return stored;
}

/* Index of the record with this id, or -1. */
static long find_record(const struct mh_service *svc, json_int_t id)
{
    for (size_t i = 0; i < json_array_size(svc->items); i++) {
        json_t *rec = json_array_get(svc->items, i);
        if (json_integer_value(json_object_get(rec, "id")) == id)
            return (long)i;
    }
    return -1;
}

/* "/123" -> 123; anything else (empty, sign, junk, overflow) -> -1. */
static json_int_t parse_id(const char *s, size_t n)
{
    if (n < 2 || n > 19 || s[0] != '/')
        return -1;
    json_int_t v = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void handle_create(struct mh_service *svc, const struct mh_request *req,
                          struct mh_response *res)
{
    json_error_t jerr;
    const char *err = NULL;

    if (json_array_size(svc->items) >= MH_MAX_RECORDS) {
        set_error(res, 507, "too many records");
        return;
    }
    json_t *in =
        json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON body: %s", jerr.text);
        set_error(res, 400, msg);
        return;
    }
    if (!json_is_object(in)) {
        json_decref(in);
        set_error(res, 400, "body must be a JSON object");
        return;
    }
    json_t *rec = svc->create(in, &err);
    json_decref(in);
    if (!rec) {
        set_error(res, 400, err ? err : "invalid record");
        return;
    }
    json_int_t id = svc->next_id;
    json_t *stored = store_record(svc, rec);
    if (!stored) {
        set_error(res, 500, "out of memory");
        return;
    }
    res->status = 201;
    res->body = json_incref(stored);
    snprintf(res->location, sizeof(res->location), "%s/%" JSON_INTEGER_FORMAT, svc->collection, id);
}

static void route(struct mh_service *svc, const struct mh_request *req, struct mh_response *res)
{
    const char *path = req->target;
    size_t n = req->path_len;
    size_t clen = strlen(svc->collection);
    bool read_only = req->method == GW_METHOD_GET || req->method == GW_METHOD_HEAD;

    res->status = 200;
    if (n == 7 && memcmp(path, "/health", 7) == 0) {
        if (!read_only) {
            res->allow = "GET, HEAD";
            set_error(res, 405, "method not allowed");
            return;
        }
        res->body = json_pack("{s:s, s:s}", "status", "ok", "service", svc->name);
        return;
    }
    if (n < clen || memcmp(path, svc->collection, clen) != 0) {
        set_error(res, 404, "not found");
        return;
    }
    path += clen;
    n -= clen;
    if (n == 0 || (n == 1 && path[0] == '/')) {
        if (read_only) {
            res->body = json_pack("{s:O, s:I}", svc->name, svc->items, "count",
                                  (json_int_t)json_array_size(svc->items));
        } else if (req->method == GW_METHOD_POST) {
            handle_create(svc, req, res);
        } else {
            res->allow = "GET, HEAD, POST";
            set_error(res, 405, "method not allowed");
        }
        return;
    }
    json_int_t id = parse_id(path, n);
    long idx = id < 0 ? -1 : find_record(svc, id);
    if (id < 0 || idx < 0) {
        set_error(res, 404, id < 0 ? "not found" : "no such record");
        return;
    }
    if (read_only) {
        res->body = json_incref(json_array_get(svc->items, (size_t)idx));
    } else if (req->method == GW_METHOD_DELETE) {
        json_array_remove(svc->items, (size_t)idx);
        res->status = 204;
    } else {
        res->allow = "GET, HEAD, DELETE";
        set_error(res, 405, "method not allowed");
    }
}

/* ---- connections ----------------------------------------------------------------------- */

static void on_conn_close(uv_handle_t *h)
{
    struct mh_conn *c = h->data;
    struct mh_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->in);
    free(c->req.target);
    free(c->req.body);
    free(c);
}

static void close_conn(struct mh_conn *c)
{
    c->state = MH_CLOSING;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status; /* UV_ECANCELED when the server is stopping: close_conn is idempotent */
    close_conn(req->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status)
{
    struct mh_write *w = (struct mh_write *)req;
    struct mh_conn *c = w->conn;
    free(w);
    if (status < 0) {
        close_conn(c);
        return;
    }
    if (c->paused && c->state != MH_CLOSING &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < MH_WRITE_HIGH_WATER / 2) {
        c->paused = false;
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
            close_conn(c);
    }
}

/* Queues bytes (copied). On failure the connection is closed. */
static int queue_write(struct mh_conn *c, const char *head, size_t head_len, const char *body,
                       size_t body_len)
{
    struct mh_write *w = malloc(sizeof(*w) + head_len + body_len);
    if (!w) {
        close_conn(c);
        return UV_ENOMEM;
    }
    memcpy(w->data, head, head_len);
    if (body_len > 0)
        memcpy(w->data + head_len, body, body_len);
    w->conn = c;
    w->buf = uv_buf_init(w->data, (unsigned int)(head_len + body_len));
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write);
    if (rc < 0) {
        free(w);
        close_conn(c);
    }
    return rc;
}

/* Writes the response; a connection that must not be reused is shut down after it. */
static void send_response(struct mh_conn *c, const struct mh_request *req,
                          const struct mh_response *res, bool keep_alive)
{
    struct mh_service *svc = c->srv->svc;
    char *text = NULL;
    size_t text_len = 0;
    char head[512];
    int hn;

    if (res->body && res->status != 204) {
        text = json_dumps(res->body, JSON_COMPACT);
        if (!text) {
            close_conn(c);
            return;
        }
        text_len = strlen(text);
    }
    hn = snprintf(head, sizeof(head),
                  "HTTP/1.1 %d %s\r\n"
                  "%s"
                  "X-Served-By: %s\r\n"
                  "X-Instance-Port: %d\r\n"
                  "%s%s%s"
                  "%s%s%s"
                  "%s",
                  res->status, status_reason(res->status),
                  res->status != 204 ? "Content-Type: application/json\r\n" : "", svc->name,
                  svc->port, res->allow ? "Allow: " : "", res->allow ? res->allow : "",
                  res->allow ? "\r\n" : "", res->location[0] ? "Location: " : "", res->location,
                  res->location[0] ? "\r\n" : "",
                  !keep_alive               ? "Connection: close\r\n"
                  : req->minor_version == 0 ? "Connection: keep-alive\r\n"
                                            : "");
    if (res->status != 204 && hn > 0 && (size_t)hn < sizeof(head))
        hn += snprintf(head + hn, sizeof(head) - (size_t)hn, "Content-Length: %zu\r\n", text_len);
    if (hn > 0 && (size_t)hn < sizeof(head))
        hn += snprintf(head + hn, sizeof(head) - (size_t)hn, "\r\n");
    if (hn <= 0 || (size_t)hn >= sizeof(head)) {
        free(text);
        close_conn(c);
        return;
    }
    bool send_body = req->method != GW_METHOD_HEAD;
    int rc = queue_write(c, head, (size_t)hn, text, send_body ? text_len : 0);
    free(text);
    if (rc < 0)
        return;

    if (!svc->quiet && req->target)
        fprintf(stderr, "%s: %s %s -> %d\n", svc->name, req->method_name, req->target, res->status);
    if (!keep_alive) {
        c->state = MH_CLOSING;
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->shutdown.data = c;
        if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
            close_conn(c);
    }
}

/* Answers a framing or limit error (a gantry error code) and closes after it. */
static void send_error(struct mh_conn *c, int err)
{
    struct mh_response res = {.status = gw_err_http_status(err)};
    res.body = error_body(res.status, gw_strerror(err));
    c->req.method = GW_METHOD_GET; /* the body is sent whatever the request was */
    send_response(c, &c->req, &res, false);
    json_decref(res.body);
}

static void reset_request(struct mh_conn *c)
{
    free(c->req.target);
    free(c->req.body);
    memset(&c->req, 0, sizeof(c->req));
    memset(&c->msg, 0, sizeof(c->msg));
    c->msg.headers = c->headers;
    c->msg.headers_capacity = MH_MAX_HEADERS;
    gw_http1_parser_init_request(&c->parser, NULL);
    c->state = MH_HEAD;
    c->body_remaining = 0;
}

static void dispatch(struct mh_conn *c)
{
    struct mh_response res = {.status = 200};
    route(c->srv->svc, &c->req, &res);
    send_response(c, &c->req, &res, c->req.keep_alive);
    json_decref(res.body);
    if (c->state != MH_CLOSING)
        reset_request(c);
}

static int append_body(struct mh_conn *c, const char *data, size_t n)
{
    struct mh_request *r = &c->req;
    if (r->body_len + n > MH_MAX_BODY)
        return GW_EBODYTOOLARGE;
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n)
            cap *= 2;
        char *p = realloc(r->body, cap);
        if (!p)
            return GW_ENOMEM;
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return 0;
}

/* The head is complete: keep what the handler needs, since c->in may move. */
static int begin_request(struct mh_conn *c)
{
    const struct gw_http1_message *m = &c->msg;
    struct mh_request *r = &c->req;

    r->method = m->method_id;
    snprintf(r->method_name, sizeof(r->method_name), "%.*s", (int)m->method_len, m->method);
    r->target = malloc(m->target_len + 1u);
    if (!r->target)
        return GW_ENOMEM;
    memcpy(r->target, m->target, m->target_len);
    r->target[m->target_len] = '\0';
    const char *q = memchr(r->target, '?', m->target_len);
    r->path_len = q ? (size_t)(q - r->target) : m->target_len;
    r->minor_version = m->minor_version;
    r->keep_alive = m->keep_alive && !c->srv->stopping;

    if (m->body == GW_BODY_LENGTH) {
        if (m->content_length > MH_MAX_BODY)
            return GW_EBODYTOOLARGE;
        c->body_remaining = m->content_length;
        c->state = MH_BODY_LENGTH;
    } else if (m->body == GW_BODY_CHUNKED) {
        gw_chunked_init(&c->chunked, 0, 0);
        c->state = MH_BODY_CHUNKED;
    }
    if (c->state != MH_HEAD && m->expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        return queue_write(c, cont, sizeof(cont) - 1, NULL, 0);
    }
    return 0;
}

/* Consumes as many complete messages as c->in holds. */
static void process_input(struct mh_conn *c)
{
    size_t pos = 0;
    int rc;

    while (c->state != MH_CLOSING && pos < c->in_len) {
        const char *p = c->in + pos;
        size_t avail = c->in_len - pos;

        if (c->state == MH_HEAD) {
            rc = gw_http1_parse_request(&c->parser, p, avail, &c->msg);
            if (rc == GW_HTTP1_PARTIAL)
                break;
            if (rc < 0) {
                send_error(c, rc);
                break;
            }
            pos += c->msg.head_len;
            rc = begin_request(c);
            if (rc < 0) {
                if (c->state != MH_CLOSING)
                    send_error(c, rc);
                break;
            }
            if (c->state == MH_HEAD)
                dispatch(c);
        } else if (c->state == MH_BODY_LENGTH) {
            size_t n = avail < c->body_remaining ? avail : (size_t)c->body_remaining;
            rc = append_body(c, p, n);
            if (rc < 0) {
                send_error(c, rc);
                break;
            }
            pos += n;
            c->body_remaining -= n;
            if (c->body_remaining == 0)
                dispatch(c);
        } else {
            size_t consumed = 0;
            const char *data = NULL;
            size_t data_len = 0;
            rc = gw_chunked_decode(&c->chunked, p, avail, &consumed, &data, &data_len);
            pos += consumed;
            if (rc == GW_CHUNKED_DATA)
                rc = append_body(c, data, data_len);
            if (rc < 0) {
                send_error(c, rc);
                break;
            }
            if (rc == GW_CHUNKED_DONE)
                dispatch(c);
            else if (rc == GW_CHUNKED_PARTIAL)
                break;
        }
    }
    if (c->state == MH_CLOSING)
        return;
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > MH_WRITE_HIGH_WATER) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->paused = true;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct mh_conn *c = h->data;
    (void)suggested;
    if (c->in_cap - c->in_len < MH_READ_CHUNK / 4) {
        size_t cap = c->in_len + MH_READ_CHUNK;
        char *p = realloc(c->in, cap);
        if (!p) {
            *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
            return;
        }
        c->in = p;
        c->in_cap = cap;
    }
    *buf = uv_buf_init(c->in + c->in_len, (unsigned int)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct mh_conn *c = s->data;
    (void)buf;
    if (nread < 0) {
        close_conn(c);
        return;
    }
    c->in_len += (size_t)nread;
    process_input(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct mh_server *srv = listener->data;
    if (status < 0 || srv->stopping)
        return;
    struct mh_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->srv = srv;
    reset_request(c);
    if (uv_tcp_init(&srv->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    c->tcp.data = c;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        close_conn(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        close_conn(c);
}

/* ---- process --------------------------------------------------------------------------- */

static void on_signal(uv_signal_t *sig, int signum)
{
    struct mh_server *srv = sig->data;
    (void)signum;
    if (srv->stopping)
        return;
    srv->stopping = true;
    uv_close((uv_handle_t *)&srv->listener, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    for (struct mh_conn *c = srv->conns; c; c = c->next)
        close_conn(c);
}

static int parse_port(const char *s, int *port)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

static void usage(const struct mh_service *svc)
{
    fprintf(stderr,
            "usage: example_%s [--port N | N] [--host ADDR] [--quiet]\n"
            "  --port N     port to listen on (env PORT; default %d; 0 picks a free port)\n"
            "  --host ADDR  IPv4 address to bind (default 127.0.0.1)\n"
            "  --quiet      no log line per request\n"
            "Prints \"READY <port>\" on stdout once listening; SIGTERM or SIGINT stops it.\n",
            svc->name, svc->default_port);
}

/* Parses the command line; returns 0, 1 (help printed), or -1 (usage error). */
static int parse_args(struct mh_service *svc, int argc, char **argv, const char **host)
{
    const char *env = getenv("PORT");
    svc->port = svc->default_port;
    if (env && *env && parse_port(env, &svc->port) != 0) {
        fprintf(stderr, "example_%s: invalid PORT: %s\n", svc->name, env);
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if ((strcmp(a, "--port") == 0 || strcmp(a, "-p") == 0) && i + 1 < argc) {
            v = argv[++i];
        } else if (strncmp(a, "--port=", 7) == 0) {
            v = a + 7;
        } else if (strcmp(a, "--host") == 0 && i + 1 < argc) {
            *host = argv[++i];
            continue;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            svc->quiet = true;
            continue;
        } else if (a[0] >= '0' && a[0] <= '9') {
            v = a; /* a bare port, as scripts/run-example.sh passes it */
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(svc);
            return 1;
        } else {
            usage(svc);
            return -1;
        }
        if (parse_port(v, &svc->port) != 0) {
            fprintf(stderr, "example_%s: invalid port: %s\n", svc->name, v);
            return -1;
        }
    }
    return 0;
}

static int seed_items(struct mh_service *svc)
{
    svc->items = json_array();
    svc->next_id = 1;
    if (!svc->items)
        return -1;
    json_t *seed = svc->seed ? svc->seed() : NULL;
    for (size_t i = 0; i < json_array_size(seed); i++) {
        if (!store_record(svc, json_incref(json_array_get(seed, i)))) {
            json_decref(seed);
            return -1;
        }
    }
    json_decref(seed);
    return 0;
}

static int start_listening(struct mh_server *srv, const char *host)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = (int)sizeof(bound);
    int rc = uv_ip4_addr(host, srv->svc->port, &addr);

    if (rc == 0)
        rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    if (rc == 0)
        srv->svc->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return rc;
}

static int start_signals(struct mh_server *srv)
{
    int rc = uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    if (rc == 0)
        rc = uv_signal_start(&srv->sigint, on_signal, SIGINT);
    return rc;
}

/* Initialises the loop and its three handles; on failure nothing is left open. */
static int init_loop(struct mh_server *srv)
{
    int rc = uv_loop_init(&srv->loop);
    if (rc != 0)
        return rc;
    rc = uv_tcp_init(&srv->loop, &srv->listener);
    if (rc != 0)
        goto fail;
    rc = uv_signal_init(&srv->loop, &srv->sigterm);
    if (rc != 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        goto fail;
    }
    rc = uv_signal_init(&srv->loop, &srv->sigint);
    if (rc != 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        uv_close((uv_handle_t *)&srv->sigterm, NULL);
        goto fail;
    }
    srv->listener.data = srv;
    srv->sigterm.data = srv;
    srv->sigint.data = srv;
    return 0;
fail:
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv->loop);
    return rc;
}

/* Runs the service until SIGTERM or SIGINT; returns the process exit status. */
static int mh_main(struct mh_service *svc, int argc, char **argv)
{
    struct mh_server srv;
    const char *host = "127.0.0.1";
    int status = 1;
    int rc;

    memset(&srv, 0, sizeof(srv));
    srv.svc = svc;
    rc = parse_args(svc, argc, argv, &host);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (seed_items(svc) != 0) {
        fprintf(stderr, "example_%s: out of memory\n", svc->name);
        goto fail;
    }
    rc = init_loop(&srv);
    if (rc != 0) {
        fprintf(stderr, "example_%s: %s\n", svc->name, uv_strerror(rc));
        goto fail;
    }
    rc = start_listening(&srv, host);
    if (rc == 0)
        rc = start_signals(&srv);
    if (rc != 0) {
        fprintf(stderr, "example_%s: cannot listen on %s:%d: %s\n", svc->name, host, svc->port,
                uv_strerror(rc));
        on_signal(&srv.sigterm, SIGTERM); /* closes the handles */
        uv_run(&srv.loop, UV_RUN_DEFAULT);
        uv_loop_close(&srv.loop);
        goto fail;
    }
    printf("READY %d\n", svc->port);
    fflush(stdout);
    fprintf(stderr, "example_%s: listening on http://%s:%d%s\n", svc->name, host, svc->port,
            svc->collection);

    uv_run(&srv.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&srv.loop);
    if (rc != 0) {
        fprintf(stderr, "example_%s: loop close: %s\n", svc->name, uv_strerror(rc));
        goto fail;
    }
    fprintf(stderr, "example_%s: stopped\n", svc->name);
    status = 0;
fail:
    json_decref(svc->items);
    svc->items = NULL;
    return status;
}

#endif

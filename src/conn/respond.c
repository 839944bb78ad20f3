/*
 * Every answer gantry gives itself comes from here: status and message from the error table
 * (core/error.h), one JSON shape, the request id, Retry-After when there is one. Policy stages
 * and the proxy describe the answer (struct gw_answer) and hand it to the request's downstream;
 * nothing else formats an error body.
 */
#include <stdio.h>
#include <string.h>

#include "conn/internal.h"
#include "core/error.h"
#include "core/random.h"
#include "h2/grpc.h"
#include "policy/chain.h"

/* Appends s as the inside of a JSON string: quote, backslash and control characters escaped
 * (RFC 8259 7). Returns the new length, at most cap - 1; a value that does not fit is cut. */
static size_t put_json_string(char *out, size_t at, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && at + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[at++] = '\\';
            out[at++] = (char)ch;
        } else if (ch < 0x20) {
            memcpy(out + at, "\\u00", 4);
            out[at + 4] = hex[ch >> 4];
            out[at + 5] = hex[ch & 15];
            at += 6;
        } else {
            out[at++] = (char)ch;
        }
    }
    out[at] = '\0';
    return at;
}

static size_t put_raw(char *out, size_t at, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (at + n >= cap)
        n = at + 1 < cap ? cap - at - 1 : 0;
    memcpy(out + at, s, n);
    out[at + n] = '\0';
    return at + n;
}

/* The JSON body of an error answer into out->body. */
static void render_body(const struct gw_answer *a, int status, const char *request_id,
                        struct gw__answer_text *out)
{
    char *body = out->body;
    size_t bcap = sizeof out->body;
    char num[48];
    size_t n = put_raw(body, 0, bcap, "{\"error\":\"");
    n = put_json_string(body, n, bcap, gw_strerror(a->err));
    if (a->service) {
        n = put_raw(body, n, bcap, " for service ");
        n = put_json_string(body, n, bcap, a->service);
    }
    snprintf(num, sizeof num, "\",\"status\":%d,\"request_id\":\"", status);
    n = put_raw(body, n, bcap, num);
    n = put_json_string(body, n, bcap, request_id);
    n = put_raw(body, n, bcap, "\"");
    if (a->reason) {
        n = put_raw(body, n, bcap, ",\"reason\":\"");
        n = put_json_string(body, n, bcap, a->reason);
        n = put_raw(body, n, bcap, "\"");
    }
    /* Extra members go whole or not at all: half a member would not be JSON. */
    if (a->extra && n + 1 + strlen(a->extra) + 64 < bcap) { /* 64: retry_after and "}" */
        n = put_raw(body, n, bcap, ",");
        n = put_raw(body, n, bcap, a->extra);
    }
    if (a->retry_after && status == 429) {
        snprintf(num, sizeof num, ",\"retry_after\":%llu", (unsigned long long)a->retry_after);
        n = put_raw(body, n, bcap, num);
    }
    out->body_len = put_raw(body, n, bcap, "}");
}

void gw__answer_render(const struct gw_answer *a, const char *request_id,
                       struct gw__answer_text *out)
{
    char *headers = out->headers;
    size_t hcap = sizeof out->headers;
    char num[48];
    int status = a->status ? a->status : gw_err_http_status(a->err);

    if (a->empty) {
        out->body[0] = '\0';
        out->body_len = 0;
    } else {
        render_body(a, status, request_id, out);
    }
    /* A 503 always says when to come back (RFC 9110 10.2.3): a second unless told. */
    uint64_t retry = a->retry_after ? a->retry_after : (status == 503 ? 1 : 0);
    size_t h = 0;
    headers[0] = '\0';
    if (retry) {
        snprintf(num, sizeof num, "Retry-After: %llu\r\n", (unsigned long long)retry);
        h = put_raw(headers, h, hcap, num);
    }
    /* Header lines go whole or not at all: a line cut short would corrupt the head. */
    if (a->headers && strlen(a->headers) < hcap - h)
        h = put_raw(headers, h, hcap, a->headers);
    out->headers_len = h;
    out->status = status;
}

void gw__answer_render_grpc(const struct gw_answer *a, const char *request_id,
                            struct gw__answer_text *out)
{
    char msg[256], enc[300], num[64];
    int status = a->status ? a->status : gw_err_http_status(a->err);
    gw__answer_render(a, request_id, out); /* Retry-After and the extra header lines */
    snprintf(msg, sizeof msg, "%s%s%s", gw_strerror(a->err), a->service ? " for service " : "",
             a->service ? a->service : "");
    gw_grpc_message_encode(msg, enc, sizeof enc);
    char *h = out->headers;
    size_t hcap = sizeof out->headers;
    char rest[sizeof out->headers];
    memcpy(rest, h, out->headers_len + 1);
    snprintf(num, sizeof num, "%d", (int)gw_grpc_status_of_http(status));
    size_t n = put_raw(h, 0, hcap, "content-type: application/grpc\r\ngrpc-status: ");
    n = put_raw(h, n, hcap, num);
    n = put_raw(h, n, hcap, "\r\ngrpc-message: ");
    n = put_raw(h, n, hcap, enc);
    n = put_raw(h, n, hcap, "\r\n");
    /* The other lines go whole or not at all. */
    if (strlen(rest) < hcap - n)
        n = put_raw(h, n, hcap, rest);
    out->headers_len = n;
    out->body[0] = '\0';
    out->body_len = 0;
    out->status = status;
}

void gw__conn_answer(struct gw_conn *c, const struct gw_answer *a)
{
    struct gw_request *r = c->req;
    struct gw__answer_text t;
    char fresh_id[33];
    const char *id;
    if (r) {
        if (!r->id[0])
            gw_random_request_id(r->id);
        id = r->id;
    } else {
        gw_random_request_id(fresh_id); /* refused before any request: still traceable */
        id = fresh_id;
    }
    if (a->raw_headers) {
        gw__conn_respond_raw(c, a->status, a->raw_headers, a->body, a->body_len, a->close);
        return;
    }
    gw__answer_render(a, id, &t);
    gw__conn_respond(c, t.status, t.headers_len ? t.headers : NULL, t.body, t.body_len, a->close);
}

void gw__conn_error(struct gw_conn *c, int err, bool close_after)
{
    struct gw_answer a;
    gw_answer_init(&a, err);
    a.close = a.close || close_after;
    gw__conn_answer(c, &a);
}

void gw__request_answer(struct gw_request *r, const struct gw_answer *a)
{
    if (r->ds == &gw_conn_downstream)
        gw__conn_answer(gw_conn_of(r), a);
    else
        gw__h2_answer(r, a);
}

void gw__request_error(struct gw_request *r, int err, bool close_after)
{
    struct gw_answer a;
    gw_answer_init(&a, err);
    a.close = a.close || close_after;
    gw__request_answer(r, &a);
}

void gw__request_reply(struct gw_request *r, int status, const char *extra_headers,
                       const char *body, size_t body_len, bool close_after)
{
    if (r->ds == &gw_conn_downstream)
        gw__conn_respond(gw_conn_of(r), status, extra_headers, body, body_len, close_after);
    else
        gw__h2_reply(r, status, extra_headers, body, body_len, true);
}

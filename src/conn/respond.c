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

void gw__conn_answer(struct gw_conn *c, const struct gw_answer *a)
{
    struct gw_request *r = c->req;
    char body[1024], headers[768], num[48];
    char fresh_id[33];
    const char *id;
    int status = a->status ? a->status : gw_err_http_status(a->err);
    if (r) {
        if (!r->id[0])
            gw_random_request_id(r->id);
        id = r->id;
    } else {
        gw_random_request_id(fresh_id); /* refused before any request: still traceable */
        id = fresh_id;
    }

    size_t n = put_raw(body, 0, sizeof body, "{\"error\":\"");
    n = put_json_string(body, n, sizeof body, gw_strerror(a->err));
    if (a->service) {
        n = put_raw(body, n, sizeof body, " for service ");
        n = put_json_string(body, n, sizeof body, a->service);
    }
    snprintf(num, sizeof num, "\",\"status\":%d,\"request_id\":\"", status);
    n = put_raw(body, n, sizeof body, num);
    n = put_json_string(body, n, sizeof body, id);
    n = put_raw(body, n, sizeof body, "\"");
    if (a->reason) {
        n = put_raw(body, n, sizeof body, ",\"reason\":\"");
        n = put_json_string(body, n, sizeof body, a->reason);
        n = put_raw(body, n, sizeof body, "\"");
    }
    if (a->retry_after && status == 429) {
        snprintf(num, sizeof num, ",\"retry_after\":%llu", (unsigned long long)a->retry_after);
        n = put_raw(body, n, sizeof body, num);
    }
    n = put_raw(body, n, sizeof body, "}");

    /* A 503 always says when to come back (RFC 9110 10.2.3): a second unless told. */
    uint64_t retry = a->retry_after ? a->retry_after : (status == 503 ? 1 : 0);
    size_t h = 0;
    headers[0] = '\0';
    if (retry) {
        snprintf(num, sizeof num, "Retry-After: %llu\r\n", (unsigned long long)retry);
        h = put_raw(headers, h, sizeof headers, num);
    }
    if (a->headers)
        h = put_raw(headers, h, sizeof headers, a->headers);
    gw__conn_respond(c, status, h ? headers : NULL, body, n, a->close);
}

void gw__conn_error(struct gw_conn *c, int err, bool close_after)
{
    struct gw_answer a;
    gw_answer_init(&a, err);
    a.close = a.close || close_after;
    gw__conn_answer(c, &a);
}

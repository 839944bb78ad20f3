/*
 * OTLP/HTTP JSON encoding: see otlp.h. Attribute names follow the OpenTelemetry semantic
 * conventions for HTTP (http.request.method, url.path, http.response.status_code,
 * server.address, ...); gantry's own are under "gantry.". Written by hand into one buffer: an
 * export of a few hundred spans is a few hundred kilobytes, and building it as a tree of JSON
 * objects would cost the control thread an allocation per value.
 */
#include "trace/otlp.h"

#include <string.h>

#include "core/error.h"
#include "trace/context.h"
#include "trace/trace.h"

/* OTLP's Span.SpanKind and Status.StatusCode. */
enum { KIND_INTERNAL = 1, KIND_SERVER = 2, KIND_CLIENT = 3 };
enum { STATUS_ERROR = 2 };

struct out {
    struct gw_buf *b;
    int rc;
    bool first_attr;
};

static void lit(struct out *o, const char *s)
{
    o->rc |= gw_buf_append(o->b, s, strlen(s));
}

static void raw(struct out *o, const char *s, size_t n)
{
    o->rc |= gw_buf_append(o->b, s, n);
}

static void u64(struct out *o, uint64_t v)
{
    o->rc |= gw_buf_append_u64(o->b, v);
}

static void escaped(struct out *o, const char *s, size_t n)
{
    o->rc |= gw_buf_append_json_escaped(o->b, s, n);
}

static void hex_id(struct out *o, uint64_t id)
{
    char h[16];
    gw_span_id_hex(id, h);
    raw(o, h, 16);
}

static void attr_key(struct out *o, const char *key)
{
    lit(o, o->first_attr ? "{\"key\":\"" : ",{\"key\":\"");
    o->first_attr = false;
    escaped(o, key, strlen(key));
}

static void attr_str(struct out *o, const char *key, const char *s, size_t n)
{
    attr_key(o, key);
    lit(o, "\",\"value\":{\"stringValue\":\"");
    escaped(o, s, n);
    lit(o, "\"}}");
}

static void attr_cstr(struct out *o, const char *key, const char *s)
{
    attr_str(o, key, s, strlen(s));
}

static void attr_int(struct out *o, const char *key, uint64_t v)
{
    attr_key(o, key);
    lit(o, "\",\"value\":{\"intValue\":\"");
    u64(o, v);
    lit(o, "\"}}");
}

static void attr_rec(struct out *o, const struct gw_trace *t, const char *key,
                     struct gw_trace_str s)
{
    if (s.len)
        attr_str(o, key, t->strs + s.off, s.len);
}

/* error.type: low-cardinality, as the semantic conventions ask (a status code as text). */
static void attr_error(struct out *o, uint8_t error, uint16_t status)
{
    static const char *const names[] = {
        [GW_TRACE_ERR_CONNECT] = "connect_error",
        [GW_TRACE_ERR_TIMEOUT] = "timeout",
        [GW_TRACE_ERR_RESET] = "connection_reset",
        [GW_TRACE_ERR_INVALID] = "invalid_response",
        [GW_TRACE_ERR_ABORTED] = "aborted",
    };
    if ((error == GW_TRACE_ERR_STATUS || error == GW_TRACE_ERR_GATEWAY) && status) {
        char num[8];
        int n = 0;
        for (uint16_t v = status; v && n < 5; v /= 10)
            num[n++] = (char)('0' + v % 10);
        char txt[8];
        for (int i = 0; i < n; i++)
            txt[i] = num[n - 1 - i];
        attr_str(o, "error.type", txt, (size_t)n);
    } else if (error < sizeof names / sizeof names[0] && names[error]) {
        attr_cstr(o, "error.type", names[error]);
    } else {
        attr_cstr(o, "error.type", "_OTHER");
    }
}

static bool is_error(uint8_t error)
{
    return error != GW_TRACE_ERR_NONE && error != GW_TRACE_ERR_CANCELLED;
}

/* {"traceId":..,"spanId":..,"parentSpanId":..,"name":" -- the caller writes the name next. */
static void span_head(struct out *o, const struct gw_trace *t, uint64_t span, uint64_t parent)
{
    char tid[32];
    gw_trace_id_hex(&t->trace_id, tid);
    lit(o, "{\"traceId\":\"");
    raw(o, tid, 32);
    lit(o, "\",\"spanId\":\"");
    hex_id(o, span);
    if (parent) {
        lit(o, "\",\"parentSpanId\":\"");
        hex_id(o, parent);
    }
    lit(o, "\",\"name\":\"");
}

/* ","kind":K,"startTimeUnixNano":"..","endTimeUnixNano":"..","attributes":[ */
static void span_times(struct out *o, int kind, uint64_t start, uint64_t end, int64_t shift)
{
    if (end < start)
        end = start;
    lit(o, "\",\"kind\":");
    u64(o, (uint64_t)kind);
    lit(o, ",\"startTimeUnixNano\":\"");
    u64(o, (uint64_t)((int64_t)start + shift));
    lit(o, "\",\"endTimeUnixNano\":\"");
    u64(o, (uint64_t)((int64_t)end + shift));
    lit(o, "\",\"attributes\":[");
    o->first_attr = true;
}

static void span_end(struct out *o, bool error)
{
    lit(o, error ? "],\"status\":{\"code\":2}}" : "],\"status\":{}}");
}

static void server_span(struct out *o, const struct gw_trace *t, int64_t shift)
{
    span_head(o, t, t->span_id, t->parent_id);
    /* "{method} {http.route}" (semantic conventions): the route is the matched prefix. */
    escaped(o, t->strs + t->method.off, t->method.len);
    if (t->route.len) {
        lit(o, " ");
        escaped(o, t->strs + t->route.off, t->route.len);
    }
    if (t->tracestate_len) {
        /* traceState sits before "kind" in the same object: close the name first. */
        lit(o, "\",\"traceState\":\"");
        escaped(o, t->tracestate, t->tracestate_len);
    }
    span_times(o, KIND_SERVER, t->t_start, t->t_end, shift);
    attr_rec(o, t, "http.request.method", t->method);
    attr_rec(o, t, "url.path", t->path);
    attr_cstr(o, "url.scheme", "http");
    attr_rec(o, t, "server.address", t->server);
    if (t->server_port)
        attr_int(o, "server.port", t->server_port);
    attr_rec(o, t, "client.address", t->client);
    attr_cstr(o, "network.protocol.version", t->http_minor ? "1.1" : "1.0");
    attr_rec(o, t, "http.route", t->route);
    if (t->status)
        attr_int(o, "http.response.status_code", t->status);
    if (is_error(t->error))
        attr_error(o, t->error, t->status);
    attr_rec(o, t, "gantry.request_id", t->request_id);
    attr_rec(o, t, "gantry.service", t->service);
    attr_rec(o, t, "gantry.consumer", t->consumer);
    if (t->retries)
        attr_int(o, "gantry.retries", t->retries);
    const char *rl = gw_trace_rl_outcome_name(t->rl_outcome);
    if (rl)
        attr_cstr(o, "gantry.rate_limit", rl);
    if (t->lost)
        attr_int(o, "gantry.spans_lost", t->lost);
    span_end(o, is_error(t->error));
}

static void child_span(struct out *o, const struct gw_trace *t, const struct gw_trace_child *c,
                       int64_t shift)
{
    span_head(o, t, c->span_id, t->span_id);
    uint64_t end = c->t_end ? c->t_end : t->t_end;
    if (c->kind == GW_TRACE_STAGE) {
        lit(o, c->name ? c->name : "stage");
        span_times(o, KIND_INTERNAL, c->t_start, end, shift);
        attr_cstr(o, "gantry.stage", c->name ? c->name : "stage");
        if (c->error == GW_TRACE_ERR_CANCELLED)
            attr_cstr(o, "gantry.outcome", "cancelled");
        else
            attr_cstr(o, "gantry.outcome", c->status ? "answered" : "passed");
        if (c->status)
            attr_int(o, "http.response.status_code", c->status);
        if (is_error(c->error))
            attr_error(o, c->error, c->status);
        span_end(o, is_error(c->error));
        return;
    }
    /* An upstream try: "{method}" (semantic conventions for HTTP client spans). */
    escaped(o, t->strs + t->method.off, t->method.len);
    span_times(o, KIND_CLIENT, c->t_start, end, shift);
    attr_rec(o, t, "http.request.method", t->method);
    attr_rec(o, t, "server.address", c->addr);
    if (c->port)
        attr_int(o, "server.port", c->port);
    if (c->status)
        attr_int(o, "http.response.status_code", c->status);
    if (c->resend)
        attr_int(o, "http.request.resend_count", c->resend);
    if (c->error == GW_TRACE_ERR_CANCELLED)
        attr_cstr(o, "gantry.outcome", "cancelled");
    if (is_error(c->error))
        attr_error(o, c->error, c->status);
    span_end(o, is_error(c->error));
}

int gw_otlp_begin(struct gw_buf *b, const struct gw_otlp_resource *res)
{
    struct out o = {b, 0, true};
    lit(&o, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    attr_cstr(&o, "service.name", res->service_name);
    attr_cstr(&o, "service.version", res->service_version);
    attr_cstr(&o, "service.instance.id", res->instance_id);
    for (size_t i = 0; i < res->nextra; i++)
        attr_cstr(&o, res->extra[i].key, res->extra[i].value);
    lit(&o, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"gantry\",\"version\":\"");
    escaped(&o, res->service_version, strlen(res->service_version));
    lit(&o, "\"},\"spans\":[");
    return o.rc ? GW_ENOMEM : 0;
}

int gw_otlp_append(struct gw_buf *b, const struct gw_trace *t, int64_t mono_to_unix_ns,
                   bool first)
{
    struct out o = {b, 0, true};
    if (!first)
        lit(&o, ",");
    server_span(&o, t, mono_to_unix_ns);
    for (unsigned i = 0; i < t->nchild; i++) {
        lit(&o, ",");
        child_span(&o, t, &t->child[i], mono_to_unix_ns);
    }
    return o.rc ? GW_ENOMEM : 0;
}

int gw_otlp_end(struct gw_buf *b)
{
    return gw_buf_append_str(b, "]}]}]}") ? GW_ENOMEM : 0;
}

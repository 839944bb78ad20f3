/*
 * The response cache's revalidation (policy/internal.h): the conditional request for a stale
 * stored response and what a 304 makes of it (RFC 9111 4.3); the background refresh of
 * stale-while-revalidate (RFC 5861 3), a copy of the request the downstream runs with no client
 * (gw_downstream_ops.background); stale-if-error on the origin's own 5xx (RFC 5861 4).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cache/fresh.h"
#include "cache/key.h"
#include "cache/store.h"
#include "cache/vary.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "http1/names.h"
#include "policy/chain.h"
#include "policy/internal.h"
#include "runtime/worker-t.h"

/*
 * Adds If-None-Match / If-Modified-Since from the stored response o to the request going
 * upstream (RFC 9111 4.3.1), when o has a validator, the client sent no conditional of its own
 * (its 304 would not be ours to refresh with), no transformation takes the response body, and
 * the request's field list has room. 0 when started (the revalidation keeps o), else -1.
 */
int gw__cache_start_revalidation(struct cache_state *st, struct gw_request *r,
                                 struct gw_cache_obj *o)
{
    size_t elen = 0, llen = 0;
    const char *etag = gw__cache_stored_field(o->head, "etag", &elen);
    const char *lm = gw__cache_stored_field(o->head, "last-modified", &llen);
    struct gw_http1_message *msg = &r->msg;
    unsigned need = (etag != NULL) + (lm != NULL);
    if (need == 0 || st->req.has_conditional || st->reval != NULL ||
        (r->svc->stages & (1u << GW_STAGE_TRANSFORM)) ||
        msg->num_headers + need > msg->headers_capacity)
        return -1;
    st->reval = calloc(1, sizeof *st->reval);
    if (st->reval == NULL)
        return -1;
    st->reval->obj = o;
    if (etag) {
        struct gw_http1_header *h = &msg->headers[msg->num_headers++];
        *h = (struct gw_http1_header){
            .name = "If-None-Match", .name_len = 13, .value = etag, .value_len = (uint32_t)elen};
    }
    if (lm) {
        struct gw_http1_header *h = &msg->headers[msg->num_headers++];
        *h = (struct gw_http1_header){
            .name = "If-Modified-Since", .name_len = 17, .value = lm, .value_len = (uint32_t)llen};
    }
    return 0;
}

/* Writes "name: value\r\n" at p; its length. */
static size_t sprintf_field(char *p, const struct gw_http1_header *h)
{
    memcpy(p, h->name, h->name_len);
    memcpy(p + h->name_len, ": ", 2);
    memcpy(p + h->name_len + 2, h->value, h->value_len);
    memcpy(p + h->name_len + 2 + h->value_len, "\r\n", 2);
    return h->name_len + h->value_len + 4;
}

/* The stored body, for the client, after a 304 refreshed the stored response. */
static int reval_body(struct gw_request *r, struct gw_body_filter *f, struct gw_answer *a)
{
    struct cache_state *st = r->slot[GW_STAGE_CACHE];
    const struct gw_cache_obj *o = st->reval->obj;
    (void)a;
    gw_buf_free(&f->body);
    gw_buf_init(&f->body, o->body_len + 1);
    return o->body_len ? gw_buf_append(&f->body, o->body, o->body_len) : 0;
}

/* Splits NUL-terminated header lines into fields (pointing into head); how many, or -1. */
static long split_fields(char *head, struct gw_http1_header *h, size_t cap)
{
    size_t n = 0;
    char *line = head;
    while (*line) {
        char *eol = strstr(line, "\r\n");
        char *colon = eol ? memchr(line, ':', (size_t)(eol - line)) : NULL;
        if (colon == NULL || n == cap)
            return -1;
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        h[n++] = (struct gw_http1_header){.name = line,
                                          .name_len = (uint32_t)(colon - line),
                                          .value = v,
                                          .value_len = (uint32_t)(eol - v)};
        line = eol + 2;
    }
    return (long)n;
}

/*
 * A 304 answered the revalidation (RFC 9111 4.3.3, 4.3.4): the stored response's fields are
 * replaced by the 304's of the same name, it is stored again with its new freshness, and the
 * client (who asked without conditions) gets the stored response: status, merged fields, and
 * the stored body through a body filter.
 */
int gw__cache_refreshed(struct cache_state *st, struct gw_request *r, struct gw_http1_message *m)
{
    struct reval *rv = st->reval;
    const struct gw_cache_obj *o = rv->obj;
    const struct gw_config *cfg = r->snap->cfg;
    const char *status_header = cfg->cache.status_header ? cfg->cache.status_header : "";
    size_t bytes = strlen(o->head) + 1;
    /* A variant gantry compressed keeps its weak validator: the 304's describes the origin's
     * unencoded bytes (RFC 9110 8.8.3). */
    size_t cel = 0;
    bool coded = o->vary_names_len >= sizeof GW_VARY_CODING - 1 &&
                 memmem(o->vary_names, o->vary_names_len, GW_VARY_CODING,
                        sizeof GW_VARY_CODING - 1) != NULL &&
                 gw__cache_stored_field(o->head, "content-encoding", &cel) != NULL;
    for (uint32_t i = 0; i < m->num_headers; i++)
        bytes += m->headers[i].name_len + m->headers[i].value_len + 6; /* + "W/" */
    rv->merged = malloc(bytes);
    if (rv->merged == NULL)
        return GW_ENOMEM;
    char *p = rv->merged;
    size_t nlines = 0;
    const char *line = o->head;
    while (*line) { /* stored fields the 304 does not replace */
        const char *eol = strstr(line, "\r\n");
        const char *colon = eol ? memchr(line, ':', (size_t)(eol - line)) : NULL;
        if (colon == NULL)
            break;
        bool replaced = false;
        for (uint32_t i = 0; i < m->num_headers && !replaced; i++) {
            const struct gw_http1_header *h = &m->headers[i];
            replaced = gw__cache_stored_field_ok(h, status_header) &&
                       h->name_len == (size_t)(colon - line) &&
                       strncasecmp(h->name, line, h->name_len) == 0;
        }
        if (!replaced) {
            memcpy(p, line, (size_t)(eol + 2 - line));
            p += eol + 2 - line;
            nlines++;
        }
        line = eol + 2;
    }
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (!gw__cache_stored_field_ok(h, status_header))
            continue;
        if (coded && gw__cache_name_is(h, "etag") &&
            !(h->value_len >= 2 && h->value[0] == 'W' && h->value[1] == '/')) {
            memcpy(p, "ETag: W/", 8);
            memcpy(p + 8, h->value, h->value_len);
            memcpy(p + 8 + h->value_len, "\r\n", 2);
            p += 10 + h->value_len;
            nlines++;
            continue;
        }
        p += sprintf_field(p, h);
        nlines++;
    }
    *p = '\0';
    rv->fields = malloc((nlines + 1) * sizeof *rv->fields);
    if (rv->fields == NULL)
        return GW_ENOMEM;
    long n = split_fields(rv->merged, rv->fields, nlines + 1);
    if (n < 0)
        return GW_EUPGARBAGE;
    int64_t now = (int64_t)time(NULL);
    struct gw_http1_message mm = {
        .headers = rv->fields, .headers_capacity = (uint32_t)n, .num_headers = (uint32_t)n};
    mm.status = o->status;
    struct gw_cache_resp_info info;
    gw_cache_resp_info_read(&info, &mm, now);
    const struct gw_cache_svc_conf *c = &r->svc->conf->cache;
    struct gw_cache_fresh_conf fc = {
        .heuristic_percent = c->heuristic_percent,
        .heuristic_max = (int64_t)(cfg->cache.heuristic_max_ms / 1000),
        .default_ttl = (int64_t)(st->ttl_ms / 1000),
        .allow_set_cookie = c->store_set_cookie,
    };
    st->age = gw_cache_initial_age(&info, st->request_time, now); /* its Age (RFC 9111 5.1) */
    if (gw_cache_storable(GW_METHOD_GET, &st->req, &info, &fc, now) == GW_CACHE_STORE_OK) {
        char *body = o->body_len ? malloc(o->body_len) : NULL;
        if (o->body_len && body == NULL)
            return GW_ENOMEM;
        if (body)
            memcpy(body, o->body, o->body_len);
        struct gw_cache_obj_init in = {
            .key = o->key,
            .key_len = o->key_len,
            .vary_names = o->vary_names,
            .vary_names_len = o->vary_names_len,
            .vary_sig = o->vary_sig,
            .vary_sig_len = o->vary_sig_len,
            .head = rv->merged,
            .head_len = (size_t)(p - rv->merged) + 1,
            .tags = o->tags,
            .tags_len = o->tags_len,
            .body = body,
            .body_len = o->body_len,
            .status = o->status,
            .cc = info.cc,
            .lifetime = gw_cache_freshness_lifetime(&info, &fc, now),
            .initial_age = st->age,
            .response_time = now,
        };
        struct gw_cache_obj *fresh = gw_cache_obj_new(&in);
        if (fresh != NULL && gw__cache_insert(st, r, fresh) == 0)
            st->stored = true;
        gw_cache_obj_release(fresh);
    }
    gw__cache_end_fill(st);
    st->xc = XC_REVALIDATED;
    /* The client's answer: the stored response, refreshed. */
    m->status = o->status;
    const char *reason = gw_http_reason(o->status);
    m->reason = reason ? reason : "";
    m->reason_len = (uint32_t)strlen(m->reason);
    m->headers = rv->fields;
    m->num_headers = (uint32_t)n;
    m->headers_capacity = (uint32_t)n;
    rv->filter.max = o->body_len + 1;
    rv->filter.done = reval_body;
    r->resp_filter = &rv->filter;
    return 0;
}

/* ---- stale-while-revalidate: the refresh behind ------------------------------------------- */

/* The longest a refresh keeps its key's fill when collapsed misses are off (collapse_timeout
 * 0): past it another stale answer may start a new one. */
#define REFRESH_MAX_MS 30000u

bool gw__cache_refresh_behind(struct cache_state *st, struct gw_request *r, const char *key,
                              size_t key_len)
{
    if (r->msg.method_id == GW_METHOD_HEAD)
        return true; /* a HEAD stores nothing: answered stale, a GET starts the refresh */
    /* A transformation's response filter would not run for the copy, which would then store
     * what no client gets: those services revalidate in the foreground. */
    if (r->ds->background == NULL || r->msg.method_id != GW_METHOD_GET ||
        (r->svc->stages & (1u << GW_STAGE_TRANSFORM)) || (st->req.cc.flags & GW_CC_NO_STORE))
        return false;
    uint64_t max_ms = r->snap->cfg->cache.collapse_ms;
    if (max_ms == 0)
        max_ms = REFRESH_MAX_MS;
    /* One refresh per key, whichever worker's request saw it stale first. */
    char mark[GW_CACHE_KEY_MAX + GW_CACHE_REFRESH_MARK];
    size_t n = gw__cache_refresh_key(key, key_len, mark);
    if (!gw_cache_store_fill_begin(st->store, mark, n, uv_now(&r->w->loop), max_ms))
        return true; /* in flight */
    if (r->ds->background(r) == 0)
        return true;
    gw_cache_store_fill_end(st->store, mark, n);
    return false;
}

size_t gw__cache_refresh_key(const char *key, size_t len, char *out)
{
    memcpy(out, key, len);
    memcpy(out + len, "\0SWR", GW_CACHE_REFRESH_MARK);
    return len + GW_CACHE_REFRESH_MARK;
}

void gw__cache_refresh_prepare(struct gw_request *r)
{
    /* The refresh asks for the whole response: the client's validators and ranges were for
     * its own answer, which it already has. Its Cache-Control and Authorization stay. */
    static const char *const drop[] = {"if-none-match",       "if-modified-since", "if-match",
                                       "if-unmodified-since", "if-range",          "range"};
    struct gw_http1_message *m = &r->msg;
    uint32_t out = 0;
    int host = -1;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        bool dropped = false;
        for (size_t k = 0; k < sizeof drop / sizeof drop[0] && !dropped; k++)
            dropped = gw__cache_name_is(&m->headers[i], drop[k]);
        if (dropped)
            continue;
        if ((int)i == m->host_index)
            host = (int)out;
        m->headers[out++] = m->headers[i];
    }
    m->num_headers = out;
    m->host_index = host;
    m->origin_index = gw_http1_origin_index(m);
}

/* ---- stale-if-error on the origin's own errors ------------------------------------------- */

bool gw__cache_error_status(int status)
{
    return status == 500 || status == 502 || status == 503 || status == 504;
}

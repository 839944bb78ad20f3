/*
 * The admin API's observing endpoints (admin/admin.h): the response cache (stats and purge),
 * the metrics in their forms (Prometheus text, JSON, performance, health score, history) and
 * the audit log's query. Split from admin_api.c, which keeps the config, status, health and
 * circuit endpoints and the dispatch table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin/admin.h"
#include "audit/audit.h"
#include "cache/store.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/hex.h"
#include "http1/accept.h"
#include "metrics/metrics.h"
#include "observe/history.h"
#include "observe/observe.h"
#include "policy/cache_redis.h"
#include "policy/policy.h"
#include "runtime/server.h"
#include "runtime/worker-t.h"

/* ---- the response cache (cache/store.h, docs/cache.md) ----------------------------------------
 */

void gw__admin_get_cache(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs)
{
    (void)rq;
    struct gw_cache_store *store = s->policy ? s->policy->cache_store : NULL;
    if (store == NULL) {
        gw__admin_json(rs, 200, json_pack("{s:b}", "enabled", 0));
        return;
    }
    struct gw_cache_store_stats st;
    gw_cache_store_stats(store, &st);
    json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "enabled", 1, "objects",
                          (json_int_t)st.objects, "bytes", (json_int_t)st.bytes, "max_bytes",
                          (json_int_t)gw_cache_store_max_bytes(store), "inserts",
                          (json_int_t)st.inserts, "evictions", (json_int_t)st.evictions, "purged",
                          (json_int_t)st.purged, "fills", (json_int_t)st.fills);
    if (o != NULL && s->cache_redis != NULL) {
        struct gw_cache_redis_stats rst;
        gw_cache_redis_stats(&rst);
        json_object_set_new(o, "redis",
                            json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "up",
                                      rst.up == rst.clients, "clients", (json_int_t)rst.clients,
                                      "clients_up", (json_int_t)rst.up, "clients_down",
                                      (json_int_t)rst.down, "errors", (json_int_t)rst.errors,
                                      "lookups", (json_int_t)rst.lookups, "found",
                                      (json_int_t)rst.found, "stores", (json_int_t)rst.stores));
    }
    if (o != NULL && gw_observe_cache_json(s, o) < 0) {
        json_decref(o);
        o = NULL;
    }
    gw__admin_json(rs, 200, o);
}

/* A URL as the cache's key starts: "host[:port]/path[?query]", host lower-cased; a leading
 * "http://" or "https://" is dropped. Into out (cap bytes); its length, or -1. */
static long purge_url(const char *u, char *out, size_t cap)
{
    if (strncasecmp(u, "http://", 7) == 0)
        u += 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        u += 8;
    size_t n = strlen(u);
    if (n == 0 || n >= cap)
        return -1;
    const char *slash = strchr(u, '/');
    size_t host = slash ? (size_t)(slash - u) : n;
    for (size_t i = 0; i < n; i++)
        out[i] = i < host && u[i] >= 'A' && u[i] <= 'Z' ? (char)(u[i] | 0x20) : u[i];
    return (long)n;
}

struct redis_purge {
    struct gw__admin_later *later;
    uint64_t local; /* what the in-process store purged */
};

static void on_redis_purged(void *arg, int status, uint64_t purged)
{
    struct redis_purge *p = arg;
    struct gw__admin_resp rs = {0};
    if (status == 0)
        gw__admin_json(&rs, 200,
                       json_pack("{s:I, s:I}", "purged", (json_int_t)(p->local + purged),
                                 "redis_purged", (json_int_t)purged));
    else
        gw__admin_error(&rs, 503, "the cache's Redis did not answer (%s): nothing purged there",
                        gw_strerror(status));
    gw__admin_later_answer(p->later, &rs);
    free(p);
}

/* The Redis backend's part of a purge: the answer waits for Redis (bounded: the purge's
 * timeout), and says 503 when Redis cannot purge, since instances would go on serving. */
static void purge_redis(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs, enum gw_cache_purge_mode mode, const char *v,
                        size_t vlen, size_t local)
{
    struct redis_purge *p = malloc(sizeof *p);
    if (p == NULL) {
        gw__admin_error(rs, 500, "out of memory");
        return;
    }
    p->local = local;
    p->later = gw__admin_defer(rq, rs);
    if (p->later == NULL) {
        free(p);
        gw__admin_error(rs, 500, "out of memory");
        return;
    }
    int rc = gw_cache_redis_purge(s->cache_redis, mode, v, vlen, on_redis_purged, p);
    if (rc < 0)
        on_redis_purged(p, rc, 0);
}

/* POST /api/cache/purge {"url": ...} | {"prefix": ...} | {"tag": ...} | {"all": true} */
void gw__admin_post_cache_purge(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs)
{
    struct gw_cache_store *store = s->policy ? s->policy->cache_store : NULL;
    json_error_t err;
    json_t *body = json_loadb(rq->body, rq->body_len, 0, &err);
    if (!json_is_object(body) || json_object_size(body) != 1) {
        json_decref(body);
        gw__admin_error(rs, 400,
                        "expected one of {\"url\": ...}, {\"prefix\": ...}, {\"tag\": ...}, "
                        "{\"all\": true}");
        return;
    }
    const char *url = json_string_value(json_object_get(body, "url"));
    const char *prefix = json_string_value(json_object_get(body, "prefix"));
    const char *tag = json_string_value(json_object_get(body, "tag"));
    bool all = json_is_true(json_object_get(body, "all"));
    size_t n = 0;
    char buf[4096];
    long len = 0;
    if (url || prefix) {
        len = purge_url(url ? url : prefix, buf, sizeof buf);
        if (len < 0) {
            json_decref(body);
            gw__admin_error(rs, 400, "expected a URL such as \"example.com/path?query\"");
            return;
        }
    }
    if (!url && !prefix && !(tag && tag[0]) && !all) {
        json_decref(body);
        gw__admin_error(rs, 400,
                        "expected one of {\"url\": ...}, {\"prefix\": ...}, {\"tag\": ...}, "
                        "{\"all\": true}");
        return;
    }
    if (store != NULL) {
        if (url)
            n = gw_cache_store_purge_url(store, buf, (size_t)len, false);
        else if (prefix)
            n = gw_cache_store_purge_url(store, buf, (size_t)len, true);
        else if (tag)
            n = gw_cache_store_purge_tag(store, tag, strlen(tag));
        else
            n = gw_cache_store_clear(store);
    }
    char object[160];
    snprintf(object, sizeof object, "cache:%s",
             url      ? "url"
             : prefix ? "prefix"
             : tag    ? "tag"
                      : "all");
    gw__admin_audit_event("cache.purge", object,
                          json_pack("{s:s?, s:s?, s:s?, s:I}", "url", url, "prefix", prefix, "tag",
                                    tag, "purged", (json_int_t)n),
                          200);
    if (s->cache_redis != NULL) { /* the Redis backend: every instance's entries */
        enum gw_cache_purge_mode mode = url      ? GW_CACHE_PURGE_URL
                                        : prefix ? GW_CACHE_PURGE_PREFIX
                                        : tag    ? GW_CACHE_PURGE_TAG
                                                 : GW_CACHE_PURGE_ALL;
        const char *v = url || prefix ? buf : tag;
        size_t vlen = url || prefix ? (size_t)len : tag ? strlen(tag) : 0;
        purge_redis(s, rq, rs, mode, v, vlen, n);
        json_decref(body);
        return;
    }
    json_decref(body);
    gw__admin_json(rs, 200, json_pack("{s:I}", "purged", (json_int_t)n));
}

/* ---- metrics (observe/observe.h) ---------------------------------------------------------------
 */

static void prometheus_text(struct gw_server *s, struct gw__admin_resp *rs)
{
    gw_buf_init(&rs->text, (size_t)1 << 30);
    if (gw_observe_prometheus(s, &rs->text) < 0) {
        gw_buf_free(&rs->text);
        gw__admin_error(rs, 500, "out of memory");
        return;
    }
    rs->status = 200;
    rs->content_type = GW_OBSERVE_PROMETHEUS_TYPE;
}

/* The format the request's Accept prefers (http1/accept.h): Prometheus text unless JSON is
 * preferred, also when the client accepts neither (the exposition is what a scraper gets). */
static bool wants_json(const struct gw__admin_req *rq)
{
    static const char *const offered[] = {"text/plain", "application/json"};
    return rq->msg != NULL && gw_accept_choose(rq->msg, offered, 2) == 1;
}

void gw__admin_get_metrics(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs)
{
    if (wants_json(rq))
        gw__admin_json(rs, 200, gw_observe_json(s));
    else
        prometheus_text(s, rs);
    snprintf(rs->headers, sizeof rs->headers, "Vary: Accept\r\n"); /* the format depends on it */
}

void gw__admin_get_metrics_prometheus(struct gw_server *s, const struct gw__admin_req *rq,
                                      struct gw__admin_resp *rs)
{
    (void)rq;
    prometheus_text(s, rs);
}

void gw__admin_get_metrics_json(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs)
{
    (void)rq;
    gw__admin_json(rs, 200, gw_observe_json(s));
}

void gw__admin_get_metrics_performance(struct gw_server *s, const struct gw__admin_req *rq,
                                       struct gw__admin_resp *rs)
{
    (void)rq;
    gw_buf_init(&rs->text, (size_t)64 << 20);
    if (gw_observe_performance(s, &rs->text) < 0) {
        gw_buf_free(&rs->text);
        gw__admin_error(rs, 500, "out of memory");
        return;
    }
    rs->status = 200;
    rs->content_type = "text/plain; charset=utf-8";
}

void gw__admin_get_metrics_history(struct gw_server *s, const struct gw__admin_req *rq,
                                   struct gw__admin_resp *rs)
{
    (void)rq;
    gw__admin_json(rs, 200, gw_observe_history_json(s));
}

void gw__admin_get_health_score(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs)
{
    (void)rq;
    gw__admin_json(rs, 200, gw_observe_health_score(s));
}

/* ---- the audit log (audit/audit.h) ----------------------------------------------------------- */

/* The answer of a query over PostgreSQL (see get_audit). */
static void on_audit_rows(void *arg, int rc, json_t *out, const char *why)
{
    struct gw__admin_resp rs = {0};
    if (rc == 0)
        gw__admin_json(&rs, 200, out);
    else if (rc == GW_ENOMEM)
        gw__admin_error(&rs, 500, "out of memory");
    else
        gw__admin_error(&rs, 503, "%s", why);
    gw__admin_later_answer(arg, &rs);
}

void gw__admin_get_audit(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs)
{
    (void)s;
    struct gw_audit_filter f;
    char why[256] = "";
    if (gw_audit_filter_parse(rq->query.p, rq->query.n, &f, why, sizeof why) < 0) {
        gw__admin_error(rs, 400, "%s", why);
        return;
    }
    json_t *out = NULL;
    int rc = gw_audit_query(&f, &out, why, sizeof why);
    if (rc == 1) { /* PostgreSQL is the only store: its answer comes later */
        struct gw__admin_later *l = gw__admin_defer(rq, rs);
        if (l == NULL) {
            gw__admin_error(rs, 500, "out of memory");
            return;
        }
        rc = gw_audit_query_async(&f, on_audit_rows, l, why, sizeof why);
        if (rc < 0)
            on_audit_rows(l, rc, NULL, why);
        return;
    }
    if (rc == GW_ENOMEM) {
        gw__admin_error(rs, 500, "out of memory");
        return;
    }
    if (rc < 0) {
        gw__admin_error(rs, 404, "%s", why);
        return;
    }
    gw__admin_json(rs, 200, out);
}

/*
 * The admin API's endpoints: one table of (method, path pattern, handler), and the read-only
 * handlers (services, routes, status, health, circuit breakers) plus config reload and circuit
 * reset. The handlers that change services and targets live in admin_mutate.c. Adding an
 * endpoint is one row here.
 */
#include "admin/admin.h"

#include "audit/audit.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "balance/balancer.h"
#include "cache/store.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/hex.h"
#include "metrics/metrics.h"
#include "observe/history.h"
#include "observe/observe.h"
#include "policy/policy.h"
#include "policy/version.h"
#include "runtime/server.h"
#include "runtime/worker-t.h"
#include "state/ratelimit_redis.h"
#include "trace/exporter.h"
#include "upstream/breaker.h"
#include "upstream/target_state.h"

#include "core/version.h"
#include "http1/names.h"

/* ---- path patterns and queries --------------------------------------------------------------- */

bool gw__admin_match(const char *pattern, const char *path, size_t len,
                     struct gw__admin_slice *params, size_t max_params, size_t *nparams)
{
    size_t np = 0;
    if (len > 1 && path[len - 1] == '/')
        len--;
    const char *p = pattern;
    size_t i = 0;
    while (*p) {
        if (*p != '/' || i >= len || path[i] != '/')
            return false;
        p++;
        i++;
        const char *pend = strchr(p, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        const char *seg = path + i;
        const char *send = memchr(seg, '/', len - i);
        size_t slen = send ? (size_t)(send - seg) : len - i;
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || np >= max_params)
                return false;
            params[np].p = seg;
            params[np].n = slen;
            np++;
        } else if (plen != slen || memcmp(p, seg, plen) != 0) {
            return false;
        }
        p += plen;
        i += slen;
    }
    if (i != len)
        return false;
    *nparams = np;
    return true;
}

long gw__admin_query_get(const char *query, size_t len, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    size_t i = 0;
    while (i <= len) {
        const char *amp = memchr(query + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - query) : len;
        const char *eq = memchr(query + i, '=', end - i);
        size_t name_end = eq ? (size_t)(eq - query) : end;
        if (name_end - i == klen && memcmp(query + i, key, klen) == 0) {
            size_t o = 0;
            for (size_t j = eq ? name_end + 1 : end; j < end; j++) {
                char c = query[j];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi = j + 2 < end ? gw_hex_digit((unsigned char)query[j + 1]) : -1;
                    int lo = j + 2 < end ? gw_hex_digit((unsigned char)query[j + 2]) : -1;
                    if (hi < 0 || lo < 0)
                        return -1;
                    c = (char)(hi * 16 + lo);
                    j += 2;
                }
                if (c == '\0' || o + 1 >= cap)
                    return -1;
                out[o++] = c;
            }
            if (cap == 0)
                return -1;
            out[o] = '\0';
            return (long)o;
        }
        if (amp == NULL)
            break;
        i = end + 1;
    }
    return -1;
}

/* ---- JSON views of the running config -------------------------------------------------------- */

/* An array of method names, or NULL for "any" (mask 0). */
static json_t *methods_json(uint32_t mask)
{
    if (mask == 0)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; a && i < sizeof gw_http_listed_methods / sizeof gw_http_listed_methods[0];
         i++) {
        enum gw_http_method m = gw_http_listed_methods[i];
        if (mask & (1u << m))
            json_array_append_new(a, json_string(gw_http_method_name(m)));
    }
    return a;
}

json_t *gw__admin_service_doc(const struct gw_config *cfg, size_t i)
{
    json_t *svc =
        cfg && cfg->source ? json_array_get(json_object_get(cfg->source, "services"), i) : NULL;
    return json_is_object(svc) ? json_deep_copy(svc) : NULL;
}

static const struct gw_config *running_config(struct gw_server *s)
{
    struct gw_snapshot *snap = gw_server_snapshot(s);
    return snap ? snap->cfg : NULL;
}

/* Index of the service named name in cfg, or -1. */
static long find_service(const struct gw_config *cfg, const struct gw__admin_slice *name)
{
    for (size_t i = 0; cfg && i < cfg->nservices; i++) {
        const char *n = cfg->services[i].name;
        if (strlen(n) == name->n && memcmp(n, name->p, name->n) == 0)
            return (long)i;
    }
    return -1;
}

json_t *gw__admin_config_errors_json(const struct gw_config_errors *errs, bool positions)
{
    json_t *a = json_array();
    for (size_t i = 0; a && errs && i < errs->count; i++) {
        const struct gw_config_error *e = &errs->items[i];
        json_t *o = json_pack("{s:s, s:s}", "path", e->path ? e->path : "", "message",
                              e->message ? e->message : "");
        if (o && positions) {
            json_object_set_new(o, "file", json_string(e->file ? e->file : ""));
            json_object_set_new(o, "line", json_integer(e->line));
            json_object_set_new(o, "column", json_integer(e->column));
        }
        json_array_append_new(a, o);
    }
    return a;
}

/* ---- read-only endpoints --------------------------------------------------------------------- */

static void list_services(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    (void)rq;
    const struct gw_config *cfg = running_config(s);
    json_t *a = json_array();
    for (size_t i = 0; a && cfg && i < cfg->nservices; i++)
        json_array_append_new(a, gw__admin_service_doc(cfg, i));
    gw__admin_json(rs, 200, json_pack("{s:o}", "services", a));
}

static void get_service(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs)
{
    const struct gw_config *cfg = running_config(s);
    long i = find_service(cfg, &rq->params[0]);
    if (i < 0) {
        gw__admin_error(rs, 404, "no service named \"%.*s\"", (int)rq->params[0].n,
                        rq->params[0].p);
        return;
    }
    gw__admin_json(rs, 200, gw__admin_service_doc(cfg, (size_t)i));
}

struct route_row {
    const char *host; /* NULL: any host */
    const char *prefix;
    uint32_t methods;
    const struct gw_service_conf *svc;
    const char *version; /* the API version of the route (docs/versioning.md), or NULL */
    char *path;          /* a version path route ("/v2/api/users"), owned; else NULL */
};

static int host_class(const char *h)
{
    return h == NULL ? 2 : h[0] == '*' ? 1 : 0;
}

/* The router's order: exact hosts, wildcards (longest suffix first), any host; within a host,
 * the longest prefix first. */
static int route_cmp(const void *x, const void *y)
{
    const struct route_row *a = x;
    const struct route_row *b = y;
    int ca = host_class(a->host);
    int cb = host_class(b->host);
    if (ca != cb)
        return ca - cb;
    if (ca == 1 && strlen(a->host) != strlen(b->host))
        return strlen(a->host) > strlen(b->host) ? -1 : 1;
    if (ca != 2) {
        int c = strcmp(a->host, b->host);
        if (c)
            return c;
    }
    size_t la = strlen(a->prefix);
    size_t lb = strlen(b->prefix);
    if (la != lb)
        return la > lb ? -1 : 1;
    int c = strcmp(a->prefix, b->prefix);
    if (c)
        return c;
    return a->methods < b->methods ? -1 : a->methods > b->methods;
}

static bool is_service_prefix(const struct gw_service_conf *svc, const char *p)
{
    for (size_t i = 0; i < svc->nprefixes; i++)
        if (strcmp(svc->prefixes[i], p) == 0)
            return true;
    return false;
}

static void free_rows(struct route_row *rows, size_t k, struct gw_version_path **vp, size_t *nvp,
                      size_t nsvc)
{
    for (size_t i = 0; rows && i < k; i++)
        free(rows[i].path);
    free(rows);
    for (size_t i = 0; vp && nvp && i < nsvc; i++)
        gw_version_paths_free(vp[i], nvp[i]);
    free(vp);
    free(nvp);
}

static void get_routing(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs)
{
    (void)rq;
    const struct gw_config *cfg = running_config(s);
    size_t n = 0;
    size_t nsvc = cfg ? cfg->nservices : 0;
    struct gw_version_path **vp = calloc(nsvc + 1, sizeof *vp);
    size_t *nvp = calloc(nsvc + 1, sizeof *nvp);
    bool oom = vp == NULL || nvp == NULL;
    for (size_t i = 0; !oom && i < nsvc; i++) {
        const struct gw_service_conf *svc = &cfg->services[i];
        size_t per = svc->version && cfg->versioning.path ? 2 : 1;
        oom = gw_version_paths(cfg, svc, &vp[i], &nvp[i]) < 0;
        n += (per * svc->nprefixes + nvp[i]) * (svc->nhosts ? svc->nhosts : 1);
    }
    struct route_row *rows = oom ? NULL : calloc(n ? n : 1, sizeof *rows);
    json_t *routes = json_array();
    size_t k = 0;
    if (rows == NULL || routes == NULL)
        goto fail;
    for (size_t i = 0; i < nsvc; i++) {
        const struct gw_service_conf *svc = &cfg->services[i];
        /* As the router is built (snapshot.c): a service that allows GET allows HEAD; a
         * versioned service has its path route "/v2<prefix>" too, a version rule its own. */
        uint32_t m = svc->methods;
        if (m & (1u << GW_METHOD_GET))
            m |= 1u << GW_METHOD_HEAD;
        size_t nh = svc->nhosts ? svc->nhosts : 1;
        for (size_t p = 0; p < svc->nprefixes; p++) {
            char *path = NULL;
            if (svc->version && cfg->versioning.path) {
                const char *pre = strcmp(svc->prefixes[p], "/") == 0 ? "" : svc->prefixes[p];
                size_t len =
                    strlen(cfg->versioning.path_prefix) + strlen(svc->version) + strlen(pre) + 2;
                for (size_t h = 0; h < nh && (path = malloc(len)) != NULL; h++) {
                    snprintf(path, len, "/%s%s%s", cfg->versioning.path_prefix, svc->version, pre);
                    rows[k++] = (struct route_row){
                        svc->nhosts ? svc->hosts[h] : NULL, path, m, svc, svc->version, path};
                }
                if (path == NULL)
                    goto fail;
            }
            for (size_t h = 0; h < nh; h++)
                rows[k++] = (struct route_row){svc->nhosts ? svc->hosts[h] : NULL,
                                               svc->prefixes[p],
                                               m,
                                               svc,
                                               svc->version,
                                               NULL};
        }
        for (size_t p = 0; p < nvp[i]; p++)
            for (size_t h = 0; h < nh; h++)
                rows[k++] = (struct route_row){svc->nhosts ? svc->hosts[h] : NULL,
                                               vp[i][p].path,
                                               vp[i][p].methods,
                                               svc,
                                               vp[i][p].version,
                                               NULL};
    }
    qsort(rows, k, sizeof *rows, route_cmp);
    for (size_t i = 0; i < k; i++) {
        json_t *m = methods_json(rows[i].methods);
        if (m == NULL)
            m = json_pack("[s]", "*");
        json_t *row =
            json_pack("{s:s, s:s, s:o, s:s, s:b}", "host", rows[i].host ? rows[i].host : "*",
                      "prefix", rows[i].prefix, "methods", m, "service", rows[i].svc->name,
                      "strip_prefix", rows[i].svc->strip_prefix);
        /* "version": the API version the route serves; "version_in_path": routed by a path
         * segment ("/v2/..."), which names the version */
        if (row != NULL && rows[i].version != NULL) {
            json_object_set_new(row, "version", json_string(rows[i].version));
            json_object_set_new(row, "version_in_path",
                                json_boolean(!is_service_prefix(rows[i].svc, rows[i].prefix)));
        }
        json_array_append_new(routes, row);
    }
    free_rows(rows, k, vp, nvp, nsvc);
    gw__admin_json(
        rs, 200,
        json_pack("{s:I, s:o}", "generation", (json_int_t)s->generation, "routes", routes));
    return;
fail:
    free_rows(rows, k, vp, nvp, nsvc);
    json_decref(routes);
    gw__admin_error(rs, 500, "out of memory");
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Rate-limit counters and the Redis backend's state, for /gateway/status. */
static json_t *policy_status(struct gw_server *s, struct gw_snapshot *snap)
{
    struct gw_policy_shared *ps = s->policy;
    if (ps == NULL || snap == NULL)
        return json_null();
    const struct gw_config *cfg = snap->cfg;
    json_t *o = json_pack("{s:s, s:I, s:I}", "backend",
                          cfg->rate_limit.backend == GW_RL_BACKEND_REDIS ? "redis" : "local",
                          "allowed", (json_int_t)atomic_load(&ps->rl_allowed), "limited",
                          (json_int_t)atomic_load(&ps->rl_limited));
    if (o && cfg->rate_limit.backend == GW_RL_BACKEND_REDIS && ps->redis) {
        struct gw_rl_redis_metrics m;
        gw_rl_redis_shared_metrics(ps->redis, &m);
        static const char *const policies[] = {"fail_open", "fail_closed", "local"};
        json_object_set_new(
            o, "redis",
            json_pack(
                "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I}", "up",
                m.up, "clients", (json_int_t)m.clients, "clients_up", (json_int_t)m.clients_up,
                "decisions", (json_int_t)m.decisions, "local_decisions", (json_int_t)m.local,
                "calls", (json_int_t)m.calls, "errors", (json_int_t)m.errors, "timeouts",
                (json_int_t)m.timeouts, "unavailable", (json_int_t)m.unavailable, "state_changes",
                (json_int_t)m.state_changes, "noscript_reloads", (json_int_t)m.noscript_reloads,
                "failure_policy", policies[cfg->rate_limit.redis.on_failure], "fallbacks",
                (json_int_t)atomic_load(&ps->rl_redis_fallbacks), "failed_closed",
                (json_int_t)atomic_load(&ps->rl_redis_failed_closed)));
    }
    return o ? o : json_null();
}

/* The proxy listener's accept failures (running out of file descriptors), every worker's. */
static json_t *accept_status(struct gw_accept_stats *st)
{
    json_t *o =
        json_pack("{s:I, s:I, s:I, s:i}", "errors", (json_int_t)atomic_load(&st->errors), "refused",
                  (json_int_t)atomic_load(&st->refused), "pauses",
                  (json_int_t)atomic_load(&st->pauses), "paused", (int)atomic_load(&st->paused));
    return o ? o : json_null();
}

static json_t *auth_status(struct gw_server *s)
{
    struct gw_policy_shared *ps = s->policy;
    if (ps == NULL)
        return json_null();
    json_t *o = json_pack("{s:I, s:I, s:I}", "authenticated", (json_int_t)atomic_load(&ps->auth_ok),
                          "failed", (json_int_t)atomic_load(&ps->auth_failed), "forbidden",
                          (json_int_t)atomic_load(&ps->auth_forbidden));
    return o ? o : json_null();
}

/* The trace exporter's counters (in spans), for /gateway/status; null when tracing is off. */
static json_t *tracing_status(struct gw_server *s, struct gw_snapshot *snap)
{
    if (snap == NULL || !snap->cfg->tracing.enabled)
        return json_null();
    struct gw_tracer_stats st;
    gw_tracer_stats(s->tracer, &st);
    json_t *o = json_pack(
        "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "exporting", st.exporting, "exported",
        (json_int_t)st.exported, "failed", (json_int_t)st.failed, "dropped", (json_int_t)st.dropped,
        "queued", (json_int_t)st.queued, "pending", (json_int_t)st.pending, "exports_ok",
        (json_int_t)st.exports_ok, "exports_failed", (json_int_t)st.exports_failed,
        "exports_retried", (json_int_t)st.exports_retried, "last_error", st.last_error);
    return o ? o : json_null();
}

/* ---- target states --------------------------------------------------------------------------- */

static uint64_t circuit_now(struct gw_server *s);

/* A time of the loops' monotonic clock (ms) as an RFC 3339 UTC timestamp with milliseconds
 * ("2026-12-06T10:15:30.123Z"), placed on the wall clock by its distance from now. null for 0
 * (never). */
static json_t *timestamp_json(uint64_t t, uint64_t mono_now, uint64_t wall_now)
{
    if (t == 0)
        return json_null();
    uint64_t ago = mono_now > t ? mono_now - t : 0;
    uint64_t w = wall_now > ago ? wall_now - ago : 0;
    time_t sec = (time_t)(w / 1000);
    struct tm tm;
    char buf[48];
    if (gmtime_r(&sec, &tm) == NULL)
        return json_null();
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03uZ", (unsigned)(w % 1000));
    return json_string(buf);
}

/* What a target's state is for the status pages, and since when (monotonic ms; 0: unknown):
 * "down" (active health checks), "ejected" (outlier detection), "circuit_open" (its circuit is
 * open or half-open) — in that order when several hold — else "up", since the latest of: the
 * target appeared or its health verdict last changed, its last ejection ended, its circuit
 * last closed. */
const char *gw__admin_target_state(const struct gw_service *svc, const struct gw_target *t,
                                   uint64_t now, uint64_t *since)
{
    struct gw_target_state_info info = {.health = GW_HEALTH_UNKNOWN};
    struct gw_breaker_stats bs = {.state = GW_BREAKER_CLOSED};
    if (t->state != NULL)
        gw_target_state_info(t->state, &info);
    if (svc->breaker_on && t->breaker != NULL)
        gw_breaker_stats(t->breaker, now, &bs);
    if (info.health == GW_HEALTH_DOWN) {
        *since = info.health_since_ms;
        return "down";
    }
    if (now < info.ejected_until_ms) {
        *since = info.ejected_at_ms;
        return "ejected";
    }
    if (bs.state != GW_BREAKER_CLOSED) {
        *since = bs.opened_at_ms;
        return "circuit_open";
    }
    uint64_t up = info.health_since_ms;
    if (info.ejected_until_ms > up)
        up = info.ejected_until_ms;
    if (bs.times_opened > 0 && bs.since_ms > up)
        up = bs.since_ms;
    *since = up;
    return "up";
}

/* {"url", "state", "since"} of every target of svc; *up counts those that are up. */
static json_t *target_states_json(const struct gw_service *svc, uint64_t now, uint64_t wall,
                                  bool weights, size_t *up)
{
    json_t *a = json_array();
    *up = 0;
    for (size_t i = 0; a && i < svc->ntargets; i++) {
        const struct gw_target *t = &svc->targets[i];
        uint64_t since = 0;
        const char *state = gw__admin_target_state(svc, t, now, &since);
        if (strcmp(state, "up") == 0)
            (*up)++;
        json_t *o = json_pack("{s:s, s:s, s:o}", "url", t->conf->url, "state", state, "since",
                              timestamp_json(since, now, wall));
        if (o && weights) {
            json_object_set_new(o, "weight", json_integer((json_int_t)t->conf->weight));
            /* What the balancer sees: requests in flight (every worker's), and p2c_ewma's
             * latency average (the only strategy that keeps one). */
            const struct gw_balancer *b = svc->live ? svc->live->balancer : NULL;
            bool have = b && i < gw_balancer_size(b);
            json_object_set_new(o, "in_flight",
                                have ? json_integer(gw_balancer_inflight(b, i)) : json_null());
            json_object_set_new(o, "ewma_ms",
                                have && gw_balancer_strategy(b) == GW_BALANCE_P2C_EWMA
                                    ? json_real((double)gw_balancer_ewma_us(b, i) / 1000.0)
                                    : json_null());
        }
        json_array_append_new(a, o);
    }
    return a;
}

/* The last reload (API or SIGHUP): {"result": "ok"|"failed", "at", "errors": [...]} with the
 * failed one's errors and their positions; null when there was none. */
static json_t *last_reload_json(struct gw_server *s, uint64_t mono)
{
    if (s->last_reload_at_ms == 0)
        return json_null();
    /* timestamp_json places a monotonic time; this one is already on the wall clock. */
    json_t *at = timestamp_json(mono, mono, s->last_reload_at_ms);
    json_t *errors = s->last_reload_errors && !s->last_reload_ok
                         ? gw__admin_config_errors_json(s->last_reload_errors, true)
                         : json_array();
    json_t *o = json_pack("{s:s, s:o, s:o}", "result", s->last_reload_ok ? "ok" : "failed", "at",
                          at ? at : json_null(), "errors", errors ? errors : json_array());
    return o ? o : json_null();
}

static void get_status(struct gw_server *s, const struct gw__admin_req *rq,
                       struct gw__admin_resp *rs)
{
    (void)rq;
    struct gw_snapshot *snap = gw_server_snapshot(s);
    uint64_t mono = circuit_now(s);
    uint64_t wall = now_ms();
    json_t *services = json_array();
    for (size_t i = 0; services && snap && i < snap->nservices; i++) {
        const struct gw_service *svc = &snap->services[i];
        size_t up = 0;
        json_array_append_new(services, json_pack("{s:s, s:o}", "name", svc->conf->name, "targets",
                                                  target_states_json(svc, mono, wall, true, &up)));
    }
    uint64_t now = now_ms();
    uint64_t up = now > s->started_ms ? (now - s->started_ms) / 1000 : 0;
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:i, s:I, s:b, s:b}", "version",
                          GANTRY_VERSION, "uptime_seconds", (json_int_t)up, "generation",
                          (json_int_t)s->generation, "config_hash", s->config_hash, "config_path",
                          s->config_path ? s->config_path : "", "workers", (int)s->nworkers,
                          "connections", (json_int_t)atomic_load(&s->nconns), "ready",
                          atomic_load(&s->ready), "draining", atomic_load(&s->draining));
    if (o) {
        json_object_set_new(o, "reloads",
                            json_pack("{s:I, s:I, s:f}", "ok", (json_int_t)s->reloads_ok, "failed",
                                      (json_int_t)s->reloads_failed, "last_ms", s->last_reload_ms));
        uint64_t tunnels = 0; /* upgraded connections (WebSocket) open, every worker's */
        for (unsigned i = 0; s->workers && i < s->nworkers; i++)
            tunnels += gw_mx_get(&s->workers[i].mx.tun_open);
        json_object_set_new(o, "tunnels", json_integer((json_int_t)tunnels));
        json_object_set_new(o, "last_reload", last_reload_json(s, mono));
        json_object_set_new(o, "dashboard",
                            json_boolean(snap && snap->cfg && snap->cfg->admin.dashboard));
        /* the dashboard shows its registrations panel (GET /api/registrations) only then */
        json_object_set_new(o, "registration",
                            json_boolean(snap && snap->cfg && snap->cfg->registration.enabled));
        json_object_set_new(o, "services", services);
        json_object_set_new(o, "accept", accept_status(&s->accept));
        json_object_set_new(o, "rate_limit", policy_status(s, snap));
        json_object_set_new(o, "auth", auth_status(s));
        json_object_set_new(o, "tracing", tracing_status(s, snap));
    } else {
        json_decref(services);
    }
    gw__admin_json(rs, 200, o);
}

static void get_health_detailed(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs)
{
    (void)rq;
    bool ready = atomic_load(&s->ready);
    bool draining = atomic_load(&s->draining);
    const char *status = draining ? "draining" : ready ? "ok" : "starting";
    json_t *checks =
        json_pack("{s:s, s:s, s:i}", "config", gw_server_snapshot(s) ? "ok" : "missing",
                  "listeners", ready ? "ok" : "down", "workers", (int)s->nworkers);
    gw__admin_json(rs, ready && !draining ? 200 : 503,
                   json_pack("{s:s, s:o}", "status", status, "checks", checks));
}

static void get_health_services(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs)
{
    (void)rq;
    struct gw_snapshot *snap = gw_server_snapshot(s);
    uint64_t mono = circuit_now(s);
    uint64_t wall = now_ms();
    json_t *a = json_array();
    for (size_t i = 0; a && snap && i < snap->nservices; i++) {
        const struct gw_service *svc = &snap->services[i];
        size_t up = 0;
        json_t *states = target_states_json(svc, mono, wall, false, &up);
        json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:o}", "name", svc->conf->name,
                                           "targets", (json_int_t)svc->ntargets, "healthy",
                                           (json_int_t)up, "target_states", states));
    }
    gw__admin_json(rs, 200, json_pack("{s:o}", "services", a));
}

static void post_reload(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs)
{
    (void)rq;
    struct gw_config_errors errs = {0};
    int rc = gw_server_reload(s, &errs);
    if (rc == 0) {
        gw__admin_json(rs, 200,
                       json_pack("{s:s, s:I, s:s, s:f}", "status", "ok", "generation",
                                 (json_int_t)s->generation, "config_hash", s->config_hash,
                                 "reload_ms", s->last_reload_ms));
    } else {
        if (errs.count > 0)
            gw__admin_error(rs, 422,
                            "reload failed (%zu error%s): the running configuration is unchanged",
                            errs.count, errs.count == 1 ? "" : "s");
        else
            gw__admin_error(rs, 422, "reload failed: %s; the running configuration is unchanged",
                            gw_strerror(rc));
        json_object_set_new(rs->json, "errors", gw__admin_config_errors_json(&errs, true));
    }
    gw_config_errors_free(&errs);
}

/* ---- circuit breakers ------------------------------------------------------------------------ */

/* The control loop's clock. Workers record breaker events with their own loop's uv_now();
 * every libuv loop reads the same monotonic clock (uv_hrtime() / 1e6 at loop update), so the
 * two are comparable to within a loop iteration. */
static uint64_t circuit_now(struct gw_server *s)
{
    uv_update_time(s->control_loop);
    return uv_now(s->control_loop);
}

/* Milliseconds from a to b, 0 when b is not later (the clocks of two loops may differ by a few
 * ms). */
static json_int_t ms_until(uint64_t a, uint64_t b)
{
    return b > a ? (json_int_t)(b - a) : 0;
}

static json_t *circuit_json(const struct gw_breaker *b, uint64_t now)
{
    struct gw_breaker_stats st;
    gw_breaker_stats(b, now, &st);
    bool tripped = st.state == GW_BREAKER_OPEN || st.state == GW_BREAKER_HALF_OPEN;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "state", json_string(gw_breaker_state_name(st.state)));
    json_object_set_new(o, "consecutive_failures", json_integer(st.consecutive_failures));
    json_object_set_new(o, "window_requests", json_integer((json_int_t)st.window_requests));
    json_object_set_new(o, "window_failures", json_integer((json_int_t)st.window_failures));
    json_object_set_new(o, "times_opened", json_integer((json_int_t)st.times_opened));
    json_object_set_new(o, "opened_at_ms",
                        st.opened_at_ms ? json_integer((json_int_t)st.opened_at_ms) : json_null());
    json_object_set_new(o, "opened_ago_ms",
                        tripped && st.opened_at_ms ? json_integer(ms_until(st.opened_at_ms, now))
                                                   : json_null());
    json_object_set_new(o, "next_probe_in_ms",
                        tripped ? json_integer(ms_until(now, st.next_probe_ms)) : json_null());
    json_object_set_new(o, "probes_in_flight", json_integer(st.probes_in_flight));
    return o;
}

static json_t *service_circuits_json(const struct gw_service *svc, uint64_t now)
{
    json_t *targets = json_array();
    for (size_t t = 0; targets && t < svc->ntargets; t++) {
        const struct gw_target *tg = &svc->targets[t];
        json_array_append_new(
            targets, json_pack("{s:s, s:o}", "target", tg->key, "circuit",
                               svc->breaker_on ? circuit_json(tg->breaker, now) : json_null()));
    }
    return json_pack(
        "{s:s, s:b, s:o, s:o}", "service", svc->conf->name, "enabled", svc->breaker_on, "circuit",
        svc->breaker_on ? circuit_json(&svc->live->breaker, now) : json_null(), "targets", targets);
}

static struct gw_service *find_running_service(struct gw_server *s,
                                               const struct gw__admin_slice *name)
{
    struct gw_snapshot *snap = gw_server_snapshot(s);
    for (size_t i = 0; snap && i < snap->nservices; i++) {
        const char *n = snap->services[i].conf->name;
        if (strlen(n) == name->n && memcmp(n, name->p, name->n) == 0)
            return &snap->services[i];
    }
    return NULL;
}

static void list_circuits(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    (void)rq;
    struct gw_snapshot *snap = gw_server_snapshot(s);
    uint64_t now = circuit_now(s);
    json_t *a = json_array();
    for (size_t i = 0; a && snap && i < snap->nservices; i++)
        json_array_append_new(a, service_circuits_json(&snap->services[i], now));
    gw__admin_json(rs, 200, json_pack("{s:o}", "services", a));
}

static void get_circuit(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs)
{
    const struct gw_service *svc = find_running_service(s, &rq->params[0]);
    if (svc == NULL) {
        gw__admin_error(rs, 404, "no service named \"%.*s\"", (int)rq->params[0].n,
                        rq->params[0].p);
        return;
    }
    gw__admin_json(rs, 200, service_circuits_json(svc, circuit_now(s)));
}

static void reset_circuit(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    struct gw_service *svc = find_running_service(s, &rq->params[0]);
    if (svc == NULL) {
        gw__admin_error(rs, 404, "no service named \"%.*s\"", (int)rq->params[0].n,
                        rq->params[0].p);
        return;
    }
    if (!svc->breaker_on) {
        gw__admin_error(rs, 409, "service \"%s\" has no circuit_breaker configured",
                        svc->conf->name);
        return;
    }
    uint64_t now = circuit_now(s);
    gw_breaker_reset(&svc->live->breaker, now);
    for (size_t t = 0; t < svc->ntargets; t++)
        gw_breaker_reset(svc->targets[t].breaker, now);
    gw__admin_audit_change("circuit.reset", svc->conf->name, NULL, NULL, 200, NULL);
    gw__admin_json(rs, 200, service_circuits_json(svc, now));
}

/* ---- the table ------------------------------------------------------------------------------- */

static void list_endpoints(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs);

static const struct {
    enum gw_http_method method;
    const char *pattern;
    gw__admin_handler_fn handler;
} endpoints[] = {
    {GW_METHOD_GET, "/", list_endpoints},
    {GW_METHOD_GET, "/api/services", list_services},
    {GW_METHOD_POST, "/api/services", gw__admin_create_service},
    {GW_METHOD_GET, "/api/services/{name}", get_service},
    {GW_METHOD_PUT, "/api/services/{name}", gw__admin_replace_service},
    {GW_METHOD_PATCH, "/api/services/{name}", gw__admin_patch_service},
    {GW_METHOD_DELETE, "/api/services/{name}", gw__admin_delete_service},
    {GW_METHOD_POST, "/api/services/{name}/targets", gw__admin_add_target},
    {GW_METHOD_DELETE, "/api/services/{name}/targets", gw__admin_remove_target},
    {GW_METHOD_GET, "/api/registrations", gw__admin_list_registrations},
    {GW_METHOD_POST, "/api/registrations", gw__admin_register},
    {GW_METHOD_GET, "/api/registrations/{id}", gw__admin_get_registration},
    {GW_METHOD_DELETE, "/api/registrations/{id}", gw__admin_deregister},
    {GW_METHOD_PUT, "/api/registrations/{id}/heartbeat", gw__admin_heartbeat},
    {GW_METHOD_POST, "/api/config/reload", post_reload},
    {GW_METHOD_GET, "/api/circuits", list_circuits},
    {GW_METHOD_GET, "/api/circuits/{service}", get_circuit},
    {GW_METHOD_POST, "/api/circuits/{service}/reset", reset_circuit},
    {GW_METHOD_GET, "/api/audit", gw__admin_get_audit},
    {GW_METHOD_GET, "/api/cache", gw__admin_get_cache},
    {GW_METHOD_POST, "/api/cache/purge", gw__admin_post_cache_purge},
    {GW_METHOD_POST, "/api/channels/{channel}/messages", gw__admin_hub_publish},
    {GW_METHOD_GET, "/api/hub", gw__admin_hub_stats},
    {GW_METHOD_GET, "/api/identity/users", gw__admin_idp_users},
    {GW_METHOD_POST, "/api/identity/users", gw__admin_idp_create},
    {GW_METHOD_GET, "/api/identity/users/{user}", gw__admin_idp_user},
    {GW_METHOD_DELETE, "/api/identity/users/{user}", gw__admin_idp_delete},
    {GW_METHOD_POST, "/api/identity/users/{user}/password", gw__admin_idp_password},
    {GW_METHOD_PUT, "/api/identity/users/{user}/permissions", gw__admin_idp_permissions},
    {GW_METHOD_POST, "/api/identity/users/{user}/disable", gw__admin_idp_disable},
    {GW_METHOD_POST, "/api/identity/users/{user}/enable", gw__admin_idp_enable},
    {GW_METHOD_POST, "/api/identity/users/{user}/logout", gw__admin_idp_logout},
    {GW_METHOD_POST, "/api/identity/users/{user}/totp/reset", gw__admin_idp_totp_reset},
    {GW_METHOD_POST, "/api/identity/users/{user}/unlock", gw__admin_idp_unlock},
    {GW_METHOD_PUT, "/api/identity/users/{user}/roles", gw__admin_idp_roles},
    {GW_METHOD_GET, "/api/identity/users/{user}/sessions", gw__admin_idp_sessions},
    {GW_METHOD_DELETE, "/api/identity/users/{user}/sessions/{sid}", gw__admin_idp_session_revoke},
    {GW_METHOD_GET, "/gateway/routing", get_routing},
    {GW_METHOD_GET, "/gateway/status", get_status},
    {GW_METHOD_GET, "/health/detailed", get_health_detailed},
    {GW_METHOD_GET, "/health/services", get_health_services},
    {GW_METHOD_GET, "/metrics", gw__admin_get_metrics},
    {GW_METHOD_GET, "/metrics/prometheus", gw__admin_get_metrics_prometheus},
    {GW_METHOD_GET, "/metrics/json", gw__admin_get_metrics_json},
    {GW_METHOD_GET, "/metrics/performance", gw__admin_get_metrics_performance},
    {GW_METHOD_GET, "/metrics/health-score", gw__admin_get_health_score},
    {GW_METHOD_GET, "/metrics/history", gw__admin_get_metrics_history},
    {GW_METHOD_GET, "/api/access-log/stream", gw__admin_access_log_stream},
    {GW_METHOD_POST, "/api/drain", gw__admin_drain},
    {GW_METHOD_GET, "/dashboard", gw__admin_dashboard_file},
    {GW_METHOD_GET, "/dashboard/{file}", gw__admin_dashboard_file},
};
#define NENDPOINTS (sizeof endpoints / sizeof endpoints[0])

static const char *method_name(enum gw_http_method m)
{
    const char *name = gw_http_method_name(m);
    return name ? name : "?";
}

static void list_endpoints(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs)
{
    (void)s;
    (void)rq;
    json_t *a = json_array();
    for (size_t i = 0; a && i < NENDPOINTS; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "method", method_name(endpoints[i].method),
                                           "path", endpoints[i].pattern));
    gw__admin_json(rs, 200, json_pack("{s:s, s:o}", "version", GANTRY_VERSION, "endpoints", a));
}

void gw__admin_dispatch(struct gw_server *s, struct gw__admin_req *rq, struct gw__admin_resp *rs)
{
    uint32_t allowed = 0;
    for (size_t i = 0; i < NENDPOINTS; i++) {
        size_t np = 0;
        if (!gw__admin_match(endpoints[i].pattern, rq->path.p, rq->path.n, rq->params,
                             GW__ADMIN_MAX_PARAMS, &np))
            continue;
        if (endpoints[i].method == rq->method) {
            rq->nparams = np;
            endpoints[i].handler(s, rq, rs);
            if (rs->json == NULL && rs->content_type == NULL && !rs->deferred)
                gw__admin_error(rs, 500, "out of memory");
            return;
        }
        allowed |= 1u << endpoints[i].method;
    }
    if (allowed == 0) {
        gw__admin_error(rs, 404, "no admin endpoint %.*s (GET / lists them)",
                        (int)(rq->path.n > 200 ? 200 : rq->path.n), rq->path.p);
        return;
    }
    if (allowed & (1u << GW_METHOD_GET))
        allowed |= 1u << GW_METHOD_HEAD;
    char list[128];
    gw_http_method_list(allowed, ", ", list, sizeof list);
    snprintf(rs->headers, sizeof rs->headers, "Allow: %s\r\n", list);
    gw__admin_error(rs, 405, "method not allowed");
}

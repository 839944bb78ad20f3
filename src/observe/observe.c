/*
 * The JSON view, the performance summary and the health score (observe/observe.h), and the
 * helpers the Prometheus exposition shares.
 */
#include "observe/observe.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/version.h"
#include "metrics/hub.h"
#include "observe/internal.h"
#include "policy/chain.h"
#include "policy/policy.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "state/ratelimit_redis.h"
#include "upstream/breaker.h"
#include "upstream/target_state.h"

/* ---- helpers ----------------------------------------------------------------------------------
 */

const char *gw__observe_key_part(const char *key, unsigned i)
{
    /* Rotating buffers: a caller may hold a few parts at once (copied before the next few).
     * Each holds the longest part a key may have: a route prefix of 1024 characters (the
     * configuration's bound), and its NUL. */
    static char parts[8][1024 + 1];
    static unsigned next;
    char *out = parts[next++ % 8];
    const char *p = key;
    for (unsigned k = 0; k < i && p; k++) {
        p = strchr(p, GW_MX_KEY_SEP);
        if (p)
            p++;
    }
    if (p == NULL) {
        out[0] = '\0';
        return out;
    }
    const char *end = strchr(p, GW_MX_KEY_SEP);
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n >= sizeof parts[0])
        n = sizeof parts[0] - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

const char *gw__observe_stage_name(const char *part)
{
    const char *name = part[0] ? gw_policy_stage_name((size_t)(part[0] - 'A')) : NULL;
    return name ? name : "unknown";
}

void gw__observe_process(struct gw__observe_process *p)
{
    memset(p, 0, sizeof *p);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        p->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long size = 0, rss = 0;
        if (fscanf(f, "%llu %llu", &size, &rss) == 2) {
            long page = sysconf(_SC_PAGESIZE);
            p->vsize_bytes = size * (unsigned long long)page;
            p->rss_bytes = rss * (unsigned long long)page;
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                p->open_fds++;
        closedir(d);
        if (p->open_fds)
            p->open_fds--; /* the directory's own descriptor */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur;
}

static bool breaker_open(const struct gw_breaker *b, uint64_t now)
{
    struct gw_breaker_stats st;
    gw_breaker_stats(b, now, &st);
    return st.state != GW_BREAKER_CLOSED;
}

bool gw__observe_target_usable(const struct gw_service *svc, size_t t, uint64_t now_ms)
{
    const struct gw_target *tg = &svc->targets[t];
    if (tg->state && !gw_target_state_usable(tg->state, now_ms))
        return false;
    return !(tg->breaker && breaker_open(tg->breaker, now_ms));
}

void gw__observe_service_targets(const struct gw_service *svc, uint64_t now_ms,
                                 struct gw__observe_targets *out)
{
    memset(out, 0, sizeof *out);
    for (size_t t = 0; t < svc->ntargets; t++) {
        if (gw__observe_target_usable(svc, t, now_ms))
            out->usable++;
        if (svc->targets[t].breaker && breaker_open(svc->targets[t].breaker, now_ms))
            out->circuits_open++;
    }
    out->service_open = svc->breaker_on && breaker_open(&svc->live->breaker, now_ms);
}

bool gw__observe_redis(struct gw_server *s, struct gw__observe_redis *out)
{
    memset(out, 0, sizeof *out);
    if (s->snap == NULL || s->snap->cfg->rate_limit.backend != GW_RL_BACKEND_REDIS ||
        s->policy == NULL || s->policy->redis == NULL)
        return false;
    struct gw_rl_redis_metrics m;
    gw_rl_redis_shared_metrics(s->policy->redis, &m);
    out->up = m.up;
    out->clients_up = m.clients_up;
    out->calls = m.calls;
    out->errors = m.errors;
    out->timeouts = m.timeouts;
    out->unavailable = m.unavailable;
    return true;
}

/* ---- per service and route, from a total
 * --------------------------------------------------------- */

static const double quantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};
static const char *const quantile_names[] = {"p50", "p90", "p95", "p99", "p999"};

json_t *gw__observe_latency_json(const struct gw_hist_sum *h)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof quantiles / sizeof quantiles[0]; i++)
        json_object_set_new(o, quantile_names[i],
                            h->count ? gw__observe_real(gw_hist_quantile(h, quantiles[i]) / 1e6)
                                     : json_null());
    if (o) {
        json_object_set_new(o, "mean",
                            h->count ? gw__observe_real((double)h->sum_ns / 1e6 / (double)h->count)
                                     : json_null());
        json_object_set_new(o, "count", json_integer((json_int_t)h->count));
    }
    return o;
}

struct counts {
    uint64_t requests, errors, bytes_in, bytes_out;
};

static void route_counts(const uint64_t *row, struct counts *c)
{
    for (unsigned k = 0; k < GW_MX_CODES; k++) {
        uint64_t per_code = 0;
        for (unsigned m = 0; m < GW_MX_METHODS; m++)
            per_code += row[GW_MX_R_REQ_AT(m, k)];
        c->requests += per_code;
        if (per_code && gw_mx_code_class(k)[0] == '5')
            c->errors += per_code;
    }
    c->bytes_in += row[GW_MX_R_BYTES_IN];
    c->bytes_out += row[GW_MX_R_BYTES_OUT];
}

/* Request rates (moving averages) and the requests and 5xx answers of the windows (1, 5 and 15
 * minutes, metrics/rate.h), summed over routes. */
struct rates {
    double per_second[GW_METRICS_RATE_WINDOWS];
    uint64_t req[GW_METRICS_RATE_WINDOWS], err[GW_METRICS_RATE_WINDOWS];
};

static void rates_add(struct rates *to, const struct rates *r)
{
    for (int i = 0; i < GW_METRICS_RATE_WINDOWS; i++) {
        to->per_second[i] += r->per_second[i];
        to->req[i] += r->req[i];
        to->err[i] += r->err[i];
    }
}

static json_t *rates_json(const struct rates *r)
{
    return json_pack("{s:o, s:o, s:o}", "1m", gw__observe_real(r->per_second[0]), "5m",
                     gw__observe_real(r->per_second[1]), "15m", gw__observe_real(r->per_second[2]));
}

/* The 5xx share of window w's requests; null without a request in the window. */
static json_t *error_share_json(const struct rates *r, int w)
{
    return r->req[w] ? gw__observe_real((double)r->err[w] / (double)r->req[w]) : json_null();
}

static json_t *error_rates_json(const struct rates *r)
{
    return json_pack("{s:o, s:o, s:o}", "1m", error_share_json(r, 0), "5m", error_share_json(r, 1),
                     "15m", error_share_json(r, 2));
}

/* Route row r's rates and windows, its totals now in *rc. */
static void route_rates(struct gw_metrics_hub *hub, size_t r, const struct counts *rc,
                        struct rates *out)
{
    const struct gw_metrics_rate *rt = gw_metrics_hub_rate(hub, r);
    memset(out, 0, sizeof *out);
    for (int i = 0; rt && i < GW_METRICS_RATE_WINDOWS; i++) {
        out->per_second[i] = rt->req[i];
        gw_metrics_rate_window(rt, (unsigned)i, rc->requests, rc->errors, &out->req[i],
                               &out->err[i]);
    }
}

static double share(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0;
}

static json_t *route_json(struct gw_metrics_hub *hub, const struct gw_metrics_total *t, size_t r,
                          struct counts *c, struct rates *rates, struct gw_hist_sum *h)
{
    const uint64_t *row = gw_metrics_total_row(t, GW_MX_ROUTE, r);
    struct counts rc = {0};
    route_counts(row, &rc);
    json_t *by_code = json_object(), *by_method = json_object();
    for (unsigned m = 0; m < GW_MX_METHODS; m++) {
        uint64_t per_method = 0;
        for (unsigned k = 0; k < GW_MX_CODES; k++)
            per_method += row[GW_MX_R_REQ_AT(m, k)];
        if (per_method && by_method)
            json_object_set_new(by_method, gw_mx_method_name(m),
                                json_integer((json_int_t)per_method));
    }
    for (unsigned k = 0; k < GW_MX_CODES; k++) {
        uint64_t per_code = 0;
        for (unsigned m = 0; m < GW_MX_METHODS; m++)
            per_code += row[GW_MX_R_REQ_AT(m, k)];
        if (!per_code || !by_code)
            continue;
        char name[16];
        if (k < GW_MX_KNOWN_CODES || k == GW_MX_CODE_NONE)
            snprintf(name, sizeof name, "%s", gw_mx_code_name(k));
        else
            snprintf(name, sizeof name, "other %s", gw_mx_code_class(k));
        json_object_set_new(by_code, name, json_integer((json_int_t)per_code));
    }
    gw_metrics_total_hist(t, r, h);
    struct rates own;
    route_rates(hub, r, &rc, &own);
    rates_add(rates, &own);
    c->requests += rc.requests;
    c->errors += rc.errors;
    c->bytes_in += rc.bytes_in;
    c->bytes_out += rc.bytes_out;
    const char *key = t->layout->keys[GW_MX_ROUTE][r];
    return json_pack(
        "{s:s, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "route",
        gw__observe_key_part(key, 1), "requests", (json_int_t)rc.requests, "errors",
        (json_int_t)rc.errors, "error_rate", gw__observe_real(share(rc.errors, rc.requests)),
        "bytes_in", (json_int_t)rc.bytes_in, "bytes_out", (json_int_t)rc.bytes_out, "by_code",
        by_code ? by_code : json_null(), "by_method", by_method ? by_method : json_null(),
        "latency_ms", gw__observe_latency_json(h), "rate_per_second", rates_json(&own),
        "error_rate_1m", error_share_json(&own, 0), "error_rates", error_rates_json(&own));
}

/* Everything known of one service: its JSON, plus the figures the health score needs. */
struct service_view {
    struct counts c;
    struct rates r;
    struct gw_hist_sum h; /* request latency over its routes */
};

/* The figures of service i (v) summed over its routes; with routes, each route's JSON is
 * appended to it too (the performance summary and the health score need only the figures). */
static void service_figures(struct gw_server *s, const struct gw_metrics_total *t, size_t i,
                            struct service_view *v, json_t *routes)
{
    const struct gw_metrics_layout *l = t->layout;
    const struct gw_mx_service_layout *sl = &l->svc[i];
    size_t end = i + 1 < l->nservices ? l->svc[i + 1].route_base : l->nrows[GW_MX_ROUTE];
    static struct gw_hist_sum rh;
    memset(v, 0, sizeof *v);
    for (size_t r = sl->route_base; r < end; r++) {
        if (routes != NULL) {
            json_array_append_new(routes, route_json(s->metrics, t, r, &v->c, &v->r, &rh));
        } else {
            struct counts rc = {0};
            route_counts(gw_metrics_total_row(t, GW_MX_ROUTE, r), &rc);
            struct rates own;
            route_rates(s->metrics, r, &rc, &own);
            rates_add(&v->r, &own);
            v->c.requests += rc.requests;
            v->c.errors += rc.errors;
            v->c.bytes_in += rc.bytes_in;
            v->c.bytes_out += rc.bytes_out;
            gw_metrics_total_hist(t, r, &rh);
        }
        gw_hist_sum_add(&v->h, &rh);
    }
}

static json_t *service_json(struct gw_server *s, const struct gw_metrics_total *t, size_t i,
                            struct service_view *v)
{
    const struct gw_metrics_layout *l = t->layout;
    const struct gw_mx_service_layout *sl = &l->svc[i];
    json_t *routes = json_array();
    service_figures(s, t, i, v, routes);
    static struct gw_hist_sum try_h, ttfb_h;
    gw_metrics_total_hist(t, sl->hist_try, &try_h);
    gw_metrics_total_hist(t, sl->hist_ttfb, &ttfb_h);
    const uint64_t *srow = gw_metrics_total_row(t, GW_MX_SERVICE, i);
    json_t *targets = json_array();
    size_t ntargets = (i + 1 < l->nservices ? l->svc[i + 1].target_base : l->nrows[GW_MX_TARGET]) -
                      sl->target_base;
    for (size_t k = 0; targets && k < ntargets; k++) {
        const uint64_t *tr = gw_metrics_total_row(t, GW_MX_TARGET, sl->target_base + k);
        json_array_append_new(
            targets,
            json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "target",
                      gw__observe_key_part(l->keys[GW_MX_TARGET][sl->target_base + k], 1), "tries",
                      (json_int_t)tr[GW_MX_T_TRIES], "failures", (json_int_t)tr[GW_MX_T_FAILURES],
                      "connect_errors", (json_int_t)tr[GW_MX_T_CONNECT_ERRORS], "resets",
                      (json_int_t)tr[GW_MX_T_RESETS], "timeouts", (json_int_t)tr[GW_MX_T_TIMEOUTS],
                      "ejections", (json_int_t)tr[GW_MX_T_EJECTIONS], "mean_try_ms",
                      tr[GW_MX_T_TRIES] ? gw__observe_real((double)tr[GW_MX_T_TRY_NS] / 1e6 /
                                                           (double)tr[GW_MX_T_TRIES])
                                        : json_null()));
    }
    json_t *upstream =
        json_pack("{s:o, s:o, s:I, s:I, s:I, s:I}", "try_ms", gw__observe_latency_json(&try_h),
                  "first_byte_ms", gw__observe_latency_json(&ttfb_h), "retries",
                  (json_int_t)srow[GW_MX_S_RETRIES], "retry_budget_refusals",
                  (json_int_t)srow[GW_MX_S_BUDGET_REFUSED], "circuit_rejections",
                  (json_int_t)srow[GW_MX_S_CIRCUIT_REFUSED], "no_target",
                  (json_int_t)srow[GW_MX_S_NO_TARGET]);
    const char *name = gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0);
    json_t *o = json_pack(
        "{s:s, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", name,
        "requests", (json_int_t)v->c.requests, "errors", (json_int_t)v->c.errors, "error_rate",
        gw__observe_real(share(v->c.errors, v->c.requests)), "bytes_in", (json_int_t)v->c.bytes_in,
        "bytes_out", (json_int_t)v->c.bytes_out, "rate_per_second", rates_json(&v->r),
        "error_rate_1m", error_share_json(&v->r, 0), "error_rates", error_rates_json(&v->r),
        "latency_ms", gw__observe_latency_json(&v->h), "routes", routes ? routes : json_null(),
        "upstream", upstream ? upstream : json_null(), "targets", targets ? targets : json_null());
    if (o) {
        json_object_set_new(o, "auth", gw__observe_auth_json(t, i));
        json_object_set_new(o, "grpc", gw__observe_grpc_json(t, i));
        gw__observe_service_counts_json(t, i, o);
        gw__observe_service_live_json(s, json_string_value(json_object_get(o, "name")), o);
    }
    return o;
}

/* A total for reading, or false when metrics are off. */
static bool total_of(struct gw_server *s, struct gw_metrics_total *t)
{
    if (s->metrics == NULL || s->snap == NULL || s->snap->metrics == NULL)
        return false;
    gw_metrics_hub_collect(s->metrics);
    return gw_metrics_hub_total(s->metrics, t) == 0;
}

/* With metrics off: each service's live state (targets, circuits, objectives) alone. */
static json_t *live_services_json(struct gw_server *s)
{
    json_t *services = json_array();
    for (size_t i = 0; services && s->snap && i < s->snap->nservices; i++) {
        json_t *o = json_pack("{s:s}", "name", s->snap->services[i].conf->name);
        gw__observe_service_live_json(s, s->snap->services[i].conf->name, o);
        json_array_append_new(services, o);
    }
    return services ? services : json_null();
}

json_t *gw_observe_json(struct gw_server *s)
{
    struct gw_metrics_total t;
    json_t *root = json_pack("{s:s, s:{s:s}, s:I, s:b}", "version", GANTRY_VERSION, "build",
                             "version", GANTRY_VERSION, "generation", (json_int_t)s->generation,
                             "enabled", s->snap && s->snap->cfg->metrics.enabled);
    if (root == NULL)
        return NULL;
    struct gw__observe_process p;
    gw__observe_process(&p);
    json_object_set_new(root, "process",
                        json_pack("{s:o, s:I, s:I, s:I, s:I, s:o}", "cpu_seconds",
                                  gw__observe_real(p.cpu_seconds), "resident_memory_bytes",
                                  (json_int_t)p.rss_bytes, "virtual_memory_bytes",
                                  (json_int_t)p.vsize_bytes, "open_fds", (json_int_t)p.open_fds,
                                  "max_fds", (json_int_t)p.max_fds, "start_time_seconds",
                                  gw__observe_real((double)s->started_ms / 1000.0)));
    json_object_set_new(root, "reloads",
                        json_pack("{s:I, s:I, s:o, s:o}", "ok", (json_int_t)s->reloads_ok, "failed",
                                  (json_int_t)s->reloads_failed, "last_ms",
                                  gw__observe_real(s->last_reload_ms), "total_ms",
                                  gw__observe_real(s->reload_ms_total)));
    bool have = total_of(s, &t);
    gw__observe_process_json(s, have ? &t : NULL, root);
    if (!have) {
        json_object_set_new(root, "services", live_services_json(s));
        return root;
    }
    struct service_view total, v;
    memset(&total, 0, sizeof total);
    json_t *services = json_array();
    for (size_t i = 0; services && i < t.layout->nservices; i++) {
        json_array_append_new(services, service_json(s, &t, i, &v));
        total.c.requests += v.c.requests;
        total.c.errors += v.c.errors;
        rates_add(&total.r, &v.r);
        gw_hist_sum_add(&total.h, &v.h);
    }
    static struct gw_hist_sum uh;
    struct counts uc = {0};
    struct rates ur;
    memset(&ur, 0, sizeof ur);
    json_t *unrouted = route_json(s->metrics, &t, 0, &uc, &ur, &uh);
    total.c.requests += uc.requests;
    total.c.errors += uc.errors;
    rates_add(&total.r, &ur);
    gw_hist_sum_add(&total.h, &uh);
    json_object_set_new(root, "services", services ? services : json_null());
    json_object_set_new(root, "rate_limits",
                        gw__observe_limits_json(&t, s->policy ? s->policy->topkeys : NULL));
    json_object_set_new(root, "unrouted", unrouted ? unrouted : json_null());
    json_object_set_new(
        root, "total",
        json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "requests", (json_int_t)total.c.requests,
                  "errors", (json_int_t)total.c.errors, "error_rate",
                  gw__observe_real(share(total.c.errors, total.c.requests)), "rate_per_second",
                  rates_json(&total.r), "error_rate_1m", error_share_json(&total.r, 0),
                  "error_rates", error_rates_json(&total.r), "latency_ms",
                  gw__observe_latency_json(&total.h)));
    return root;
}

/* ---- the health score --------------------------------------------------------------------------
 */

/* 100 at or under the objective, 0 at 5 times it (or more), linear between. */
static double against(double value, double objective)
{
    if (objective <= 0)
        return value <= 0 ? 100 : 0;
    if (value <= objective)
        return 100;
    double x = (value - objective) / (4 * objective);
    return x >= 1 ? 0 : 100 * (1 - x);
}

static const char health_formula[] =
    "per service: 0.35*errors + 0.25*latency + 0.25*health + 0.15*circuits, at most 20 with no "
    "usable target or the service's circuit open; errors and latency are 100 at or under the "
    "objective (slo.error_rate, slo.latency_p99) and 0 at 5 times it, linear between (errors: "
    "the 5xx share of the last 5 minutes' requests, 100 without a request in them); health is "
    "the share of targets taking traffic; circuits is the share of targets whose circuit is "
    "closed. overall: the mean of the services weighted by their request rate over 5 minutes "
    "(equal weights without traffic). With metrics off (metrics.enabled: false) there is no "
    "score: null, and the reason";

/* One service's score and inputs; *score: its score, or -1 without one (metrics off). */
static json_t *service_health_json(const struct gw_service *svc, const struct service_view *v,
                                   bool counted, uint64_t now, double *score)
{
    const struct gw_service_conf *sc = svc->conf;
    struct gw__observe_targets st;
    gw__observe_service_targets(svc, now, &st);
    /* The 5xx share of the last 5 minutes' requests (a window: none without requests). */
    bool have_err = counted && v->r.req[1] > 0;
    double err = have_err ? (double)v->r.err[1] / (double)v->r.req[1] : 0;
    double p99_ms = v->h.count ? gw_hist_quantile(&v->h, 0.99) / 1e6 : 0;
    double healthy = svc->ntargets ? (double)st.usable / (double)svc->ntargets : 0;
    double e = have_err ? against(err, sc->slo_error_rate) : 100;
    double lat = against(p99_ms, (double)sc->slo_latency_p99_ms);
    double h = 100 * healthy;
    double c =
        st.service_open
            ? 0
            : 100 * (1 - (svc->ntargets ? (double)st.circuits_open / (double)svc->ntargets : 0));
    double sc_ = floor(0.35 * e + 0.25 * lat + 0.25 * h + 0.15 * c + 0.5);
    if (st.usable == 0 || st.service_open)
        sc_ = fmin(sc_, 20);
    *score = counted ? sc_ : -1;
    json_t *o = json_pack(
        "{s:s, s:o, s:{s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:b, s:o}}", "service", sc->name, "score",
        counted ? json_integer((json_int_t)sc_) : json_null(), "inputs", "error_rate",
        have_err ? gw__observe_real(err) : json_null(), "error_rate_objective",
        gw__observe_real(sc->slo_error_rate), "latency_p99_ms",
        counted && v->h.count ? gw__observe_real(p99_ms) : json_null(), "latency_p99_objective_ms",
        (json_int_t)sc->slo_latency_p99_ms, "targets", (json_int_t)svc->ntargets, "healthy_targets",
        (json_int_t)st.usable, "open_target_circuits", (json_int_t)st.circuits_open,
        "service_circuit_open", st.service_open, "requests_per_second_5m",
        counted ? gw__observe_real(v->r.per_second[1]) : json_null());
    if (o && counted)
        json_object_set_new(o, "components",
                            json_pack("{s:i, s:i, s:i, s:i}", "errors", (int)floor(e + 0.5),
                                      "latency", (int)floor(lat + 0.5), "health",
                                      (int)floor(h + 0.5), "circuits", (int)floor(c + 0.5)));
    if (o && !counted)
        json_object_set_new(o, "reason", json_string("metrics are off (metrics.enabled: false)"));
    return o;
}

json_t *gw_observe_health_score(struct gw_server *s)
{
    struct gw_metrics_total t;
    bool have = total_of(s, &t);
    const struct gw_snapshot *snap = s->snap;
    uint64_t now = uv_hrtime() / 1000000;
    json_t *services = json_array();
    double weighted = 0, weights = 0, lowest = 100;
    for (size_t i = 0; services && snap && i < snap->nservices; i++) {
        struct service_view v;
        memset(&v, 0, sizeof v);
        if (have && i < t.layout->nservices)
            service_figures(s, &t, i, &v, NULL);
        double score;
        json_array_append_new(services,
                              service_health_json(&snap->services[i], &v, have, now, &score));
        double w = v.r.per_second[1] > 0 ? v.r.per_second[1] : 1e-9;
        weighted += score * w;
        weights += w;
        lowest = fmin(lowest, score);
    }
    json_t *o = json_pack("{s:o, s:o, s:s, s:o}", "score",
                          !have         ? json_null()
                          : weights > 0 ? json_integer((json_int_t)floor(weighted / weights + 0.5))
                                        : json_integer(100),
                          "lowest", have ? json_integer((json_int_t)lowest) : json_null(),
                          "formula", health_formula, "services", services ? services : json_null());
    if (o && !have)
        json_object_set_new(o, "reason", json_string("metrics are off (metrics.enabled: false)"));
    return o;
}

/* ---- the performance summary -------------------------------------------------------------------
 */

/* A latency column: ms with 3 decimals, or "-" without a request. */
static int put_ms(struct gw_buf *b, const struct gw_hist_sum *h, double q)
{
    if (h->count == 0)
        return gw_buf_appendf(b, " %9s", "-");
    return gw_buf_appendf(b, " %9.3f", gw_hist_quantile(h, q) / 1e6);
}

int gw_observe_performance(struct gw_server *s, struct gw_buf *b)
{
    struct gw_metrics_total t;
    int rc =
        gw_buf_appendf(b, "gantry %s: generation %llu, %u worker%s\n\n", GANTRY_VERSION,
                       (unsigned long long)s->generation, s->nworkers, s->nworkers == 1 ? "" : "s");
    if (rc < 0)
        return rc;
    if (!total_of(s, &t))
        return gw_buf_append_str(b, "metrics are off (metrics.enabled: false)\n");
    rc = gw_buf_appendf(b, "%-24s %10s %9s %9s %7s %9s %9s %9s %9s %9s\n", "service", "requests",
                        "req/s 1m", "req/s 5m", "err %", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
                        "max ms");
    struct service_view v;
    static const double q[] = {0.5, 0.9, 0.99, 0.999, 1.0};
    for (size_t i = 0; rc == 0 && i < t.layout->nservices; i++) {
        service_figures(s, &t, i, &v, NULL);
        rc = gw_buf_appendf(b, "%-24.24s %10llu %9.1f %9.1f",
                            gw__observe_key_part(t.layout->keys[GW_MX_SERVICE][i], 0),
                            (unsigned long long)v.c.requests, v.r.per_second[0], v.r.per_second[1]);
        if (rc == 0 && v.c.requests)
            rc = gw_buf_appendf(b, " %7.2f", 100 * share(v.c.errors, v.c.requests));
        else if (rc == 0)
            rc = gw_buf_appendf(b, " %7s", "-");
        for (size_t k = 0; rc == 0 && k < sizeof q / sizeof q[0]; k++)
            rc = put_ms(b, &v.h, q[k]);
        if (rc == 0)
            rc = gw_buf_append(b, "\n", 1);
    }
    if (rc == 0)
        rc = gw_buf_append_str(b, "\nlatency: first request byte to last response byte, since "
                                  "start, +-1.6%; rates: moving averages over 1 and 5 minutes; "
                                  "-: no request yet\n");
    return rc;
}

/* ---- the hub's renderer -------------------------------------------------------------------------
 */

int gw_observe_render(void *server, int format, struct gw_buf *out)
{
    struct gw_server *s = server;
    if (format == GW_OBSERVE_PROMETHEUS)
        return gw_observe_prometheus(s, out);
    if (format == GW_OBSERVE_PERFORMANCE)
        return gw_observe_performance(s, out);
    json_t *j = format == GW_OBSERVE_HEALTH ? gw_observe_health_score(s) : gw_observe_json(s);
    char *text =
        j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(GW_OBSERVE_REAL_DIGITS)) : NULL;
    json_decref(j);
    if (text == NULL)
        return GW_ENOMEM;
    int rc = gw_buf_append_str(out, text);
    if (rc == 0)
        rc = gw_buf_append(out, "\n", 1);
    free(text);
    return rc;
}

/*
 * The Prometheus text exposition (format 0.0.4): every family with HELP and TYPE, base units,
 * counters ending in _total, histograms with _bucket / _sum / _count. No printf per sample:
 * lines are assembled from a label prefix built once per row and integers written by hand, so a
 * scrape of 1,000 services with 5 targets each stays within a few milliseconds.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cache/store.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/version.h"
#include "hub/hub.h"
#include "metrics/hub.h"
#include "observe/internal.h"
#include "observe/observe.h"
#include "policy/cache_redis.h"
#include "policy/policy.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "state/redis_stats.h"
#include "trace/exporter.h"
#include "upstream/breaker.h"
#include "upstream/target_state.h"

/* The exported bucket bounds of every latency histogram, in seconds. */
static const char *const le_text[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                      "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5",
                                      "5",      "10",    "30",     "60"};
static const double le_ns[] = {5e5,   1e6, 2.5e6, 5e6,   1e7, 2.5e7, 5e7,  1e8,
                               2.5e8, 5e8, 1e9,   2.5e9, 5e9, 1e10,  3e10, 6e10};
#define NLE (sizeof le_ns / sizeof le_ns[0])

struct out {
    struct gw_buf *b;
    int rc;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->rc == 0)
        o->rc = gw_buf_append(o->b, s, n);
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
    if (o->rc == 0)
        o->rc = gw_buf_append_u64(o->b, v);
}

/* ns as seconds, exactly: "12.000345678". */
static void put_seconds(struct out *o, uint64_t ns)
{
    char frac[11] = ".000000000";
    put_u64(o, ns / 1000000000u);
    uint64_t f = ns % 1000000000u;
    for (int i = 9; i >= 1; i--) {
        frac[i] = (char)('0' + f % 10);
        f /= 10;
    }
    put(o, frac, 10);
}

static void put_double(struct out *o, double v)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    put(o, tmp, (size_t)n);
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
    puts_(o, "# HELP ");
    puts_(o, name);
    put(o, " ", 1);
    puts_(o, help);
    puts_(o, "\n# TYPE ");
    puts_(o, name);
    put(o, " ", 1);
    puts_(o, type);
    put(o, "\n", 1);
}

/* "name{labels} value\n"; labels without braces, may be "". */
static void sample_u64(struct out *o, const char *name, const char *labels, uint64_t v)
{
    puts_(o, name);
    if (labels[0]) {
        put(o, "{", 1);
        puts_(o, labels);
        put(o, "}", 1);
    }
    put(o, " ", 1);
    put_u64(o, v);
    put(o, "\n", 1);
}

static void sample_double(struct out *o, const char *name, const char *labels, double v)
{
    puts_(o, name);
    if (labels[0]) {
        put(o, "{", 1);
        puts_(o, labels);
        put(o, "}", 1);
    }
    put(o, " ", 1);
    put_double(o, v);
    put(o, "\n", 1);
}

/* Label text built in a small buffer: name="value",... */
struct labels {
    char s[1024];
    size_t n;
};

static void lbl_reset(struct labels *l)
{
    l->n = 0;
    l->s[0] = '\0';
}

static void lbl_add(struct labels *l, const char *name, const char *value)
{
    char tmp[1024];
    size_t k = 0;
    for (const char *p = value; *p && k + 2 < sizeof tmp; p++) {
        if (*p == '\\' || *p == '"') {
            tmp[k++] = '\\';
            tmp[k++] = *p;
        } else if (*p == '\n') {
            tmp[k++] = '\\';
            tmp[k++] = 'n';
        } else {
            tmp[k++] = *p;
        }
    }
    tmp[k] = '\0';
    int n = snprintf(l->s + l->n, sizeof l->s - l->n, "%s%s=\"%s\"", l->n ? "," : "", name, tmp);
    if (n > 0 && (size_t)n < sizeof l->s - l->n)
        l->n += (size_t)n;
}

/* A histogram row: buckets (cumulative, at the exported bounds), sum, count. Nothing when empty. */
static void histogram(struct out *o, const char *name, const char *labels,
                      const struct gw_hist_sum *h)
{
    if (h->count == 0)
        return;
    uint64_t cum[NLE];
    gw_hist_cumulative(h, le_ns, NLE, cum);
    size_t nl = strlen(name);
    for (size_t i = 0; i <= NLE; i++) {
        put(o, name, nl);
        puts_(o, "_bucket{");
        if (labels[0]) {
            puts_(o, labels);
            put(o, ",", 1);
        }
        puts_(o, "le=\"");
        puts_(o, i < NLE ? le_text[i] : "+Inf");
        puts_(o, "\"} ");
        put_u64(o, i < NLE ? cum[i] : h->count);
        put(o, "\n", 1);
    }
    put(o, name, nl);
    puts_(o, "_sum");
    if (labels[0]) {
        put(o, "{", 1);
        puts_(o, labels);
        put(o, "}", 1);
    }
    put(o, " ", 1);
    put_seconds(o, h->sum_ns);
    put(o, "\n", 1);
    put(o, name, nl);
    puts_(o, "_count");
    if (labels[0]) {
        put(o, "{", 1);
        puts_(o, labels);
        put(o, "}", 1);
    }
    put(o, " ", 1);
    put_u64(o, h->count);
    put(o, "\n", 1);
}

/* ---- families ---------------------------------------------------------------------------------
 */

static void process_families(struct out *o, struct gw_server *s)
{
    struct gw__observe_process p;
    gw__observe_process(&p);
    family(o, "gantry_build_info", "gauge", "Build information: the version label; always 1.");
    sample_u64(o, "gantry_build_info", "version=\"" GANTRY_VERSION "\"", 1);
    family(o, "process_cpu_seconds_total", "counter", "User and system CPU time spent, seconds.");
    sample_double(o, "process_cpu_seconds_total", "", p.cpu_seconds);
    family(o, "process_resident_memory_bytes", "gauge", "Resident memory size, bytes.");
    sample_u64(o, "process_resident_memory_bytes", "", p.rss_bytes);
    family(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size, bytes.");
    sample_u64(o, "process_virtual_memory_bytes", "", p.vsize_bytes);
    family(o, "process_open_fds", "gauge", "Open file descriptors.");
    sample_u64(o, "process_open_fds", "", p.open_fds);
    family(o, "process_max_fds", "gauge", "Limit of open file descriptors.");
    sample_u64(o, "process_max_fds", "", p.max_fds);
    family(o, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, seconds.");
    sample_double(o, "process_start_time_seconds", "", (double)s->started_ms / 1000.0);
    family(o, "gantry_config_generation", "gauge",
           "Generation of the running configuration (1 at start, +1 per successful reload).");
    sample_u64(o, "gantry_config_generation", "", s->generation);
    family(o, "gantry_config_reloads_total", "counter", "Configuration reloads, by result.");
    sample_u64(o, "gantry_config_reloads_total", "result=\"ok\"", s->reloads_ok);
    sample_u64(o, "gantry_config_reloads_total", "result=\"failed\"", s->reloads_failed);
    family(o, "gantry_config_reload_duration_seconds_total", "counter",
           "Time spent in reloads, successful or not, seconds.");
    sample_double(o, "gantry_config_reload_duration_seconds_total", "", s->reload_ms_total / 1e3);
    family(o, "gantry_config_last_reload_duration_seconds", "gauge",
           "Duration of the last successful reload, seconds.");
    sample_double(o, "gantry_config_last_reload_duration_seconds", "", s->last_reload_ms / 1e3);
    family(o, "gantry_workers", "gauge", "Worker threads.");
    sample_u64(o, "gantry_workers", "", s->nworkers);
}

static void worker_families(struct out *o, struct gw_server *s)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"gantry_client_connections", "gauge", "Client connections open, per worker."},
        {"gantry_client_connections_total", "counter", "Client connections accepted, per worker."},
        {"gantry_upstream_connections", "gauge", "Upstream connections open, per worker."},
        {"gantry_upstream_connections_total", "counter",
         "Upstream connections opened, per worker."},
        {"gantry_upstream_connection_reuses_total", "counter",
         "Requests sent on a pooled keep-alive upstream connection, per worker."},
        {"gantry_tls_handshakes_total", "counter",
         "TLS handshakes completed on the HTTPS listener, per worker."},
        {"gantry_tls_resumed_total", "counter",
         "TLS handshakes that resumed a session (ticket or cache), per worker."},
        {"gantry_tls_handshake_failures_total", "counter",
         "TLS connections that failed or ended before their handshake completed, per worker."},
        {"gantry_http2_connections_total", "counter",
         "Client connections that spoke HTTP/2, per worker."},
        {"gantry_http2_streams_total", "counter", "HTTP/2 requests (streams), per worker."},
        {"gantry_upstream_tls_handshakes_total", "counter",
         "TLS handshakes with https:// targets completed, per worker."},
        {"gantry_upstream_tls_resumed_total", "counter",
         "TLS handshakes with https:// targets that resumed a session, per worker."},
        {"gantry_upstream_tls_handshake_failures_total", "counter",
         "TLS handshakes with https:// targets that failed (certificate, host name, protocol), "
         "per worker."},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        family(o, fam[f].name, fam[f].type, fam[f].help);
        for (unsigned i = 0; i < s->nworkers; i++) {
            const struct gw_mx_worker *m = &s->workers[i].mx;
            char lbl[32];
            snprintf(lbl, sizeof lbl, "worker=\"%u\"", i);
            uint64_t opened = gw_mx_get(&m->up_opened), closed = gw_mx_get(&m->up_closed);
            uint64_t v = f == 0    ? gw_mx_get(&m->active)
                         : f == 1  ? gw_mx_get(&m->accepted)
                         : f == 2  ? (opened >= closed ? opened - closed : 0)
                         : f == 3  ? opened
                         : f == 4  ? gw_mx_get(&m->up_reused)
                         : f == 5  ? gw_mx_get(&m->tls_handshakes)
                         : f == 6  ? gw_mx_get(&m->tls_resumed)
                         : f == 7  ? gw_mx_get(&m->tls_failures)
                         : f == 8  ? gw_mx_get(&m->h2_conns)
                         : f == 9  ? gw_mx_get(&m->h2_events[0])
                         : f == 10 ? gw_mx_get(&m->up_tls_handshakes)
                         : f == 11 ? gw_mx_get(&m->up_tls_resumed)
                                   : gw_mx_get(&m->up_tls_failures);
            sample_u64(o, fam[f].name, lbl, v);
        }
    }
    /* The HTTP/2 protections (h2/session.h): what each one refused, summed over the workers. */
    static const char *const kinds[] = {"rapid_reset",  "control_flood",  "continuation_flood",
                                        "header_list",  "protocol_error", "client_reset",
                                        "body_timeout", "send_timeout"};
    family(o, "gantry_http2_refused_total", "counter",
           "HTTP/2 frames or streams refused by a protection, by kind: GOAWAY for rapid_reset, "
           "control_flood and continuation_flood; a stream reset for header_list; "
           "client_reset counts streams the client reset; body_timeout and send_timeout streams "
           "ended by their own timeout (408 or RST_STREAM).");
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uint64_t v = 0;
        for (unsigned i = 0; i < s->nworkers; i++)
            v += gw_mx_get(&s->workers[i].mx.h2_events[k + 1]);
        char lbl[48];
        snprintf(lbl, sizeof lbl, "kind=\"%s\"", kinds[k]);
        sample_u64(o, "gantry_http2_refused_total", lbl, v);
    }
}

/* Tunnels (upgraded connections, upstream/tunnel.h): summed over the workers. */
static void tunnel_families(struct out *o, struct gw_server *s)
{
    static const uint64_t le[] = GW_MX_TUNNEL_LE;
    uint64_t open = 0, total = 0, in = 0, out_b = 0, sum_ms = 0, dur[GW_MX_TUNNEL_BUCKETS] = {0};
    for (unsigned i = 0; i < s->nworkers; i++) {
        const struct gw_mx_worker *m = &s->workers[i].mx;
        open += gw_mx_get(&m->tun_open);
        total += gw_mx_get(&m->tun_total);
        in += gw_mx_get(&m->tun_bytes_in);
        out_b += gw_mx_get(&m->tun_bytes_out);
        sum_ms += gw_mx_get(&m->tun_dur_ms);
        for (size_t b = 0; b < GW_MX_TUNNEL_BUCKETS; b++)
            dur[b] += gw_mx_get(&m->tun_dur[b]);
    }
    family(o, "gantry_tunnels", "gauge", "Tunnels (WebSocket and other upgrades) open.");
    sample_u64(o, "gantry_tunnels", "", open);
    family(o, "gantry_tunnels_total", "counter", "Tunnels opened.");
    sample_u64(o, "gantry_tunnels_total", "", total);
    family(o, "gantry_tunnel_bytes_total", "counter",
           "Bytes relayed through tunnels, by direction (in: from clients, out: to clients).");
    sample_u64(o, "gantry_tunnel_bytes_total", "direction=\"in\"", in);
    sample_u64(o, "gantry_tunnel_bytes_total", "direction=\"out\"", out_b);
    family(o, "gantry_tunnel_duration_seconds", "histogram", "How long closed tunnels lasted.");
    uint64_t cum = 0;
    for (size_t b = 0; b < GW_MX_TUNNEL_BUCKETS; b++) {
        char lbl[32];
        cum += dur[b];
        if (b + 1 < GW_MX_TUNNEL_BUCKETS)
            snprintf(lbl, sizeof lbl, "le=\"%llu\"", (unsigned long long)le[b]);
        else
            snprintf(lbl, sizeof lbl, "le=\"+Inf\"");
        sample_u64(o, "gantry_tunnel_duration_seconds_bucket", lbl, cum);
    }
    sample_double(o, "gantry_tunnel_duration_seconds_sum", "", (double)sum_ms / 1e3);
    sample_u64(o, "gantry_tunnel_duration_seconds_count", "", cum);
}

static void request_families(struct out *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct labels lb;
    family(o, "gantry_http_requests_total", "counter",
           "Requests answered, by service, route (the configured prefix), method, status class "
           "and code.");
    for (size_t r = 0; r < l->nrows[GW_MX_ROUTE]; r++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_ROUTE, r);
        const char *key = l->keys[GW_MX_ROUTE][r];
        lbl_reset(&lb);
        lbl_add(&lb, "service", gw__observe_key_part(key, 0));
        lbl_add(&lb, "route", gw__observe_key_part(key, 1));
        const char *base = lb.s;
        for (unsigned m = 0; m < GW_MX_METHODS; m++) {
            for (unsigned c = 0; c < GW_MX_CODES; c++) {
                uint64_t v = row[GW_MX_R_REQ_AT(m, c)];
                if (v == 0)
                    continue;
                puts_(o, "gantry_http_requests_total{");
                puts_(o, base);
                puts_(o, ",method=\"");
                puts_(o, gw_mx_method_name(m));
                puts_(o, "\",class=\"");
                puts_(o, gw_mx_code_class(c));
                puts_(o, "\",code=\"");
                puts_(o, gw_mx_code_name(c));
                puts_(o, "\"} ");
                put_u64(o, v);
                put(o, "\n", 1);
            }
        }
    }
    static const struct {
        const char *name, *help;
        unsigned word;
    } bytes[] = {
        {"gantry_http_request_bytes_total", "Bytes received from clients (heads and bodies).",
         GW_MX_R_BYTES_IN},
        {"gantry_http_response_bytes_total", "Bytes sent to clients (heads and bodies).",
         GW_MX_R_BYTES_OUT},
    };
    for (size_t f = 0; f < 2; f++) {
        family(o, bytes[f].name, "counter", bytes[f].help);
        for (size_t r = 0; r < l->nrows[GW_MX_ROUTE]; r++) {
            const uint64_t *row = gw_metrics_total_row(t, GW_MX_ROUTE, r);
            const char *key = l->keys[GW_MX_ROUTE][r];
            if (r == 0 && row[bytes[f].word] == 0)
                continue; /* unrouted traffic, when there was none */
            lbl_reset(&lb);
            lbl_add(&lb, "service", gw__observe_key_part(key, 0));
            lbl_add(&lb, "route", gw__observe_key_part(key, 1));
            sample_u64(o, bytes[f].name, lb.s, row[bytes[f].word]);
        }
    }
    family(o, "gantry_http_request_duration_seconds", "histogram",
           "Time from a request's first byte to its last response byte, by service and route.");
    static struct gw_hist_sum h;
    for (size_t r = 0; r < l->nrows[GW_MX_ROUTE]; r++) {
        const char *key = l->keys[GW_MX_ROUTE][r];
        gw_metrics_total_hist(t, r, &h);
        lbl_reset(&lb);
        lbl_add(&lb, "service", gw__observe_key_part(key, 0));
        lbl_add(&lb, "route", gw__observe_key_part(key, 1));
        histogram(o, "gantry_http_request_duration_seconds", lb.s, &h);
    }
    family(o, "gantry_http_consumer_requests_total", "counter",
           "Requests of authenticated consumers, by service, consumer and status class (on "
           "services with metrics.consumers; \"other\" past metrics.max_consumers).");
    static const char *const cls[GW_MX_C_WORDS] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t r = 0; r < l->nrows[GW_MX_CONSUMER]; r++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_CONSUMER, r);
        const char *key = l->keys[GW_MX_CONSUMER][r];
        const char *consumer = gw__observe_key_part(key, 1);
        for (unsigned c = 0; c < GW_MX_C_WORDS; c++) {
            if (row[c] == 0)
                continue;
            lbl_reset(&lb);
            lbl_add(&lb, "service", gw__observe_key_part(key, 0));
            lbl_add(&lb, "consumer", consumer[0] == '\x01' ? consumer + 1 : consumer);
            lbl_add(&lb, "class", cls[c]);
            sample_u64(o, "gantry_http_consumer_requests_total", lb.s, row[c]);
        }
    }
}

static void service_families(struct out *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct labels lb;
    static const struct {
        const char *name, *help;
        unsigned word;
    } svc[] = {
        {"gantry_upstream_retries_total", "Retries made by the retry policy.", GW_MX_S_RETRIES},
        {"gantry_upstream_retry_budget_refusals_total",
         "Retries the retry policy allowed but the retry budget refused.", GW_MX_S_BUDGET_REFUSED},
        {"gantry_circuit_rejections_total", "Requests answered 503 by the service's open circuit.",
         GW_MX_S_CIRCUIT_REFUSED},
        {"gantry_upstream_no_target_total", "Requests answered 503 because no target was usable.",
         GW_MX_S_NO_TARGET},
    };
    for (size_t f = 0; f < sizeof svc / sizeof svc[0]; f++) {
        family(o, svc[f].name, "counter", svc[f].help);
        for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
            lbl_reset(&lb);
            lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
            sample_u64(o, svc[f].name, lb.s,
                       gw_metrics_total_row(t, GW_MX_SERVICE, i)[svc[f].word]);
        }
    }
    family(o, "gantry_auth_requests_total", "counter",
           "Authentication outcomes by service and credential method: result ok, forbidden "
           "(403) or unauthorized (401, with its reason).");
    for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_SERVICE, i);
        for (unsigned m = 0; m < GW_MX_AUTH_METHODS; m++) {
            for (unsigned c = 0; c < GW_MX_AUTH_OUTCOMES; c++) {
                uint64_t v = row[GW_MX_S_AUTH + m * GW_MX_AUTH_OUTCOMES + c];
                if (v == 0)
                    continue;
                lbl_reset(&lb);
                lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
                lbl_add(&lb, "method", gw_mx_auth_method_name(m));
                lbl_add(&lb, "result",
                        c == GW_MX_AUTH_OK          ? "ok"
                        : c == GW_MX_AUTH_FORBIDDEN ? "forbidden"
                                                    : "unauthorized");
                lbl_add(&lb, "reason", c <= GW_MX_AUTH_FORBIDDEN ? "" : gw_mx_auth_outcome_name(c));
                sample_u64(o, "gantry_auth_requests_total", lb.s, v);
            }
        }
    }
    static const char *const cache_result[] = {"hit", "miss", "stale", "expired", "bypass"};
    family(o, "gantry_cache_requests_total", "counter",
           "Requests to services with the response cache, by result: hit (fresh, 304 included), "
           "miss, stale (max-stale, stale-if-error), expired (stored but refetched), bypass.");
    for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_SERVICE, i);
        for (unsigned c = 0; c < 5; c++) {
            if (row[GW_MX_S_CACHE + c] == 0)
                continue;
            lbl_reset(&lb);
            lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
            lbl_add(&lb, "result", cache_result[c]);
            sample_u64(o, "gantry_cache_requests_total", lb.s, row[GW_MX_S_CACHE + c]);
        }
    }
    static const struct {
        const char *name, *help;
        unsigned word;
    } cache_svc[] = {
        {"gantry_cache_collapsed_total",
         "Requests that waited for another request's fill of the same key.", GW_MX_CACHE_COLLAPSED},
        {"gantry_cache_stored_total", "Responses stored.", GW_MX_CACHE_STORED},
        {"gantry_cache_revalidations_total",
         "Stale stored responses the origin validated with a 304 (and refreshed).",
         GW_MX_CACHE_REVALIDATED},
        {"gantry_cache_stored_bytes_total", "Body bytes of the responses stored.",
         GW_MX_CACHE_STORED_BYTES},
        {"gantry_cache_backend_errors_total",
         "Look-ups and purges the Redis backend did not answer (down, timed out, an error): "
         "the request went on as a miss.",
         GW_MX_CACHE_BACKEND_ERRORS},
    };
    for (size_t f = 0; f < sizeof cache_svc / sizeof cache_svc[0]; f++) {
        family(o, cache_svc[f].name, "counter", cache_svc[f].help);
        for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
            lbl_reset(&lb);
            lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
            sample_u64(
                o, cache_svc[f].name, lb.s,
                gw_metrics_total_row(t, GW_MX_SERVICE, i)[GW_MX_S_CACHE + cache_svc[f].word]);
        }
    }
    family(o, "gantry_auth_token_cache_requests_total", "counter",
           "Look-ups in the verified-token caches, by cache (jwt, introspection) and result.");
    for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_SERVICE, i);
        for (unsigned c = 0; c < 4; c++) {
            uint64_t v = row[GW_MX_S_TCACHE + c];
            if (v == 0)
                continue;
            lbl_reset(&lb);
            lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
            lbl_add(&lb, "cache", c < 2 ? "jwt" : "introspection");
            lbl_add(&lb, "result", c % 2 == 0 ? "hit" : "miss");
            sample_u64(o, "gantry_auth_token_cache_requests_total", lb.s, v);
        }
    }
    static struct gw_hist_sum h;
    family(o, "gantry_upstream_try_duration_seconds", "histogram",
           "Duration of one upstream try (connect or reuse to the response's end), by service.");
    for (size_t i = 0; i < l->nservices; i++) {
        gw_metrics_total_hist(t, l->svc[i].hist_try, &h);
        lbl_reset(&lb);
        lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
        histogram(o, "gantry_upstream_try_duration_seconds", lb.s, &h);
    }
    family(o, "gantry_upstream_first_byte_seconds", "histogram",
           "Time from a try's start to the first byte of the upstream's response, by service.");
    for (size_t i = 0; i < l->nservices; i++) {
        gw_metrics_total_hist(t, l->svc[i].hist_ttfb, &h);
        lbl_reset(&lb);
        lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
        histogram(o, "gantry_upstream_first_byte_seconds", lb.s, &h);
    }
    family(o, "gantry_policy_duration_seconds", "histogram",
           "Time a policy stage took to decide (rate limit, auth, ...), by service and stage.");
    for (size_t r = 0; r < l->nrows[GW_MX_HIST]; r++) {
        const char *key = l->keys[GW_MX_HIST][r];
        if (strcmp(gw__observe_key_part(key, 0), "stage") != 0)
            continue;
        gw_metrics_total_hist(t, r, &h);
        const char *stage = gw__observe_stage_name(gw__observe_key_part(key, 2));
        lbl_reset(&lb);
        lbl_add(&lb, "service", gw__observe_key_part(key, 1));
        lbl_add(&lb, "stage", stage);
        histogram(o, "gantry_policy_duration_seconds", lb.s, &h);
    }
}

static void limit_families(struct out *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct labels lb;
    family(o, "gantry_ratelimit_decisions_total", "counter",
           "Rate-limit decisions per limit (scope: \"gateway\" or the service), allowed or "
           "limited.");
    for (size_t i = 0; i < l->nrows[GW_MX_LIMIT]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_LIMIT, i);
        const char *key = l->keys[GW_MX_LIMIT][i];
        const char *scope = gw__observe_key_part(key, 0);
        for (int d = 0; d < 2; d++) {
            lbl_reset(&lb);
            lbl_add(&lb, "scope", scope[0] ? scope : "gateway");
            lbl_add(&lb, "limit", gw__observe_key_part(key, 1));
            lbl_add(&lb, "decision", d == 0 ? "allowed" : "limited");
            sample_u64(o, "gantry_ratelimit_decisions_total", lb.s,
                       row[d == 0 ? GW_MX_L_ALLOWED : GW_MX_L_LIMITED]);
        }
    }
    family(o, "gantry_ratelimit_redis_fallbacks_total", "counter",
           "Decisions Redis could not make, left to rate_limit.redis.failure_policy, per limit.");
    for (size_t i = 0; i < l->nrows[GW_MX_LIMIT]; i++) {
        const char *key = l->keys[GW_MX_LIMIT][i];
        const char *scope = gw__observe_key_part(key, 0);
        lbl_reset(&lb);
        lbl_add(&lb, "scope", scope[0] ? scope : "gateway");
        lbl_add(&lb, "limit", gw__observe_key_part(key, 1));
        sample_u64(o, "gantry_ratelimit_redis_fallbacks_total", lb.s,
                   gw_metrics_total_row(t, GW_MX_LIMIT, i)[GW_MX_L_FALLBACK]);
    }
}

/* Per target: counters from the rows, states from the live state beside the snapshot. */
static void target_families(struct out *o, struct gw_server *s, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    const struct gw_snapshot *snap = s->snap;
    struct labels lb;
    static const struct {
        const char *name, *help;
        unsigned word;
    } tf[] = {
        {"gantry_upstream_tries_total", "Upstream tries (each retry is a try).", GW_MX_T_TRIES},
        {"gantry_upstream_try_failures_total",
         "Tries that failed: connect error, reset, timeout, invalid answer or 5xx.",
         GW_MX_T_FAILURES},
        {"gantry_upstream_connect_errors_total", "Connects refused, failed or timed out.",
         GW_MX_T_CONNECT_ERRORS},
        {"gantry_upstream_resets_total",
         "Upstream connections closed or reset before the response was complete.", GW_MX_T_RESETS},
        {"gantry_upstream_timeouts_total", "Upstream response timeouts (per try or whole).",
         GW_MX_T_TIMEOUTS},
        {"gantry_outlier_ejections_total", "Ejections by outlier detection.", GW_MX_T_EJECTIONS},
    };
    for (size_t f = 0; f < sizeof tf / sizeof tf[0]; f++) {
        family(o, tf[f].name, "counter", tf[f].help);
        for (size_t i = 0; i < l->nrows[GW_MX_TARGET]; i++) {
            const char *key = l->keys[GW_MX_TARGET][i];
            lbl_reset(&lb);
            lbl_add(&lb, "service", gw__observe_key_part(key, 0));
            lbl_add(&lb, "target", gw__observe_key_part(key, 1));
            sample_u64(o, tf[f].name, lb.s, gw_metrics_total_row(t, GW_MX_TARGET, i)[tf[f].word]);
        }
    }
    family(o, "gantry_upstream_try_seconds_total", "counter",
           "Time spent in upstream tries, per target (divide by tries for the mean).");
    for (size_t i = 0; i < l->nrows[GW_MX_TARGET]; i++) {
        const char *key = l->keys[GW_MX_TARGET][i];
        lbl_reset(&lb);
        lbl_add(&lb, "service", gw__observe_key_part(key, 0));
        lbl_add(&lb, "target", gw__observe_key_part(key, 1));
        puts_(o, "gantry_upstream_try_seconds_total{");
        puts_(o, lb.s);
        puts_(o, "} ");
        put_seconds(o, gw_metrics_total_row(t, GW_MX_TARGET, i)[GW_MX_T_TRY_NS]);
        put(o, "\n", 1);
    }
    /* States: read now from the snapshot's live state (atomics). */
    uint64_t now = uv_hrtime() / 1000000;
    family(o, "gantry_target_up", "gauge",
           "1 when the target takes traffic (not down by health checks, not ejected, circuit not "
           "open), else 0.");
    family(o, "gantry_target_health_check_up", "gauge",
           "Active health check verdict: 1 up, 0 down, -1 not checked (yet).");
    family(o, "gantry_target_ejected", "gauge", "1 while outlier detection keeps it out.");
    family(o, "gantry_circuit_state", "gauge",
           "Circuit breaker state: 0 closed, 1 open, 2 half-open (target=\"\": the service's "
           "own circuit). Only for services with a circuit_breaker.");
    family(o, "gantry_circuit_open", "gauge", "1 while the circuit is open or half-open.");
    family(o, "gantry_circuit_openings_total", "counter",
           "Transitions to open since the configuration was loaded (a reload starts circuits "
           "afresh).");
    family(o, "gantry_service_targets", "gauge", "Targets of the service.");
    family(o, "gantry_service_healthy_targets", "gauge", "Targets of the service taking traffic.");
    family(o, "gantry_service_slo_latency_p99_seconds", "gauge",
           "The service's p99 latency objective (slo.latency_p99), seconds.");
    family(o, "gantry_service_slo_error_rate", "gauge",
           "The share of 5xx answers the service's objective allows (slo.error_rate).");
    for (size_t i = 0; snap && i < snap->nservices; i++) {
        const struct gw_service *svc = &snap->services[i];
        struct gw__observe_targets st;
        gw__observe_service_targets(svc, now, &st);
        lbl_reset(&lb);
        lbl_add(&lb, "service", svc->conf->name);
        sample_u64(o, "gantry_service_targets", lb.s, svc->ntargets);
        sample_u64(o, "gantry_service_healthy_targets", lb.s, st.usable);
        /* Exported so that alert rules can compare a service with its own objective. */
        sample_double(o, "gantry_service_slo_latency_p99_seconds", lb.s,
                      (double)svc->conf->slo_latency_p99_ms / 1e3);
        sample_double(o, "gantry_service_slo_error_rate", lb.s, svc->conf->slo_error_rate);
        if (svc->breaker_on) {
            struct gw_breaker_stats bs;
            gw_breaker_stats(&svc->live->breaker, now, &bs);
            lbl_add(&lb, "target", "");
            sample_u64(o, "gantry_circuit_state", lb.s, (uint64_t)bs.state);
            sample_u64(o, "gantry_circuit_open", lb.s, bs.state != GW_BREAKER_CLOSED);
            sample_u64(o, "gantry_circuit_openings_total", lb.s, bs.times_opened);
        }
        for (size_t k = 0; k < svc->ntargets; k++) {
            const struct gw_target *tg = &svc->targets[k];
            lbl_reset(&lb);
            lbl_add(&lb, "service", svc->conf->name);
            lbl_add(&lb, "target", tg->key);
            sample_u64(o, "gantry_target_up", lb.s, gw__observe_target_usable(svc, k, now));
            if (tg->state) {
                struct gw_target_state_info info;
                gw_target_state_info(tg->state, &info);
                puts_(o, "gantry_target_health_check_up{");
                puts_(o, lb.s);
                puts_(o, info.health == GW_HEALTH_UP     ? "} 1\n"
                         : info.health == GW_HEALTH_DOWN ? "} 0\n"
                                                         : "} -1\n");
                sample_u64(o, "gantry_target_ejected", lb.s, info.ejected_until_ms > now);
            }
            if (tg->breaker) {
                struct gw_breaker_stats bs;
                gw_breaker_stats(tg->breaker, now, &bs);
                sample_u64(o, "gantry_circuit_state", lb.s, (uint64_t)bs.state);
                sample_u64(o, "gantry_circuit_open", lb.s, bs.state != GW_BREAKER_CLOSED);
                sample_u64(o, "gantry_circuit_openings_total", lb.s, bs.times_opened);
            }
        }
    }
}

static uint64_t ld(_Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

_Static_assert(GW_REDIS_LAT_BUCKETS == NLE, "a Redis client's buckets are the exported bounds");

/* The round trips of one use's clients, from their fixed buckets (state/redis_stats.h). */
static void redis_latency(struct out *o, const char *labels, struct gw_redis_stats *st)
{
    uint64_t n = ld(&st->lat_count), cum = 0;
    if (n == 0)
        return;
    for (size_t i = 0; i <= NLE; i++) {
        cum += ld(&st->lat[i]);
        puts_(o, "gantry_redis_command_duration_seconds_bucket{");
        puts_(o, labels);
        puts_(o, ",le=\"");
        puts_(o, i < NLE ? le_text[i] : "+Inf");
        puts_(o, "\"} ");
        put_u64(o, i < NLE ? cum : n);
        put(o, "\n", 1);
    }
    puts_(o, "gantry_redis_command_duration_seconds_sum{");
    puts_(o, labels);
    puts_(o, "} ");
    put_seconds(o, ld(&st->lat_sum_ns));
    puts_(o, "\ngantry_redis_command_duration_seconds_count{");
    puts_(o, labels);
    puts_(o, "} ");
    put_u64(o, n);
    put(o, "\n", 1);
}

/* Every shared Redis client by use (ratelimit, registration, revocations, hub, ...): samples
 * for the uses that have a client now. The rate limits' up and counts are their backend's own
 * (a decision, not a command), the others' their clients'. */
static void redis_families(struct out *o, struct gw_server *s)
{
    struct gw__observe_redis r;
    struct labels lb;
    bool rl = gw__observe_redis(s, &r);
    size_t nuses = gw_redis_stats_count();
    family(o, "gantry_redis_up", "gauge",
           "1 when every Redis client of a use (ratelimit, registration, revocations, hub) is "
           "connected, else 0; only for the uses configured with Redis.");
    family(o, "gantry_redis_clients_up", "gauge",
           "Redis clients of a use that are connected (ratelimit: one per worker).");
    family(o, "gantry_redis_connects_total", "counter",
           "Redis connections made by a use's clients: the first and every reconnect.");
    family(o, "gantry_redis_disconnects_total", "counter",
           "Redis connections a use's clients lost after they were up.");
    family(o, "gantry_redis_commands_total", "counter",
           "Commands sent to Redis by use (ratelimit: script calls).");
    family(o, "gantry_redis_command_errors_total", "counter",
           "Redis commands that failed, by use and kind (error, timeout, unavailable).");
    for (size_t i = 0; i < nuses; i++) {
        struct gw_redis_stats *st = gw_redis_stats_at(i);
        bool is_rl = strcmp(st->use, "ratelimit") == 0;
        uint64_t clients = ld(&st->clients), up = ld(&st->clients_up);
        if (is_rl ? !rl : clients == 0)
            continue;
        lbl_reset(&lb);
        lbl_add(&lb, "use", st->use);
        sample_u64(o, "gantry_redis_up", lb.s, is_rl ? r.up : up == clients);
        sample_u64(o, "gantry_redis_clients_up", lb.s, is_rl ? r.clients_up : up);
        sample_u64(o, "gantry_redis_connects_total", lb.s, ld(&st->connects));
        sample_u64(o, "gantry_redis_disconnects_total", lb.s, ld(&st->disconnects));
        sample_u64(o, "gantry_redis_commands_total", lb.s, is_rl ? r.calls : ld(&st->commands));
        static const char *const kinds[] = {"error", "timeout", "unavailable"};
        uint64_t v[3] = {ld(&st->errors), ld(&st->timeouts), ld(&st->unavailable)};
        if (is_rl) {
            v[0] = r.errors;
            v[1] = r.timeouts;
            v[2] = r.unavailable;
        }
        for (size_t k = 0; k < 3; k++) {
            struct labels kl = lb;
            lbl_add(&kl, "kind", kinds[k]);
            sample_u64(o, "gantry_redis_command_errors_total", kl.s, v[k]);
        }
    }
}

/* Command round trips by use: the rate limits' from the workers' histograms (a decision's
 * round trip, t: NULL when there are no request metrics), the other uses' from their clients'
 * buckets. */
static void redis_latencies(struct out *o, const struct gw_metrics_total *t)
{
    struct labels lb;
    family(o, "gantry_redis_command_duration_seconds", "histogram",
           "Round trip of a command sent to Redis, by use (for ratelimit: a decision's).");
    if (t != NULL) {
        struct gw_hist_sum h;
        gw_metrics_total_hist(t, t->layout->hist_redis, &h);
        histogram(o, "gantry_redis_command_duration_seconds", "use=\"ratelimit\"", &h);
    }
    for (size_t i = 0; i < gw_redis_stats_count(); i++) {
        struct gw_redis_stats *st = gw_redis_stats_at(i);
        if (strcmp(st->use, "ratelimit") == 0 || ld(&st->clients) == 0)
            continue;
        lbl_reset(&lb);
        lbl_add(&lb, "use", st->use);
        redis_latency(o, lb.s, st);
    }
}

/* The trace exporter's counters (docs/tracing.md); samples only while tracing is on. */
static void tracing_families(struct out *o, struct gw_server *s)
{
    family(o, "gantry_tracing_spans_total", "counter",
           "Spans by outcome: exported (the collector took them), failed (in an export that "
           "failed), dropped (a worker's queue was full).");
    family(o, "gantry_tracing_queued_traces", "gauge",
           "Finished requests waiting in the workers' queues for the exporter.");
    family(o, "gantry_tracing_exports_total", "counter", "Exports to the collector, by result.");
    if (s->snap == NULL || !s->snap->cfg->tracing.enabled)
        return;
    struct gw_tracer_stats st;
    gw_tracer_stats(s->tracer, &st);
    sample_u64(o, "gantry_tracing_spans_total", "outcome=\"exported\"", st.exported);
    sample_u64(o, "gantry_tracing_spans_total", "outcome=\"failed\"", st.failed);
    sample_u64(o, "gantry_tracing_spans_total", "outcome=\"dropped\"", st.dropped);
    sample_u64(o, "gantry_tracing_queued_traces", "", st.queued);
    sample_u64(o, "gantry_tracing_exports_total", "result=\"ok\"", st.exports_ok);
    sample_u64(o, "gantry_tracing_exports_total", "result=\"failed\"", st.exports_failed);
}

/* The audit log (audit/audit.h): only when it is on. */
static void audit_families(struct out *o)
{
    struct gw_audit_stats st;
    gw_audit_get_stats(&st);
    if (!st.enabled)
        return;
    family(o, "gantry_audit_entries_total", "counter",
           "Audit entries written (numbered, chained).");
    sample_u64(o, "gantry_audit_entries_total", "", st.entries);
    family(o, "gantry_audit_dropped_total", "counter",
           "Audit records dropped before they were numbered (the queue was full).");
    sample_u64(o, "gantry_audit_dropped_total", "", st.dropped);
    if (!st.pg_configured)
        return;
    family(o, "gantry_audit_postgres_up", "gauge",
           "1 when the audit log's PostgreSQL connection is up, 0 when down.");
    sample_u64(o, "gantry_audit_postgres_up", "", st.pg_up);
    family(o, "gantry_audit_postgres_pending", "gauge",
           "Audit entries waiting for PostgreSQL (held while it is down).");
    sample_u64(o, "gantry_audit_postgres_pending", "", st.pg_pending);
    family(o, "gantry_audit_postgres_written_total", "counter",
           "Audit entries PostgreSQL acknowledged.");
    sample_u64(o, "gantry_audit_postgres_written_total", "", st.pg_written);
    family(o, "gantry_audit_postgres_dropped_total", "counter",
           "Audit entries not written to PostgreSQL (its queue was full, or it refused the row).");
    sample_u64(o, "gantry_audit_postgres_dropped_total", "", st.pg_dropped);
}

/* The WebSocket hub (hub/hub.h), when it runs; its Redis backend's state with backend redis. */
static void hub_families(struct out *o, struct gw_server *s)
{
    if (s->hub == NULL)
        return;
    struct gw_hub_stats st;
    gw_hub_get_stats(s->hub, &st);
    family(o, "gantry_hub_connections", "gauge", "Open WebSocket hub connections.");
    sample_u64(o, "gantry_hub_connections", "", st.connections);
    family(o, "gantry_hub_messages_published_total", "counter",
           "Messages published through this instance (admin API and clients).");
    sample_u64(o, "gantry_hub_messages_published_total", "", st.published);
    family(o, "gantry_hub_messages_delivered_total", "counter",
           "Messages handed to a client of this instance.");
    sample_u64(o, "gantry_hub_messages_delivered_total", "", st.delivered);
    family(o, "gantry_hub_slow_consumers_total", "counter",
           "Clients cut (close 1013) because their send queue passed hub.max_queue.");
    sample_u64(o, "gantry_hub_slow_consumers_total", "", st.slow_cut);
    if (!st.redis_backend)
        return;
    /* Its state and reconnects: gantry_redis_up and gantry_redis_connects_total, use="hub". */
    family(o, "gantry_hub_redis_local_deliveries_total", "counter",
           "Messages delivered to this instance's clients only, because Redis could not take "
           "them.");
    sample_u64(o, "gantry_hub_redis_local_deliveries_total", "", st.redis_local);
}

/* The response cache's store, shared by every service (cache/store.h). */
static void cache_families(struct out *o, struct gw_server *s)
{
    struct gw_cache_store *store = s->policy ? s->policy->cache_store : NULL;
    if (store == NULL)
        return;
    struct gw_cache_store_stats st;
    gw_cache_store_stats(store, &st);
    family(o, "gantry_cache_objects", "gauge", "Responses held by the cache's store.");
    sample_u64(o, "gantry_cache_objects", "", st.objects);
    family(o, "gantry_cache_bytes", "gauge",
           "Memory charged to the stored responses (bodies, heads, keys, a fixed overhead each).");
    sample_u64(o, "gantry_cache_bytes", "", st.bytes);
    family(o, "gantry_cache_max_bytes", "gauge", "The store's bound (cache.memory.max_bytes).");
    sample_u64(o, "gantry_cache_max_bytes", "", gw_cache_store_max_bytes(store));
    family(o, "gantry_cache_evictions_total", "counter",
           "Stored responses dropped to make room (segmented LRU).");
    sample_u64(o, "gantry_cache_evictions_total", "", st.evictions);
    family(o, "gantry_cache_purged_total", "counter", "Stored responses purged or invalidated.");
    sample_u64(o, "gantry_cache_purged_total", "", st.purged);
    if (s->cache_redis == NULL)
        return;
    struct gw_cache_redis_stats rs;
    gw_cache_redis_stats(&rs);
    family(o, "gantry_cache_redis_up", "gauge",
           "1 when every Redis client of the cache's Redis backend (workers', control's) is "
           "connected, else 0.");
    sample_u64(o, "gantry_cache_redis_up", "", rs.up == rs.clients);
    family(o, "gantry_cache_redis_errors_total", "counter",
           "Commands of the cache's Redis backend that failed (look-ups, stores, purges, "
           "malformed entries), over every service.");
    sample_u64(o, "gantry_cache_redis_errors_total", "", rs.errors);
    family(o, "gantry_cache_redis_lookups_total", "counter",
           "Look-ups sent to the cache's Redis backend, by result.");
    sample_u64(o, "gantry_cache_redis_lookups_total", "result=\"found\"", rs.found);
    sample_u64(o, "gantry_cache_redis_lookups_total", "result=\"not_found\"",
               rs.lookups > rs.found ? rs.lookups - rs.found : 0);
    family(o, "gantry_cache_redis_stores_total", "counter",
           "Entries the cache's Redis backend wrote.");
    sample_u64(o, "gantry_cache_redis_stores_total", "", rs.stores);
}

int gw_observe_prometheus(struct gw_server *s, struct gw_buf *b)
{
    struct out o = {b, 0};
    uint64_t t0 = uv_hrtime();
    process_families(&o, s);
    worker_families(&o, s);
    tunnel_families(&o, s);
    struct gw_metrics_total t;
    bool have = s->metrics && s->snap && s->snap->metrics &&
                (gw_metrics_hub_collect(s->metrics), gw_metrics_hub_total(s->metrics, &t) == 0);
    if (have) {
        request_families(&o, &t);
        service_families(&o, &t);
        limit_families(&o, &t);
        target_families(&o, s, &t);
    }
    redis_families(&o, s);
    redis_latencies(&o, have ? &t : NULL);
    tracing_families(&o, s);
    audit_families(&o);
    cache_families(&o, s);
    hub_families(&o, s);
    size_t sets = 0, bytes = 0;
    if (s->metrics)
        gw_metrics_hub_usage(s->metrics, &sets, &bytes);
    family(&o, "gantry_metrics_memory_bytes", "gauge",
           "Memory held by request metrics: every worker's counters, the base, the scrape copy.");
    sample_u64(&o, "gantry_metrics_memory_bytes", "", bytes);
    family(&o, "gantry_metrics_sets", "gauge",
           "Metric sets alive (one per configuration generation still serving requests).");
    sample_u64(&o, "gantry_metrics_sets", "", sets);
    family(&o, "gantry_metrics_scrape_duration_seconds", "gauge",
           "Time this exposition took to build, seconds.");
    sample_double(&o, "gantry_metrics_scrape_duration_seconds", "",
                  (double)(uv_hrtime() - t0) / 1e9);
    return o.rc;
}

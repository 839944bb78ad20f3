/*
 * The Prometheus families of the HTTP side: connections per worker (client, upstream, TLS,
 * HTTP/2 and its protections), tunnels, and requests by service, route, method and code with
 * their bytes, latency and consumers.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "metrics/hub.h"
#include "observe/internal.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"

void gw__prom_connections(struct gw__prom *o, struct gw_server *s)
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
        gw__prom_family(o, fam[f].name, fam[f].type, fam[f].help);
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
            gw__prom_sample_u64(o, fam[f].name, lbl, v);
        }
    }
    /* The HTTP/2 protections (h2/session.h): what each one refused, summed over the workers. */
    static const char *const kinds[] = {"rapid_reset",      "control_flood",  "continuation_flood",
                                        "header_list",      "protocol_error", "client_reset",
                                        "body_timeout",     "send_timeout",   "provoked_reset",
                                        "empty_frame_flood"};
    gw__prom_family(
        o, "gantry_http2_refused_total", "counter",
        "HTTP/2 frames or streams refused by a protection, by kind: GOAWAY for rapid_reset, "
        "provoked_reset (streams gantry reset for the client's errors, same budget), "
        "control_flood, continuation_flood and empty_frame_flood (empty DATA, PRIORITY, tiny "
        "WINDOW_UPDATE); a stream reset for header_list; "
        "client_reset counts streams the client reset; body_timeout and send_timeout streams "
        "ended by their own timeout (408 or RST_STREAM).");
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uint64_t v = 0;
        for (unsigned i = 0; i < s->nworkers; i++)
            v += gw_mx_get(&s->workers[i].mx.h2_events[k + 1]);
        char lbl[48];
        snprintf(lbl, sizeof lbl, "kind=\"%s\"", kinds[k]);
        gw__prom_sample_u64(o, "gantry_http2_refused_total", lbl, v);
    }
}
/* Tunnels (upgraded connections, upstream/tunnel.h): summed over the workers. */
void gw__prom_tunnels(struct gw__prom *o, struct gw_server *s)
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
    gw__prom_family(o, "gantry_tunnels", "gauge", "Tunnels (WebSocket and other upgrades) open.");
    gw__prom_sample_u64(o, "gantry_tunnels", "", open);
    gw__prom_family(o, "gantry_tunnels_total", "counter", "Tunnels opened.");
    gw__prom_sample_u64(o, "gantry_tunnels_total", "", total);
    gw__prom_family(
        o, "gantry_tunnel_bytes_total", "counter",
        "Bytes relayed through tunnels, by direction (in: from clients, out: to clients).");
    gw__prom_sample_u64(o, "gantry_tunnel_bytes_total", "direction=\"in\"", in);
    gw__prom_sample_u64(o, "gantry_tunnel_bytes_total", "direction=\"out\"", out_b);
    gw__prom_family(o, "gantry_tunnel_duration_seconds", "histogram",
                    "How long closed tunnels lasted.");
    uint64_t cum = 0;
    for (size_t b = 0; b < GW_MX_TUNNEL_BUCKETS; b++) {
        char lbl[32];
        cum += dur[b];
        if (b + 1 < GW_MX_TUNNEL_BUCKETS)
            snprintf(lbl, sizeof lbl, "le=\"%llu\"", (unsigned long long)le[b]);
        else
            snprintf(lbl, sizeof lbl, "le=\"+Inf\"");
        gw__prom_sample_u64(o, "gantry_tunnel_duration_seconds_bucket", lbl, cum);
    }
    gw__prom_sample_double(o, "gantry_tunnel_duration_seconds_sum", "", (double)sum_ms / 1e3);
    gw__prom_sample_u64(o, "gantry_tunnel_duration_seconds_count", "", cum);
}
/* One gantry_http_requests_total line: the route's labels, then method, class and code. */
static void request_line(struct gw__prom *o, const char *lbl, size_t llen, unsigned m, unsigned c,
                         uint64_t v)
{
    static const char name[] = "gantry_http_requests_total{";
    const char *parts[3] = {gw_mx_method_name(m), gw_mx_code_class(c), gw_mx_code_name(c)};
    size_t plen[3] = {strlen(parts[0]), strlen(parts[1]), strlen(parts[2])};
    char *p =
        gw__prom_room(o, sizeof name + llen + 32 + plen[0] + plen[1] + plen[2] + GW__PROM_U64_MAX);
    if (p == NULL)
        return;
    memcpy(p, name, sizeof name - 1);
    p += sizeof name - 1;
    memcpy(p, lbl, llen);
    p += llen;
    static const char *const sep[3] = {",method=\"", "\",class=\"", "\",code=\""};
    for (int i = 0; i < 3; i++) {
        size_t sl = strlen(sep[i]);
        memcpy(p, sep[i], sl);
        p += sl;
        memcpy(p, parts[i], plen[i]);
        p += plen[i];
    }
    memcpy(p, "\"} ", 3);
    p = gw__prom_u64_to(p + 3, v);
    *p++ = '\n';
    gw__prom_commit(o, p);
}

void gw__prom_requests(struct gw__prom *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    const struct gw__prom_rows *routes = &o->rows[GW_MX_ROUTE];
    struct gw__prom_labels lb;
    size_t llen;
    gw__prom_family(
        o, "gantry_http_requests_total", "counter",
        "Requests answered, by service, route (the configured prefix), method, status class "
        "and code.");
    for (size_t r = 0; r < l->nrows[GW_MX_ROUTE]; r++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_ROUTE, r);
        const char *base = gw__prom_rows_get(routes, r, &llen);
        for (unsigned m = 0; m < GW_MX_METHODS; m++) {
            for (unsigned c = 0; c < GW_MX_CODES; c++) {
                uint64_t v = row[GW_MX_R_REQ_AT(m, c)];
                if (v != 0)
                    request_line(o, base, llen, m, c, v);
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
        gw__prom_family(o, bytes[f].name, "counter", bytes[f].help);
        size_t nlen = strlen(bytes[f].name);
        for (size_t r = 0; r < l->nrows[GW_MX_ROUTE]; r++) {
            const uint64_t *row = gw_metrics_total_row(t, GW_MX_ROUTE, r);
            if (r == 0 && row[bytes[f].word] == 0)
                continue; /* unrouted traffic, when there was none */
            const char *lbl = gw__prom_rows_get(routes, r, &llen);
            gw__prom_line_u64(o, bytes[f].name, nlen, lbl, llen, row[bytes[f].word]);
        }
    }
    gw__prom_family(
        o, "gantry_http_request_duration_seconds", "histogram",
        "Time from a request's first byte to its last response byte, by service and route.");
    static struct gw_hist_sum h;
    static const char hname[] = "gantry_http_request_duration_seconds";
    for (size_t r = 0; r < l->nrows[GW_MX_ROUTE]; r++) {
        gw_metrics_total_hist(t, r, &h);
        const char *lbl = gw__prom_rows_get(routes, r, &llen);
        gw__prom_histogram_n(o, hname, sizeof hname - 1, lbl, llen, &h);
    }
    gw__prom_family(
        o, "gantry_http_consumer_requests_total", "counter",
        "Requests of authenticated consumers, by service, consumer and status class (on "
        "services with metrics.consumers; \"other\" past metrics.max_consumers).");
    static const char *const cls[GW_MX_C_WORDS] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    /* A service's consumer rows are its configured consumers, then the overflow row ("\x01other",
     * last). A consumer whose id is "other" would give a second series with the overflow's
     * labels: it is counted in the overflow's. */
    const uint64_t *named_other = NULL;
    for (size_t r = 0; r < l->nrows[GW_MX_CONSUMER]; r++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_CONSUMER, r);
        const char *key = l->keys[GW_MX_CONSUMER][r];
        const char *consumer = gw__observe_key_part(key, 1);
        bool overflow = consumer[0] == '\x01';
        if (!overflow && strcmp(consumer, "other") == 0) {
            named_other = row;
            continue;
        }
        for (unsigned c = 0; c < GW_MX_C_WORDS; c++) {
            uint64_t v = row[c] + (overflow && named_other ? named_other[c] : 0);
            if (v == 0)
                continue;
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", gw__observe_key_part(key, 0));
            gw__prom_lbl_add(&lb, "consumer", overflow ? consumer + 1 : consumer);
            gw__prom_lbl_add(&lb, "class", cls[c]);
            gw__prom_sample_u64(o, "gantry_http_consumer_requests_total", lb.s, v);
        }
        if (overflow)
            named_other = NULL;
    }
}

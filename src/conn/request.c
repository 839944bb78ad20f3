/*
 * What happens once a request head is complete: probes, route lookup, the policy chain, then
 * the hand-off to the proxy. Answers gantry gives itself are built by conn/respond.c.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "conn/internal.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "http1/accept.h"
#include "http1/names.h"
#include "http1/upgrade.h"
#include "identity/identity.h"
#include "metrics/hub.h"
#include "net/addr.h"
#include "observe/observe.h"
#include "openapi/openapi.h"
#include "openapi/viewer.h"
#include "policy/chain.h"
#include "policy/client_addr.h"
#include "policy/cors.h"
#include "policy/origin.h"
#include "policy/policy.h"
#include "route/normalize.h"
#include "route/router.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "trace/trace.h"
#include "upstream/proxy.h"

/* X-Request-ID from a client is kept when it is 1-128 characters of [A-Za-z0-9._:+/=-];
 * anything else could inject into logs and upstream headers, so a fresh id replaces it. */
static bool valid_request_id(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("._:+/=-", ch)))
            return false;
    }
    return true;
}

/* The access and error logs show the request target; an API key accepted from the query string
 * must not end up in them: its value becomes "***". */
void gw__request_redact_query(char *path, size_t cap, const char *name)
{
    char *q = name ? strchr(path, '?') : NULL;
    if (q == NULL)
        return;
    size_t nl = strlen(name);
    char out[sizeof(((struct gw_request *)0)->path)];
    size_t k = 0;
    const char *p = path;
    if (cap > sizeof out)
        cap = sizeof out;
    while (*p && k + 1 < cap) {
        bool at_param = p > q && (p[-1] == '?' || p[-1] == '&');
        if (at_param && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t n = nl + 1;
            for (size_t i = 0; i < n && k + 1 < cap; i++)
                out[k++] = p[i];
            for (size_t i = 0; i < 3 && k + 1 < cap; i++)
                out[k++] = '*';
            p += n;
            while (*p && *p != '&')
                p++;
            continue;
        }
        out[k++] = *p++;
    }
    out[k] = '\0';
    memcpy(path, out, k + 1);
}

static void assign_request_id(struct gw_request *r)
{
    int i = gw_http1_find_header(&r->msg, "x-request-id", 12);
    if (i >= 0 && valid_request_id(r->msg.headers[i].value, r->msg.headers[i].value_len)) {
        memcpy(r->id, r->msg.headers[i].value, r->msg.headers[i].value_len);
        r->id[r->msg.headers[i].value_len] = '\0';
        r->id_made = false;
    } else {
        gw_random_request_id(r->id);
        r->id_made = true;
    }
}

/* Liveness and readiness probes on the proxy port (DESIGN.md "Two ports"). */
static bool serve_probe(struct gw_request *r, const char *path, size_t n)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    static const char not_ready[] = "{\"status\":\"not ready\"}";
    const struct gw_probe_path *health = &r->snap->cfg->probes.health;
    const struct gw_probe_path *startup = &r->snap->cfg->probes.startup;
    const struct gw_probe_path *readiness = &r->snap->cfg->probes.ready;
    if (r->msg.method_id != GW_METHOD_GET && r->msg.method_id != GW_METHOD_HEAD)
        return false;
    /* The paths come from "probes"; a probe that is off has len 0, and n is never 0. */
    if ((n == health->len && memcmp(path, health->path, n) == 0) ||
        (n == startup->len && memcmp(path, startup->path, n) == 0)) {
        gw__request_reply(r, 200, NULL, ok, sizeof(ok) - 1, false);
        return true;
    }
    if (n == readiness->len && memcmp(path, readiness->path, n) == 0) {
        bool ready = atomic_load(&r->w->server->ready) && !r->w->stopping;
        if (ready)
            gw__request_reply(r, 200, NULL, ok, sizeof(ok) - 1, false);
        else
            gw__request_reply(r, 503, "Retry-After: 1\r\n", not_ready, sizeof(not_ready) - 1,
                              false);
        return true;
    }
    return false;
}

/* ---- the aggregated OpenAPI document (openapi.path) ------------------------------------------ */

static __attribute__((noinline)) void serve_openapi(struct gw_request *r, const char *query,
                                                    size_t query_len)
{
    const struct gw_openapi_conf *oc = &r->snap->cfg->openapi;
    size_t n;
    if (oc->viewer && query_len == 10 && memcmp(query, "?viewer.js", 10) == 0) {
        const char *js = gw_openapi_viewer_script(&n);
        gw__request_reply(r, 200, "Content-Type: text/javascript; charset=utf-8\r\n", js, n, false);
        return;
    }
    int i = gw_http1_find_header(&r->msg, "accept", 6);
    if (oc->viewer && i >= 0 &&
        gw_openapi_wants_html(r->msg.headers[i].value, r->msg.headers[i].value_len)) {
        const char *html = gw_openapi_viewer_html(&n);
        gw__request_reply(r, 200,
                          "Content-Type: text/html; charset=utf-8\r\nVary: Accept\r\n"
                          "Cache-Control: no-cache\r\n",
                          html, n, false);
        return;
    }
    struct gw_openapi_doc *d = gw_openapi_get(r->w->server->openapi);
    if (d == NULL) {
        gw__request_error(r, GW_ENOROUTE, false);
        return;
    }
    /* A client (a documentation viewer) fetches it again on each visit: the services' documents
     * change with their deploys. */
    gw__request_reply(r, 200,
                      oc->viewer ? "Content-Type: application/json\r\nVary: Accept\r\n"
                                   "Cache-Control: no-cache\r\n"
                                 : "Content-Type: application/json\r\nCache-Control: no-cache\r\n",
                      d->text, d->len, false);
    gw_openapi_doc_unref(d);
}

bool gw__request_take_body(struct gw_request *r, char *buf, size_t *len, size_t want)
{
    const char *p;
    size_t n = r->ds->body_peek(r, &p);
    size_t k = n < want - *len ? n : want - *len;
    if (k)
        memcpy(buf + *len, p, k);
    *len += k;
    r->ds->body_consume(r, k);
    if (*len < want) {
        if (n == 0 && r->msg.expect_continue && r->ds->send_continue(r) < 0) {
            r->ds->abort(r);
            return false;
        }
        if (r->ds->body_want(r) < 0)
            r->ds->abort(r);
        return false;
    }
    r->body_done = true;
    return true;
}

/* ---- metrics on the proxy port (metrics.expose_on_proxy) ------------------------------------ */

/* The request carries metrics.proxy_api_key ("Authorization: Bearer K" or "X-API-Key: K"):
 * compared on SHA-256 digests in constant time, so neither content nor length leaks. */
static bool metrics_key_ok(const struct gw_request *r, const char *key)
{
    const struct gw_http1_message *m = &r->msg;
    const char *given = NULL;
    size_t n = 0;
    int i = gw_http1_find_header(m, "authorization", 13);
    if (i >= 0 && m->headers[i].value_len > 7 &&
        strncasecmp(m->headers[i].value, "Bearer ", 7) == 0) {
        given = m->headers[i].value + 7;
        n = m->headers[i].value_len - 7;
    } else if ((i = gw_http1_find_header(m, "x-api-key", 9)) >= 0) {
        given = m->headers[i].value;
        n = m->headers[i].value_len;
    }
    if (given == NULL)
        return false;
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), a);
    SHA256((const unsigned char *)given, n, b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

/* The client is in metrics.proxy_allow: the peer, or behind trusted proxies the client they
 * report (policy/client_addr.h, the same resolution as the IP rules). */
static bool metrics_peer_ok(struct gw_request *r, const struct gw_config *cfg)
{
    uint8_t addr[16];
    int family;
    if (!gw_client_addr(r, &family, addr))
        return false;
    for (size_t i = 0; i < cfg->metrics.nproxy_allow; i++) {
        if (gw_cidr_has(&cfg->metrics.proxy_allow[i], family, addr))
            return true;
    }
    return false;
}

/* In r->scrape_format: the format was chosen by the request's Accept (the answer varies). */
#define SCRAPE_NEGOTIATED 0x80u

static void on_metrics_scraped(void *arg, int err, struct gw_buf *out)
{
    struct gw_request *r = arg;
    r->scrape = NULL;
    if (err < 0) {
        gw__request_error(r, err == GW_ENOMEM ? GW_ENOMEM : GW_EUPSTREAM, false);
        return;
    }
    static const char *const types[] = {
        [GW_OBSERVE_PROMETHEUS] = "Content-Type: " GW_OBSERVE_PROMETHEUS_TYPE "\r\n",
        [GW_OBSERVE_JSON] = "Content-Type: application/json\r\n",
        [GW_OBSERVE_PERFORMANCE] = "Content-Type: text/plain; charset=utf-8\r\n",
        [GW_OBSERVE_HEALTH] = "Content-Type: application/json\r\n",
    };
    char headers[160];
    unsigned format = r->scrape_format & ~SCRAPE_NEGOTIATED;
    snprintf(headers, sizeof headers, "%sCache-Control: no-store\r\n%s", types[format],
             r->scrape_format & SCRAPE_NEGOTIATED ? "Vary: Accept\r\n" : "");
    gw__request_reply(r, 200, headers, out->data, out->len, false);
}

/* Metrics on the proxy port: rendered by the control thread (a scrape never costs a worker
 * more than this hand-off), behind their own key or network list. ep: enum
 * gw_metrics_endpoint. The key or network is asked for before the method is judged, so that
 * the path tells nothing to a client without them. */
static void serve_metrics(struct gw_request *r, unsigned ep)
{
    const struct gw_config *cfg = r->snap->cfg;
    bool ok = (cfg->metrics.proxy_api_key && metrics_key_ok(r, cfg->metrics.proxy_api_key)) ||
              (cfg->metrics.nproxy_allow && metrics_peer_ok(r, cfg));
    if (!ok || (r->msg.method_id != GW_METHOD_GET && r->msg.method_id != GW_METHOD_HEAD)) {
        struct gw_answer a;
        gw_answer_init(&a, ok                           ? GW_EMETHODNOTALLOWED
                           : cfg->metrics.proxy_api_key ? GW_EAUTHMISSING
                                                        : GW_EFORBIDDEN);
        if (ok)
            a.headers = "Allow: GET, HEAD\r\n";
        else if (cfg->metrics.proxy_api_key) /* RFC 9110 11.6.1: a 401 carries its challenge */
            a.headers = "WWW-Authenticate: Bearer realm=\"gantry metrics\"\r\n";
        gw__request_answer(r, &a);
        return;
    }
    static const int formats[GW_METRICS_EP_COUNT] = {
        [GW_METRICS_EP_NEGOTIATED] = -1,
        [GW_METRICS_EP_PROMETHEUS] = GW_OBSERVE_PROMETHEUS,
        [GW_METRICS_EP_JSON] = GW_OBSERVE_JSON,
        [GW_METRICS_EP_PERFORMANCE] = GW_OBSERVE_PERFORMANCE,
        [GW_METRICS_EP_HEALTH_SCORE] = GW_OBSERVE_HEALTH,
    };
    int format = formats[ep];
    unsigned negotiated = 0;
    if (format < 0) { /* Prometheus text unless Accept prefers JSON (http1/accept.h) */
        static const char *const offered[] = {"text/plain", "application/json"};
        format =
            gw_accept_choose(&r->msg, offered, 2) == 1 ? GW_OBSERVE_JSON : GW_OBSERVE_PROMETHEUS;
        negotiated = SCRAPE_NEGOTIATED;
    }
    r->scrape_format = (uint8_t)((unsigned)format | negotiated);
    struct gw_metrics_hub *hub = r->w->server->metrics;
    if (hub == NULL ||
        gw_metrics_scrape_start(hub, &r->w->loop, format, on_metrics_scraped, r, &r->scrape) < 0)
        gw__request_error(r, GW_ENOMEM, false);
}

/* The endpoint under metrics.proxy_path that path is (enum gw_metrics_endpoint; a trailing
 * slash is the same endpoint, as on the admin listener), or -1: none, the path is routed. */
static int metrics_endpoint(const struct gw_config *cfg, const char *path, size_t path_len)
{
    size_t pl = cfg->metrics.proxy_path_len;
    if (pl == 0 || path_len < pl || memcmp(path, cfg->metrics.proxy_path, pl) != 0)
        return -1;
    if (path_len > pl && path[path_len - 1] == '/')
        path_len--;
    for (unsigned ep = 0; ep < GW_METRICS_EP_COUNT; ep++) {
        const char *suffix = gw_metrics_endpoint_suffix(ep);
        size_t n = strlen(suffix);
        if (path_len == pl + n && memcmp(path + pl, suffix, n) == 0)
            return (int)ep;
    }
    return -1;
}

/* Splits the target into the path to route on, its query, and an authority for absolute
 * form ("http://host/path?q"). */
static void split_target(const struct gw_http1_message *m, const char **path, size_t *path_len,
                         const char **query, size_t *query_len, const char **authority,
                         size_t *authority_len)
{
    const char *t = m->target;
    const char *end = t + m->target_len;
    *authority = NULL;
    *authority_len = 0;
    if (t[0] != '/') {
        const char *a = memchr(t, ':', m->target_len);
        a = a ? a + 3 : t; /* past "://" (validated by the parser) */
        const char *p = a;
        while (p < end && *p != '/' && *p != '?')
            p++;
        *authority = a;
        *authority_len = (size_t)(p - a);
        t = p;
    }
    const char *q = memchr(t, '?', (size_t)(end - t));
    *path = t;
    *path_len = (size_t)((q ? q : end) - t);
    *query = q;
    *query_len = q ? (size_t)(end - q) : 0;
}

/* The handshake's Origin matches one of the service's patterns. A request without Origin is not
 * from a browser (browsers always send it on a WebSocket handshake, RFC 6455 4.1), so the check,
 * which is against cross-site WebSocket hijacking in browsers, lets it through. */
static bool ws_origin_allowed(const struct gw_request *r, const struct gw_websocket_conf *wc)
{
    int i = gw_http1_find_header(&r->msg, "origin", 6);
    if (i < 0)
        return true;
    struct gw_origin o;
    if (gw_origin_parse(r->msg.headers[i].value, r->msg.headers[i].value_len, &o) < 0)
        return false;
    for (size_t k = 0; k < wc->norigins; k++) {
        struct gw_origin_pattern p;
        const char *why;
        if (gw_origin_pattern_parse(wc->origins[k], strlen(wc->origins[k]), &p, &why) == 0 &&
            gw_origin_pattern_match(&p, &o))
            return true;
    }
    return false;
}

/* The first protocol of the Upgrade field is one the service tunnels besides websocket. */
static bool protocol_listed(const struct gw_http1_message *m, const struct gw_websocket_conf *wc)
{
    int i = gw_http1_find_header(m, "upgrade", 7);
    if (i < 0)
        return false;
    const char *v = m->headers[i].value;
    size_t n = 0;
    while (n < m->headers[i].value_len && v[n] != ',' && v[n] != ' ')
        n++;
    for (size_t k = 0; k < wc->nprotocols; k++)
        if (strlen(wc->protocols[k]) == n && strncasecmp(wc->protocols[k], v, n) == 0)
            return true;
    return false;
}

/*
 * A protocol switch (RFC 9110 7.8). A WebSocket handshake on a service that allows upgrades is
 * (websocket on, or the first of websocket.routes that covers the path says so) is
 * checked (RFC 6455 4.2.1; 400, or 426 for another version) and its Origin against the
 * service's list (403), then marked to go upstream with its Upgrade. Everything else (h2c, a
 * protocol the service does not list, any upgrade on a service with websocket off) is ignored,
 * as RFC 9110 7.8 allows: the request goes on as a plain one, its Upgrade and Connection
 * dropped. 0 or the error to answer with.
 */
static __attribute__((noinline)) int check_upgrade(struct gw_request *r,
                                                   const struct gw_websocket_conf *wc,
                                                   const char *path, size_t path_len)
{
    /* websocket.routes: the first route covering the (normalised) path decides. */
    bool on = wc->enabled;
    for (size_t k = 0; k < wc->nroutes; k++) {
        if (gw_policy_match(&wc->routes[k].match, path, path_len, r->msg.method_id)) {
            on = wc->routes[k].enabled;
            break;
        }
    }
    if (!on)
        return 0;
    enum gw_upgrade kind = gw_http1_upgrade_kind(&r->msg);
    if (kind == GW_UPGRADE_WEBSOCKET) {
        int rc = gw_http1_ws_check(&r->msg);
        if (rc < 0)
            return rc;
        if (wc->norigins && !ws_origin_allowed(r, wc))
            return GW_EWSORIGIN;
        r->upgrade = GW_UPGRADE_WEBSOCKET;
    } else if (kind == GW_UPGRADE_OTHER && wc->nprotocols && r->msg.body == GW_BODY_NONE &&
               protocol_listed(&r->msg, wc)) {
        r->upgrade = GW_UPGRADE_OTHER;
    }
    return 0;
}

static void forward(struct gw_request *r);
/* Kept out of line: the common path (any other method) stays as short as it was. */
static __attribute__((noinline)) enum gw_route_result
route_options(struct gw_request *r, const char *host, size_t host_len, const char *path,
              size_t path_len, const char *query, size_t query_len, struct gw_route_match *match);

/* Which of a service's prefixes the router matched (the metrics' "route" label): the one of
 * length len (0 stands for "/") that the path starts with. */
static uint32_t matched_prefix(const struct gw_service_conf *sc, const char *path, size_t len)
{
    for (size_t i = 0; i < sc->nprefixes; i++) {
        const char *p = sc->prefixes[i];
        if (len == 0 ? (p[0] == '/' && p[1] == '\0')
                     : (strncmp(p, path, len) == 0 && p[len] == '\0'))
            return (uint32_t)i;
    }
    return 0;
}

void gw__request_dispatch(struct gw_request *r)
{
    const struct gw_http1_message *m = &r->msg;
    const char *path, *query, *authority;
    size_t path_len, query_len, authority_len;

    r->keep_alive = m->keep_alive;
    assign_request_id(r);
    size_t ml = m->method_len < sizeof(r->method) - 1 ? m->method_len : sizeof(r->method) - 1;
    memcpy(r->method, m->method, ml);
    r->method[ml] = '\0';
    size_t pl = m->target_len < sizeof(r->path) - 1 ? m->target_len : sizeof(r->path) - 1;
    memcpy(r->path, m->target, pl);
    r->path[pl] = '\0';
    gw__request_redact_query(r->path, sizeof(r->path), r->snap->cfg->auth.api_key_query);
    r->body_done = m->body == GW_BODY_NONE;
    r->body_sent = r->body_done;
    r->body_left = m->body == GW_BODY_LENGTH ? m->content_length : 0;

    if (m->method_id == GW_METHOD_CONNECT) {
        gw__request_error(r, GW_ECONNECTUNSUP, true);
        return;
    }
    if (m->target_len == 1 && m->target[0] == '*') {
        gw__request_reply(r, 200, "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n", NULL,
                          0, false);
        return;
    }
    split_target(m, &path, &path_len, &query, &query_len, &authority, &authority_len);
    if (path_len == 0) {
        path = "/";
        path_len = 1;
    }
    if (serve_probe(r, path, path_len))
        return;
    /* Off (the default): proxy_path_len is 0. */
    const struct gw_config *cfg = r->snap->cfg;
    if (cfg->metrics.proxy_path_len) {
        int ep = metrics_endpoint(cfg, path, path_len);
        if (ep >= 0) {
            serve_metrics(r, (unsigned)ep);
            return;
        }
    }
    /* Off (the default): openapi.path_len is 0. */
    if (path_len == cfg->openapi.path_len && memcmp(path, cfg->openapi.path, path_len) == 0 &&
        (m->method_id == GW_METHOD_GET || m->method_id == GW_METHOD_HEAD)) {
        serve_openapi(r, query, query_len);
        return;
    }
    /* Built-in identity, off by default: one test. */
    if (cfg->identity.enabled) {
        /* jwks_path_len is 0 without a public key (HS256 only): nothing to publish. */
        if (path_len == cfg->identity.jwks_path_len &&
            memcmp(path, cfg->identity.jwks_path, path_len) == 0 &&
            (m->method_id == GW_METHOD_GET || m->method_id == GW_METHOD_HEAD)) {
            gw__idp_serve_jwks(r);
            return;
        }
        int ep = gw_idp_endpoint(cfg, path, path_len);
        if (ep >= 0) {
            gw__idp_serve(r, ep);
            return;
        }
    }
    /* Publishing to the hub on the proxy port, off by default: one test. */
    if (cfg->hub.enabled && cfg->hub.publish_path && gw__hub_publish_serve(r, path, path_len))
        return;
    /* The WebSocket hub, off by default: one test. It takes over an HTTP/1 connection; an
     * HTTP/2 extended CONNECT to it is refused (501, EHUBH2: the hub's connections speak
     * WebSocket on a socket of their own). */
    if (cfg->hub.enabled && (r->ds == &gw_conn_downstream
                                 ? gw__hub_serve(gw_conn_of(r), r, path, path_len, query, query_len)
                                 : gw__hub_refuse_h2(r, path, path_len)))
        return;
    if (r->snap->cfg->tracing.enabled)
        gw_trace_begin(r);

    if (cfg->tls.enabled && !r->secure) {
        const char *h = authority;
        size_t hl = authority_len;
        if (!h && m->host_index >= 0) {
            h = m->headers[m->host_index].value;
            hl = m->headers[m->host_index].value_len;
        }
        if (gw__request_https_redirect(r, h, hl, path, path_len, query, query_len))
            return;
    }

    /* The normalised path is what we route on and what the policies see; the client's own
     * spelling of its segments, kept with it in the buffer, is what we forward
     * (route/normalize.h, gw_path_normalize_packed). */
    size_t cap = 2 * path_len + query_len + 1;
    char *norm = cap <= sizeof r->path_inline ? r->path_inline : malloc(cap);
    size_t norm_len = 0;
    if (!norm) {
        gw__request_error(r, GW_ENOMEM, true);
        return;
    }
    int rc = gw_path_normalize_packed(path, path_len, norm, &norm_len);
    if (rc < 0) {
        gw_request_path_free(r, norm);
        gw__request_error(r, rc, false);
        return;
    }

    r->authority = authority;
    r->authority_len = authority_len;
    const char *host = authority;
    size_t host_len = authority_len;
    if (!host && m->host_index >= 0) {
        host = m->headers[m->host_index].value;
        host_len = m->headers[m->host_index].value_len;
    }
    struct gw_route_match match;
    enum gw_route_result res =
        m->method_id == GW_METHOD_OPTIONS
            ? route_options(r, host, host_len, norm, norm_len, query, query_len, &match)
            : gw_router_match(r->snap->router, host, host_len, norm, norm_len, m->method_id,
                              &match);
    if (res != GW_ROUTE_FOUND) {
        /* A versioned prefix: the version the request names (or the default) picks the
         * service. Unversioned prefixes never come here (route/router.h). */
        const char *offered = NULL;
        if (res == GW_ROUTE_VERSION)
            res = gw__conn_route_version(r, query, query_len, m->method_id, &match);
        /* "/v9/api/...": no route, but a version segment in front of a versioned prefix or a
         * version rule's route. */
        else if (res == GW_ROUTE_NOT_FOUND && cfg->versioning.path)
            res = gw__conn_route_path_version(r, host, host_len, norm, norm_len, &match, &offered);
        if (res == GW_ROUTE_VERSION_UNKNOWN) {
            gw_request_path_free(r, norm);
            gw__conn_unknown_version(r, &match, offered);
            return;
        }
    }
    if (res == GW_ROUTE_NOT_FOUND) {
        gw_request_path_free(r, norm);
        gw__request_error(r, GW_ENOROUTE, false);
        return;
    }
    if (res == GW_ROUTE_METHOD_NOT_ALLOWED) {
        char allow[160], hdr[200];
        struct gw_answer a;
        gw_request_path_free(r, norm);
        gw_http_method_list(match.allowed, ", ", allow, sizeof(allow));
        snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
        gw_answer_init(&a, GW_EMETHODNOTALLOWED);
        a.headers = hdr;
        gw__request_answer(r, &a);
        return;
    }
    r->svc = match.data;
    const struct gw_service_conf *sc = r->svc->conf;
    if (sc->nprefixes > 1)
        r->prefix_index = matched_prefix(sc, norm, match.prefix_len);
    if (sc->websocket.token_query)
        gw__request_redact_query(r->path, sizeof(r->path), sc->websocket.token_query);
    if (m->upgrade) {
        /* The HTTP/2 downstream raises `upgrade` for a gRPC call (HTTP/2 has no Upgrade of its
         * own, RFC 9113 8.6), so that the check below costs other requests nothing: a gRPC
         * call to a service without an HTTP/2 upstream gets a gRPC error, not a garbled try. */
        rc = r->grpc ? (sc->upstream_protocol == GW_UPSTREAM_HTTP1 ? GW_EGRPCHTTP1 : 0)
                     : check_upgrade(r, &sc->websocket, norm, norm_len);
        if (r->grpc)
            r->msg.upgrade = false;
        /* RFC 9220 3 (the same for RFC 8441): a :protocol the server does not support here is
         * answered 501; going on as a plain request would answer the tunnel with a response. */
        if (rc == 0 && r->ext_connect && r->upgrade != GW_UPGRADE_WEBSOCKET)
            rc = GW_EEXTCONNECT;
        if (rc < 0) {
            struct gw_answer a;
            gw_request_path_free(r, norm);
            gw_answer_init(&a, rc);
            /* A service that checks a handshake's Origin (websocket.origins) or answers CORS
             * (Vary: Origin on every answer) refuses before its CORS row ran: the refusal
             * says itself that it varies with Origin, so that no cache hands one origin's
             * answer to another (RFC 9110 12.5.5). */
            bool vary = !r->grpc && (sc->websocket.norigins > 0 ||
                                     (r->svc->stages & (1u << GW_STAGE_CORS)) != 0);
            /* RFC 6455 4.4 and RFC 9110 15.5.22: the versions we speak, and Upgrade. */
            if (rc == GW_EWSVERSION)
                a.headers =
                    vary ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nVary: Origin\r\n"
                         : "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
            else if (vary)
                a.headers = "Vary: Origin\r\n";
            gw__request_answer(r, &a);
            return;
        }
    }

    r->npath = norm;
    r->npath_len = norm_len;
    r->query = query;
    r->query_len = query_len;
    r->prefix_len = match.prefix_len;
    if (m->body == GW_BODY_LENGTH && sc->max_body_bytes && m->content_length > sc->max_body_bytes) {
        struct gw_answer a;
        gw_answer_init(&a, GW_EBODYTOOLARGE);
        a.close = true; /* the body is not read */
        gw_policy_refuse(r, &a);
        return;
    }
    gw_policy_run(r, forward);
}

/* An OPTIONS request. A CORS preflight goes where the request it asks about would go, so that a
 * service that allows only some methods still gets (and answers) its preflights; when that
 * finds no service, or one without CORS, it is routed as the OPTIONS request it is. */
static enum gw_route_result route_options(struct gw_request *r, const char *host, size_t host_len,
                                          const char *path, size_t path_len, const char *query,
                                          size_t query_len, struct gw_route_match *match)
{
    const struct gw_router *router = r->snap->router;
    enum gw_http_method asked = gw_cors_route_method(&r->msg);
    if (asked != GW_METHOD_OPTIONS) {
        enum gw_route_result res =
            gw_router_match(router, host, host_len, path, path_len, asked, match);
        if (res == GW_ROUTE_VERSION)
            res = gw__conn_route_version_preflight(r, query, query_len, asked, match);
        if (res == GW_ROUTE_FOUND &&
            (((const struct gw_service *)match->data)->stages & (1u << GW_STAGE_CORS)))
            return GW_ROUTE_FOUND;
    }
    return gw_router_match(router, host, host_len, path, path_len, GW_METHOD_OPTIONS, match);
}

/* The policies let the request through: strip the prefix and hand it to the proxy. */
static void forward(struct gw_request *r)
{
    const struct gw_service_conf *sc = r->svc->conf;
    char *norm = r->npath;
    size_t spell_len;
    const char *spell = gw_path_packed_spelling(norm, r->npath_len, &spell_len);
    /* strip_prefix: "/api/users/7" with prefix "/api/users" goes upstream as "/7"; the
     * prefix's segments are stripped from the client's spelling ("/api/%75sers/7" too). */
    size_t skip = 0;
    if (sc->strip_prefix && r->prefix_len > 1)
        skip = gw_path_spelled_prefix(norm, r->prefix_len, spell, spell_len);
    const char *up = spell + skip;
    size_t up_len = spell_len - skip;
    if (up_len == 0) {
        up = "/";
        up_len = 1;
    }
    memmove(norm, up, up_len);
    if (r->query_len)
        memcpy(norm + up_len, r->query, r->query_len);
    r->npath = NULL;
    r->upath = norm;
    r->upath_len = up_len + r->query_len;
    gw_proxy_start(r);
}

/*
 * The "metrics" section, and the services' "metrics" and "slo" objects (docs/config.md
 * "Metrics", docs/metrics.md).
 */
#include "config/internal.h"

#include "net/addr.h"

#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define CFG(f) offsetof(struct gw_config, f)
#define SVC(f) offsetof(struct gw_service_conf, f)

/* ---- metrics.proxy_allow: addresses and CIDR blocks ----------------------------------------- */

static void parse_allow(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                        const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    bool is_array = json_is_array(v);
    if (!is_array && !json_is_string(v)) {
        gw__cfg_error(ctx, "expected a string or an array of strings, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    size_t n = is_array ? json_array_size(v) : 1;
    struct gw_cidr *items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        ctx->oom = true;
        return;
    }
    size_t k = gw__cfg_cidr_items(ctx, v, items);
    free(cfg->metrics.proxy_allow);
    cfg->metrics.proxy_allow = items;
    cfg->metrics.nproxy_allow = k;
}

static void release_allow(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    free(cfg->metrics.proxy_allow);
    cfg->metrics.proxy_allow = NULL;
    cfg->metrics.nproxy_allow = 0;
}

static const struct gw__cfg_type allow_type = {"string or array of strings", parse_allow,
                                               release_allow};

/* An empty key (an unset ${VAR:-}) means none. */
static bool check_key(struct gw__cfg_ctx *ctx, char **s)
{
    (void)ctx;
    if ((*s)[0] == '\0') {
        free(*s);
        *s = NULL;
    }
    return true;
}
static const struct gw__cfg_str key_check = {check_key};

/* The path is compared with the path a client sends, as the probes' are. */
static bool check_path(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    if ((*s)[0] != '/' || (n > 1 && (*s)[n - 1] == '/')) {
        gw__cfg_error(ctx, "a path must start with \"/\" and not end with one");
        return false;
    }
    return gw__cfg_check_prefix(ctx, s);
}
static const struct gw__cfg_str path_check = {check_path};

static const struct gw__cfg_range consumers_range = {0, 10000};

/* Metrics on the proxy port are a window into the gateway: open only to a key or to networks,
 * and never on a path a probe already answers. */
static void metrics_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    cfg->metrics.proxy_path_len = 0;
    if (!cfg->metrics.expose_on_proxy)
        return;
    if (cfg->metrics.proxy_api_key == NULL && cfg->metrics.nproxy_allow == 0) {
        gw__cfg_push_key(ctx, "expose_on_proxy");
        gw__cfg_error(ctx, "metrics on the proxy port need metrics.proxy_api_key or "
                           "metrics.proxy_allow (e.g. [\"127.0.0.1\", \"10.0.0.0/8\"])");
        gw__cfg_pop(ctx);
        return;
    }
    /* NULL: the path was refused, and the error said why */
    if (cfg->metrics.proxy_path != NULL)
        cfg->metrics.proxy_path_len = strlen(cfg->metrics.proxy_path);
}

const char *gw_metrics_endpoint_suffix(unsigned ep)
{
    static const char *const suffix[GW_METRICS_EP_COUNT] = {
        [GW_METRICS_EP_NEGOTIATED] = "",
        [GW_METRICS_EP_PROMETHEUS] = "/prometheus",
        [GW_METRICS_EP_JSON] = "/json",
        [GW_METRICS_EP_PERFORMANCE] = "/performance",
        [GW_METRICS_EP_HEALTH_SCORE] = "/health-score",
    };
    return ep < GW_METRICS_EP_COUNT ? suffix[ep] : NULL;
}

/* Whether probe p answers proxy_path + suffix (with or without a trailing slash, as the
 * endpoints are served): the probes are answered first, so that endpoint could never be. */
static bool probe_takes(const struct gw_probe_path *p, const char *path, size_t n,
                        const char *suffix)
{
    size_t sn = strlen(suffix);
    if (p->len < n + sn || p->len > n + sn + 1)
        return false;
    if (memcmp(p->path, path, n) != 0 || memcmp(p->path + n, suffix, sn) != 0)
        return false;
    return p->len == n + sn || p->path[n + sn] == '/';
}

void gw__cfg_check_metrics_paths(struct gw__cfg_ctx *ctx, const struct gw_config *cfg)
{
    size_t n = cfg->metrics.proxy_path_len;
    if (n == 0)
        return;
    static const char *const names[] = {"health", "ready", "startup"};
    const struct gw_probe_path *probes[] = {&cfg->probes.health, &cfg->probes.ready,
                                            &cfg->probes.startup};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        for (unsigned ep = 0; ep < GW_METRICS_EP_COUNT; ep++) {
            const char *suffix = gw_metrics_endpoint_suffix(ep);
            if (probes[i]->len == 0 || !probe_takes(probes[i], cfg->metrics.proxy_path, n, suffix))
                continue;
            char q[96];
            gw__cfg_push_key(ctx, "metrics");
            gw__cfg_push_key(ctx, "proxy_path");
            gw__cfg_error(ctx,
                          "%s%s is also probes.%s, which is answered first: choose another path "
                          "for one of them",
                          gw__cfg_quote(probes[i]->path, probes[i]->len, q, sizeof q),
                          ep ? " (an endpoint under this path)" : "", names[i]);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            return;
        }
    }
}

static const struct gw__cfg_field metrics_fields[] = {
    {.name = "enabled", .type = &gw__cfg_bool_type, .offset = CFG(metrics.enabled), .def = "true"},
    {.name = "expose_on_proxy",
     .type = &gw__cfg_bool_type,
     .offset = CFG(metrics.expose_on_proxy),
     .def = "false"},
    {.name = "proxy_path",
     .type = &gw__cfg_string_type,
     .offset = CFG(metrics.proxy_path),
     .arg = &path_check,
     .def = "/metrics"},
    {.name = "proxy_api_key",
     .type = &gw__cfg_string_type,
     .offset = CFG(metrics.proxy_api_key),
     .arg = &key_check},
    {.name = "proxy_allow", .type = &allow_type},
    {.name = "max_consumers",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(metrics.max_consumers),
     .arg = &consumers_range,
     .def = "100"},
};
const struct gw__cfg_object gw__cfg_metrics_obj = {
    .what = "metrics", ROWS(metrics_fields), .check = metrics_check};

/* ---- per service ------------------------------------------------------------------------------
 */

static const struct gw__cfg_field service_metrics_fields[] = {
    {.name = "consumers",
     .type = &gw__cfg_bool_type,
     .offset = SVC(metrics_consumers),
     .def = "false"},
};
const struct gw__cfg_object gw__cfg_service_metrics_obj = {.what = "metrics",
                                                           ROWS(service_metrics_fields)};

static const struct gw__cfg_range latency_range = {1, 3600000};

static const struct gw__cfg_field slo_fields[] = {
    {.name = "latency_p99",
     .type = &gw__cfg_duration_type,
     .offset = SVC(slo_latency_p99_ms),
     .arg = &latency_range,
     .def = "1s"},
    {.name = "error_rate",
     .type = &gw__cfg_share_type,
     .offset = SVC(slo_error_rate),
     .def = "0.01"},
};
const struct gw__cfg_object gw__cfg_slo_obj = {.what = "slo", ROWS(slo_fields)};

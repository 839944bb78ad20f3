/*
 * Metric sets: the label tables, the layout of a snapshot's rows, and the per-worker areas.
 */
#include "metrics/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "http1/parser.h"

/* ---- label values -----------------------------------------------------------------------------
 */

/* The codes with a row of their own: those gantry answers with (101 and 426 included: every
 * WebSocket handshake, and the refusal of a wrong version) and the ones upstreams commonly
 * send. Any other is its class's "other". GW_MX_KNOWN_CODES in metrics.h is their number. */
/* clang-format off */
#define KNOWN_CODES(X)                                                                             \
    X(100) X(101)                                                                                  \
    X(200) X(201) X(202) X(203) X(204) X(205) X(206)                                               \
    X(301) X(302) X(303) X(304) X(307) X(308)                                                      \
    X(400) X(401) X(402) X(403) X(404) X(405) X(406) X(407) X(408) X(409) X(410) X(411) X(412)     \
    X(413) X(414) X(415) X(416) X(417) X(421) X(422) X(425) X(426) X(428) X(429) X(431)            \
    X(500) X(501) X(502) X(503) X(504) X(505)
/* clang-format on */

enum {
#define X(s) CODE_ROW_##s,
    KNOWN_CODES(X)
#undef X
    CODE_ROWS
};
_Static_assert(CODE_ROWS == GW_MX_KNOWN_CODES, "GW_MX_KNOWN_CODES is the number of known codes");

static const uint16_t known_codes[GW_MX_KNOWN_CODES] = {
#define X(s) s,
    KNOWN_CODES(X)
#undef X
};

static const char *const known_code_names[GW_MX_KNOWN_CODES] = {
#define X(s) #s,
    KNOWN_CODES(X)
#undef X
};

/* gw_mx_code_index_table[status] for 100 <= status < 600: every code is its class's "other"
 * (the ranges), then the known ones override theirs. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
const uint8_t gw_mx_code_index_table[600] = {[100 ... 199] = GW_MX_CODE_OTHER(1),
                                             [200 ... 299] = GW_MX_CODE_OTHER(2),
                                             [300 ... 399] = GW_MX_CODE_OTHER(3),
                                             [400 ... 499] = GW_MX_CODE_OTHER(4),
                                             [500 ... 599] = GW_MX_CODE_OTHER(5),
#define X(s) [s] = CODE_ROW_##s,
                                             KNOWN_CODES(X)
#undef X
};
#pragma GCC diagnostic pop

const uint8_t gw_mx_method_index_table[32] = {
    [GW_METHOD_OTHER] = GW_MX_M_OTHER,
    [GW_METHOD_GET] = GW_MX_M_GET,
    [GW_METHOD_HEAD] = GW_MX_M_HEAD,
    [GW_METHOD_POST] = GW_MX_M_POST,
    [GW_METHOD_PUT] = GW_MX_M_PUT,
    [GW_METHOD_DELETE] = GW_MX_M_DELETE,
    [GW_METHOD_CONNECT] = GW_MX_M_OTHER,
    [GW_METHOD_OPTIONS] = GW_MX_M_OPTIONS,
    [GW_METHOD_TRACE] = GW_MX_M_OTHER,
    [GW_METHOD_PATCH] = GW_MX_M_PATCH,
    [GW_METHOD_PATCH + 1 ... 31] = GW_MX_M_OTHER,
};

const char *gw_mx_code_name(unsigned i)
{
    if (i < GW_MX_KNOWN_CODES)
        return known_code_names[i];
    return i == GW_MX_CODE_NONE ? "none" : "other";
}

const char *gw_mx_code_class(unsigned i)
{
    static const char *const classes[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    if (i < GW_MX_KNOWN_CODES)
        return classes[known_codes[i] / 100];
    if (i < GW_MX_CODE_NONE)
        return classes[i - GW_MX_KNOWN_CODES + 1];
    return classes[0];
}

int gw_mx_code_status(unsigned i)
{
    return i < GW_MX_KNOWN_CODES ? known_codes[i] : 0;
}

const char *gw_mx_method_name(unsigned i)
{
    static const char *const names[GW_MX_METHODS] = {"GET",    "HEAD",  "POST",    "PUT",
                                                     "DELETE", "PATCH", "OPTIONS", "OTHER"};
    return i < GW_MX_METHODS ? names[i] : "OTHER";
}

const char *gw_mx_auth_outcome_name(unsigned i)
{
    static const char *const names[GW_MX_AUTH_OUTCOMES] = {
        "ok",      "forbidden", "missing",  "malformed", "invalid_key",         "signature",
        "expired", "claims",    "inactive", "other",     "introspection_failed"};
    return i < GW_MX_AUTH_OUTCOMES ? names[i] : "other";
}

const char *gw_mx_auth_method_name(unsigned i)
{
    static const char *const names[GW_MX_AUTH_METHODS] = {"none", "jwt", "api_key", "introspection",
                                                          "mtls"};
    return i < GW_MX_AUTH_METHODS ? names[i] : "none";
}

const char *gw_mx_grpc_status_name(unsigned i)
{
    static const char *const names[GW_MX_G_WORDS] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
        "OTHER",
        "NONE",
    };
    return i < GW_MX_G_WORDS ? names[i] : "OTHER";
}

const size_t gw_mx_row_words[GW_MX_KINDS] = {
    [GW_MX_ROUTE] = GW_MX_R_WORDS, [GW_MX_SERVICE] = GW_MX_S_WORDS,  [GW_MX_TARGET] = GW_MX_T_WORDS,
    [GW_MX_LIMIT] = GW_MX_L_WORDS, [GW_MX_CONSUMER] = GW_MX_C_WORDS, [GW_MX_GRPC] = GW_MX_G_WORDS,
    [GW_MX_HIST] = GW_MX_H_WORDS,
};

/* ---- the layout ---------------------------------------------------------------------------------
 */

/* Rows are counted first (sizes), then keys are filled in. */
struct builder {
    struct gw_metrics_layout *l;
    size_t at[GW_MX_KINDS];
    bool oom;
};

/* A key of up to three parts joined by GW_MX_KEY_SEP. */
static void add_key(struct builder *b, enum gw_mx_kind k, const char *p1, const char *p2,
                    const char *p3)
{
    size_t n1 = strlen(p1), n2 = p2 ? strlen(p2) : 0, n3 = p3 ? strlen(p3) : 0;
    char *key = malloc(n1 + n2 + n3 + 3);
    if (key == NULL) {
        b->oom = true;
        b->at[k]++;
        return;
    }
    char *p = key;
    memcpy(p, p1, n1);
    p += n1;
    if (p2) {
        *p++ = GW_MX_KEY_SEP;
        memcpy(p, p2, n2);
        p += n2;
    }
    if (p3) {
        *p++ = GW_MX_KEY_SEP;
        memcpy(p, p3, n3);
        p += n3;
    }
    *p = '\0';
    b->l->keys[k][b->at[k]++] = key;
}

static size_t key_len(const char *key)
{
    return strlen(key) + 1;
}

static const char *const hist_kind_names[GW_MX_HK_KINDS] = {"request", "try", "ttfb", "stage",
                                                            "redis"};

static void layout_free(struct gw_metrics_layout *l)
{
    for (int k = 0; k < GW_MX_KINDS; k++) {
        for (size_t i = 0; l->keys[k] && i < l->nrows[k]; i++)
            free(l->keys[k][i]);
        free(l->keys[k]);
    }
    free(l->svc);
    memset(l, 0, sizeof *l);
}

static unsigned popcount32(uint32_t v)
{
    return (unsigned)__builtin_popcount(v);
}

const char *gw_mx_limit_name(const char *name, size_t index, char buf[GW_MX_LIMIT_NAME_MAX])
{
    if (name != NULL)
        return name;
    snprintf(buf, GW_MX_LIMIT_NAME_MAX, "#%zu", index); /* '#' is not allowed in names */
    return buf;
}

static int layout_build(const struct gw_snapshot *s, struct gw_metrics_layout *l)
{
    const struct gw_config *cfg = s->cfg;
    size_t nsvc = s->nservices;
    memset(l, 0, sizeof *l);
    l->nservices = nsvc;
    l->svc = calloc(nsvc ? nsvc : 1, sizeof *l->svc);
    if (l->svc == NULL)
        return GW_ENOMEM;
    size_t cap = cfg->metrics.max_consumers;
    size_t ncons = cfg->auth.nconsumers < cap ? cfg->auth.nconsumers : cap;
    /* sizes */
    size_t n[GW_MX_KINDS] = {0};
    n[GW_MX_ROUTE] = 1; /* unrouted */
    n[GW_MX_LIMIT] = cfg->rate_limit.nlimits;
    for (size_t i = 0; i < nsvc; i++) {
        const struct gw_service *svc = &s->services[i];
        const struct gw_service_conf *sc = svc->conf;
        struct gw_mx_service_layout *sl = &l->svc[i];
        sl->route_base = (uint32_t)n[GW_MX_ROUTE];
        n[GW_MX_ROUTE] += sc->nprefixes;
        sl->target_base = (uint32_t)n[GW_MX_TARGET];
        n[GW_MX_TARGET] += svc->ntargets;
        sl->limit_base = (uint32_t)n[GW_MX_LIMIT];
        n[GW_MX_LIMIT] += sc->nlimits;
        sl->consumer_base = UINT32_MAX;
        if (sc->metrics_consumers) {
            sl->consumer_base = (uint32_t)n[GW_MX_CONSUMER];
            sl->nconsumers = (uint32_t)ncons + 1;
            n[GW_MX_CONSUMER] += ncons + 1;
        }
        sl->grpc_base = UINT32_MAX;
        if (sc->upstream_protocol != GW_UPSTREAM_HTTP1) {
            sl->grpc_base = (uint32_t)n[GW_MX_GRPC];
            n[GW_MX_GRPC] += sc->nprefixes;
        }
        sl->stages = svc->stages_timed;
    }
    n[GW_MX_SERVICE] = nsvc;
    /* histograms: one per route, two per service, one per stage that runs, one for Redis */
    size_t h = n[GW_MX_ROUTE];
    for (size_t i = 0; i < nsvc; i++) {
        struct gw_mx_service_layout *sl = &l->svc[i];
        sl->hist_try = (uint32_t)h++;
        sl->hist_ttfb = (uint32_t)h++;
        sl->hist_stage_base = (uint32_t)h;
        h += popcount32(sl->stages);
    }
    l->hist_redis = (uint32_t)h++;
    n[GW_MX_HIST] = h;
    for (int k = 0; k < GW_MX_KINDS; k++) {
        if (n[k] > INT32_MAX)
            return GW_EINVAL;
        l->nrows[k] = n[k];
        l->keys[k] = calloc(n[k] ? n[k] : 1, sizeof(char *));
        if (l->keys[k] == NULL)
            return GW_ENOMEM;
    }
    /* keys, in the same order */
    struct builder b = {.l = l};
    add_key(&b, GW_MX_ROUTE, "", NULL, NULL);
    add_key(&b, GW_MX_HIST, hist_kind_names[GW_MX_HK_REQUEST], "", "");
    char lname[GW_MX_LIMIT_NAME_MAX];
    for (size_t j = 0; j < cfg->rate_limit.nlimits; j++)
        add_key(&b, GW_MX_LIMIT, "", gw_mx_limit_name(cfg->rate_limit.limits[j].name, j, lname),
                NULL);
    for (size_t i = 0; i < nsvc; i++) {
        const struct gw_service *svc = &s->services[i];
        const struct gw_service_conf *sc = svc->conf;
        add_key(&b, GW_MX_SERVICE, sc->name, NULL, NULL);
        for (size_t p = 0; p < sc->nprefixes; p++) {
            add_key(&b, GW_MX_ROUTE, sc->name, sc->prefixes[p], NULL);
            add_key(&b, GW_MX_HIST, hist_kind_names[GW_MX_HK_REQUEST], sc->name, sc->prefixes[p]);
        }
        for (size_t t = 0; t < svc->ntargets; t++)
            add_key(&b, GW_MX_TARGET, sc->name, svc->targets[t].key, NULL);
        for (size_t j = 0; j < sc->nlimits; j++)
            add_key(&b, GW_MX_LIMIT, sc->name, gw_mx_limit_name(sc->limits[j].name, j, lname),
                    NULL);
        if (l->svc[i].consumer_base != UINT32_MAX) {
            for (size_t c = 0; c < ncons; c++)
                add_key(&b, GW_MX_CONSUMER, sc->name, cfg->auth.consumers[c].id, NULL);
            add_key(&b, GW_MX_CONSUMER, sc->name, "\x01other", NULL); /* no id starts so */
        }
        for (size_t p = 0; l->svc[i].grpc_base != UINT32_MAX && p < sc->nprefixes; p++)
            add_key(&b, GW_MX_GRPC, sc->name, sc->prefixes[p], NULL);
    }
    for (size_t i = 0; i < nsvc; i++) {
        const char *name = s->services[i].conf->name;
        add_key(&b, GW_MX_HIST, hist_kind_names[GW_MX_HK_TRY], name, NULL);
        add_key(&b, GW_MX_HIST, hist_kind_names[GW_MX_HK_TTFB], name, NULL);
        for (unsigned k = 0; k < 32; k++) {
            if (l->svc[i].stages & (1u << k)) {
                char stage[4] = {(char)('A' + k), '\0'};
                add_key(&b, GW_MX_HIST, hist_kind_names[GW_MX_HK_STAGE], name, stage);
            }
        }
    }
    add_key(&b, GW_MX_HIST, hist_kind_names[GW_MX_HK_REDIS], NULL, NULL);
    return b.oom ? GW_ENOMEM : 0;
}

long gw_metrics_layout_find(const struct gw_metrics_layout *l, enum gw_mx_kind k, const char *key,
                            size_t len)
{
    for (size_t i = 0; i < l->nrows[k]; i++) {
        const char *rk = l->keys[k][i];
        if (rk && key_len(rk) == len && memcmp(rk, key, len) == 0)
            return (long)i;
    }
    return -1;
}

/* ---- sets
 * ---------------------------------------------------------------------------------------- */

static void areas_free(struct gw_metrics_set *s)
{
    for (unsigned w = 0; s->areas && w < s->nworkers; w++)
        for (int k = 0; k < GW_MX_KINDS; k++)
            free(s->areas[w].rows[k]);
    free(s->areas);
    s->areas = NULL;
}

void gw_metrics_set_free(struct gw_metrics_set *s)
{
    if (s == NULL)
        return;
    areas_free(s);
    layout_free(&s->layout);
    for (int k = 0; k < GW_MX_KINDS; k++)
        free(s->map[k]);
    free(s->inv_hist);
    free(s);
}

int gw_metrics_set_new(const struct gw_snapshot *snap, unsigned nworkers,
                       struct gw_metrics_set **out)
{
    *out = NULL;
    struct gw_metrics_set *s = calloc(1, sizeof *s);
    if (s == NULL)
        return GW_ENOMEM;
    int rc = layout_build(snap, &s->layout);
    if (rc < 0)
        goto fail;
    rc = GW_ENOMEM;
    s->nworkers = nworkers;
    s->areas = calloc(nworkers ? nworkers : 1, sizeof *s->areas);
    if (s->areas == NULL)
        goto fail;
    for (unsigned w = 0; w < nworkers; w++) {
        for (int k = 0; k < GW_MX_KINDS; k++) {
            size_t n = s->layout.nrows[k] * gw_mx_row_words[k];
            /* Zeroed pages: large tables cost memory only where rows are written. */
            s->areas[w].rows[k] = calloc(n ? n : 1, sizeof(gw_mx_ctr));
            if (s->areas[w].rows[k] == NULL)
                goto fail;
        }
    }
    atomic_init(&s->released, false);
    *out = s;
    return 0;
fail:
    gw_metrics_set_free(s);
    return rc;
}

void gw_metrics_set_release(struct gw_metrics_set *s)
{
    if (s)
        atomic_store_explicit(&s->released, true, memory_order_release);
}

size_t gw_metrics_set_bytes(const struct gw_metrics_set *s)
{
    size_t bytes = sizeof *s + s->layout.nservices * sizeof(struct gw_mx_service_layout);
    for (int k = 0; k < GW_MX_KINDS; k++) {
        bytes += s->nworkers * s->layout.nrows[k] * gw_mx_row_words[k] * sizeof(gw_mx_ctr);
        for (size_t i = 0; i < s->layout.nrows[k]; i++)
            bytes += sizeof(char *) + (s->layout.keys[k][i] ? key_len(s->layout.keys[k][i]) : 0);
    }
    return bytes;
}

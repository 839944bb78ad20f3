/*
 * Request metrics: per-worker counters and histograms, written without locks or atomic
 * read-modify-writes on the request path, summed by the control thread when it is asked.
 *
 * The model (docs/metrics.md has the whole story)
 * - A metric set belongs to one snapshot (snap->metrics). It holds one area per worker; an area
 *   is a few tables of rows, one row per label set the configuration allows: a route (service and
 *   prefix), a service, a target, a rate limit, a consumer of a service, a histogram. Nothing in
 *   a row depends on request data beyond a bounded index (method, status code), so the memory of
 *   a set is fixed when it is built.
 * - A request records into its own snapshot's set (r->mx, its worker's area) where it ends;
 *   events (connect errors, retries, rate-limit decisions, ...) are recorded at their source.
 *   Only the worker that owns an area writes to it: an increment is a relaxed atomic load and a
 *   relaxed atomic store of the sum (no lock prefix, no RMW; on x86-64 and arm64 the same
 *   instructions as a plain increment), so the control thread's relaxed loads never see a torn
 *   64-bit value and never slow a worker down.
 * - Rows are keyed by name ("service", "service\0prefix", ...). When a new snapshot arrives the
 *   control thread maps the rows of every set still alive onto the new layout by key; when a
 *   set's snapshot is gone (no request can write to it any more) its counts are folded into a
 *   base kept in the current layout. A total is base + every live set, so counters never go
 *   backwards across reloads, and rows of services that were removed disappear.
 *
 * Threads: gw_mx_* recording helpers: the worker owning the area. Everything else: the control
 * thread, except gw_metrics_set_release (whoever frees the snapshot).
 */
#ifndef GW_METRICS_METRICS_H
#define GW_METRICS_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/hist.h"

#include "metrics/metrics-t.h"

static inline void gw_mx_add(gw_mx_ctr *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void gw_mx_inc(gw_mx_ctr *c)
{
    gw_mx_add(c, 1);
}

static inline uint64_t gw_mx_get(const gw_mx_ctr *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- label values -----------------------------------------------------------------------------
 */

/* Methods: the known ones, then OTHER. */
enum {
    GW_MX_M_GET,
    GW_MX_M_HEAD,
    GW_MX_M_POST,
    GW_MX_M_PUT,
    GW_MX_M_DELETE,
    GW_MX_M_PATCH,
    GW_MX_M_OPTIONS,
    GW_MX_M_OTHER,
    GW_MX_METHODS
};

/* Status codes: a fixed table of the codes gantry and common upstreams answer, then one "other"
 * per class, then "none" (no status: the client went away first). */
#define GW_MX_KNOWN_CODES 46
#define GW_MX_CODE_OTHER(cls) (GW_MX_KNOWN_CODES + (cls)-1) /* cls 1..5 */
#define GW_MX_CODE_NONE (GW_MX_KNOWN_CODES + 5)
#define GW_MX_CODES (GW_MX_KNOWN_CODES + 6)

/* The code of row index i ("200"), the "other" ones as "other", none as "none". */
const char *gw_mx_code_name(unsigned i);
/* The class of row index i: "2xx", ..., "none". */
const char *gw_mx_code_class(unsigned i);
/* The status code of row index i, 0 for "other" and "none". */
int gw_mx_code_status(unsigned i);
/* The method label of index i. */
const char *gw_mx_method_name(unsigned i);

extern const uint8_t gw_mx_code_index_table[600];
extern const uint8_t gw_mx_method_index_table[32];

/* The row index of a status (any int). */
static inline unsigned gw_mx_code_index(int status)
{
    if (status >= 100 && status < 600)
        return gw_mx_code_index_table[status];
    return GW_MX_CODE_NONE;
}

/* The method index of an enum gw_http_method value. */
static inline unsigned gw_mx_method_index(unsigned method_id)
{
    return method_id < 32 ? gw_mx_method_index_table[method_id] : GW_MX_M_OTHER;
}

/* Auth: the credential the request presented, and what came of it. */
enum {
    GW_MX_AUTH_NONE,
    GW_MX_AUTH_JWT,
    GW_MX_AUTH_APIKEY,
    GW_MX_AUTH_INTROSPECTION,
    GW_MX_AUTH_MTLS,
    GW_MX_AUTH_METHODS
};
enum {
    GW_MX_AUTH_OK,
    GW_MX_AUTH_FORBIDDEN,       /* 403 */
    GW_MX_AUTH_401_MISSING,     /* no credential */
    GW_MX_AUTH_401_MALFORMED,   /* unparsable header or token */
    GW_MX_AUTH_401_INVALID_KEY, /* unknown API key */
    GW_MX_AUTH_401_SIGNATURE,   /* signature, algorithm, unknown key id */
    GW_MX_AUTH_401_EXPIRED,     /* exp, nbf */
    GW_MX_AUTH_401_CLAIMS,      /* iss, aud, a required claim */
    GW_MX_AUTH_401_INACTIVE,    /* introspection: not active */
    GW_MX_AUTH_401_OTHER,
    /* no verdict: the introspection endpoint failed (down, timed out, not 200), and gantry
     * answered auth.introspection.failure_status (503) */
    GW_MX_AUTH_INTROSPECTION_FAILED,
    GW_MX_AUTH_OUTCOMES
};
/* The outcomes that are 401s: GW_MX_AUTH_401_MISSING to GW_MX_AUTH_401_OTHER. */
static inline bool gw_mx_auth_is_401(unsigned outcome)
{
    return outcome >= GW_MX_AUTH_401_MISSING && outcome <= GW_MX_AUTH_401_OTHER;
}
/* "ok", "forbidden", the 401's reason ("missing", "expired", ...), or
 * "introspection_failed". */
const char *gw_mx_auth_outcome_name(unsigned i);
const char *gw_mx_auth_method_name(unsigned i);

/* ---- rows ---------------------------------------------------------------------------------------
 */

/* Row keys are parts joined by this byte ("users" SEP "/api/users"). */
#define GW_MX_KEY_SEP '\x1f'

/* Room for a limit's name as gw_mx_limit_name writes it ("#" and an index, or a name's first
 * GW_MX_LIMIT_NAME_MAX - 1 bytes: configured names have at most 64). */
#define GW_MX_LIMIT_NAME_MAX 72

/* The name a rate limit's row, label and top keys go by: its configured name, or "#N" for an
 * unnamed one (N its index in its list), as its counters are named (policy/policy.c). Two
 * unnamed limits of a list so never share a row. Returns name, or buf holding "#N". */
const char *gw_mx_limit_name(const char *name, size_t index, char buf[GW_MX_LIMIT_NAME_MAX]);

enum gw_mx_kind {
    GW_MX_ROUTE,    /* key "service SEP prefix"; row 0 is unrouted traffic: " SEP " */
    GW_MX_SERVICE,  /* key "service" */
    GW_MX_TARGET,   /* key "service SEP host:port" */
    GW_MX_LIMIT,    /* key "scope SEP name": scope "" for the gateway's limits, else the service */
    GW_MX_CONSUMER, /* key "service SEP consumer" ("\x01other" past the cap) */
    GW_MX_GRPC,     /* key "service SEP prefix": gRPC calls by status, HTTP/2 services only */
    GW_MX_HIST,     /* key "kind SEP service [SEP prefix or stage]" */
    GW_MX_KINDS
};

/* Words of a route row. */
enum {
    GW_MX_R_REQ = 0, /* [method][code] */
    GW_MX_R_BYTES_IN = GW_MX_METHODS * GW_MX_CODES,
    GW_MX_R_BYTES_OUT,
    GW_MX_R_WORDS
};
#define GW_MX_R_REQ_AT(m, c) (GW_MX_R_REQ + (m)*GW_MX_CODES + (c))

/* Words of a service row. */
enum {
    GW_MX_S_RETRIES = 0,
    GW_MX_S_BUDGET_REFUSED,            /* a retry the budget refused */
    GW_MX_S_CIRCUIT_REFUSED,           /* answered 503 by the service's open circuit */
    GW_MX_S_NO_TARGET,                 /* answered 503: no usable target */
    GW_MX_S_TCACHE,                    /* [cache: jwt, introspection][hit, miss] */
    GW_MX_S_AUTH = GW_MX_S_TCACHE + 4, /* [method][outcome] */
    /* the response cache: [GW_MX_CACHE_*] */
    GW_MX_S_CACHE = GW_MX_S_AUTH + GW_MX_AUTH_METHODS * GW_MX_AUTH_OUTCOMES,
    GW_MX_S_WORDS = GW_MX_S_CACHE + 10
};

/* Words of a service row's response-cache counters (policy/cache.c). */
enum {
    GW_MX_CACHE_HIT = 0,        /* answered from the store while fresh (a 304 included) */
    GW_MX_CACHE_MISS,           /* nothing stored for the request: went upstream */
    GW_MX_CACHE_STALE,          /* a stale stored response answered (max-stale, stale-if-error) */
    GW_MX_CACHE_EXPIRED,        /* stored but unusable (stale, or the client asked): refetched */
    GW_MX_CACHE_BYPASS,         /* not cacheable by method or key; unsafe methods */
    GW_MX_CACHE_COLLAPSED,      /* waited for another request's fill */
    GW_MX_CACHE_STORED,         /* responses stored */
    GW_MX_CACHE_STORED_BYTES,   /* their body bytes */
    GW_MX_CACHE_REVALIDATED,    /* stale, validated by the origin with a 304 */
    GW_MX_CACHE_BACKEND_ERRORS, /* Redis backend: a lookup or purge Redis did not answer */
};

/* Words of a target row. */
enum {
    GW_MX_T_TRIES = 0,
    GW_MX_T_FAILURES, /* tries that failed (connect error, reset, timeout, invalid answer, 5xx) */
    GW_MX_T_CONNECT_ERRORS,
    GW_MX_T_RESETS,
    GW_MX_T_TIMEOUTS,
    GW_MX_T_EJECTIONS,
    GW_MX_T_TRY_NS, /* sum of try durations */
    GW_MX_T_WORDS
};

/* Words of a rate-limit row. */
enum {
    GW_MX_L_ALLOWED = 0,
    GW_MX_L_LIMITED,
    GW_MX_L_FALLBACK,
    GW_MX_L_WORDS
};

/* Words of a consumer row: requests by class (1xx..5xx, none). */
enum {
    GW_MX_C_WORDS = 6
};

/* Words of a gRPC row: calls by the grpc-status the client got, the 17 codes of the gRPC
 * specification (index = code), then OTHER (any other value) and NONE (no grpc-status reached
 * the client: the stream was reset, or the target answered without one). */
enum {
    GW_MX_GRPC_CODES = 17,
    GW_MX_GRPC_OTHER = GW_MX_GRPC_CODES,
    GW_MX_GRPC_NONE,
    GW_MX_G_WORDS
};

/* The word of a grpc-status value (any int: what the target sent). */
static inline unsigned gw_mx_grpc_index(long status)
{
    return status >= 0 && status < GW_MX_GRPC_CODES ? (unsigned)status : GW_MX_GRPC_OTHER;
}

/* The label of word i: "OK", "CANCELLED", ..., "UNAUTHENTICATED", "OTHER", "NONE". */
const char *gw_mx_grpc_status_name(unsigned i);

/* Words of a histogram row: sum (ns), the mask of groups in use, the buckets. */
enum {
    GW_MX_H_SUM = 0,
    GW_MX_H_USED,
    GW_MX_H_B,
    GW_MX_H_WORDS = GW_MX_H_B + GW_HIST_BUCKETS
};

/* Histogram kinds (the first part of a histogram row's key). */
enum {
    GW_MX_HK_REQUEST, /* per route: total request time */
    GW_MX_HK_TRY,     /* per service: one upstream try, connect to response end */
    GW_MX_HK_TTFB,    /* per service: try start to the first response byte */
    GW_MX_HK_STAGE,   /* per service and policy stage */
    GW_MX_HK_REDIS,   /* one: a Redis rate-limit decision's round trip */
    GW_MX_HK_KINDS
};

/* One worker's counters in one set: a table of rows per kind. */
struct gw_metrics_area {
    gw_mx_ctr *rows[GW_MX_KINDS];
};

static inline gw_mx_ctr *gw_mx_row(struct gw_metrics_area *a, enum gw_mx_kind k, size_t row,
                                   size_t words)
{
    return a->rows[k] + row * words;
}

/* ---- the layout: which row a request's labels land in
 * -------------------------------------------- */

/* One service's rows. Immutable once built. */
struct gw_mx_service_layout {
    uint32_t route_base;    /* its first route row; prefix p is route_base + p */
    uint32_t target_base;   /* target t is target_base + t */
    uint32_t limit_base;    /* its limits, after the gateway's */
    uint32_t consumer_base; /* UINT32_MAX when the consumer label is off */
    uint32_t grpc_base;     /* prefix p's gRPC row is grpc_base + p; UINT32_MAX for a service
                               that speaks HTTP/1.1 upstream (it proxies no gRPC call) */
    uint32_t nconsumers;    /* rows: configured consumers under the cap, + "other" */
    uint32_t hist_try;      /* histogram rows */
    uint32_t hist_ttfb;
    uint32_t hist_stage_base; /* stage k: hist_stage_base + popcount(stages & ((1 << k) - 1)) */
    uint32_t stages; /* the timed policy stages that run for it (gw_service.stages_timed) */
};

/* What a set was built from, with the keys of its rows (owned). */
struct gw_metrics_layout {
    size_t nrows[GW_MX_KINDS];
    char **keys[GW_MX_KINDS]; /* keys[k][row]: parts joined by GW_MX_KEY_SEP */
    size_t nservices;
    struct gw_mx_service_layout *svc;
    uint32_t hist_redis;
};

/* Words per row of each kind. */
extern const size_t gw_mx_row_words[GW_MX_KINDS];

struct gw_metrics_set {
    struct gw_metrics_layout layout;
    unsigned nworkers;
    struct gw_metrics_area *areas; /* one per worker */
    atomic_bool released;          /* its snapshot is gone: no request writes to it any more */
    /* control thread only: where its rows land in the current layout (-1: nowhere) */
    int32_t *map[GW_MX_KINDS];
    int32_t *inv_hist;           /* current histogram row -> its row here, or -1 (lazily) */
    struct gw_metrics_set *next; /* in the hub's list of live sets */
};

/* The worker's area of a set: what a request keeps as r->mx. */
static inline struct gw_metrics_area *gw_metrics_area_of(struct gw_metrics_set *s, unsigned worker)
{
    return s ? &s->areas[worker] : NULL;
}

/* ---- recording (the worker owning the area) -----------------------------------------------------
 */

static inline void gw_mx_hist_record(struct gw_metrics_area *a, uint32_t hist, uint64_t ns)
{
    gw_mx_ctr *h = a->rows[GW_MX_HIST] + (size_t)hist * GW_MX_H_WORDS;
    unsigned i = gw_hist_index(ns);
    gw_mx_inc(&h[GW_MX_H_B + i]);
    gw_mx_add(&h[GW_MX_H_SUM], ns);
    uint64_t used = gw_mx_get(&h[GW_MX_H_USED]);
    uint64_t bit = UINT64_C(1) << (i >> GW_HIST_SUB_BITS);
    if (!(used & bit))
        atomic_store_explicit(&h[GW_MX_H_USED], used | bit, memory_order_relaxed);
}

static inline void gw_mx_service_inc(struct gw_metrics_area *a, size_t svc, unsigned word)
{
    gw_mx_inc(&a->rows[GW_MX_SERVICE][svc * GW_MX_S_WORDS + word]);
}

static inline void gw_mx_service_add(struct gw_metrics_area *a, size_t svc, unsigned word,
                                     uint64_t n)
{
    gw_mx_add(&a->rows[GW_MX_SERVICE][svc * GW_MX_S_WORDS + word], n);
}

static inline void gw_mx_target_add(struct gw_metrics_area *a, const struct gw_metrics_layout *l,
                                    size_t svc, size_t target, unsigned word, uint64_t n)
{
    gw_mx_add(&a->rows[GW_MX_TARGET][(l->svc[svc].target_base + target) * GW_MX_T_WORDS + word], n);
}

/* ---- sets (control thread unless said otherwise) -----------------------------------------------
 */

struct gw_snapshot;

/* Builds the layout of snapshot s's rows and a zeroed set with an area per worker. The set
 * takes consumer_cap configured consumers per service at most (the rest count as "other").
 * 0, GW_ENOMEM or GW_EINVAL (more rows than the limits allow). */
int gw_metrics_set_new(const struct gw_snapshot *s, unsigned nworkers, struct gw_metrics_set **out);

/* Any thread: the set's snapshot is being freed, so no request will write to it again. The
 * control thread folds it into the base and frees it later (gw_metrics_hub_collect). */
void gw_metrics_set_release(struct gw_metrics_set *s);

/* Frees a set that was never handed to a hub. NULL is a no-op. */
void gw_metrics_set_free(struct gw_metrics_set *s);

/* Index of key in the set's rows of kind k, or -1. key_len counts the key's NUL. */
long gw_metrics_layout_find(const struct gw_metrics_layout *l, enum gw_mx_kind k, const char *key,
                            size_t key_len);

/* Bytes of one set (its areas and layout) for n workers. */
size_t gw_metrics_set_bytes(const struct gw_metrics_set *s);

#endif

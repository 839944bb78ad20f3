/*
 * The rate-limit policy: decides a routed request against every limit that applies to it —
 * the gateway's, then its service's, in config order — and answers 429 at the first exhausted
 * one. Every limited request carries the RateLimit-* / X-RateLimit-* headers of the limit
 * closest to exhaustion (the fewest remaining), so that a client following them is never
 * refused.
 *
 * The counters are in-process (state/ratelimit_local.h) or in Redis
 * (state/ratelimit_redis.h); a Redis decision suspends the request until its answer, and when
 * Redis cannot answer, rate_limit.redis.failure_policy decides at once.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "metrics/topkeys.h"
#include "policy/chain.h"
#include "policy/client_addr.h"
#include "policy/policy.h"
#include "policy/stages.h"
#include "runtime/worker-t.h"
#include "state/ratelimit_local.h"
#include "state/ratelimit_redis.h"

#define KEY_MAX 600

/* ---- the counter key ---------------------------------------------------------------------------
 */

/* Appends "<kind>:<value>" to key; values too long for a key are replaced by their SHA-256. */
static size_t put_part(char *key, size_t at, const char *kind, const char *v, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t kl = strlen(kind);
    memcpy(key + at, kind, kl);
    at += kl;
    key[at++] = ':';
    if (n <= 256) {
        memcpy(key + at, v, n);
        return at + n;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(v, n, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < mdlen; i++) {
        key[at++] = hex[md[i] >> 4];
        key[at++] = hex[md[i] & 15];
    }
    return at;
}

static size_t build_key(struct gw_request *r, const struct gw_rl_limit *l, char *key, size_t at)
{
    const struct gw_limit_conf *lc = l->conf;
    switch (lc->key) {
    case GW_LIMIT_KEY_GLOBAL:
        return put_part(key, at, "all", "*", 1);
    case GW_LIMIT_KEY_ROUTE: {
        char route[300];
        size_t ml = strlen(r->method);
        size_t pl = r->prefix_len < sizeof route - ml - 1 ? r->prefix_len : sizeof route - ml - 1;
        memcpy(route, r->method, ml);
        route[ml] = ' ';
        memcpy(route + ml + 1, r->npath, pl);
        return put_part(key, at, "route", route, ml + 1 + pl);
    }
    case GW_LIMIT_KEY_HEADER: {
        int i = gw_http1_find_header(&r->msg, lc->key_header, strlen(lc->key_header));
        if (i >= 0 && r->msg.headers[i].value_len > 0)
            return put_part(key, at, "h", r->msg.headers[i].value, r->msg.headers[i].value_len);
        break;
    }
    case GW_LIMIT_KEY_CONSUMER: {
        const char *who = r->identity.consumer ? r->identity.consumer : r->identity.user;
        if (r->authenticated && who)
            return put_part(key, at, "c", who, strlen(who));
        break;
    }
    case GW_LIMIT_KEY_IP:
    default:
        break;
    }
    return put_part(key, at, "ip", r->client_ip, strlen(r->client_ip));
}

/* ---- answers -----------------------------------------------------------------------------------
 */

static uint64_t ceil_s(uint64_t us)
{
    return (us + 999999) / 1000000;
}

/* Appends decimal v at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put_str((p), (lit), sizeof(lit) - 1)

/* The rate-limit header lines for d (on every limited response, so no printf here). out holds
 * sizeof(struct rl_state).headers = 256 bytes: limits are below 2^32 and resets below 2^40 us, so
 * the six lines take at most 182. */
static void format_headers(const struct gw_config *cfg, const struct gw_rl_decision *d, char *out,
                           size_t cap)
{
    enum gw_rl_headers mode = cfg->rate_limit.headers;
    uint64_t reset = ceil_s(d->reset_after_us);
    char *p = out;
    (void)cap;
    if (mode == GW_RL_HEADERS_ALL || mode == GW_RL_HEADERS_IETF) {
        p = put_u64(PUT_LIT(p, "RateLimit-Limit: "), d->limit);
        p = put_u64(PUT_LIT(p, "\r\nRateLimit-Remaining: "), d->remaining);
        p = put_u64(PUT_LIT(p, "\r\nRateLimit-Reset: "), reset);
        p = PUT_LIT(p, "\r\n");
    }
    if (mode == GW_RL_HEADERS_ALL || mode == GW_RL_HEADERS_LEGACY) {
        p = put_u64(PUT_LIT(p, "X-RateLimit-Limit: "), d->limit);
        p = put_u64(PUT_LIT(p, "\r\nX-RateLimit-Remaining: "), d->remaining);
        p = put_u64(PUT_LIT(p, "\r\nX-RateLimit-Reset: "), reset);
        p = PUT_LIT(p, "\r\n");
    }
    *p = '\0';
}

/* Per-request state (the chain's slot, shared by the two stages). */
struct rl_state {
    uint16_t next;      /* next limit to decide */
    bool consumer_pass; /* next counts through the consumer-keyed limits */
    bool has;           /* best holds the decision the headers report */
    struct gw_rl_decision best;
    const struct gw_rl_limit *pending; /* limit whose Redis decision is awaited */
    struct gw_rl_redis_op *op;
    char headers[256]; /* RateLimit-* headers for every answer ("" when none) */
    uint64_t t_redis;  /* when the Redis decision in flight was sent (metrics) */
};
_Static_assert(sizeof(struct rl_state) <= GW_STAGE_STATE_MAX, "rate-limit state too large");

/* One decision of limit l in its row of the metrics (GW_MX_L_*). */
static void mx_limit(struct gw_request *r, const struct gw_rl_limit *l, unsigned word)
{
    if (r->mx == NULL)
        return;
    const struct gw_policy *p = r->snap->policy;
    size_t row;
    if (l >= p->limits && l < p->limits + p->nlimits) {
        row = (size_t)(l - p->limits);
    } else {
        size_t svc = (size_t)(r->svc - r->snap->services);
        row = r->snap->metrics->layout.svc[svc].limit_base + (size_t)(l - p->svc_limits[svc]);
    }
    gw_mx_inc(&r->mx->rows[GW_MX_LIMIT][row * GW_MX_L_WORDS + word]);
}

static void answer_limited(struct gw_request *r, struct rl_state *st, const struct gw_rl_limit *l,
                           const struct gw_rl_decision *d, struct gw_answer *a)
{
    uint64_t retry = ceil_s(d->retry_after_us);
    if (retry == 0)
        retry = 1;
    format_headers(r->snap->cfg, d, st->headers, sizeof st->headers);
    atomic_fetch_add_explicit(&r->snap->policy->shared->rl_limited, 1, memory_order_relaxed);
    r->rl_outcome = GW_RL_OUTCOME_LIMITED;
    gw_log_debug("request %s: rate limited by %s (retry after %llus)", r->id,
                 l->conf->name ? l->conf->name : "a limit", (unsigned long long)retry);
    gw_answer_init(a, GW_ERATELIMITED);
    a->retry_after = retry;
}

/* A header that carries a credential: its values are shown as a digest among the top keys. */
static bool secret_header(const char *name)
{
    return strcasecmp(name, "authorization") == 0 || strcasecmp(name, "cookie") == 0 ||
           strcasecmp(name, "proxy-authorization") == 0 || strcasestr(name, "key") != NULL ||
           strcasestr(name, "token") != NULL || strcasestr(name, "secret") != NULL;
}

/* Limit l refused r: its key goes to the worker's top-keys table (metrics/topkeys.h). Only
 * refused requests come here. */
static void record_top_key(struct gw_request *r, const struct gw_rl_limit *l)
{
    static const char hex[] = "0123456789abcdef";
    char label[GW_TOPKEYS_LIMIT_MAX];
    char key[KEY_MAX];
    const struct gw_policy *p = r->snap->policy;
    bool gateway = l >= p->limits && l < p->limits + p->nlimits;
    const char *scope = gateway ? "" : r->svc->conf->name;
    size_t index =
        gateway ? (size_t)(l - p->limits) : (size_t)(l - p->svc_limits[r->svc - r->snap->services]);
    char lname[GW_MX_LIMIT_NAME_MAX];
    const char *name = gw_mx_limit_name(l->conf->name, index, lname);
    int ln = snprintf(label, sizeof label, "%s\x1f%s", scope, name);
    size_t n = build_key(r, l, key, 0);
    if (l->conf->key == GW_LIMIT_KEY_HEADER && secret_header(l->conf->key_header) && n > 2 &&
        key[0] == 'h' && key[1] == ':') {
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_Digest(key + 2, n - 2, md, &mdlen, EVP_sha256(), NULL);
        memcpy(key + 2, "sha256:", 7);
        for (unsigned i = 0; i < 6; i++) {
            key[9 + 2 * i] = hex[md[i] >> 4];
            key[10 + 2 * i] = hex[md[i] & 15];
        }
        n = 21;
    }
    gw_topkeys_record(p->shared->topkeys, r->w->id, label,
                      ln < 0 ? 0 : ((size_t)ln < sizeof label ? (size_t)ln : sizeof label - 1), key,
                      n);
}

/* Applies one decision: false when it refused the request (429 in *a). */
static bool apply(struct gw_request *r, struct rl_state *st, const struct gw_rl_limit *l,
                  const struct gw_rl_decision *d, struct gw_answer *a)
{
    if (!d->allowed) {
        mx_limit(r, l, GW_MX_L_LIMITED);
        record_top_key(r, l);
        answer_limited(r, st, l, d, a);
        return false;
    }
    mx_limit(r, l, GW_MX_L_ALLOWED);
    if (!st->has || d->remaining < st->best.remaining ||
        (d->remaining == st->best.remaining && d->reset_after_us > st->best.reset_after_us)) {
        st->best = *d;
        st->has = true;
    }
    return true;
}

/* Redis could not decide: false when the failure policy refused the request (503 in *a). */
static bool apply_failure(struct gw_request *r, struct rl_state *st, const struct gw_rl_limit *l,
                          const char *key, size_t keylen, struct gw_answer *a)
{
    struct gw_policy_shared *ps = r->snap->policy->shared;
    mx_limit(r, l, GW_MX_L_FALLBACK);
    switch (r->snap->cfg->rate_limit.redis.on_failure) {
    case GW_RL_FAIL_CLOSED:
        atomic_fetch_add_explicit(&ps->rl_redis_failed_closed, 1, memory_order_relaxed);
        r->rl_outcome = GW_RL_OUTCOME_FAILED;
        gw_answer_init(a, GW_ERLBACKEND);
        return false;
    case GW_RL_FAIL_LOCAL: {
        struct gw_rl_decision d;
        atomic_fetch_add_explicit(&ps->rl_redis_fallbacks, 1, memory_order_relaxed);
        r->rl_outcome = GW_RL_OUTCOME_FALLBACK;
        if (gw_rl_store_decide(l->store, key, keylen, uv_hrtime() / 1000, &d) != 0)
            return true;
        return apply(r, st, l, &d, a);
    }
    case GW_RL_FAIL_OPEN:
    default:
        atomic_fetch_add_explicit(&ps->rl_redis_fallbacks, 1, memory_order_relaxed);
        r->rl_outcome = GW_RL_OUTCOME_FALLBACK;
        return true;
    }
}

static const struct gw_rl_limit *limit_at(const struct gw_request *r, size_t i)
{
    const struct gw_policy *p = r->snap->policy;
    if (i < p->nlimits)
        return &p->limits[i];
    size_t svc = (size_t)(r->svc - r->snap->services);
    return &p->svc_limits[svc][i - p->nlimits];
}

static size_t limit_count(const struct gw_request *r)
{
    const struct gw_policy *p = r->snap->policy;
    size_t svc = (size_t)(r->svc - r->snap->services);
    return p->nlimits + (p->svc_nlimits ? p->svc_nlimits[svc] : 0);
}

static void on_redis_decision(void *arg, int status, const struct gw_rl_decision *d)
{
    struct gw_request *r = arg;
    struct rl_state *st = r->slot[GW_STAGE_RATELIMIT_PRE];
    const struct gw_rl_limit *l = st->pending;
    struct gw_answer a;
    st->op = NULL;
    st->pending = NULL;
    if (r->mx && st->t_redis)
        gw_mx_hist_record(r->mx, r->snap->metrics->layout.hist_redis, uv_hrtime() - st->t_redis);
    bool go_on;
    if (status == 0) {
        go_on = apply(r, st, l, d, &a);
    } else {
        char key[KEY_MAX];
        size_t n = build_key(r, l, key, 0);
        go_on = apply_failure(r, st, l, key, n, &a);
    }
    if (go_on)
        gw_policy_resume(r); /* the same stage again: it goes on from st->next */
    else
        gw_policy_respond(r, &a);
}

/* Decides the limits not keyed by consumer (consumer_pass false), or those keyed by consumer
 * (after authentication). */
static enum gw_stage_result decide(struct gw_request *r, void **slot, bool consumer_pass,
                                   struct gw_answer *a)
{
    const struct gw_policy *p = r->snap->policy;
    if (p == NULL || !p->any_limits)
        return GW_STAGE_CONTINUE;
    struct rl_state *st = *slot;
    if (st == NULL) {
        st = *slot = gw_stage_alloc(r, sizeof *st);
        if (st == NULL) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
    }
    const struct gw_config *cfg = r->snap->cfg;
    size_t total = limit_count(r);
    if (r->client_ip[0] == '\0')
        gw_policy_client_ip(r); /* for the limits keyed by IP (policy/client_addr.h) */
    if (st->consumer_pass != consumer_pass) {
        st->consumer_pass = consumer_pass;
        st->next = 0;
    }
    struct gw_rl_redis *redis =
        cfg->rate_limit.backend == GW_RL_BACKEND_REDIS ? r->w->rl_redis : NULL;
    while (st->next < total) {
        const struct gw_rl_limit *l = limit_at(r, st->next);
        st->next++;
        if ((l->conf->key == GW_LIMIT_KEY_CONSUMER) != consumer_pass)
            continue;
        if (!gw_policy_match(&l->conf->match, r->npath, r->npath_len, r->msg.method_id))
            continue;
        char key[KEY_MAX];
        size_t n;
        struct gw_rl_decision d;
        if (cfg->rate_limit.backend == GW_RL_BACKEND_REDIS) {
            memcpy(key, l->redis_key, l->redis_key_len);
            n = build_key(r, l, key, l->redis_key_len);
            int rc =
                redis ? gw_rl_redis_decide(redis, &l->rl, key, n, &d, on_redis_decision, r, &st->op)
                      : GW_EREDISDOWN;
            if (rc == 0) {
                st->pending = l;
                st->t_redis = r->mx ? uv_hrtime() : 0;
                return GW_STAGE_SUSPEND;
            }
            if (rc == GW_RL_REDIS_DONE) { /* from this instance's lease */
                if (!apply(r, st, l, &d, a))
                    return GW_STAGE_RESPOND;
                continue;
            }
            /* The local fallback counts under the key without the Redis prefix. */
            n = build_key(r, l, key, 0);
            if (!apply_failure(r, st, l, key, n, a))
                return GW_STAGE_RESPOND;
            continue;
        }
        n = build_key(r, l, key, 0);
        if (gw_rl_store_decide(l->store, key, n, uv_hrtime() / 1000, &d) != 0)
            continue; /* out of memory for a new key: let it through rather than fail */
        if (!apply(r, st, l, &d, a))
            return GW_STAGE_RESPOND;
    }
    if (r->rl_outcome == GW_RL_OUTCOME_NONE && st->has)
        r->rl_outcome = GW_RL_OUTCOME_ALLOWED;
    if (st->has) {
        /* Admitted: counted once, when the last pass the service runs lets it through. */
        if (consumer_pass || !(r->svc->stages & (1u << GW_STAGE_RATELIMIT_CONSUMER)))
            atomic_fetch_add_explicit(&p->shared->rl_allowed, 1, memory_order_relaxed);
        format_headers(cfg, &st->best, st->headers, sizeof st->headers);
    }
    return GW_STAGE_CONTINUE;
}

/* Whether service i has a limit (the gateway's or its own) keyed by consumer (consumer true) or
 * one keyed otherwise (false): each pass runs only where it has a limit to decide. */
static bool has_limit(const struct gw_snapshot *s, size_t i, bool consumer)
{
    const struct gw_policy *p = s->policy;
    if (p == NULL || !p->any_limits)
        return false;
    for (size_t k = 0; k < p->nlimits; k++)
        if ((p->limits[k].conf->key == GW_LIMIT_KEY_CONSUMER) == consumer)
            return true;
    size_t n = p->svc_nlimits ? p->svc_nlimits[i] : 0;
    for (size_t k = 0; k < n; k++)
        if ((p->svc_limits[i][k].conf->key == GW_LIMIT_KEY_CONSUMER) == consumer)
            return true;
    return false;
}

bool gw_ratelimit_applies(const struct gw_snapshot *s, size_t i)
{
    return has_limit(s, i, false);
}

bool gw_ratelimit_consumer_applies(const struct gw_snapshot *s, size_t i)
{
    return has_limit(s, i, true);
}

enum gw_stage_result gw_ratelimit_pre_on_request(struct gw_request *r, void **slot,
                                                 struct gw_answer *a)
{
    return decide(r, slot, false, a);
}

enum gw_stage_result gw_ratelimit_consumer_on_request(struct gw_request *r, void **slot,
                                                      struct gw_answer *a)
{
    return decide(r, slot, true, a);
}

static bool is_ratelimit_name(const char *n, size_t len)
{
    if (len > 2 && strncasecmp(n, "x-", 2) == 0) {
        n += 2;
        len -= 2;
    }
    return len > 10 && strncasecmp(n, "ratelimit-", 10) == 0;
}

/* Drops the header lines already in head (after its start line) that carry rate-limit state:
 * gantry's own replace the upstream's, since two sets would disagree. */
static void drop_ratelimit_lines(struct gw_buf *head)
{
    char *end = head->data + head->len;
    char *p = memchr(head->data, '\n', head->len);
    if (p == NULL)
        return;
    char *w = ++p;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        const char *colon = memchr(p, ':', n);
        if (colon == NULL || !is_ratelimit_name(p, (size_t)(colon - p))) {
            memmove(w, p, n);
            w += n;
        }
        p += n;
    }
    head->len = (size_t)(w - head->data);
}

int gw_ratelimit_on_response(struct gw_request *r, void *slot, struct gw_buf *head)
{
    const struct rl_state *st = slot;
    (void)r;
    if (st->headers[0] == '\0')
        return 0;
    drop_ratelimit_lines(head);
    return gw_buf_append_str(head, st->headers);
}

void gw_ratelimit_cancel(struct gw_request *r, void *slot)
{
    struct rl_state *st = slot;
    (void)r;
    if (st->op) {
        gw_rl_redis_cancel(st->op);
        st->op = NULL;
        st->pending = NULL;
    }
}

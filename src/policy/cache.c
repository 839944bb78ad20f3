/*
 * The response cache stage (docs/cache.md): answers GET and HEAD requests from the in-process
 * store (cache/store.h) while the stored response may be used (RFC 9111 4), and stores the
 * upstream's responses that may be stored (RFC 9111 3) as their bodies stream to the client,
 * through the proxy's body tee (struct gw_body_tee).
 *
 * on_request (a service with "cache" on): the key (cache/key.h) and the request's directives;
 * a stored variant that matches the request's Vary fields and may be used answers at once (a
 * 304 when the client's validators match), with Age, the status header and Cache-Status added
 * by on_response; otherwise the request goes upstream and, for a GET, keeps what storing will
 * need (the key and a copy of the request's fields, since the head is gone when the response
 * arrives). An unsafe method marks its target URI for invalidation (RFC 9111 4.4).
 * on_response_head decides from the upstream's head whether to store (cache/fresh.h) and
 * installs the tee; the tee's end builds the object and inserts it. A body that outgrows
 * max_object_size, or does not arrive whole, is dropped. Revalidation, the background refresh
 * of stale-while-revalidate and stale-if-error on 5xx are in cache_reval.c, collapsed-miss
 * waits in cache_wait.c; what they share is in policy/internal.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cache/date.h"
#include "cache/fresh.h"
#include "cache/key.h"
#include "cache/store.h"
#include "cache/vary.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "http1/names.h"
#include "metrics/metrics.h"
#include "policy/chain.h"
#include "policy/internal.h"
#include "policy/policy.h"
#include "policy/stages.h"
#include "runtime/worker-t.h"

static const char *const xcache_name[] = {"MISS",    "HIT",    "STALE",
                                          "EXPIRED", "BYPASS", "REVALIDATED"};

const char *gw_cache_status_name(const struct gw_request *r)
{
    const struct cache_state *st = r->slot[GW_STAGE_CACHE];
    return st ? xcache_name[st->xc] : NULL;
}

bool gw_cache_applies(const struct gw_snapshot *s, size_t i)
{
    return s->cfg->services[i].cache.enabled;
}

/* ---- request side --------------------------------------------------------------------------- */

/* The rule whose match has the longest prefix that matches r (the first one on a tie), or NULL. */
static const struct gw_cache_rule_conf *pick_rule(const struct gw_request *r,
                                                  const struct gw_cache_svc_conf *c)
{
    const struct gw_cache_rule_conf *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < c->nrules; i++) {
        size_t len = 0;
        if (gw_policy_match_len(&c->rules[i].match, r->npath, r->npath_len, (int)r->msg.method_id,
                                &len) &&
            (best == NULL || len > best_len)) {
            best = &c->rules[i];
            best_len = len;
        }
    }
    return best;
}

bool gw__cache_name_is(const struct gw_http1_header *h, const char *lower)
{
    size_t n = strlen(lower);
    if (h->name_len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h->name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c | 0x20);
        if (c != lower[i])
            return false;
    }
    return true;
}

const struct gw_http1_header *gw__cache_find(const struct gw_http1_message *m, const char *lower)
{
    for (uint32_t i = 0; i < m->num_headers; i++) {
        if (gw__cache_name_is(&m->headers[i], lower))
            return &m->headers[i];
    }
    return NULL;
}

/* The key of r's target as a GET (HEAD shares it). -1 when it does not fit. */
static long build_key(const struct gw_request *r, const struct gw_cache_svc_conf *c,
                      const char *path, size_t path_len, const char *query, size_t query_len,
                      char *out, size_t cap)
{
    const char *host = "";
    size_t host_len = 0;
    if (r->authority) {
        host = r->authority;
        host_len = r->authority_len;
    } else if (r->msg.host_index >= 0) {
        host = r->msg.headers[r->msg.host_index].value;
        host_len = r->msg.headers[r->msg.host_index].value_len;
    }
    struct gw_cache_key_conf kc = {
        .method = true,
        .host = c->key_host,
        .query = c->key_query,
        .sort_query = c->sort_query,
        .ignore_params = (const char *const *)c->ignore_params,
        .n_ignore = c->nignore_params,
        .headers = (const char *const *)c->key_headers,
        .n_headers = c->nkey_headers,
    };
    struct gw_cache_key_req kr = {
        .method = GW_METHOD_GET,
        .host = host,
        .host_len = host_len,
        .path = path,
        .path_len = path_len,
        .query = query,
        .query_len = query_len,
        .msg = &r->msg,
        .service = r->svc->conf->name,
        .service_len = strlen(r->svc->conf->name),
        .version = r->api_version ? r->api_version : r->svc->conf->version,
    };
    if (kr.version != NULL)
        kr.version_len = r->api_version ? r->api_version_len : strlen(kr.version);
    return gw_cache_key_build(&kc, &kr, out, cap);
}

struct match_ctx {
    const struct gw_http1_message *msg;
    unsigned normalize;
};

/* Whether stored object o's variant is the one the request selects (RFC 9111 4.1). */
__attribute__((always_inline)) static inline bool
matches(const struct gw_cache_obj *o, const struct gw_http1_message *msg, unsigned normalize)
{
    if (o->vary_names_len == 0)
        return true;
    char sig[1024];
    long n = gw_vary_signature(o->vary_names, o->vary_names_len, msg, normalize, sig, sizeof sig);
    return n >= 0 && (size_t)n == o->vary_sig_len && memcmp(sig, o->vary_sig, (size_t)n) == 0;
}

bool gw__cache_variant_matches(const struct gw_cache_obj *o, const struct gw_http1_message *msg,
                               unsigned normalize)
{
    return matches(o, msg, normalize);
}

/* The store's match callback (under its shard lock). */
static bool variant_matches(const struct gw_cache_obj *o, void *arg)
{
    const struct match_ctx *m = arg;
    return matches(o, m->msg, m->normalize);
}

/* Keeps a copy of the key in st (misses, unsafe methods, Redis look-ups). */
static int keep_key(struct cache_state *st, const char *key, size_t len)
{
    if (st->key != NULL)
        return 0;
    st->key = malloc(len);
    if (st->key == NULL)
        return GW_ENOMEM;
    memcpy(st->key, key, len);
    st->key_len = len;
    return 0;
}

/* Copies the request's fields (the head is gone when the response arrives). */
static int copy_fields(struct cache_state *st, const struct gw_http1_message *m)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < m->num_headers; i++)
        bytes += m->headers[i].name_len + m->headers[i].value_len;
    size_t arr = m->num_headers * sizeof(struct gw_http1_header);
    st->fields_mem = malloc(arr + bytes + 1);
    if (st->fields_mem == NULL)
        return GW_ENOMEM;
    struct gw_http1_header *h = (struct gw_http1_header *)(void *)st->fields_mem;
    char *p = st->fields_mem + arr;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        h[i] = m->headers[i];
        memcpy(p, m->headers[i].name, m->headers[i].name_len);
        h[i].name = p;
        p += m->headers[i].name_len;
        memcpy(p, m->headers[i].value, m->headers[i].value_len);
        h[i].value = p;
        p += m->headers[i].value_len;
    }
    st->fields = (struct gw_http1_message){
        .headers = h, .headers_capacity = m->num_headers, .num_headers = m->num_headers};
    return 0;
}

/* The value of field `lower` in stored header lines (NUL-terminated), or NULL; *len its length. */
const char *gw__cache_stored_field(const char *head, const char *lower, size_t *len)
{
    size_t n = strlen(lower);
    const char *line = head;
    while (*line) {
        const char *eol = strstr(line, "\r\n");
        if (eol == NULL)
            break;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon && (size_t)(colon - line) == n) {
            bool eq = true;
            for (size_t i = 0; i < n && eq; i++) {
                char c = line[i];
                if (c >= 'A' && c <= 'Z')
                    c = (char)(c | 0x20);
                eq = c == lower[i];
            }
            if (eq) {
                const char *v = colon + 1;
                while (v < eol && (*v == ' ' || *v == '\t'))
                    v++;
                *len = (size_t)(eol - v);
                return v;
            }
        }
        line = eol + 2;
    }
    return NULL;
}

/* Weak comparison of an entity-tag against an If-None-Match list (RFC 9110 13.1.2). */
static bool etag_listed(const char *list, size_t n, const char *etag, size_t elen)
{
    if (elen >= 2 && etag[0] == 'W' && etag[1] == '/') {
        etag += 2;
        elen -= 2;
    }
    size_t i = 0;
    while (i < n) {
        while (i < n && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        if (i < n && list[i] == '*')
            return true;
        if (i + 1 < n && list[i] == 'W' && list[i + 1] == '/')
            i += 2;
        size_t a = i;
        if (i < n && list[i] == '"') {
            const char *close = memchr(list + i + 1, '"', n - i - 1);
            i = close ? (size_t)(close - list) + 1 : n;
        } else {
            while (i < n && list[i] != ',')
                i++;
        }
        if (i - a == elen && memcmp(list + a, etag, elen) == 0)
            return true;
    }
    return false;
}

/* Whether the client's validators match the stored response (RFC 9110 13.1.2, 13.1.3; 13.2.2:
 * If-None-Match wins over If-Modified-Since). */
static bool not_modified(const struct gw_request *r, const struct gw_cache_obj *o, int64_t now)
{
    const struct gw_http1_header *inm = gw__cache_find(&r->msg, "if-none-match");
    size_t n;
    if (inm) {
        const char *etag = gw__cache_stored_field(o->head, "etag", &n);
        return etag && etag_listed(inm->value, inm->value_len, etag, n);
    }
    const struct gw_http1_header *ims = gw__cache_find(&r->msg, "if-modified-since");
    if (ims == NULL)
        return false;
    int64_t since, lm;
    const char *v = gw__cache_stored_field(o->head, "last-modified", &n);
    if (v == NULL)
        v = gw__cache_stored_field(o->head, "date", &n);
    return v && gw_http_date_parse(ims->value, ims->value_len, now, &since) == 0 &&
           gw_http_date_parse(v, n, now, &lm) == 0 && lm <= since;
}

/* The fields a 304 carries (RFC 9110 15.4.5), from the stored ones. */
static int not_modified_headers(struct cache_state *st)
{
    static const char *const keep[] = {"cache-control", "content-location", "date",
                                       "etag",          "expires",          "vary"};
    const char *head = st->hit->head;
    size_t len = strlen(head);
    st->raw = malloc(len + 1);
    if (st->raw == NULL)
        return GW_ENOMEM;
    size_t out = 0;
    const char *line = head;
    while (*line) {
        const char *eol = strstr(line, "\r\n");
        if (eol == NULL)
            break;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        for (size_t k = 0; colon && k < sizeof keep / sizeof keep[0]; k++) {
            struct gw_http1_header h = {.name = line, .name_len = (uint32_t)(colon - line)};
            if (gw__cache_name_is(&h, keep[k])) {
                memcpy(st->raw + out, line, (size_t)(eol + 2 - line));
                out += (size_t)(eol + 2 - line);
                break;
            }
        }
        line = eol + 2;
    }
    st->raw[out] = '\0';
    return 0;
}

static enum gw_stage_result answer_stored(struct cache_state *st, struct gw_request *r,
                                          struct gw_answer *a, int64_t now)
{
    gw_answer_init(a, 0);
    const struct gw_cache_obj *o = st->hit;
    if (not_modified(r, o, now)) {
        if (not_modified_headers(st) < 0) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        st->not_modified = true;
        a->status = 304;
        a->raw_headers = st->raw;
        return GW_STAGE_RESPOND;
    }
    a->status = o->status;
    a->raw_headers = o->head;
    a->body = o->body;
    a->body_len = o->body_len;
    return GW_STAGE_RESPOND;
}

/* PURGE on the proxy port (services[].cache.purge_method): every variant of the target URL. */
static enum gw_stage_result purge(struct cache_state *st, struct gw_request *r, struct gw_answer *a,
                                  const char *key, size_t len)
{
    st->xc = XC_BYPASS;
    st->detail = "purge";
    if (!r->authenticated) {
        gw_answer_init(a, GW_EFORBIDDEN);
        a->reason = "PURGE needs an authenticated request";
        return GW_STAGE_RESPOND;
    }
    size_t n = gw_cache_store_purge_url(st->store, key, gw_cache_key_url_len(key, len), false);
    if (r->svc->conf->cache.backend == GW_CACHE_BACKEND_REDIS) {
        /* every instance's: what Redis holds; the answer waits for Redis */
        if (st->rphase != RP_DONE) {
            if (keep_key(st, key, len) < 0) {
                gw_answer_init(a, GW_ENOMEM);
                return GW_STAGE_RESPOND;
            }
            if (r->w->cache_redis != NULL && gw__cache_redis_purge_url(st, r) == 0)
                return GW_STAGE_SUSPEND;
            st->rerror = true;
        }
        st->rphase = RP_NONE;
        if (st->rerror) {
            gw_answer_init(a, GW_EREDISDOWN);
            a->reason = "the cache's Redis did not answer: nothing purged there";
            return GW_STAGE_RESPOND;
        }
        n += (size_t)st->rcount;
    }
    st->raw = malloc(48); /* the answer's body */
    if (st->raw == NULL) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    int k = snprintf(st->raw, 48, "{\"purged\": %zu}", n);
    gw_answer_init(a, 0);
    a->status = 200;
    a->raw_headers = "Content-Type: application/json\r\n";
    a->body = st->raw;
    a->body_len = (size_t)k;
    return GW_STAGE_RESPOND;
}

enum gw_stage_result gw_cache_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    struct gw_cache_store *store =
        r->snap->policy->shared ? r->snap->policy->shared->cache_store : NULL;
    if (store == NULL)
        return GW_STAGE_CONTINUE;
    if (r->msg.upgrade)
        return GW_STAGE_CONTINUE; /* a WebSocket handshake: never answered from the cache */
    const struct gw_cache_svc_conf *c = &r->svc->conf->cache;
    enum gw_http_method m = r->msg.method_id;
    bool safe =
        m == GW_METHOD_GET || m == GW_METHOD_HEAD || m == GW_METHOD_OPTIONS || m == GW_METHOD_TRACE;
    if (safe && m != GW_METHOD_GET && m != GW_METHOD_HEAD)
        return GW_STAGE_CONTINUE;
    /* Per route ("rules"): off, other methods, another ttl or size bound. */
    const struct gw_cache_rule_conf *rule = c->nrules ? pick_rule(r, c) : NULL;
    if (rule && !rule->enabled)
        return GW_STAGE_CONTINUE;
    uint32_t methods = rule && rule->methods ? rule->methods : c->methods;
    if (m == GW_METHOD_HEAD && methods && !(methods & (1u << GW_METHOD_HEAD)))
        return GW_STAGE_CONTINUE; /* "methods": ["GET"]: a HEAD goes upstream */
    struct cache_state *st = *slot;
    if (st != NULL) {
        if (st->rphase != RP_DONE) /* not Redis's answer: */
            st->waited = true;     /* resumed: the fill it waited for ended (or the wait did) */
    } else {
        st = gw_stage_alloc(r, sizeof *st);
        if (st == NULL) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        *slot = st;
        if (r->background) { /* the refresh behind a stale answer (cache_reval.c) */
            st->refresh = true;
            gw__cache_refresh_prepare(r);
        }
    }
    st->store = store;
    bool redis = c->backend == GW_CACHE_BACKEND_REDIS;
    st->ttl_ms = rule && rule->ttl_ms != UINT64_MAX ? rule->ttl_ms : c->ttl_ms;
    st->max_object = rule && rule->max_object_size ? rule->max_object_size : c->max_object_size;
    char key[GW_CACHE_KEY_MAX];
    const char *query = r->query && r->query_len > 1 ? r->query + 1 : NULL;
    size_t qlen = query ? r->query_len - 1 : 0;
    long kl = build_key(r, c, r->npath, r->npath_len, query, qlen, key, sizeof key);
    if (kl < 0) {
        st->xc = XC_BYPASS;
        st->detail = "key-too-long";
        return GW_STAGE_CONTINUE;
    }
    if (st->refresh && st->key == NULL) { /* it ends the fill its spawner began */
        st->key = malloc((size_t)kl);
        if (st->key == NULL) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        memcpy(st->key, key, (size_t)kl);
        st->key_len = (size_t)kl;
        st->filling = true;
    }
    if (m == GW_METHOD_OTHER && c->purge_method && r->msg.method_len == 5 &&
        memcmp(r->msg.method, "PURGE", 5) == 0)
        return purge(st, r, a, key, (size_t)kl);
    if (!safe) {
        st->xc = XC_BYPASS;
        st->detail = "method";
        st->invalidate = true;
        st->key = malloc((size_t)kl);
        if (st->key == NULL) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        memcpy(st->key, key, (size_t)kl);
        st->key_len = (size_t)kl;
        return GW_STAGE_CONTINUE;
    }
    gw_cache_req_info_read(&st->req, &r->msg);
    int64_t now = (int64_t)time(NULL);
    struct match_ctx mc = {&r->msg, gw__cache_vary_normalize(r)};
    struct gw_cache_obj *o = NULL;
    if (!redis) {
        o = gw_cache_store_lookup(store, key, (size_t)kl, variant_matches, &mc);
    } else if (st->rphase == RP_DONE) { /* Redis answered (cache_redis.c) */
        o = st->robj;
        st->robj = NULL;
        st->rphase = RP_NONE;
    } else {
        if (keep_key(st, key, (size_t)kl) < 0) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        if (r->w->cache_redis != NULL && gw__cache_redis_lookup(st, r) == 0)
            return GW_STAGE_SUSPEND;
        st->rerror = true; /* Redis down: a miss, at once */
        gw__cache_count(r, GW_MX_CACHE_BACKEND_ERRORS, 1);
    }
    struct gw_cache_obj *expired = NULL; /* a stored response to revalidate */
    st->xc = XC_MISS;
    if (o != NULL && st->refresh) {
        int64_t age = o->initial_age + (now > o->response_time ? now - o->response_time : 0);
        if (age < o->lifetime) { /* refreshed meanwhile (a purge and a fill): nothing to do */
            gw_cache_obj_release(o);
            gw_answer_init(a, 0);
            a->status = 204;
            return GW_STAGE_RESPOND;
        }
        expired = o; /* revalidated with its validators, or fetched whole */
        st->xc = XC_EXPIRED;
    } else if (o != NULL) {
        int64_t age = o->initial_age + (now > o->response_time ? now - o->response_time : 0);
        int64_t max_swr = (int64_t)(r->snap->cfg->cache.max_swr_ms / 1000);
        enum gw_cache_use use = gw_cache_usable(&o->cc, o->lifetime, age, &st->req.cc, max_swr);
        if (use == GW_CACHE_USE_SWR) /* RFC 5861 3: the stale answer now, a refresh behind */
            use = gw__cache_refresh_behind(st, r, key, (size_t)kl) ? GW_CACHE_USE_STALE
                                                                   : GW_CACHE_USE_VALIDATE;
        if (use == GW_CACHE_USE_FRESH || use == GW_CACHE_USE_STALE) {
            st->hit = o;
            st->age = age;
            st->ttl = o->lifetime - age;
            st->xc = use == GW_CACHE_USE_FRESH ? XC_HIT : XC_STALE;
            st->collapsed = st->waited;
            return answer_stored(st, r, a, now);
        }
        /* Stale (no revalidation yet): fetched again, and the new response replaces it. If
         * the upstream fails, stale-if-error may still let it answer (RFC 5861 4). */
        int64_t max_sie = (int64_t)(r->snap->cfg->cache.max_sie_ms / 1000);
        if (st->stale == NULL && m == GW_METHOD_GET &&
            gw_cache_stale_if_error(&o->cc, o->lifetime, age, &st->req.cc, max_sie)) {
            st->fallback = malloc(sizeof *st->fallback);
            if (st->fallback == NULL) {
                gw_cache_obj_release(o);
                gw_answer_init(a, GW_ENOMEM);
                return GW_STAGE_RESPOND;
            }
            st->stale = o;
            st->age = age;
            st->ttl = o->lifetime - age;
            gw_answer_init(st->fallback, 0);
            st->fallback->status = o->status;
            st->fallback->raw_headers = o->head;
            st->fallback->body = o->body;
            st->fallback->body_len = o->body_len;
            r->fallback = st->fallback;
            gw_cache_obj_ref(o); /* one more for the revalidation below */
        }
        if (m == GW_METHOD_GET)
            expired = o; /* revalidated below, unless this request waits */
        else
            gw_cache_obj_release(o);
        st->xc = XC_EXPIRED;
    }
    if ((st->req.cc.flags & GW_CC_ONLY_IF_CACHED) && !st->refresh) {
        gw_cache_obj_release(expired);
        gw_answer_init(a, GW_ECACHEMISS); /* RFC 9111 5.2.1.7 */
        return GW_STAGE_RESPOND;
    }
    if (m != GW_METHOD_GET)
        return GW_STAGE_CONTINUE; /* a HEAD's answer has no body to store */
    if (st->req.cc.flags & GW_CC_NO_STORE) {
        gw_cache_obj_release(expired);
        st->detail = "no-store";
        return GW_STAGE_CONTINUE;
    }
    if (st->key == NULL) {
        st->key = malloc((size_t)kl);
        if (st->key == NULL) {
            gw_cache_obj_release(expired);
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        memcpy(st->key, key, (size_t)kl);
        st->key_len = (size_t)kl;
    }
    uint64_t collapse_ms = r->snap->cfg->cache.collapse_ms;
    if (!st->waited && !st->refresh && collapse_ms > 0) {
        uint64_t t = uv_now(&r->w->loop);
        if (gw_cache_store_fill_begin(store, key, (size_t)kl, t, collapse_ms)) {
            st->filling = true;
        } else if (gw__cache_start_wait(st, r, t) == 0) {
            gw_cache_obj_release(expired);
            return GW_STAGE_SUSPEND;
        }
    }
    if (st->fields_mem == NULL && copy_fields(st, &r->msg) < 0) {
        gw_cache_obj_release(expired);
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    /* After the copy: the conditional fields added are ours, not the client's. */
    if (expired != NULL && gw__cache_start_revalidation(st, r, expired) != 0)
        gw_cache_obj_release(expired);
    st->request_time = now;
    st->want_store = true;
    return GW_STAGE_CONTINUE;
}

/* ---- response side -------------------------------------------------------------------------- */

/* Fields never stored: hop-by-hop ones (RFC 9110 7.6.1), the framing (the answer gets its own),
 * Age (recomputed, 4.2.3) and this gateway's own cache status. */
bool gw__cache_stored_field_ok(const struct gw_http1_header *h, const char *status_header)
{
    static const char *const drop[] = {
        "connection",         "keep-alive", "proxy-connection", "transfer-encoding",
        "content-length",     "te",         "trailer",          "upgrade",
        "proxy-authenticate", "age",        "cache-status",     "x-request-id",
    };
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
        if (gw__cache_name_is(h, drop[i]))
            return false;
    }
    if (status_header[0] && h->name_len == strlen(status_header) &&
        strncasecmp(h->name, status_header, h->name_len) == 0)
        return false;
    return true;
}

static void on_tee_piece(struct gw_request *r, struct gw_body_tee *t, const char *data, size_t len)
{
    struct cache_state *st = (struct cache_state *)(void *)t;
    (void)r;
    if (!st->storing || len == 0)
        return;
    if (gw_buf_append(&st->body, data, len) < 0) {
        st->storing = false; /* over max_object_size: not stored */
        st->detail = "too-large";
        gw_buf_free(&st->body);
        gw__cache_end_fill(st);
    }
}

static void on_tee_end(struct gw_request *r, struct gw_body_tee *t)
{
    struct cache_state *st = (struct cache_state *)(void *)t;
    if (!st->storing)
        return;
    st->storing = false;
    char *body = st->body.data;
    size_t body_len = st->body.len;
    if (body != NULL && st->body.cap > body_len) { /* what is kept is what is charged */
        char *fit = realloc(body, body_len ? body_len : 1);
        if (fit != NULL)
            body = fit;
    }
    st->body.data = NULL;
    gw_buf_free(&st->body);
    struct gw_cache_obj_init in = {
        .key = st->key,
        .key_len = st->key_len,
        .vary_names = st->vary ? st->vary : "",
        .vary_names_len = st->vary_names_len,
        .vary_sig = st->vary ? st->vary + st->vary_names_len : "",
        .vary_sig_len = st->vary_sig_len,
        .head = st->head,
        .head_len = st->head_len + 1, /* with its NUL: answers send it as a string */
        .tags = st->tags ? st->tags : "",
        .tags_len = st->tags_len,
        .body = body_len ? body : NULL,
        .body_len = body_len,
        .status = st->status,
        .cc = st->resp_cc,
        .lifetime = st->lifetime,
        .initial_age = st->initial_age,
        .response_time = st->response_time,
    };
    if (body_len == 0)
        free(body);
    struct gw_cache_obj *o = gw_cache_obj_new(&in);
    if (o == NULL)
        return;
    if (gw__cache_insert(st, r, o) == 0) {
        st->stored = true;
        gw__cache_count(r, GW_MX_CACHE_STORED, 1);
        gw__cache_count(r, GW_MX_CACHE_STORED_BYTES, body_len);
    } else
        st->detail = "too-large";
    gw_cache_obj_release(o);
    gw__cache_end_fill(st);
}

/* Invalidates the stored responses of the target and of Location / Content-Location on the
 * same host (RFC 9111 4.4), after a non-error answer to an unsafe method. A location's key is
 * built as a GET of it would be, by the same service (and API version): what this service
 * stores for that URL. */
static void invalidate(struct cache_state *st, const struct gw_request *r,
                       const struct gw_http1_message *m)
{
    bool redis = r->svc->conf->cache.backend == GW_CACHE_BACKEND_REDIS;
    gw_cache_store_purge_key(st->store, st->key, st->key_len);
    if (redis) /* sent, not awaited: the client's answer does not wait for Redis */
        gw__cache_redis_invalidate(r->w->cache_redis, st->key, st->key_len);
    const char *names[] = {"location", "content-location"};
    for (size_t i = 0; i < 2; i++) {
        const struct gw_http1_header *h = gw__cache_find(m, names[i]);
        if (h == NULL || h->value_len == 0 || h->value[0] != '/' ||
            (h->value_len > 1 && h->value[1] == '/'))
            continue; /* only paths on this host */
        const char *q = memchr(h->value, '?', h->value_len);
        size_t path_len = q ? (size_t)(q - h->value) : h->value_len;
        char key[GW_CACHE_KEY_MAX];
        long n = build_key(r, &r->svc->conf->cache, h->value, path_len, q ? q + 1 : NULL,
                           q ? h->value_len - path_len - 1 : 0, key, sizeof key);
        if (n < 0)
            continue;
        gw_cache_store_purge_key(st->store, key, (size_t)n);
        if (redis)
            gw__cache_redis_invalidate(r->w->cache_redis, key, (size_t)n);
    }
}

unsigned gw__cache_vary_normalize(const struct gw_request *r)
{
    unsigned n = r->svc->conf->cache.vary_normalize ? GW_VARY_NORM_ACCEPT_ENCODING : 0u;
    if (r->svc->stages & (1u << GW_STAGE_COMPRESS))
        n |= GW_VARY_NORM_CODINGS(r->svc->conf->compression.algorithms);
    return n;
}

/*
 * Builds what storing needs and installs the tee. What is stored is what the client is sent:
 * on a compressing service the compression stage decides first (gw_compress_settle: m edited
 * as sent, the body filter installed, so the tee sees the encoded body), its header lines join
 * the stored head, and the coding it picked for this request is one more Vary dimension
 * (GW_VARY_CODING): one variant per coding, each with its own body, ETag and fields.
 */
static int prepare_store(struct cache_state *st, struct gw_request *r, struct gw_http1_message *m,
                         const struct gw_cache_resp_info *info, int64_t now)
{
    const struct gw_config *cfg = r->snap->cfg;
    const char *status_header = cfg->cache.status_header ? cfg->cache.status_header : "";
    const char *lines = "";
    bool coded = gw_compress_settle(r, m, &lines) >= 0;
    struct gw_vary vy;
    gw_vary_init(&vy);
    size_t head = strlen(lines);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (gw__cache_name_is(h, "vary"))
            gw_vary_parse(&vy, h->value, h->value_len);
        if (gw__cache_stored_field_ok(h, status_header))
            head += h->name_len + h->value_len + 4;
    }
    if (coded)
        gw_vary_add_coding(&vy);
    if (vy.bad) {
        st->detail = "vary";
        return 0;
    }
    char sig[1024];
    long sl = 0;
    if (vy.len) {
        sl = gw_vary_signature(vy.names, vy.len, &st->fields, gw__cache_vary_normalize(r), sig,
                               sizeof sig);
        if (sl < 0) {
            st->detail = "vary";
            return 0;
        }
        st->vary = malloc(vy.len + (size_t)sl + 1);
        if (st->vary == NULL)
            return GW_ENOMEM;
        memcpy(st->vary, vy.names, vy.len);
        memcpy(st->vary + vy.len, sig, (size_t)sl);
        st->vary_names_len = vy.len;
        st->vary_sig_len = (size_t)sl;
    }
    st->head = malloc(head + 1);
    if (st->head == NULL)
        return GW_ENOMEM;
    char *p = st->head;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (!gw__cache_stored_field_ok(h, status_header))
            continue;
        memcpy(p, h->name, h->name_len);
        p += h->name_len;
        memcpy(p, ": ", 2);
        p += 2;
        memcpy(p, h->value, h->value_len);
        p += h->value_len;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    size_t ll = strlen(lines);
    memcpy(p, lines, ll);
    p += ll;
    *p = '\0';
    st->head_len = (size_t)(p - st->head);
    const char *tag_header = cfg->cache.tag_header ? cfg->cache.tag_header : "surrogate-key";
    const struct gw_http1_header *tags = gw__cache_find(m, tag_header);
    if (tags && tags->value_len) {
        st->tags = malloc(tags->value_len);
        if (st->tags == NULL)
            return GW_ENOMEM;
        memcpy(st->tags, tags->value, tags->value_len);
        st->tags_len = tags->value_len;
    }
    const struct gw_cache_svc_conf *c = &r->svc->conf->cache;
    struct gw_cache_fresh_conf fc = {
        .heuristic_percent = c->heuristic_percent,
        .heuristic_max = (int64_t)(cfg->cache.heuristic_max_ms / 1000),
        .default_ttl = (int64_t)(st->ttl_ms / 1000),
        .allow_set_cookie = c->store_set_cookie,
    };
    st->status = m->status;
    st->resp_cc = info->cc;
    st->lifetime = gw_cache_freshness_lifetime(info, &fc, now);
    st->initial_age = gw_cache_initial_age(info, st->request_time, now);
    st->response_time = now;
    gw_buf_init(&st->body, (size_t)st->max_object);
    st->tee.piece = on_tee_piece;
    st->tee.end = on_tee_end;
    st->storing = true;
    r->resp_tee = &st->tee;
    return 0;
}

static int decide_store(struct cache_state *st, struct gw_request *r, struct gw_http1_message *m);

int gw_cache_on_response_head(struct gw_request *r, void *slot, struct gw_http1_message *m)
{
    struct cache_state *st = slot;
    if (st->reval != NULL && m->status == 304)
        return gw__cache_refreshed(st, r, m);
    if (st->stale != NULL && r->fallback == st->fallback && gw__cache_error_status(m->status))
        return GW_EUPSTREAM; /* stale-if-error: the proxy fails the exchange, and answers it
                              * with the fallback, the stale response (RFC 5861 4) */
    if (st->invalidate) {
        if (m->status >= 200 && m->status < 400)
            invalidate(st, r, m);
        return 0;
    }
    if (!st->want_store)
        return 0;
    st->status = m->status;
    int rc = decide_store(st, r, m);
    if (!st->storing)
        gw__cache_end_fill(st); /* the waiters go upstream now: nothing will be stored */
    return rc;
}

static int decide_store(struct cache_state *st, struct gw_request *r, struct gw_http1_message *m)
{
    int64_t now = (int64_t)time(NULL);
    struct gw_cache_resp_info info;
    gw_cache_resp_info_read(&info, m, now);
    const struct gw_cache_svc_conf *c = &r->svc->conf->cache;
    struct gw_cache_fresh_conf fc = {
        .heuristic_percent = c->heuristic_percent,
        .heuristic_max = (int64_t)(r->snap->cfg->cache.heuristic_max_ms / 1000),
        .default_ttl = (int64_t)(st->ttl_ms / 1000),
        .allow_set_cookie = c->store_set_cookie,
    };
    enum gw_cache_nostore why = gw_cache_storable(GW_METHOD_GET, &st->req, &info, &fc, now);
    if (why != GW_CACHE_STORE_OK) {
        st->detail = gw_cache_nostore_name(why);
        return 0;
    }
    if (r->resp_filter) { /* a transformation takes the body whole: what it sends is not this */
        st->detail = "transformed";
        return 0;
    }
    if (m->body == GW_BODY_NONE) {
        st->detail = "no-body";
        return 0;
    }
    if (m->body == GW_BODY_LENGTH && m->content_length > st->max_object) {
        st->detail = "too-large";
        return 0;
    }
    return prepare_store(st, r, m, &info, now);
}

void gw__cache_count(struct gw_request *r, unsigned word, uint64_t n)
{
    if (r->mx)
        gw_mx_service_add(r->mx, (size_t)(r->svc - r->snap->services), GW_MX_S_CACHE + word, n);
}

int gw_cache_on_response(struct gw_request *r, void *slot, struct gw_buf *head)
{
    struct cache_state *st = slot;
    if (st->refresh) { /* no client sees this head */
        if (!st->counted && st->xc == XC_REVALIDATED)
            gw__cache_count(r, GW_MX_CACHE_REVALIDATED, 1);
        st->counted = true;
        return 0;
    }
    if (!st->counted) {
        static const unsigned word[] = {GW_MX_CACHE_MISS,   GW_MX_CACHE_HIT,
                                        GW_MX_CACHE_STALE,  GW_MX_CACHE_EXPIRED,
                                        GW_MX_CACHE_BYPASS, GW_MX_CACHE_REVALIDATED};
        st->counted = true;
        gw__cache_count(r, r->fallback_used && st->stale ? GW_MX_CACHE_STALE : word[st->xc], 1);
        if (st->collapsed)
            gw__cache_count(r, GW_MX_CACHE_COLLAPSED, 1);
    }
    const char *name = r->snap->cfg->cache.status_header;
    int rc = 0;
    if (r->fallback_used && st->stale) {
        if (name && name[0])
            rc = gw_buf_appendf(head, "%s: STALE\r\n", name);
        if (rc == 0)
            rc = gw_buf_appendf(head,
                                "Age: %lld\r\nCache-Status: gantry; hit; ttl=%lld; "
                                "detail=stale-if-error\r\n",
                                (long long)st->age, (long long)st->ttl);
        return rc;
    }
    if (st->hit || st->xc == XC_REVALIDATED) { /* the hit path: no formatting */
        rc = gw_buf_append_str(head, "Age: ");
        rc = rc ? rc : gw_buf_append_u64(head, (uint64_t)(st->age > 0 ? st->age : 0));
        rc = rc ? rc : gw_buf_append(head, "\r\n", 2);
    }
    if (rc == 0 && name && name[0]) {
        rc = gw_buf_append_str(head, name);
        rc = rc ? rc : gw_buf_append(head, ": ", 2);
        rc = rc ? rc : gw_buf_append_str(head, xcache_name[st->xc]);
        rc = rc ? rc : gw_buf_append(head, "\r\n", 2);
    }
    if (rc < 0)
        return rc;
    /* RFC 9211 */
    switch (st->xc) {
    case XC_HIT:
        if (st->ttl < 0)
            return gw_buf_appendf(head, "Cache-Status: gantry; hit; ttl=%lld%s\r\n",
                                  (long long)st->ttl, st->collapsed ? "; collapsed" : "");
        rc = gw_buf_append_str(head, "Cache-Status: gantry; hit; ttl=");
        rc = rc ? rc : gw_buf_append_u64(head, (uint64_t)st->ttl);
        rc = rc ? rc : gw_buf_append_str(head, st->collapsed ? "; collapsed\r\n" : "\r\n");
        return rc;
    case XC_STALE:
        return gw_buf_appendf(head, "Cache-Status: gantry; hit; ttl=%lld\r\n", (long long)st->ttl);
    case XC_EXPIRED:
    case XC_MISS:
        rc = gw_buf_appendf(head, "Cache-Status: gantry; fwd=%s",
                            st->xc == XC_EXPIRED ? "stale" : "uri-miss");
        if (rc == 0 && st->status)
            rc = gw_buf_appendf(head, "; fwd-status=%d", st->status);
        if (rc == 0 && st->storing)
            rc = gw_buf_append_str(head, "; stored");
        else if (rc == 0 && st->detail)
            rc = gw_buf_appendf(head, "; detail=%s", st->detail);
        return rc == 0 ? gw_buf_append(head, "\r\n", 2) : rc;
    case XC_REVALIDATED:
        return gw_buf_appendf(head, "Cache-Status: gantry; fwd=stale; fwd-status=304%s\r\n",
                              st->stored ? "; stored" : "");
    case XC_BYPASS:
        return gw_buf_appendf(head, "Cache-Status: gantry; fwd=%s\r\n",
                              st->detail && strcmp(st->detail, "method") == 0 ? "method"
                                                                              : "bypass");
    }
    return 0;
}

int gw__cache_insert(struct cache_state *st, struct gw_request *r, struct gw_cache_obj *o)
{
    if (r->svc->conf->cache.backend != GW_CACHE_BACKEND_REDIS)
        return gw_cache_store_insert(st->store, o);
    char fk[GW_CACHE_KEY_MAX + GW_CACHE_REFRESH_MARK];
    size_t fl = st->filling ? gw__cache_fill_key(st, fk) : 0;
    int rc = gw__cache_redis_store(r->w->cache_redis, o, r->snap->cfg,
                                   st->filling ? st->store : NULL, fk, fl);
    if (rc == 0)
        st->filling = false; /* ends when Redis has it */
    return rc;
}

void gw_cache_cancel(struct gw_request *r, void *slot)
{
    struct cache_state *st = slot;
    if (st->rcmd != NULL || st->robj != NULL) /* the Redis backend's (robj: or rcount) */
        gw__cache_redis_cancel(st);
    if (r->resp_tee == &st->tee)
        r->resp_tee = NULL;
    gw__cache_stop_wait(st);
    gw__cache_end_fill(st);
    if (r->fallback == st->fallback)
        r->fallback = NULL;
    free(st->fallback);
    st->fallback = NULL;
    gw_cache_obj_release(st->stale);
    st->stale = NULL;
    if (st->reval != NULL) {
        if (r->resp_filter == &st->reval->filter)
            r->resp_filter = NULL;
        gw_buf_free(&st->reval->filter.body);
        gw_cache_obj_release(st->reval->obj);
        free(st->reval->fields);
        free(st->reval->merged);
        free(st->reval);
        st->reval = NULL;
    }
    gw_cache_obj_release(st->hit);
    st->hit = NULL;
    free(st->key);
    free(st->fields_mem);
    free(st->head);
    free(st->vary);
    free(st->tags);
    free(st->raw);
    gw_buf_free(&st->body);
    st->key = st->fields_mem = st->head = st->vary = st->tags = st->raw = NULL;
}

/*
 * What the files of policy/ share: today the response cache stage's request state and the
 * helpers its files (cache.c: lookup and storing; cache_reval.c: revalidation, background
 * refresh, stale-if-error on 5xx; cache_wait.c: collapsed misses) call in each other. Only
 * policy/ and its unit tests include it.
 */
#ifndef GW_POLICY_INTERNAL_H
#define GW_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cache/cc.h"
#include "cache/fresh.h"
#include "cache/store.h"
#include "conn/request-t.h"
#include "core/buf.h"
#include "http1/parser.h"

struct gw_cache_redis;
struct gw_redis_cmd;
struct gw_config;

enum xcache {
    XC_MISS = 0,
    XC_HIT,
    XC_STALE,
    XC_EXPIRED,
    XC_BYPASS,
    XC_REVALIDATED,
};

/* Revalidation: the conditional request's fields, and what a 304 turns into. */
struct reval {
    struct gw_cache_obj *obj;       /* the stored response being validated (a reference) */
    struct gw_body_filter filter;   /* gives the client the stored body after a 304 */
    struct gw_http1_header *fields; /* the client's head after a 304 (merged fields) */
    char *merged;                   /* their bytes */
};

struct cache_state {
    struct gw_body_tee tee;
    struct gw_cache_store *store;
    struct gw_cache_obj *hit; /* answered from it; the reference goes in cancel */
    char *key;                /* malloc'ed (misses and unsafe methods) */
    size_t key_len;
    struct gw_http1_message fields; /* a copy of the request's fields, for Vary */
    char *fields_mem;               /* the copy's memory (headers array, then bytes) */
    struct gw_cache_req_info req;
    uint64_t ttl_ms;     /* the service's "ttl", or its matching rule's */
    uint64_t max_object; /* the service's "max_object_size", or its matching rule's */
    int64_t request_time;
    int64_t age; /* of the stored response answered */
    int64_t ttl; /* its freshness left, seconds (may be negative when stale) */
    /* what storing needs, from on_response_head to the tee's end */
    char *head; /* header lines as stored, NUL-terminated */
    size_t head_len;
    char *vary; /* names, then the signature */
    uint32_t vary_names_len, vary_sig_len;
    char *tags;
    size_t tags_len;
    struct gw_buf body;
    struct gw_cc resp_cc;
    int status;
    uint32_t poll_ms; /* collapsed misses: the poll's interval (here: it fills a hole) */
    int64_t lifetime, initial_age, response_time;
    char *raw;                  /* a 304's header lines (malloc'ed) */
    struct gw_cache_obj *stale; /* stale-if-error: answers if the upstream fails */
    struct gw_answer *fallback; /* r->fallback: the stale response (malloc'ed) */
    struct reval *reval;        /* a revalidation in flight (malloc'ed), or NULL */
    const char *detail;         /* Cache-Status detail (why not stored), or NULL */
    /* collapsed misses */
    uv_timer_t *poll;    /* while waiting for another request's fill (malloc'ed: freed in
                          * its close callback) */
    uint64_t wait_start; /* loop time the wait began, ms */
    bool filling;        /* this request's fill is recorded in the store */
    bool waited;         /* it waited for another's fill: it does not fill itself */
    bool collapsed;      /* answered from what another request stored */
    uint8_t xc;
    bool want_store;   /* a GET that missed: its response may be stored */
    bool storing;      /* the tee collects the body */
    bool stored;       /* it was inserted */
    bool invalidate;   /* an unsafe method: invalidate its target on success */
    bool not_modified; /* the answer is a 304 */
    bool counted;      /* the outcome went to the metrics */
    bool refresh;      /* a background refresh (stale-while-revalidate): no client waits */
    /* the Redis backend (cache_redis.c; the client is the worker's, r->w->cache_redis): a
     * lookup or purge in flight, and what it found */
    uint8_t rphase; /* RP_NONE, RP_WAIT (suspended on rcmd), RP_DONE (robj or rcount set) */
    bool rerror;    /* Redis could not answer: the request went on as a miss */
    bool rpurge;    /* the union holds rcount */
    struct gw_redis_cmd *rcmd;
    union {
        struct gw_cache_obj *robj; /* a lookup's: the variant found (a reference), or NULL */
        uint64_t rcount;           /* a PURGE's: the variants removed from Redis */
    };
};

enum {
    RP_NONE = 0,
    RP_WAIT,
    RP_DONE
};

_Static_assert(sizeof(struct cache_state) <= GW_STAGE_STATE_MAX, "cache state too large");

/* Whether h's name is `lower` (ASCII case-insensitive). */
bool gw__cache_name_is(const struct gw_http1_header *h, const char *lower);

/* The first field of m named `lower`, or NULL. */
const struct gw_http1_header *gw__cache_find(const struct gw_http1_message *m, const char *lower);

/* The value of field `lower` in stored header lines (NUL-terminated), or NULL; *len its length. */
const char *gw__cache_stored_field(const char *head, const char *lower, size_t *len);

/* Whether a response field is stored (not hop-by-hop, framing, Age or the status header). */
bool gw__cache_stored_field_ok(const struct gw_http1_header *h, const char *status_header);

/* Adds n to the service's cache counter `word` (GW_MX_CACHE_*). */
void gw__cache_count(struct gw_request *r, unsigned word, uint64_t n);

/* cache.c: stores o (the backend's way: the in-process store, or Redis). 0 when stored or
 * sent (Redis: this request's fill, if any, ends when Redis answered), a negative code when
 * not (too large, out of memory, Redis down). */
int gw__cache_insert(struct cache_state *st, struct gw_request *r, struct gw_cache_obj *o);

/* cache.c: the `normalize` argument of gw_vary_signature for r's service: Accept-Encoding
 * normalised when the cache says so, the codings its compression offers (GW_VARY_CODING). */
unsigned gw__cache_vary_normalize(const struct gw_request *r);

/* cache.c: whether stored object o's variant is the one request message msg selects. */
bool gw__cache_variant_matches(const struct gw_cache_obj *o, const struct gw_http1_message *msg,
                               unsigned normalize);

/* cache_redis.c, the Redis backend on the worker's loop. lookup reads the variants of st->key
 * (HGETALL) and suspends r: 0 (the request resumes at the cache row with rphase RP_DONE and
 * robj the matching variant or NULL; rerror when Redis failed), or a negative code when Redis
 * is down (nothing sent: a miss). purge_url removes every variant of st->key's URL (PURGE on
 * the proxy port) the same way (rcount). store sends o (a fill of fill_key[0..fill_len) on
 * fill_store ends when Redis answers; fill_store NULL: none); 0 or a negative code (then the
 * caller ends its fill). invalidate removes every variant of key[0..len), answer unawaited.
 * cancel forgets the command in flight. */
int gw__cache_redis_lookup(struct cache_state *st, struct gw_request *r);
int gw__cache_redis_purge_url(struct cache_state *st, struct gw_request *r);
int gw__cache_redis_store(struct gw_cache_redis *cr, const struct gw_cache_obj *o,
                          const struct gw_config *cfg, struct gw_cache_store *fill_store,
                          const char *fill_key, size_t fill_len);
void gw__cache_redis_invalidate(struct gw_cache_redis *cr, const char *key, size_t len);
void gw__cache_redis_cancel(struct cache_state *st);

/* cache_wait.c: the key this request's fill is recorded under (out: GW_CACHE_KEY_MAX +
 * GW_CACHE_REFRESH_MARK bytes); its length. */
size_t gw__cache_fill_key(const struct cache_state *st, char *out);

/* cache_wait.c: collapsed misses. end_fill ends this request's fill (idempotent); start_wait
 * suspends the request until the fill of st->key ends or collapse_timeout passes (0, or
 * GW_ENOMEM: then it goes upstream at once); stop_wait ends the wait (idempotent). */
void gw__cache_end_fill(struct cache_state *st);
int gw__cache_start_wait(struct cache_state *st, struct gw_request *r, uint64_t now);
void gw__cache_stop_wait(struct cache_state *st);

/* cache_reval.c: adds the conditional fields from o to the request going upstream; 0 when
 * started (the revalidation keeps the reference on o), -1 when not (the caller keeps it). */
int gw__cache_start_revalidation(struct cache_state *st, struct gw_request *r,
                                 struct gw_cache_obj *o);

/* cache_reval.c: a 304 answered the revalidation: stores the refreshed response and turns m
 * into the client's answer (the stored response). 0 or GW_ENOMEM / GW_EUPGARBAGE. */
int gw__cache_refreshed(struct cache_state *st, struct gw_request *r, struct gw_http1_message *m);

/* cache_reval.c: the stored response is stale within stale-while-revalidate (RFC 5861 3):
 * starts one background refresh of key unless one is in flight (on any worker). True when the
 * stale response may answer (a refresh runs; or a HEAD, which a GET's refresh serves); false
 * when no refresh can run (the downstream cannot, the service transforms responses, the
 * request says no-store, out of memory): then the request revalidates in the foreground. */
bool gw__cache_refresh_behind(struct cache_state *st, struct gw_request *r, const char *key,
                              size_t key_len);

/* What a refresh's fill key adds to the key (cache_reval.c gw__cache_refresh_key). */
#define GW_CACHE_REFRESH_MARK 4

/* cache_reval.c: the key under which the refresh of key[0..len) records its fill in the store
 * (out: len + GW_CACHE_REFRESH_MARK bytes): apart from the key's own fill, so that requests
 * waiting for a miss's fill never wait for a refresh, which they do not need. Its length. */
size_t gw__cache_refresh_key(const char *key, size_t len, char *out);

/* cache_reval.c: prepares a background refresh request's head (drops the client's conditional
 * and range fields) before its directives are read. */
void gw__cache_refresh_prepare(struct gw_request *r);

/* cache_reval.c: whether the upstream's status is one stale-if-error answers in
 * place of (500, 502, 503, 504; RFC 5861 4). */
bool gw__cache_error_status(int status);

#endif

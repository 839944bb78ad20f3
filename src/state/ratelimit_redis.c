/* The Redis rate-limit backend; see state/ratelimit_redis.h. The script is in
 * ratelimit_redis_lua.c.
 *
 * Lifetimes. A script call (struct rl_call) belongs to hiredis from the moment it is queued
 * until hiredis runs its reply callback, which it always does: with the reply, or with NULL
 * when the context is freed (a disconnect, or redisAsyncFree here). Only that callback frees
 * the call. What the call was for is answered earlier when it times out or the client closes:
 * `pending` turns false, the waiting ops get their status, and the reply that arrives later is
 * dropped. The ops (struct gw_rl_redis_op) are the callers' handles; each is freed just before
 * its callback runs, or by gw_rl_redis_cancel.
 *
 * hiredis 0.14 rules followed here: a context is never freed from onConnect (hiredis still uses
 * it after that callback returns: a failure found there is acted on from a zero timer) nor
 * from onDisconnect (hiredis is freeing it); redisAsyncFree from a reply callback is deferred
 * by hiredis until the callback returns. c->ac is cleared as soon as a context is known to be
 * going away, and every callback checks that the context it gets is still c->ac.
 */
#include "state/ratelimit_redis.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "core/random.h"

/* Spans (capacity * interval) must leave room for the Redis clock below 2^53. */
#define RL_MAX_SPAN (UINT64_C(1) << 52)
/* A lease, and a remembered refusal, last at most this long. */
#define RL_LEASE_MAX_US UINT64_C(1000000)
#define RL_LEASE_BUCKETS 4096u /* a power of two */
#define RL_LEASE_PROBE 8
#define RL_NARGS 9

/* ---- shared state ------------------------------------------------------------------------- */

enum {
    RL_SHARED_START = 0,
    RL_SHARED_UP,
    RL_SHARED_DOWN
};

struct gw_rl_redis_shared {
    uint64_t nclients;
    atomic_int state;
    _Atomic uint64_t clients_up;
    _Atomic uint64_t decisions, local, calls, errors, timeouts, unavailable, state_changes,
        noscript_reloads, connects;
};

static void count(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t load(_Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

int gw_rl_redis_shared_new(struct gw_rl_redis_shared **out, size_t nclients)
{
    struct gw_rl_redis_shared *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return GW_ENOMEM;
    s->nclients = nclients;
    atomic_init(&s->state, RL_SHARED_START);
    *out = s;
    return 0;
}

void gw_rl_redis_shared_free(struct gw_rl_redis_shared *s)
{
    free(s);
}

void gw_rl_redis_shared_metrics(struct gw_rl_redis_shared *s, struct gw_rl_redis_metrics *out)
{
    out->decisions = load(&s->decisions);
    out->local = load(&s->local);
    out->calls = load(&s->calls);
    out->errors = load(&s->errors);
    out->timeouts = load(&s->timeouts);
    out->unavailable = load(&s->unavailable);
    out->state_changes = load(&s->state_changes);
    out->noscript_reloads = load(&s->noscript_reloads);
    out->connects = load(&s->connects);
    out->clients = s->nclients;
    out->clients_up = load(&s->clients_up);
    out->up = atomic_load(&s->state) == RL_SHARED_UP;
}

/* ---- types -------------------------------------------------------------------------------- */

/* What a counter is for: the script's arguments, and what tells two confs apart. */
struct rl_params {
    uint64_t algo, limit, period_us, capacity, interval_us, bucket_us, sw_buckets;
};

struct rl_lease {
    struct rl_lease *chain; /* next in the hash bucket */
    struct gw_list lru;     /* head of c->lease_lru = most recently used */
    uint64_t hash;
    struct rl_call *call; /* the lease call in flight, or NULL */
    bool busy;            /* its reply is being handed out: not to be evicted */
    struct rl_params p;
    uint64_t units;              /* granted units not handed out yet */
    uint64_t used;               /* units of this lease handed out */
    uint64_t until_us;           /* the units may be used before this (local clock) */
    uint64_t at_us;              /* when the reply came: the origin of first.reset_after_us */
    struct gw_rl_decision first; /* the decision of the lease's first unit */
    uint64_t refused_until_us;   /* a refusal is remembered before this; 0 = none */
    uint64_t refused_at_us;      /* when it came: the origin of refusal.retry_after_us */
    struct gw_rl_decision refusal;
    size_t len;
    char key[];
};

struct rl_call {
    struct gw_list link; /* in c->calls, oldest first, while pending */
    struct gw_rl_redis *c;
    struct rl_lease *lease; /* the lease this call fills, or NULL */
    struct gw_list waiters; /* struct gw_rl_redis_op, in arrival order */
    uint64_t deadline_ms;   /* mono_ms time */
    uint64_t sent_us;       /* local clock: leases and refusals are measured from here */
    uint64_t want;          /* units asked for */
    bool pending;           /* not answered yet (in c->calls) */
    bool eval;              /* sent again as EVAL after NOSCRIPT */
    struct rl_params p;
    size_t len;
    char key[];
};

struct gw_rl_redis_op {
    struct gw_list link; /* in a call's waiters */
    gw_rl_redis_cb cb;
    void *arg;
};

enum rl_conn {
    RL_BACKOFF,    /* waiting for conn_timer to try again */
    RL_RESOLVING,  /* uv_getaddrinfo in flight */
    RL_CONNECTING, /* TCP connect in flight */
    RL_SETUP,      /* AUTH / SELECT / SCRIPT LOAD in flight */
    RL_READY,
    RL_CLOSED,
};

/* A name resolution; it outlives the client when orphaned (c NULL) by a timeout or close. */
struct rl_resolve {
    uv_getaddrinfo_t req;
    struct gw_rl_redis *c;
};

struct gw_rl_redis {
    uv_loop_t *loop;
    struct gw_rl_redis_shared *shared;
    char *host;
    char *username;
    char *password;
    uint16_t port;
    uint32_t db;
    uint64_t timeout_ms;
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    uint32_t local_share;

    enum rl_conn state;
    redisAsyncContext *ac; /* the live context, NULL once it is known to be going away */
    struct rl_resolve *resolve;
    uv_timer_t conn_timer;     /* connect step timeout, zero-delay failure, backoff */
    uv_timer_t deadline_timer; /* the oldest pending call's deadline */
    uint64_t armed_ms;         /* the deadline deadline_timer is armed for; 0 = stopped */
    unsigned open_handles;
    unsigned setup_left; /* setup replies still expected */
    unsigned failures;   /* attempts failed in a row: the backoff exponent */
    bool counted_up;     /* counted in shared->clients_up */
    bool script_loading; /* a SCRIPT LOAD after NOSCRIPT is in flight */
    bool error_logged;   /* an error reply was logged on this connection */
    bool closing;
    char fail_reason[160]; /* a failure found in onConnect, acted on from conn_timer */
    char sha[41];
    struct gw_list calls;

    struct rl_lease **lease_buckets; /* RL_LEASE_BUCKETS chains; NULL when local_share is 0 */
    struct gw_list lease_lru;
    size_t nleases;
    uint64_t lease_seed;
};

static void conn_start(struct gw_rl_redis *c);
static void on_conn_timer(uv_timer_t *t);

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

/* Deadlines use a fresh clock rather than uv_now, which is as old as the loop iteration: a
 * worker busy for 30 ms would otherwise give its calls 30 ms less than timeout_ms. */
static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Moves every node of src to the empty list dst. */
static void list_take(struct gw_list *dst, struct gw_list *src)
{
    gw_list_init(dst);
    if (gw_list_empty(src))
        return;
    dst->next = src->next;
    dst->prev = src->prev;
    dst->next->prev = dst;
    dst->prev->next = dst;
    gw_list_init(src);
}

/* ---- script ------------------------------------------------------------------------------- */

void gw_rl_redis_script_sha(char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    out[0] = '\0';
    if (EVP_Digest(gw_rl_redis_script, strlen(gw_rl_redis_script), md, &n, EVP_sha1(), NULL) != 1 ||
        n != 20)
        return;
    for (unsigned i = 0; i < 20; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[40] = '\0';
}

int gw_rl_redis_conf_check(const struct gw_rl_conf *conf)
{
    if (conf == NULL || conf->limit == 0 || conf->capacity == 0 || conf->period_us == 0 ||
        conf->period_us >= (UINT64_C(1) << 40))
        return GW_EINVAL;
    switch (conf->algo) {
    case GW_RL_GCRA:
    case GW_RL_TOKEN_BUCKET:
        if (conf->interval_us == 0 || conf->capacity >= RL_MAX_SPAN / conf->interval_us)
            return GW_EINVAL;
        return 0;
    case GW_RL_SLIDING_WINDOW:
        if (conf->bucket_us == 0 || conf->sw_buckets == 0 ||
            conf->sw_buckets > GW_RL_SW_MAX_BUCKETS)
            return GW_EINVAL;
        return 0;
    case GW_RL_FIXED_WINDOW:
        return 0;
    }
    return GW_EINVAL;
}

static void params_of(const struct gw_rl_conf *conf, struct rl_params *p)
{
    p->algo = (uint64_t)conf->algo;
    p->limit = conf->limit;
    p->period_us = conf->period_us;
    p->capacity = conf->capacity;
    p->interval_us = conf->interval_us;
    p->bucket_us = conf->bucket_us;
    p->sw_buckets = conf->algo == GW_RL_SLIDING_WINDOW ? conf->sw_buckets : 0;
}

static bool params_eq(const struct rl_params *a, const struct rl_params *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* How long a lease of `want` units may be used: period / limit * want for the buckets, capped
 * at RL_LEASE_MAX_US (the script caps windows at their window or sub-bucket end). */
static uint64_t lease_max_us(const struct rl_params *p, uint64_t want)
{
    if (want <= 1)
        return 0;
    if (p->algo == GW_RL_GCRA || p->algo == GW_RL_TOKEN_BUCKET) {
        if (p->interval_us >= RL_LEASE_MAX_US / want)
            return RL_LEASE_MAX_US;
        return p->interval_us * want;
    }
    return RL_LEASE_MAX_US;
}

/* ---- answering ---------------------------------------------------------------------------- */

static void answer(struct gw_rl_redis *c, struct gw_rl_redis_op *op, int status,
                   const struct gw_rl_decision *d)
{
    gw_rl_redis_cb cb = op->cb;
    void *arg = op->arg;
    gw_list_remove(&op->link);
    free(op);
    switch (status) {
    case 0:
        count(&c->shared->decisions, 1);
        break;
    case GW_EREDISTIMEOUT:
        count(&c->shared->timeouts, 1);
        break;
    case GW_EREDISDOWN:
        count(&c->shared->unavailable, 1);
        break;
    default:
        count(&c->shared->errors, 1);
        break;
    }
    cb(arg, status, status == 0 ? d : NULL);
}

/* Answers every op of `list` with `status`. A callback may cancel ops still in the list,
 * decide again or close the client. */
static void answer_all(struct gw_rl_redis *c, struct gw_list *list, int status)
{
    while (!gw_list_empty(list))
        answer(c, gw_container_of(list->next, struct gw_rl_redis_op, link), status, NULL);
}

/* ---- calls -------------------------------------------------------------------------------- */

static void deadline_arm(struct gw_rl_redis *c);
static void on_call_reply(redisAsyncContext *ac, void *r, void *privdata);

static struct rl_call *call_new(struct gw_rl_redis *c, const struct rl_params *p, const char *key,
                                size_t len, uint64_t want, struct rl_lease *lease)
{
    struct rl_call *call = malloc(sizeof(*call) + len);
    if (call == NULL)
        return NULL;
    memset(call, 0, sizeof(*call));
    call->c = c;
    call->lease = lease;
    gw_list_init(&call->waiters);
    gw_list_init(&call->link);
    call->want = want;
    call->p = *p;
    call->len = len;
    memcpy(call->key, key, len);
    return call;
}

/* Queues the script call on the live context: EVALSHA, or EVAL with the whole script after a
 * NOSCRIPT. Returns 0 (hiredis now owns call until its callback) or GW_EREDISDOWN. */
static int call_send(struct gw_rl_redis *c, struct rl_call *call)
{
    char nums[RL_NARGS][24];
    const char *argv[4 + RL_NARGS];
    size_t lens[4 + RL_NARGS];
    const struct rl_params *p = &call->p;
    uint64_t v[RL_NARGS] = {p->algo,       p->limit,       p->period_us,
                            p->capacity,   p->interval_us, p->bucket_us,
                            p->sw_buckets, call->want,     lease_max_us(p, call->want)};
    if (c->ac == NULL)
        return GW_EREDISDOWN;
    argv[0] = call->eval ? "EVAL" : "EVALSHA";
    argv[1] = call->eval ? gw_rl_redis_script : c->sha;
    argv[2] = "1";
    argv[3] = call->key;
    lens[3] = call->len;
    for (unsigned i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    for (unsigned i = 0; i < RL_NARGS; i++) {
        int n = snprintf(nums[i], sizeof(nums[i]), "%llu", (unsigned long long)v[i]);
        argv[4 + i] = nums[i];
        lens[4 + i] = (size_t)n;
    }
    if (redisAsyncCommandArgv(c->ac, on_call_reply, call, 4 + RL_NARGS, argv, lens) != REDIS_OK)
        return GW_EREDISDOWN;
    count(&c->shared->calls, 1);
    return 0;
}

/* Sends a new call and starts its deadline. Returns 0 or GW_EREDISDOWN (call not queued). */
static int call_start(struct gw_rl_redis *c, struct rl_call *call)
{
    if (c->state != RL_READY)
        return GW_EREDISDOWN;
    call->sent_us = now_us();
    call->deadline_ms = mono_ms() + c->timeout_ms;
    if (call_send(c, call) != 0)
        return GW_EREDISDOWN;
    call->pending = true;
    gw_list_insert_tail(&c->calls, &call->link);
    if (call->lease != NULL)
        call->lease->call = call;
    deadline_arm(c);
    return 0;
}

/* Marks the call answered: out of the deadline list and its lease. */
static void call_unlink(struct rl_call *call)
{
    if (!call->pending)
        return;
    call->pending = false;
    gw_list_remove(&call->link);
    if (call->lease != NULL && call->lease->call == call)
        call->lease->call = NULL;
    deadline_arm(call->c);
}

/* Answers the call's waiters with an error; the call memory stays with hiredis. */
static void call_fail(struct rl_call *call, int status)
{
    struct gw_list waiters;
    list_take(&waiters, &call->waiters);
    call_unlink(call);
    answer_all(call->c, &waiters, status);
}

/* ---- leases ------------------------------------------------------------------------------- */

static uint64_t hash_key(uint64_t seed, const char *k, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)k[i];
        h *= UINT64_C(0x100000001b3);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return h;
}

static struct rl_lease **lease_slot(struct gw_rl_redis *c, uint64_t hash)
{
    return &c->lease_buckets[hash & (RL_LEASE_BUCKETS - 1)];
}

static struct rl_lease *lease_find(struct gw_rl_redis *c, const char *key, size_t len,
                                   uint64_t hash)
{
    struct rl_lease *l = *lease_slot(c, hash);
    while (l != NULL && !(l->hash == hash && l->len == len && memcmp(l->key, key, len) == 0))
        l = l->chain;
    return l;
}

static void lease_remove(struct gw_rl_redis *c, struct rl_lease *l)
{
    struct rl_lease **pp = lease_slot(c, l->hash);
    while (*pp != l)
        pp = &(*pp)->chain;
    *pp = l->chain;
    gw_list_remove(&l->lru);
    c->nleases--;
    free(l);
}

static void lease_clear(struct rl_lease *l, const struct rl_params *p)
{
    l->p = *p;
    l->units = 0;
    l->used = 0;
    l->until_us = 0;
    l->refused_until_us = 0;
}

/* A new entry for key, making room by forgetting one of the least recently used entries that
 * has no call in flight. NULL when none can go (then the decision goes without a lease). */
static struct rl_lease *lease_insert(struct gw_rl_redis *c, const char *key, size_t len,
                                     uint64_t hash, const struct rl_params *p)
{
    if (c->nleases >= GW_RL_REDIS_LEASE_KEYS) {
        struct gw_list *it = c->lease_lru.prev;
        struct rl_lease *victim = NULL;
        for (int i = 0; i < RL_LEASE_PROBE && it != &c->lease_lru; i++, it = it->prev) {
            struct rl_lease *l = gw_container_of(it, struct rl_lease, lru);
            if (l->call == NULL && !l->busy) {
                victim = l;
                break;
            }
        }
        if (victim == NULL)
            return NULL;
        lease_remove(c, victim);
    }
    struct rl_lease *l = malloc(sizeof(*l) + len);
    if (l == NULL)
        return NULL;
    memset(l, 0, sizeof(*l));
    l->hash = hash;
    l->len = len;
    memcpy(l->key, key, len);
    lease_clear(l, p);
    struct rl_lease **slot = lease_slot(c, hash);
    l->chain = *slot;
    *slot = l;
    gw_list_insert_head(&c->lease_lru, &l->lru);
    c->nleases++;
    return l;
}

/* reset_after_us of a decision made `elapsed` ago. For the buckets the tokens keep arriving
 * every interval; for windows a lease ends before its reset passes. */
static uint64_t aged_reset(uint64_t reset, uint64_t elapsed, uint64_t interval)
{
    if (reset > elapsed)
        return reset - elapsed;
    if (interval > 0)
        return interval - (elapsed - reset) % interval;
    return 1;
}

/* Hands out the lease's next unit (there is one). */
static void lease_unit(struct rl_lease *l, uint64_t now, struct gw_rl_decision *d)
{
    uint64_t i = l->used++;
    l->units--;
    uint64_t interval =
        l->p.algo == GW_RL_GCRA || l->p.algo == GW_RL_TOKEN_BUCKET ? l->p.interval_us : 0;
    d->allowed = true;
    d->limit = l->first.limit;
    d->remaining = l->first.remaining > i ? l->first.remaining - i : 0;
    d->reset_after_us = aged_reset(l->first.reset_after_us, now - l->at_us, interval);
    d->retry_after_us = 0;
}

/* Answers from the lease or the remembered refusal when they are still good. */
static bool lease_answer(struct rl_lease *l, uint64_t now, struct gw_rl_decision *d)
{
    if (l->units > 0 && now < l->until_us) {
        lease_unit(l, now, d);
        return true;
    }
    if (now < l->refused_until_us) {
        uint64_t elapsed = now - l->refused_at_us;
        *d = l->refusal;
        d->retry_after_us =
            l->refusal.retry_after_us > elapsed ? l->refusal.retry_after_us - elapsed : 1;
        d->reset_after_us = d->retry_after_us;
        return true;
    }
    return false;
}

/* ---- replies ------------------------------------------------------------------------------ */

struct rl_result {
    uint64_t granted, limit, remaining, reset_us, retry_us, lease_us;
};

/* The script's reply: granted, limit, remaining, reset_after_us, retry_after_us, lease_us and
 * the Redis time decided at (only for tests and debugging). */
static int parse_result(const redisReply *r, uint64_t want, struct rl_result *out)
{
    uint64_t v[7];
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 7)
        return GW_EREDISREPLY;
    for (unsigned i = 0; i < 7; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_INTEGER || e->integer < 0)
            return GW_EREDISREPLY;
        v[i] = (uint64_t)e->integer;
    }
    out->granted = v[0];
    out->limit = v[1];
    out->remaining = v[2];
    out->reset_us = v[3];
    out->retry_us = v[4];
    out->lease_us = v[5];
    return out->granted <= want ? 0 : GW_EREDISREPLY;
}

/* Waiters left over when a lease filled up before them: on the key's call in flight if a
 * callback started one, else on a new call. */
static void call_again(struct gw_rl_redis *c, const struct rl_call *old, struct gw_list *rest)
{
    struct rl_lease *l = old->lease;
    if (l != NULL && l->call != NULL) {
        while (!gw_list_empty(rest)) {
            struct gw_list *n = rest->next;
            gw_list_remove(n);
            gw_list_insert_tail(&l->call->waiters, n);
        }
        return;
    }
    struct rl_call *call = call_new(c, &old->p, old->key, old->len, old->want, l);
    if (call == NULL || call_start(c, call) != 0) {
        free(call);
        answer_all(c, rest, GW_EREDISDOWN);
        return;
    }
    while (!gw_list_empty(rest)) {
        struct gw_list *n = rest->next;
        gw_list_remove(n);
        gw_list_insert_tail(&call->waiters, n);
    }
}

/* A good reply: fills the lease and answers the waiters in order, unit by unit; past the
 * granted units they are refused when the algorithm ran out, else they ask again. */
static void call_complete(struct rl_call *call, const struct rl_result *res)
{
    struct gw_rl_redis *c = call->c;
    struct rl_lease *l = call->lease;
    struct gw_list waiters, rest;
    list_take(&waiters, &call->waiters);
    gw_list_init(&rest);
    call_unlink(call);
    uint64_t now = now_us();
    struct gw_rl_decision first = {true, res->limit, res->remaining, res->reset_us, 0};
    struct gw_rl_decision refusal = {
        false, res->limit, 0, res->granted == 0 ? res->reset_us : res->retry_us, res->retry_us};
    bool exhausted = res->granted < call->want;
    if (l != NULL) {
        l->units = res->granted;
        l->used = 0;
        l->first = first;
        l->at_us = now;
        l->until_us = call->sent_us + res->lease_us;
        l->refused_until_us = 0;
        if (exhausted) {
            l->refusal = refusal;
            l->refused_at_us = now;
            l->refused_until_us = call->sent_us + min_u64(res->retry_us, RL_LEASE_MAX_US);
        }
    }
    uint64_t handed = 0;
    if (l != NULL)
        l->busy = true; /* callbacks may decide again, and insert keys */
    while (!gw_list_empty(&waiters)) {
        struct gw_rl_redis_op *op = gw_container_of(waiters.next, struct gw_rl_redis_op, link);
        struct gw_rl_decision d;
        if (c->closing) {
            answer(c, op, GW_EREDISDOWN, NULL);
        } else if (l != NULL ? l->units > 0 : handed < res->granted) {
            if (l != NULL)
                lease_unit(l, now, &d);
            else
                d = first;
            if (handed++ > 0)
                count(&c->shared->local, 1);
            answer(c, op, 0, &d);
        } else if (exhausted) {
            if (handed++ > 0)
                count(&c->shared->local, 1);
            answer(c, op, 0, &refusal);
        } else {
            gw_list_remove(&op->link);
            gw_list_insert_tail(&rest, &op->link);
        }
    }
    if (l != NULL)
        l->busy = false;
    if (!gw_list_empty(&rest)) {
        if (c->closing)
            answer_all(c, &rest, GW_EREDISDOWN);
        else
            call_again(c, call, &rest);
    }
}

static void script_reload(struct gw_rl_redis *c);
static void on_ac_gone(struct gw_rl_redis *c, const redisAsyncContext *ac);

static void on_call_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rl_call *call = privdata;
    struct gw_rl_redis *c = call->c;
    redisReply *reply = r;
    struct rl_result res;
    if (!call->pending) {
        free(call); /* answered already: timed out, or the client closed */
        return;
    }
    if (reply == NULL) {
        on_ac_gone(c, ac);
        call_fail(call, GW_EREDISDOWN);
        free(call);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0 &&
        !call->eval) {
        /* The script cache was flushed or Redis restarted: this call goes again with the
         * whole script, keeping its place and deadline, and the script is loaded again for
         * the next ones. */
        count(&c->shared->noscript_reloads, 1);
        call->eval = true;
        if (call_send(c, call) == 0) {
            script_reload(c);
            return;
        }
        call_fail(call, GW_EREDISDOWN);
        free(call);
        return;
    }
    if (parse_result(reply, call->want, &res) != 0) {
        if (!c->error_logged) {
            c->error_logged = true; /* once per connection */
            if (reply->type == REDIS_REPLY_ERROR)
                gw_log_warn("rate limit: redis %s:%u: script error: %s", c->host, (unsigned)c->port,
                            reply->str);
            else
                gw_log_warn("rate limit: redis %s:%u: malformed script reply", c->host,
                            (unsigned)c->port);
        }
        call_fail(call, GW_EREDISREPLY);
        free(call);
        return;
    }
    call_complete(call, &res);
    free(call);
}

static void on_reload_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct gw_rl_redis *c = privdata;
    if (ac != c->ac)
        return;
    if (r == NULL) {
        on_ac_gone(c, ac);
        return;
    }
    c->script_loading = false;
}

static void script_reload(struct gw_rl_redis *c)
{
    if (c->script_loading || c->ac == NULL)
        return;
    if (redisAsyncCommand(c->ac, on_reload_reply, c, "SCRIPT LOAD %s", gw_rl_redis_script) ==
        REDIS_OK)
        c->script_loading = true;
}

/* ---- deadlines ---------------------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t);

/* Arms deadline_timer for the oldest pending call (calls are sent in deadline order). */
static void deadline_arm(struct gw_rl_redis *c)
{
    if (c->closing)
        return;
    if (gw_list_empty(&c->calls)) {
        if (c->armed_ms != 0) {
            uv_timer_stop(&c->deadline_timer);
            c->armed_ms = 0;
        }
        return;
    }
    struct rl_call *head = gw_container_of(c->calls.next, struct rl_call, link);
    if (head->deadline_ms == c->armed_ms)
        return;
    uint64_t now = mono_ms();
    uv_timer_start(&c->deadline_timer, on_deadline,
                   head->deadline_ms > now ? head->deadline_ms - now : 0, 0);
    c->armed_ms = head->deadline_ms;
}

static void conn_drop(struct gw_rl_redis *c, const char *why);

/* Calls past their deadline get GW_EREDISTIMEOUT now; a Redis that slow is treated as down,
 * so the following decisions fail at once instead of piling up behind it. */
static void on_deadline(uv_timer_t *t)
{
    struct gw_rl_redis *c = t->data;
    uint64_t now = mono_ms(); /* the timer may fire early: it counts from an older uv_now */
    bool late = false;
    c->armed_ms = 0;
    while (!gw_list_empty(&c->calls)) {
        struct rl_call *head = gw_container_of(c->calls.next, struct rl_call, link);
        if (head->deadline_ms > now)
            break;
        call_fail(head, GW_EREDISTIMEOUT);
        late = true;
        if (c->closing)
            return;
    }
    if (late && c->ac != NULL)
        conn_drop(c, "timed out");
    else
        deadline_arm(c);
}

/* ---- connection --------------------------------------------------------------------------- */

/* Our own libuv glue instead of hiredis's adapters/libuv.h: in 0.14 that adapter returns from
 * its poll callback when status != 0, and libuv reports POLLERR (a refused connect, a reset)
 * exactly that way and stops the watcher, so hiredis would never learn of the error and a
 * refused connect would look like a timeout. Here an error hands hiredis the events it waits
 * for, and its read or write then meets the socket error itself. */
struct rl_poll {
    uv_poll_t handle;
    redisAsyncContext *ac; /* NULL once hiredis let go of the context */
    int events;
};

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct rl_poll *p = h->data;
    if (status < 0)
        events = p->events;
    if (p->ac != NULL && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
    if (status < 0 && p->ac != NULL && p->events != 0)
        uv_poll_start(&p->handle, p->events, on_poll); /* libuv stopped it */
}

static void poll_update(struct rl_poll *p)
{
    if (p->events != 0)
        uv_poll_start(&p->handle, p->events, on_poll);
    else
        uv_poll_stop(&p->handle);
}

static void poll_add_read(void *privdata)
{
    struct rl_poll *p = privdata;
    p->events |= UV_READABLE;
    poll_update(p);
}

static void poll_del_read(void *privdata)
{
    struct rl_poll *p = privdata;
    p->events &= ~UV_READABLE;
    poll_update(p);
}

static void poll_add_write(void *privdata)
{
    struct rl_poll *p = privdata;
    p->events |= UV_WRITABLE;
    poll_update(p);
}

static void poll_del_write(void *privdata)
{
    struct rl_poll *p = privdata;
    p->events &= ~UV_WRITABLE;
    poll_update(p);
}

static void on_poll_closed(uv_handle_t *h)
{
    free(h->data);
}

static void poll_cleanup(void *privdata)
{
    struct rl_poll *p = privdata;
    if (p->ac == NULL)
        return;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

static int poll_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct rl_poll *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return GW_ENOMEM;
    int rc = uv_poll_init(loop, &p->handle, ac->c.fd);
    if (rc != 0) {
        free(p);
        return rc;
    }
    p->handle.data = p;
    p->ac = ac;
    ac->ev.data = p;
    ac->ev.addRead = poll_add_read;
    ac->ev.delRead = poll_del_read;
    ac->ev.addWrite = poll_add_write;
    ac->ev.delWrite = poll_del_write;
    ac->ev.cleanup = poll_cleanup;
    return 0;
}

/* The process-wide state, logged once per change: up when a client becomes ready after a
 * start or an outage; down when a ready client fails (or, before any client was ever up,
 * when the first attempt fails, so a wrong address or password shows at start). */
static void shared_up(struct gw_rl_redis *c)
{
    struct gw_rl_redis_shared *s = c->shared;
    c->counted_up = true;
    count(&s->clients_up, 1);
    count(&s->connects, 1);
    int was = atomic_load(&s->state);
    while (was != RL_SHARED_UP) {
        if (atomic_compare_exchange_weak(&s->state, &was, RL_SHARED_UP)) {
            count(&s->state_changes, 1);
            if (was == RL_SHARED_START)
                gw_log_info("rate limit: redis %s:%u connected", c->host, (unsigned)c->port);
            else
                gw_log_info("rate limit: redis %s:%u is back", c->host, (unsigned)c->port);
            return;
        }
    }
}

static void shared_down(struct gw_rl_redis *c, const char *why)
{
    struct gw_rl_redis_shared *s = c->shared;
    int from = RL_SHARED_START;
    if (c->counted_up) {
        c->counted_up = false;
        atomic_fetch_sub(&s->clients_up, 1);
        from = RL_SHARED_UP;
    }
    if (!atomic_compare_exchange_strong(&s->state, &from, RL_SHARED_DOWN))
        return;
    count(&s->state_changes, 1);
    gw_log_warn("rate limit: redis %s:%u unreachable (%s); failure policy applies; retrying with "
                "backoff",
                c->host, (unsigned)c->port, why);
}

/* Next delay: uniform between backoff_min and a bound doubling with each failure in a row. */
static uint64_t backoff_ms(struct gw_rl_redis *c)
{
    uint64_t bound = c->backoff_min_ms > 0 ? c->backoff_min_ms : 1;
    for (unsigned i = 0; i < c->failures && bound < c->backoff_max_ms; i++)
        bound *= 2;
    if (bound > c->backoff_max_ms)
        bound = c->backoff_max_ms;
    if (bound <= c->backoff_min_ms)
        return c->backoff_min_ms;
    return c->backoff_min_ms + gw_random_u64() % (bound - c->backoff_min_ms + 1);
}

/* The connection is gone (the context is no longer c->ac): go down and retry later. The
 * calls of the old context get their NULL replies from hiredis, which answers them. */
static void conn_down(struct gw_rl_redis *c, const char *why)
{
    if (c->closing)
        return;
    c->state = RL_BACKOFF;
    c->setup_left = 0;
    shared_down(c, why);
    uint64_t delay = backoff_ms(c);
    gw_log_debug("rate limit: redis %s:%u: %s; next attempt in %llu ms", c->host, (unsigned)c->port,
                 why, (unsigned long long)delay);
    if (c->failures < 64)
        c->failures++;
    uv_timer_start(&c->conn_timer, on_conn_timer, delay, 0);
}

/* Drops the live context ourselves. Never from onConnect or onDisconnect (see the top). */
static void conn_drop(struct gw_rl_redis *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    conn_down(c, why);
    if (ac != NULL)
        redisAsyncFree(ac);
}

/* hiredis is freeing ac (a NULL reply, onDisconnect, a failed connect). */
static void on_ac_gone(struct gw_rl_redis *c, const redisAsyncContext *ac)
{
    char why[160];
    if (ac != c->ac)
        return;
    c->ac = NULL;
    snprintf(why, sizeof(why), "%s", ac->c.err != 0 ? ac->c.errstr : "connection closed");
    conn_down(c, why);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    on_ac_gone(ac->data, ac);
}

static void setup_step_done(struct gw_rl_redis *c)
{
    if (--c->setup_left > 0) {
        uv_timer_start(&c->conn_timer, on_conn_timer, c->timeout_ms, 0);
        return;
    }
    uv_timer_stop(&c->conn_timer);
    c->state = RL_READY;
    c->failures = 0;
    c->error_logged = false;
    shared_up(c);
}

/* True when r is a good setup reply on the live context; else deals with it. */
static bool setup_reply_ok(struct gw_rl_redis *c, redisAsyncContext *ac, const redisReply *r,
                           const char *step)
{
    char why[160];
    if (ac != c->ac || c->state != RL_SETUP)
        return false;
    if (r == NULL) {
        on_ac_gone(c, ac);
        return false;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof(why), "%s: %s", step, r->str);
        conn_drop(c, why);
        return false;
    }
    return true;
}

static void on_auth_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    if (setup_reply_ok(privdata, ac, r, "AUTH"))
        setup_step_done(privdata);
}

static void on_select_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    if (setup_reply_ok(privdata, ac, r, "SELECT"))
        setup_step_done(privdata);
}

static void on_load_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct gw_rl_redis *c = privdata;
    const redisReply *reply = r;
    if (!setup_reply_ok(c, ac, reply, "SCRIPT LOAD"))
        return;
    if (reply->type != REDIS_REPLY_STRING || strcmp(reply->str, c->sha) != 0) {
        conn_drop(c, "SCRIPT LOAD: unexpected reply");
        return;
    }
    setup_step_done(c);
}

/* Connected: AUTH, SELECT and SCRIPT LOAD go out pipelined; each reply restarts the step
 * timer. A failure to queue is acted on from a zero timer: hiredis still uses ac after this
 * callback. */
static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct gw_rl_redis *c = ac->data;
    if (ac != c->ac)
        return;
    if (status != REDIS_OK) {
        on_ac_gone(c, ac);
        return;
    }
    c->state = RL_SETUP;
    c->script_loading = false;
    c->setup_left = 0;
    int rc = REDIS_OK;
    if (c->password != NULL && c->username != NULL)
        rc = redisAsyncCommand(ac, on_auth_reply, c, "AUTH %s %s", c->username, c->password);
    else if (c->password != NULL)
        rc = redisAsyncCommand(ac, on_auth_reply, c, "AUTH %s", c->password);
    c->setup_left += c->password != NULL;
    if (rc == REDIS_OK && c->db != 0) {
        rc = redisAsyncCommand(ac, on_select_reply, c, "SELECT %u", (unsigned)c->db);
        c->setup_left++;
    }
    if (rc == REDIS_OK) {
        rc = redisAsyncCommand(ac, on_load_reply, c, "SCRIPT LOAD %s", gw_rl_redis_script);
        c->setup_left++;
    }
    if (rc != REDIS_OK) {
        snprintf(c->fail_reason, sizeof(c->fail_reason), "could not send the setup commands");
        uv_timer_start(&c->conn_timer, on_conn_timer, 0, 0);
        return;
    }
    uv_timer_start(&c->conn_timer, on_conn_timer, c->timeout_ms, 0);
}

static void conn_connect(struct gw_rl_redis *c, const char *ip)
{
    char why[160];
    redisAsyncContext *ac = redisAsyncConnect(ip, c->port);
    if (ac == NULL) {
        conn_down(c, "out of memory");
        return;
    }
    if (ac->err != 0) {
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        conn_down(c, why);
        return;
    }
    int rc = poll_attach(ac, c->loop);
    if (rc != 0) {
        redisAsyncFree(ac);
        conn_down(c, gw_strerror(rc));
        return;
    }
    ac->data = c;
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncSetConnectCallback(ac, on_connect); /* starts watching for writability */
    c->ac = ac;
    c->state = RL_CONNECTING;
    uv_timer_start(&c->conn_timer, on_conn_timer, c->timeout_ms, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct rl_resolve *r = gw_container_of(req, struct rl_resolve, req);
    struct gw_rl_redis *c = r->c;
    char ip[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = res; status == 0 && ai != NULL && ip[0] == '\0'; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            uv_ip4_name((const struct sockaddr_in *)(const void *)ai->ai_addr, ip, sizeof(ip));
        else if (ai->ai_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)(const void *)ai->ai_addr, ip, sizeof(ip));
    }
    uv_freeaddrinfo(res);
    free(r);
    if (c == NULL)
        return; /* orphaned */
    c->resolve = NULL;
    uv_timer_stop(&c->conn_timer);
    if (status != 0)
        conn_down(c, uv_strerror(status));
    else if (ip[0] == '\0')
        conn_down(c, "no address for the host");
    else
        conn_connect(c, ip);
}

static void conn_start(struct gw_rl_redis *c)
{
    unsigned char buf[sizeof(struct in6_addr)];
    c->fail_reason[0] = '\0';
    if (inet_pton(AF_INET, c->host, buf) == 1 || inet_pton(AF_INET6, c->host, buf) == 1) {
        conn_connect(c, c->host);
        return;
    }
    /* hiredis would resolve a name with a blocking getaddrinfo: resolve it off the loop. */
    struct rl_resolve *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        conn_down(c, "out of memory");
        return;
    }
    r->c = c;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(c->loop, &r->req, on_resolved, c->host, NULL, &hints);
    if (rc != 0) {
        free(r);
        conn_down(c, uv_strerror(rc));
        return;
    }
    c->resolve = r;
    c->state = RL_RESOLVING;
    uv_timer_start(&c->conn_timer, on_conn_timer, c->timeout_ms, 0);
}

static void on_conn_timer(uv_timer_t *t)
{
    struct gw_rl_redis *c = t->data;
    switch (c->state) {
    case RL_BACKOFF:
        conn_start(c);
        return;
    case RL_RESOLVING:
        c->resolve->c = NULL;
        uv_cancel((uv_req_t *)&c->resolve->req);
        c->resolve = NULL;
        conn_down(c, "name resolution timed out");
        return;
    case RL_CONNECTING:
        conn_drop(c, "connect timed out");
        return;
    case RL_SETUP:
        conn_drop(c, c->fail_reason[0] != '\0' ? c->fail_reason : "setup timed out");
        return;
    case RL_READY:
    case RL_CLOSED:
        return;
    }
}

/* ---- public ------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

int gw_rl_redis_new(struct gw_rl_redis **out, uv_loop_t *loop, const struct gw_rl_redis_conf *conf,
                    struct gw_rl_redis_shared *shared)
{
    int rc = GW_EINVAL;
    struct gw_rl_redis *c = NULL;
    bool ok = true;
    if (conf->host == NULL || conf->host[0] == '\0' || conf->timeout_ms == 0 ||
        conf->backoff_max_ms == 0 || conf->backoff_max_ms < conf->backoff_min_ms || shared == NULL)
        goto fail;
    rc = GW_ENOMEM;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    c->host = dup_or_null(conf->host, &ok);
    c->username = dup_or_null(conf->username, &ok);
    c->password = dup_or_null(conf->password, &ok);
    if (!ok)
        goto fail;
    if (conf->local_share > 0) {
        c->lease_buckets = calloc(RL_LEASE_BUCKETS, sizeof(*c->lease_buckets));
        if (c->lease_buckets == NULL)
            goto fail;
    }
    gw_rl_redis_script_sha(c->sha);
    if (c->sha[0] == '\0')
        goto fail;
    c->loop = loop;
    c->shared = shared;
    c->port = conf->port;
    c->db = conf->db;
    c->timeout_ms = conf->timeout_ms;
    c->backoff_min_ms = conf->backoff_min_ms;
    c->backoff_max_ms = conf->backoff_max_ms;
    c->local_share = conf->local_share;
    c->lease_seed = gw_random_u64();
    gw_list_init(&c->calls);
    gw_list_init(&c->lease_lru);
    uv_timer_init(loop, &c->conn_timer);
    uv_timer_init(loop, &c->deadline_timer);
    c->conn_timer.data = c;
    c->deadline_timer.data = c;
    c->open_handles = 2;
    c->state = RL_BACKOFF;
    conn_start(c);
    *out = c;
    return 0;
fail:
    if (c != NULL) {
        free(c->lease_buckets);
        free(c->host);
        free(c->username);
        free(c->password);
        free(c);
    }
    return rc;
}

static void on_client_closed(uv_handle_t *h)
{
    struct gw_rl_redis *c = h->data;
    if (--c->open_handles > 0)
        return;
    while (!gw_list_empty(&c->lease_lru))
        lease_remove(c, gw_container_of(c->lease_lru.next, struct rl_lease, lru));
    free(c->lease_buckets);
    free(c->host);
    free(c->username);
    free(c->password);
    free(c);
}

void gw_rl_redis_close(struct gw_rl_redis *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->state = RL_CLOSED;
    /* Answer here: freeing the context from inside a reply callback is deferred by hiredis
     * until that callback returns. */
    while (!gw_list_empty(&c->calls))
        call_fail(gw_container_of(c->calls.next, struct rl_call, link), GW_EREDISDOWN);
    if (c->resolve != NULL) {
        c->resolve->c = NULL;
        uv_cancel((uv_req_t *)&c->resolve->req);
        c->resolve = NULL;
    }
    if (c->counted_up) {
        c->counted_up = false;
        atomic_fetch_sub(&c->shared->clients_up, 1);
    }
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    if (ac != NULL)
        redisAsyncFree(ac);
    uv_close((uv_handle_t *)&c->conn_timer, on_client_closed);
    uv_close((uv_handle_t *)&c->deadline_timer, on_client_closed);
}

bool gw_rl_redis_busy(const struct gw_rl_redis *c)
{
    return !gw_list_empty(&c->calls);
}

bool gw_rl_redis_up(const struct gw_rl_redis *c)
{
    return c->state == RL_READY;
}

int gw_rl_redis_decide(struct gw_rl_redis *c, const struct gw_rl_conf *conf, const char *key,
                       size_t len, struct gw_rl_decision *out, gw_rl_redis_cb cb, void *arg,
                       struct gw_rl_redis_op **opp)
{
    struct rl_params p;
    struct rl_lease *l = NULL;
    bool lease_ok = c->local_share > 0;
    if (key == NULL || len == 0 || len > GW_RL_REDIS_MAX_KEY || cb == NULL ||
        gw_rl_redis_conf_check(conf) != 0)
        return GW_EINVAL;
    if (c->closing) {
        count(&c->shared->unavailable, 1);
        return GW_EREDISDOWN;
    }
    params_of(conf, &p);
    uint64_t hash = 0;
    if (lease_ok) {
        hash = hash_key(c->lease_seed, key, len);
        l = lease_find(c, key, len, hash);
        if (l != NULL && !params_eq(&l->p, &p)) {
            if (l->call != NULL) {
                l = NULL; /* a call for the old conf is in flight: go without a lease */
                lease_ok = false;
            } else {
                lease_clear(l, &p);
            }
        }
    }
    if (l != NULL) {
        gw_list_remove(&l->lru);
        gw_list_insert_head(&c->lease_lru, &l->lru);
        if (lease_answer(l, now_us(), out)) {
            count(&c->shared->decisions, 1);
            count(&c->shared->local, 1);
            return GW_RL_REDIS_DONE;
        }
    }
    struct gw_rl_redis_op *op = NULL;
    if (l != NULL && l->call != NULL) {
        /* The key's lease call is in flight: wait for it. */
        op = calloc(1, sizeof(*op));
        if (op == NULL)
            return GW_ENOMEM;
        op->cb = cb;
        op->arg = arg;
        gw_list_insert_tail(&l->call->waiters, &op->link);
        if (opp != NULL)
            *opp = op;
        return 0;
    }
    if (c->state != RL_READY) {
        count(&c->shared->unavailable, 1);
        return GW_EREDISDOWN;
    }
    if (lease_ok && l == NULL)
        l = lease_insert(c, key, len, hash, &p);
    op = calloc(1, sizeof(*op));
    struct rl_call *call = call_new(c, &p, key, len, l != NULL ? c->local_share : 1, l);
    if (op == NULL || call == NULL) {
        free(op);
        free(call);
        return GW_ENOMEM;
    }
    op->cb = cb;
    op->arg = arg;
    gw_list_insert_tail(&call->waiters, &op->link);
    if (call_start(c, call) != 0) {
        free(op);
        free(call);
        count(&c->shared->unavailable, 1);
        return GW_EREDISDOWN;
    }
    if (opp != NULL)
        *opp = op;
    return 0;
}

void gw_rl_redis_cancel(struct gw_rl_redis_op *op)
{
    gw_list_remove(&op->link);
    free(op);
}

/* The Redis rate-limit backend; see state/ratelimit_redis.h. The script is in
 * ratelimit_redis_lua.c; the connection is the Redis client's (state/redis_client.h).
 *
 * Lifetimes. A script call (struct rl_call) is the argument of one Redis client command, whose
 * callback the client always runs once: with the reply, a timeout, GW_EREDISDOWN, or during
 * the client's close. Only that callback frees the call. What the call was for is answered
 * earlier when the rate-limit client closes: `pending` turns false, the waiting ops get their
 * status, and the callback that comes later only frees the call. The ops (struct
 * gw_rl_redis_op) are the callers' handles; each is freed just before its callback runs, or by
 * gw_rl_redis_cancel.
 */
#include "state/ratelimit_redis.h"

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/list.h"
#include "core/log.h"
#include "core/random.h"
#include "state/redis_client.h"

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
        connects;
    struct gw_redis_script script; /* its counter counts the NOSCRIPT reloads (and retries) */
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
    if (gw_redis_script_init(&s->script, gw_rl_redis_script) != 0) {
        free(s);
        return GW_ENOMEM;
    }
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
    /* A NOSCRIPT reply makes the client send the call once more. */
    out->noscript_reloads = load(&s->script.reloads);
    out->calls = load(&s->calls) + out->noscript_reloads;
    out->errors = load(&s->errors);
    out->timeouts = load(&s->timeouts);
    out->unavailable = load(&s->unavailable);
    out->state_changes = load(&s->state_changes);
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
    uint64_t sent_us;       /* local clock: leases and refusals are measured from here */
    uint64_t want;          /* units asked for */
    bool pending;           /* not answered yet (in c->calls) */
    struct rl_params p;
    size_t len;
    char key[];
};

struct gw_rl_redis_op {
    struct gw_list link; /* in a call's waiters */
    gw_rl_redis_cb cb;
    void *arg;
};

struct gw_rl_redis {
    struct gw_redis *redis; /* its own client (one per worker loop) */
    struct gw_redis_watch watch;
    struct gw_rl_redis_shared *shared;
    uint64_t timeout_ms;
    uint32_t local_share;
    bool counted_up;   /* counted in shared->clients_up */
    bool error_logged; /* an error reply was logged on this connection */
    bool closing;
    struct gw_list calls; /* struct rl_call pending, oldest first */

    struct rl_lease **lease_buckets; /* RL_LEASE_BUCKETS chains; NULL when local_share is 0 */
    struct gw_list lease_lru;
    size_t nleases;
    uint64_t lease_seed;
};

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ---- script ------------------------------------------------------------------------------- */

void gw_rl_redis_script_sha(char out[41])
{
    struct gw_redis_script script;
    out[0] = '\0';
    if (gw_redis_script_init(&script, gw_rl_redis_script) == 0)
        memcpy(out, script.sha, sizeof(script.sha));
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

static void on_call_reply(void *arg, int status, const struct redisReply *r);

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

/* Sends the script call. Returns 0 (the client now calls on_call_reply once) or an error. */
static int call_send(struct gw_rl_redis *c, struct rl_call *call)
{
    char nums[RL_NARGS][24];
    const char *argv[1 + RL_NARGS];
    size_t lens[1 + RL_NARGS];
    const struct rl_params *p = &call->p;
    uint64_t v[RL_NARGS] = {p->algo,       p->limit,       p->period_us,
                            p->capacity,   p->interval_us, p->bucket_us,
                            p->sw_buckets, call->want,     lease_max_us(p, call->want)};
    argv[0] = call->key;
    lens[0] = call->len;
    for (unsigned i = 0; i < RL_NARGS; i++) {
        int n = snprintf(nums[i], sizeof(nums[i]), "%llu", (unsigned long long)v[i]);
        argv[1 + i] = nums[i];
        lens[1 + i] = (size_t)n;
    }
    int rc = gw_redis_script_run(c->redis, &c->shared->script, 1, 1 + RL_NARGS, argv, lens,
                                 c->timeout_ms, on_call_reply, call, NULL);
    if (rc != 0)
        return rc;
    count(&c->shared->calls, 1);
    return 0;
}

/* Sends a new call. Returns 0 or GW_EREDISDOWN (call not sent). */
static int call_start(struct gw_rl_redis *c, struct rl_call *call)
{
    call->sent_us = now_us();
    if (call_send(c, call) != 0)
        return GW_EREDISDOWN;
    call->pending = true;
    gw_list_insert_tail(&c->calls, &call->link);
    if (call->lease != NULL)
        call->lease->call = call;
    return 0;
}

/* Marks the call answered: out of the pending list and its lease. */
static void call_unlink(struct rl_call *call)
{
    if (!call->pending)
        return;
    call->pending = false;
    gw_list_remove(&call->link);
    if (call->lease != NULL && call->lease->call == call)
        call->lease->call = NULL;
}

/* Answers the call's waiters with an error; the call memory goes in its callback. */
static void call_fail(struct rl_call *call, int status)
{
    struct gw_list waiters;
    gw_list_take(&waiters, &call->waiters);
    call_unlink(call);
    answer_all(call->c, &waiters, status);
}

/* ---- leases ------------------------------------------------------------------------------- */

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
    gw_list_take(&waiters, &call->waiters);
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

static void on_call_reply(void *arg, int status, const struct redisReply *r)
{
    struct rl_call *call = arg;
    struct gw_rl_redis *c = call->c;
    const redisReply *reply = r;
    struct rl_result res;
    if (!call->pending) {
        free(call); /* answered already: the client closed */
        return;
    }
    if (reply == NULL) {
        call_fail(call, status); /* GW_EREDISTIMEOUT or GW_EREDISDOWN */
        free(call);
        return;
    }
    if (parse_result(reply, call->want, &res) != 0) {
        if (!c->error_logged) {
            c->error_logged = true; /* once per connection */
            if (reply->type == REDIS_REPLY_ERROR)
                gw_log_warn("rate limit: redis %s: script error: %s", gw_redis_addr(c->redis),
                            reply->str);
            else
                gw_log_warn("rate limit: redis %s: malformed script reply",
                            gw_redis_addr(c->redis));
        }
        call_fail(call, GW_EREDISREPLY);
        free(call);
        return;
    }
    call_complete(call, &res);
    free(call);
}

/* ---- the process-wide state ---------------------------------------------------------------- */

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
                gw_log_info("rate limit: redis %s connected", gw_redis_addr(c->redis));
            else
                gw_log_info("rate limit: redis %s is back", gw_redis_addr(c->redis));
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
    gw_log_warn("rate limit: redis %s unreachable (%s); failure policy applies; retrying with "
                "backoff",
                gw_redis_addr(c->redis), why);
}

/* The client's state changes: up when connected and set up (the script loaded), down on its
 * first failure and whenever a ready connection fails. */
static void on_redis_state(void *arg, int status, const char *why)
{
    struct gw_rl_redis *c = arg;
    if (status == 0) {
        c->error_logged = false;
        shared_up(c);
    } else {
        shared_down(c, why);
    }
}

/* ---- public ------------------------------------------------------------------------------- */

static void client_free(struct gw_rl_redis *c)
{
    while (!gw_list_empty(&c->lease_lru))
        lease_remove(c, gw_container_of(c->lease_lru.next, struct rl_lease, lru));
    free(c->lease_buckets);
    free(c);
}

int gw_rl_redis_new(struct gw_rl_redis **out, uv_loop_t *loop, const struct gw_rl_redis_conf *conf,
                    struct gw_rl_redis_shared *shared)
{
    int rc = GW_EINVAL;
    struct gw_rl_redis *c = NULL;
    const struct gw_redis_opts opts = {
        .host = conf->host,
        .port = conf->port,
        .username = conf->username,
        .password = conf->password,
        .db = conf->db,
        .connect_timeout_ms = conf->timeout_ms,
        .backoff_min_ms = conf->backoff_min_ms,
        .backoff_max_ms = conf->backoff_max_ms,
        .use = "ratelimit",
    };
    if (shared == NULL)
        goto fail;
    rc = GW_ENOMEM;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    gw_list_init(&c->calls);
    gw_list_init(&c->lease_lru);
    if (conf->local_share > 0) {
        c->lease_buckets = calloc(RL_LEASE_BUCKETS, sizeof(*c->lease_buckets));
        if (c->lease_buckets == NULL)
            goto fail;
    }
    c->shared = shared;
    c->timeout_ms = conf->timeout_ms;
    c->local_share = conf->local_share;
    c->lease_seed = gw_random_u64();
    rc = gw_redis_new(&c->redis, loop, &opts);
    if (rc != 0)
        goto fail;
    /* Nothing runs before the loop does: the script and the watcher are in place before the
     * first connect. */
    if (gw_redis_script_add(c->redis, &shared->script) != 0) {
        gw_redis_close(c->redis, NULL, NULL);
        rc = GW_ENOMEM;
        goto fail;
    }
    gw_redis_watch(c->redis, &c->watch, on_redis_state, c);
    *out = c;
    return 0;
fail:
    if (c != NULL)
        client_free(c);
    return rc;
}

static void on_redis_closed(void *arg)
{
    client_free(arg);
}

void gw_rl_redis_close(struct gw_rl_redis *c)
{
    if (c->closing)
        return;
    c->closing = true;
    while (!gw_list_empty(&c->calls))
        call_fail(gw_container_of(c->calls.next, struct rl_call, link), GW_EREDISDOWN);
    if (c->counted_up) {
        c->counted_up = false;
        atomic_fetch_sub(&c->shared->clients_up, 1);
    }
    gw_redis_unwatch(&c->watch);
    gw_redis_close(c->redis, on_redis_closed, c);
}

bool gw_rl_redis_busy(const struct gw_rl_redis *c)
{
    return !gw_list_empty(&c->calls);
}

bool gw_rl_redis_up(const struct gw_rl_redis *c)
{
    return !c->closing && gw_redis_up(c->redis);
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
        hash = gw_hash_seeded(c->lease_seed, key, len);
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
    if (!gw_redis_up(c->redis)) {
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

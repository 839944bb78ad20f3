/*
 * The process-wide hub (hub/hub.h): the settings, the channels' subscriber counts, the way a
 * published message takes to every worker, and the Redis backend.
 *
 * A message is built once (its event text as the clients get it) and shared: the control
 * thread pushes a reference into each worker's inbox and wakes the worker, which hands it to
 * its matching connections (conn.c). With backend redis the control thread PUBLISHes the wire
 * form (hub/proto.h) instead, and every instance, this one included, delivers what its
 * subscription hears: so a message reaches each subscriber exactly once. When Redis cannot take
 * a message (down, or the PUBLISH failed) it is delivered locally: this instance's clients keep
 * getting messages, the other instances' do not, and a line is logged on each change.
 */
#include "hub/internal.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-t.h"
#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "hub/proto.h"
#include "runtime/worker-t.h"

/* ---- settings ------------------------------------------------------------------------------ */

static char **dup_strv(char *const *v, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; out && i < n; i++) {
        out[i] = strdup(v[i]);
        if (!out[i]) {
            while (i--)
                free(out[i]);
            free(out);
            return NULL;
        }
    }
    return out;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void rules_clear(struct gw__hub_rules *r)
{
    for (size_t i = 0; r->rules && i < r->nrules; i++) {
        free_strv(r->rules[i].channels, r->rules[i].nchannels);
        free_strv(r->rules[i].subscribe, r->rules[i].nsubscribe);
        free_strv(r->rules[i].publish, r->rules[i].npublish);
    }
    free(r->rules);
    r->rules = NULL;
}

static void rules_free(struct gw__hub_rules *r)
{
    if (!r)
        return;
    rules_clear(r);
    free(r);
}

static int rules_copy(struct gw__hub_rules *r, const struct gw_hub_conf *hc)
{
    r->max_message_bytes = hc->max_message_bytes;
    r->max_queue_bytes = hc->max_queue_bytes;
    r->max_subscriptions = hc->max_subscriptions;
    r->max_subscribers = hc->max_subscribers;
    r->ping_interval_ms = hc->ping_interval_ms;
    r->idle_timeout_ms = hc->idle_timeout_ms;
    r->rules = calloc(hc->nrules ? hc->nrules : 1, sizeof(*r->rules));
    if (!r->rules)
        return GW_ENOMEM;
    r->nrules = hc->nrules;
    for (size_t i = 0; i < hc->nrules; i++) {
        const struct gw_hub_rule_conf *c = &hc->rules[i];
        struct gw__hub_rule *d = &r->rules[i];
        d->channels = dup_strv(c->channels, c->nchannels);
        d->subscribe = dup_strv(c->subscribe, c->nsubscribe);
        d->publish = dup_strv(c->publish, c->npublish);
        d->nchannels = d->channels ? c->nchannels : 0;
        d->nsubscribe = d->subscribe ? c->nsubscribe : 0;
        d->npublish = d->publish ? c->npublish : 0;
        if (!d->channels || !d->subscribe || !d->publish)
            return GW_ENOMEM;
    }
    return 0;
}

/* New settings for hc, holding one reference. NULL when out of memory. */
static struct gw__hub_rules *rules_new(const struct gw_hub_conf *hc)
{
    struct gw__hub_rules *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    atomic_init(&r->refs, 1);
    if (rules_copy(r, hc) < 0) {
        rules_free(r);
        return NULL;
    }
    return r;
}

struct gw__hub_rules *gw__hub_rules_get(struct gw_hub *h)
{
    uv_mutex_lock(&h->lock);
    struct gw__hub_rules *r = h->rules;
    atomic_fetch_add(&r->refs, 1);
    uv_mutex_unlock(&h->lock);
    return r;
}

void gw__hub_rules_unref(struct gw__hub_rules *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1)
        rules_free(r);
}

static int backend_update(struct gw_hub *h, const struct gw_config *cfg);

int gw_hub_update(struct gw_hub *h, const struct gw_config *cfg)
{
    if (!h)
        return 0;
    struct gw__hub_rules *r = rules_new(&cfg->hub);
    if (!r)
        return GW_ENOMEM;
    uv_mutex_lock(&h->lock);
    struct gw__hub_rules *old = h->rules;
    h->rules = r;
    uv_mutex_unlock(&h->lock);
    gw__hub_rules_unref(old);
    return backend_update(h, cfg);
}

bool gw__hub_allowed(const struct gw__hub_rules *r, const char *ch, size_t n, const char *client_id,
                     const char *roles, bool publish)
{
    for (size_t i = 0; i < r->nrules; i++) {
        const struct gw__hub_rule *rule = &r->rules[i];
        bool named = false;
        for (size_t k = 0; k < rule->nchannels && !named; k++)
            named = gw_hub_pattern_match(rule->channels[k], ch, n, client_id);
        if (!named)
            continue;
        if (publish ? gw_hub_roles_allow(rule->publish, rule->npublish, roles)
                    : gw_hub_roles_allow(rule->subscribe, rule->nsubscribe, roles))
            return true;
    }
    return false;
}

/* ---- subscriber counts per channel ------------------------------------------------------------
 */

struct gw__hub_count {
    struct gw__hub_count *next;
    uint32_t n;
    size_t len;
    char name[];
};

static size_t bucket_of(const struct gw_hub *h, const char *ch, size_t n)
{
    uint64_t x = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        x = (x ^ (unsigned char)ch[i]) * 1099511628211ull;
    return (size_t)(x % h->ncount_buckets);
}

bool gw__hub_count_add(struct gw_hub *h, const char *ch, size_t n, uint32_t max)
{
    bool ok = false;
    uv_mutex_lock(&h->lock);
    struct gw__hub_count **pp = &h->counts[bucket_of(h, ch, n)];
    while (*pp && !((*pp)->len == n && memcmp((*pp)->name, ch, n) == 0))
        pp = &(*pp)->next;
    if (*pp == NULL) {
        struct gw__hub_count *c = calloc(1, sizeof(*c) + n);
        if (c) {
            c->len = n;
            memcpy(c->name, ch, n);
            *pp = c;
        }
    }
    if (*pp && (*pp)->n < max) {
        (*pp)->n++;
        ok = true;
    }
    uv_mutex_unlock(&h->lock);
    return ok;
}

void gw__hub_count_del(struct gw_hub *h, const char *ch, size_t n)
{
    uv_mutex_lock(&h->lock);
    struct gw__hub_count **pp = &h->counts[bucket_of(h, ch, n)];
    while (*pp && !((*pp)->len == n && memcmp((*pp)->name, ch, n) == 0))
        pp = &(*pp)->next;
    if (*pp && --(*pp)->n == 0) {
        struct gw__hub_count *c = *pp;
        *pp = c->next;
        free(c);
    }
    uv_mutex_unlock(&h->lock);
}

/* ---- messages and queues ------------------------------------------------------------------- */

static struct gw__hub_msg *msg_new(const char *ch, size_t chl, const char *to, size_t tol,
                                   const char *text, size_t len)
{
    struct gw__hub_msg *m = malloc(sizeof(*m) + len + 1);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->len = len;
    m->channel_len = chl;
    memcpy(m->channel, ch, chl);
    m->channel[chl] = '\0';
    memcpy(m->to, to, tol);
    m->to[tol] = '\0';
    memcpy(m->text, text, len);
    m->text[len] = '\0';
    return m;
}

void gw__hub_msg_unref(struct gw__hub_msg *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

static bool queue_push(struct gw__hub_queue *q, struct gw__hub_msg *m)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 16;
        struct gw__hub_msg **it = realloc(q->items, cap * sizeof(*it));
        if (!it)
            return false;
        q->items = it;
        q->cap = cap;
    }
    q->items[q->n++] = m;
    return true;
}

static void queue_drop(struct gw__hub_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        gw__hub_msg_unref(q->items[i]);
    free(q->items);
    memset(q, 0, sizeof *q);
}

/* ---- the way to the workers ---------------------------------------------------------------- */

/* Control thread: m goes into every worker's inbox (each gets a reference). */
static void deliver_local(struct gw_hub *h, struct gw__hub_msg *m)
{
    for (unsigned i = 0; i < h->nlocals; i++) {
        struct gw_hub_local *l = &h->locals[i];
        bool wake = false;
        uv_mutex_lock(&l->lock);
        if (l->started && !l->closed) {
            atomic_fetch_add(&m->refs, 1);
            if (queue_push(&l->inbox, m))
                wake = true;
            else
                atomic_fetch_sub(&m->refs, 1);
        }
        /* The handle is closed only under the lock with closed set, so sending is safe here. */
        if (wake)
            uv_async_send(&l->async);
        uv_mutex_unlock(&l->lock);
    }
}

static void on_worker_inbox(uv_async_t *a)
{
    struct gw_hub_local *l = a->data;
    uv_mutex_lock(&l->lock);
    struct gw__hub_queue q = l->inbox;
    memset(&l->inbox, 0, sizeof l->inbox);
    uv_mutex_unlock(&l->lock);
    uint64_t t0 = uv_hrtime();
    for (size_t i = 0; i < q.n; i++)
        gw__hub_deliver(l, q.items[i]);
    gw_log_debug("hub: worker %u handed %zu message(s) to its %zu connections in %.3f ms", l->w->id,
                 q.n, l->nconns, (double)(uv_hrtime() - t0) / 1e6);
    queue_drop(&q);
}

/* ---- the Redis backend -------------------------------------------------------------------------
 *
 * The Redis backend follows reloads (gw_hub_update), and no hub connection notices (they know
 * channels, not backends). local -> redis makes the client and subscribes; until Redis confirms
 * the subscription, messages are delivered here (as while Redis is down), so this instance's
 * clients never miss one of its own messages. redis -> local closes the client: what it had
 * not yet published is delivered here. A new redis_channel is subscribed next to the old one,
 * and messages keep going out on the old one until Redis confirms the new subscription; then
 * the old one is dropped. A change of the Redis of rate_limit.redis (address, credentials, db,
 * backoff) makes a new client.
 */

struct gw__hub_sub {
    struct gw_hub *h;
    struct gw_redis_sub *sub;
    bool active;    /** Redis confirmed it, and it was not lost since */
    bool confirmed; /** Redis confirmed it once (logged) */
    char channel[];
};

static void on_redis_message(void *arg, int status, const char *channel, size_t channel_len,
                             const char *msg, size_t msg_len);

/* Subscribes to channel on h->redis. NULL when out of memory. */
static struct gw__hub_sub *sub_new(struct gw_hub *h, const char *channel)
{
    size_t n = strlen(channel);
    struct gw__hub_sub *s = calloc(1, sizeof(*s) + n + 1);
    if (!s)
        return NULL;
    s->h = h;
    memcpy(s->channel, channel, n + 1);
    const char *chans[] = {s->channel};
    if (gw_redis_subscribe(h->redis, chans, 1, on_redis_message, s, &s->sub) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* Ends s (the client is open) and frees it. NULL is fine. */
static void sub_drop(struct gw__hub_sub *s)
{
    if (!s)
        return;
    gw_redis_unsubscribe(s->sub);
    free(s);
}

/* The Redis settings a client is made with, as one string to compare. NULL: out of memory. */
static char *redis_key_of(const struct gw_redis_conf *rc)
{
#define GW_HUB_REDIS_KEY(buf, cap)                                                                 \
    snprintf(buf, cap, "%s\n%u\n%s\n%s\n%u\n%llu\n%llu", rc->host ? rc->host : "",                 \
             (unsigned)rc->port, rc->username ? rc->username : "",                                 \
             rc->password ? rc->password : "", (unsigned)rc->db,                                   \
             (unsigned long long)rc->backoff_min_ms, (unsigned long long)rc->backoff_max_ms)
    int n = GW_HUB_REDIS_KEY(NULL, 0);
    char *key = n < 0 ? NULL : malloc((size_t)n + 1);
    if (key)
        GW_HUB_REDIS_KEY(key, (size_t)n + 1);
#undef GW_HUB_REDIS_KEY
    return key;
}

static uint64_t redis_timeout_of(const struct gw_config *cfg)
{
    uint64_t t = cfg->rate_limit.redis.timeout_ms;
    return t > 250 ? t : 250;
}

/* What gw_hub_get_stats shows as the channel in use. */
static void set_channel_now(struct gw_hub *h, const char *channel)
{
    uv_mutex_lock(&h->lock);
    snprintf(h->redis_channel_now, sizeof h->redis_channel_now, "%s", channel);
    uv_mutex_unlock(&h->lock);
}

static void redis_state(struct gw_hub *h, int up, const char *why)
{
    atomic_store(&h->redis_up, (uint64_t)(up == 1));
    if (h->redis_state == up)
        return;
    if (up == 1 && h->redis_was_up)
        atomic_fetch_add(&h->redis_reconnects, 1);
    if (up == 1)
        h->redis_was_up = true;
    h->redis_state = up;
    if (up == 1)
        gw_log_info("hub: redis at %s is up: messages fan out to every instance",
                    gw_redis_addr(h->redis));
    else
        gw_log_warn("hub: redis at %s is down (%s): messages reach this instance's clients only",
                    gw_redis_addr(h->redis), why ? why : "unreachable");
}

static void on_redis_state(void *arg, int status, const char *why)
{
    redis_state(arg, status == 0 ? 1 : 0, why);
}

/* Closes the Redis client (if any): the hub's backend is local from now on. What the client
 * had not yet published is delivered here (on_published). */
static void redis_close(struct gw_hub *h)
{
    struct gw_redis *c = h->redis;
    atomic_store(&h->use_redis, false);
    atomic_store(&h->redis_up, 0);
    /* The client frees the subscriptions themselves when it closes. */
    free(h->sub);
    free(h->sub_next);
    h->sub = h->sub_next = NULL;
    free(h->redis_key);
    h->redis_key = NULL;
    set_channel_now(h, "");
    h->redis = NULL; /* first: the callbacks the close runs see a client that is not ours */
    if (c) {
        gw_redis_unwatch(&h->watch);
        gw_redis_close(c, NULL, NULL);
    }
}

/* Makes the client for cfg's Redis and subscribes to cfg->hub.redis_channel. 0 or GW_ENOMEM
 * (nothing is left open: the backend is local). */
static int redis_open(struct gw_hub *h, const struct gw_config *cfg)
{
    const struct gw_redis_conf *rc = &cfg->rate_limit.redis;
    struct gw_redis_opts o = {.host = rc->host,
                              .port = rc->port,
                              .username = rc->username,
                              .password = rc->password,
                              .db = rc->db,
                              .connect_timeout_ms = 1000,
                              .backoff_min_ms = rc->backoff_min_ms,
                              .backoff_max_ms = rc->backoff_max_ms,
                              .use = "hub"};
    struct gw_redis *c = NULL;
    h->redis_key = redis_key_of(rc);
    if (!h->redis_key || gw_redis_new(&c, h->control, &o) < 0)
        goto fail;
    h->redis = c;
    h->redis_state = -1;
    h->redis_was_up = false;
    h->redis_timeout_ms = redis_timeout_of(cfg);
    gw_redis_watch(c, &h->watch, on_redis_state, h);
    h->sub = sub_new(h, cfg->hub.redis_channel);
    if (!h->sub)
        goto fail;
    set_channel_now(h, h->sub->channel);
    atomic_store(&h->use_redis, true);
    return 0;
fail:
    redis_close(h);
    return GW_ENOMEM;
}

/* Backend redis, same client: messages go through channel from now on (once Redis confirms
 * it). 0 or GW_ENOMEM (the channel stays). */
static int redis_rename(struct gw_hub *h, const char *channel)
{
    if (strcmp(h->sub->channel, channel) == 0) {
        /* unchanged, or back to the current one before the new one was confirmed */
        sub_drop(h->sub_next);
        h->sub_next = NULL;
        return 0;
    }
    if (h->sub_next && strcmp(h->sub_next->channel, channel) == 0)
        return 0; /* on its way */
    struct gw__hub_sub *s = sub_new(h, channel);
    if (!s)
        return GW_ENOMEM;
    sub_drop(h->sub_next);
    h->sub_next = s;
    gw_log_info("hub: subscribing to redis channel %s; messages go through %s until Redis "
                "confirms it",
                s->channel, h->sub->channel);
    return 0;
}

/* The Redis confirmed the subscription of the renamed channel: it takes over. */
static void redis_promote(struct gw_hub *h)
{
    struct gw__hub_sub *old = h->sub;
    h->sub = h->sub_next;
    h->sub_next = NULL;
    set_channel_now(h, h->sub->channel);
    gw_log_info("hub: messages go through redis channel %s (%s dropped)", h->sub->channel,
                old->channel);
    sub_drop(old);
}

/* A reload's backend and channel (control thread). */
static int backend_update(struct gw_hub *h, const struct gw_config *cfg)
{
    const struct gw_hub_conf *hc = &cfg->hub;
    if (hc->backend != GW_HUB_BACKEND_REDIS) {
        if (h->redis) {
            gw_log_info("hub: backend local from now on: messages reach this instance's clients "
                        "only (redis channel %s dropped)",
                        h->sub ? h->sub->channel : "?");
            redis_close(h);
        }
        return 0;
    }
    char *key = redis_key_of(&cfg->rate_limit.redis);
    if (!key)
        return GW_ENOMEM;
    bool same = h->redis && strcmp(key, h->redis_key) == 0;
    free(key);
    if (same) {
        h->redis_timeout_ms = redis_timeout_of(cfg);
        return redis_rename(h, hc->redis_channel);
    }
    bool had = h->redis != NULL;
    redis_close(h);
    if (redis_open(h, cfg) < 0)
        return GW_ENOMEM;
    gw_log_info("hub: backend redis from now on (%s, channel %s)%s", gw_redis_addr(h->redis),
                hc->redis_channel, had ? ": the Redis settings changed, a new connection" : "");
    return 0;
}

struct pending_publish {
    struct gw_hub *h;
    struct gw_redis *redis; /** the client it went to */
    struct gw__hub_msg *m;
};

static void on_published(void *arg, int status, const struct redisReply *reply)
{
    (void)reply;
    struct pending_publish *p = arg;
    struct gw_hub *h = p->h;
    if (status < 0 && !h->stopped) {
        /* Redis did not take it: this instance's clients still get it. */
        atomic_fetch_add(&h->redis_local, 1);
        if (p->redis == h->redis) /* else a reload closed that client: no state change */
            redis_state(h, 0, gw_strerror(status));
        deliver_local(h, p->m);
    }
    gw__hub_msg_unref(p->m);
    free(p);
}

static void send_on(struct gw_hub *h, struct gw__hub_msg *m)
{
    /* Through Redis only once it confirmed the subscription: every instance, this one too,
     * then hears the message back. */
    if (h->redis && h->sub && h->sub->active && !h->stopped) {
        struct gw_hub_wire w = {.to = m->to,
                                .to_len = strlen(m->to),
                                .channel = m->channel,
                                .channel_len = m->channel_len,
                                .event = m->text,
                                .event_len = m->len};
        size_t cap = w.to_len + w.channel_len + w.event_len + 2;
        char *payload = malloc(cap);
        struct pending_publish *p = malloc(sizeof(*p));
        long n = payload ? gw_hub_wire_format(&w, payload, cap) : -1;
        int rc = GW_ENOMEM;
        if (p && n > 0) {
            const char *argv[] = {"PUBLISH", h->sub->channel, payload};
            size_t lens[] = {7, strlen(h->sub->channel), (size_t)n};
            p->h = h;
            p->redis = h->redis;
            p->m = m;
            rc = gw_redis_command(h->redis, 3, argv, lens, h->redis_timeout_ms, on_published, p,
                                  NULL);
        }
        free(payload);
        if (rc == 0)
            return; /* on_published owns m now */
        free(p);
        atomic_fetch_add(&h->redis_local, 1);
        if (rc == GW_EREDISDOWN)
            redis_state(h, 0, "not connected");
    } else if (h->redis && !h->stopped) {
        atomic_fetch_add(&h->redis_local, 1); /* the subscription is not (yet, or again) there */
    }
    deliver_local(h, m);
    gw__hub_msg_unref(m);
}

static void on_outbox(uv_async_t *a)
{
    struct gw_hub *h = a->data;
    uv_mutex_lock(&h->lock);
    struct gw__hub_queue q = h->outbox;
    memset(&h->outbox, 0, sizeof h->outbox);
    uv_mutex_unlock(&h->lock);
    for (size_t i = 0; i < q.n; i++)
        send_on(h, q.items[i]);
    free(q.items);
}

static void on_redis_message(void *arg, int status, const char *channel, size_t channel_len,
                             const char *msg, size_t msg_len)
{
    struct gw__hub_sub *s = arg;
    struct gw_hub *h = s->h;
    if (status < 0) {
        s->active = false; /* lost: the client subscribes again when it reconnects */
        return;
    }
    if (msg == NULL) {
        s->active = true;
        if (!s->confirmed)
            gw_log_info("hub: subscribed to redis channel %s", s->channel);
        s->confirmed = true;
        if (s == h->sub_next)
            redis_promote(h);
        return;
    }
    struct gw_hub_wire w;
    if (gw_hub_wire_parse(msg, msg_len, &w) < 0) {
        gw_log_warn("hub: a malformed message on redis channel %.*s was ignored", (int)channel_len,
                    channel);
        return;
    }
    struct gw__hub_msg *m = msg_new(w.channel, w.channel_len, w.to, w.to_len, w.event, w.event_len);
    if (m) {
        deliver_local(h, m);
        gw__hub_msg_unref(m);
    }
}

/* ---- public -------------------------------------------------------------------------------- */

int gw_hub_publish(struct gw_hub *h, const char *channel, size_t channel_len, const char *to,
                   const char *data, size_t data_len, char id_out[33])
{
    size_t tol = to ? strlen(to) : 0;
    if (!h || !gw_hub_channel_valid(channel, channel_len) ||
        (tol && !gw_hub_client_id_valid(to, tol)) || data_len == 0)
        return GW_EINVAL;
    uint64_t seq = atomic_fetch_add(&h->seq, 1) + 1;
    snprintf(id_out, 33, "%s-%llu", h->instance, (unsigned long long)seq);
    size_t cap = 64 + channel_len + strlen(id_out) + data_len;
    char *text = malloc(cap);
    if (!text)
        return GW_ENOMEM;
    /* Channel names and ids need no escaping (hub/channel.h); data is JSON text. */
    int n =
        snprintf(text, cap, "{\"type\":\"message\",\"channel\":\"%.*s\",\"id\":\"%s\",\"data\":",
                 (int)channel_len, channel, id_out);
    memcpy(text + n, data, data_len);
    text[(size_t)n + data_len] = '}';
    struct gw__hub_msg *m =
        msg_new(channel, channel_len, to ? to : "", tol, text, (size_t)n + data_len + 1);
    free(text);
    if (!m)
        return GW_ENOMEM;
    atomic_fetch_add(&h->published, 1);
    uv_mutex_lock(&h->lock);
    bool ok = !h->stopped && queue_push(&h->outbox, m);
    if (ok)
        uv_async_send(&h->async);
    uv_mutex_unlock(&h->lock);
    if (!ok) {
        gw__hub_msg_unref(m);
        return GW_ENOMEM;
    }
    return 0;
}

int gw_hub_new(struct gw_hub **out, uv_loop_t *control, const struct gw_config *cfg,
               unsigned nworkers)
{
    const struct gw_hub_conf *hc = &cfg->hub;
    struct gw_hub *h = calloc(1, sizeof(*h));
    if (!h)
        return GW_ENOMEM;
    h->control = control;
    h->ncount_buckets = 1024;
    h->counts = calloc(h->ncount_buckets, sizeof(*h->counts));
    h->locals = calloc(nworkers ? nworkers : 1, sizeof(*h->locals));
    h->nlocals = nworkers;
    h->redis_state = -1;
    snprintf(h->instance, sizeof h->instance, "%08x", (unsigned)gw_random_u64());
    uv_mutex_init(&h->lock);
    for (unsigned i = 0; h->locals && i < nworkers; i++) {
        uv_mutex_init(&h->locals[i].lock);
        gw_list_init(&h->locals[i].conns);
        h->locals[i].hub = h;
    }
    h->rules = rules_new(hc);
    if (!h->counts || !h->locals || !h->rules)
        goto fail;
    if (hc->backend == GW_HUB_BACKEND_REDIS && redis_open(h, cfg) < 0)
        goto fail;
    /* Last: a handle that was initialised can only be freed from its close callback. */
    uv_async_init(control, &h->async, on_outbox);
    h->async.data = h;
    *out = h;
    return 0;
fail:
    /* The client owns its memory and hears nothing more of ours once closed. */
    redis_close(h);
    gw_hub_free(h);
    return GW_ENOMEM;
}

void gw_hub_stop(struct gw_hub *h)
{
    if (!h || h->stopped)
        return;
    uv_mutex_lock(&h->lock);
    h->stopped = true;
    uv_mutex_unlock(&h->lock);
    redis_close(h);
    uv_close((uv_handle_t *)&h->async, NULL);
}

void gw_hub_free(struct gw_hub *h)
{
    if (!h)
        return;
    queue_drop(&h->outbox);
    for (unsigned i = 0; h->locals && i < h->nlocals; i++) {
        queue_drop(&h->locals[i].inbox);
        uv_mutex_destroy(&h->locals[i].lock);
    }
    for (size_t b = 0; h->counts && b < h->ncount_buckets; b++) {
        while (h->counts[b]) {
            struct gw__hub_count *c = h->counts[b];
            h->counts[b] = c->next;
            free(c);
        }
    }
    gw__hub_rules_unref(h->rules);
    uv_mutex_destroy(&h->lock);
    free(h->counts);
    free(h->locals);
    free(h->sub);
    free(h->sub_next);
    free(h->redis_key);
    free(h);
}

int gw_hub_worker_start(struct gw_hub *h, struct gw_worker *w)
{
    if (!h || w->id >= h->nlocals)
        return GW_EINVAL;
    struct gw_hub_local *l = &h->locals[w->id];
    l->w = w;
    int rc = uv_async_init(&w->loop, &l->async, on_worker_inbox);
    if (rc < 0)
        return rc;
    l->async.data = l;
    uv_mutex_lock(&l->lock);
    l->started = true;
    uv_mutex_unlock(&l->lock);
    w->hub = l;
    return 0;
}

size_t gw_hub_worker_conns(const struct gw_worker *w)
{
    return w->hub ? w->hub->nconns : 0;
}

void gw_hub_worker_close(struct gw_worker *w)
{
    struct gw_hub_local *l = w->hub;
    if (!l)
        return;
    uv_mutex_lock(&l->lock);
    if (!l->closed) {
        l->closed = true;
        uv_close((uv_handle_t *)&l->async, NULL);
    }
    uv_mutex_unlock(&l->lock);
}

void gw_hub_get_stats(struct gw_hub *h, struct gw_hub_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!h)
        return;
    out->connections = atomic_load(&h->nconns);
    out->published = atomic_load(&h->published);
    out->delivered = atomic_load(&h->delivered);
    out->slow_cut = atomic_load(&h->slow_cut);
    out->redis_up = atomic_load(&h->redis_up);
    out->redis_local = atomic_load(&h->redis_local);
    out->redis_reconnects = atomic_load(&h->redis_reconnects);
    out->redis_backend = atomic_load(&h->use_redis);
    uv_mutex_lock(&h->lock);
    memcpy(out->redis_channel, h->redis_channel_now, sizeof out->redis_channel);
    uv_mutex_unlock(&h->lock);
}

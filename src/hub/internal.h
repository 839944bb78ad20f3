/*
 * Shared by the files of hub/ (and its unit tests) only.
 */
#ifndef GW_HUB_INTERNAL_H
#define GW_HUB_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/list.h"
#include "hub/channel.h"
#include "hub/hub.h"
#include "state/redis_client.h"

struct gw_hub_rule_conf;

/* A message on its way to the workers: one allocation, shared by every inbox (refcounted). */
struct gw__hub_msg {
    atomic_uint refs;
    size_t len; /** of text */
    size_t channel_len;
    char channel[GW_HUB_CHANNEL_MAX + 1];
    char to[GW_HUB_CLIENT_ID_MAX + 1]; /** "" = every subscriber */
    char text[];                       /** the event, as sent to the clients */
};

/* A vector of message references, the inboxes' type. */
struct gw__hub_queue {
    struct gw__hub_msg **items;
    size_t n, cap;
};

/* A worker's part. */
struct gw_hub_local {
    struct gw_hub *hub;
    struct gw_worker *w;
    uv_async_t async; /** messages arrived in inbox */
    uv_mutex_t lock;  /** guards inbox and closed */
    struct gw__hub_queue inbox;
    bool closed; /** the worker closed its part: nothing more is queued */
    bool started;
    struct gw_list conns; /** struct gw__hub_conn, worker thread only */
    size_t nconns;
};

/* The hub settings, copied from the config at start (connections outlive snapshots). */
struct gw__hub_rules {
    struct gw__hub_rule {
        char **channels;
        size_t nchannels;
        char **subscribe;
        size_t nsubscribe;
        char **publish;
        size_t npublish;
    } * rules;
    size_t nrules;
    uint32_t max_message_bytes;
    uint64_t max_queue_bytes;
    uint32_t max_subscriptions;
    uint32_t max_subscribers;
    uint64_t ping_interval_ms;
    uint64_t idle_timeout_ms;
};

struct gw__hub_count; /* a channel's subscriber count (hub.c) */

struct gw_hub {
    uv_loop_t *control;
    uv_async_t async;              /** messages published, for the control thread */
    uv_mutex_t lock;               /** guards outbox and the counts table */
    struct gw__hub_queue outbox;   /** published, not yet sent on */
    struct gw__hub_count **counts; /** channel -> subscribers on this instance (chained) */
    size_t ncount_buckets;
    struct gw_hub_local *locals;
    unsigned nlocals;
    struct gw__hub_rules rules;
    char instance[9]; /** random hex, the first part of every message id */
    atomic_uint_fast64_t seq;
    /* backend redis (control thread) */
    bool use_redis;
    struct gw_redis *redis;
    struct gw_redis_sub *sub;
    struct gw_redis_watch watch;
    char *redis_channel;
    uint64_t redis_timeout_ms;
    int redis_state; /** -1 unknown, 0 down, 1 up: logged on each change */
    bool stopped;
    /* stats */
    atomic_uint_fast64_t nconns, published, delivered, slow_cut, redis_up, redis_local;
};

/* hub.c: a channel gets one more subscriber on this instance, unless it has max already. */
bool gw__hub_count_add(struct gw_hub *h, const char *ch, size_t n, uint32_t max);
void gw__hub_count_del(struct gw_hub *h, const char *ch, size_t n);
void gw__hub_msg_unref(struct gw__hub_msg *m);

/* conn.c: worker thread; hands msg to the matching connections of l. */
void gw__hub_deliver(struct gw_hub_local *l, const struct gw__hub_msg *m);

/* Channel ch (for client_id) is allowed to roles by a rule, for subscribing or publishing. */
bool gw__hub_allowed(const struct gw__hub_rules *r, const char *ch, size_t n, const char *client_id,
                     const char *roles, bool publish);

#endif

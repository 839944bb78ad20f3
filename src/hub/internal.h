/*
 * Shared by the files of hub/ (and its unit tests) only.
 */
#ifndef GW_HUB_INTERNAL_H
#define GW_HUB_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>
#include <wslay/wslay.h>

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

/* The hub settings, copied from the config at start and at every reload (connections outlive
 * snapshots). Immutable and refcounted: a connection keeps the ones it opened with for its whole
 * life, a reload makes new ones for the connections that open after it. */
struct gw__hub_rules {
    atomic_uint refs;
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
struct gw__hub_sub;   /* a subscription to the Redis channel (hub.c) */

struct gw_hub {
    uv_loop_t *control;
    uv_async_t async;              /** messages published, for the control thread */
    uv_mutex_t lock;               /** guards outbox and the counts table */
    struct gw__hub_queue outbox;   /** published, not yet sent on */
    struct gw__hub_count **counts; /** channel -> subscribers on this instance (chained) */
    size_t ncount_buckets;
    struct gw_hub_local *locals;
    unsigned nlocals;
    struct gw__hub_rules *rules; /** the current settings (guarded by lock), for new connections */
    char instance[9];            /** random hex, the first part of every message id */
    atomic_uint_fast64_t seq;
    /* backend redis (control thread; a reload may switch it on or off, or rename the channel:
     * hub.c "The Redis backend follows reloads") */
    atomic_bool use_redis;        /** read by gw_hub_get_stats on any thread */
    struct gw_redis *redis;       /** NULL with backend local */
    struct gw__hub_sub *sub;      /** the subscription messages are published on */
    struct gw__hub_sub *sub_next; /** a renamed channel's, until Redis confirms it */
    struct gw_redis_watch watch;
    char *redis_key; /** the Redis settings the client was made with: a change reconnects */
    /** the channel messages are published on, "" with backend local (written under lock, on
     * the control thread; for gw_hub_get_stats) */
    char redis_channel_now[GW_HUB_REDIS_CHANNEL_MAX + 1];
    uint64_t redis_timeout_ms;
    int redis_state; /** -1 unknown, 0 down, 1 up: logged on each change */
    bool stopped;
    /* stats */
    atomic_uint_fast64_t nconns, published, delivered, slow_cut, redis_up, redis_local;
    atomic_uint_fast64_t redis_reconnects; /** down (after having been up) -> up again */
    bool redis_was_up;                     /** control thread */
};

/* hub.c: a reference to the current settings (any thread), and its release. */
struct gw__hub_rules *gw__hub_rules_get(struct gw_hub *h);
void gw__hub_rules_unref(struct gw__hub_rules *r);

/* ---- frames.c: wslay on a byte stream ---------------------------------------------------- */

/* Takes all of p[0..n) to send (writes or queues it): 0, or negative to fail the stream. */
typedef int (*gw__hub_out_fn)(void *arg, const char *p, size_t n);
/* A whole message arrived (text: checked UTF-8). */
typedef void (*gw__hub_msg_fn)(void *arg, bool text, const char *p, size_t n);

struct gw__hub_frames {
    wslay_event_context_ptr ws;
    const uint8_t *in; /** the bytes of the current feed not yet taken by wslay */
    size_t in_len;
    gw__hub_out_fn out;
    gw__hub_msg_fn msg;
    void *arg;
    bool refused; /** a frame header wslay's frame layer refused: closed with 1002 by us */
};

/* A server side (RFC 6455: client frames must be masked) taking messages up to max_message
 * bytes. 0, or -1 (out of memory). */
int gw__hub_frames_init(struct gw__hub_frames *f, uint32_t max_message, gw__hub_out_fn out,
                        gw__hub_msg_fn msg, void *arg);
/* Bytes read from the peer: parsed now (msg runs for each whole message, and wslay queues its
 * answers: pongs, the close reply, a close for a protocol error; a control frame over 125 bytes
 * or fragmented gets its close 1002 written at once, and the frames are done). 0, or -1: end
 * the stream. */
int gw__hub_frames_feed(struct gw__hub_frames *f, const uint8_t *p, size_t n);
/* Queues a message (a WSLAY_* opcode) or a close frame; -1 once a close was queued. */
int gw__hub_frames_queue(struct gw__hub_frames *f, int opcode, const char *p, size_t n);
int gw__hub_frames_close(struct gw__hub_frames *f, uint16_t code, const char *reason);
/* True once the peer broke the framing in a way wslay refuses without a status code (the
 * connection got a close 1002 from us). */
bool gw__hub_frames_refused(const struct gw__hub_frames *f);
/* Hands what is queued to out. 0, or -1: end the stream. */
int gw__hub_frames_flush(struct gw__hub_frames *f);
/* The close handshake is over (or the stream failed): nothing more to read or send. */
bool gw__hub_frames_done(const struct gw__hub_frames *f);
/* Nothing waits in wslay and no close frame went: a whole frame may be written to the stream
 * directly (the hub's broadcast sends one frame, built once, to every subscriber). */
bool gw__hub_frames_idle(const struct gw__hub_frames *f);
/* The head of a server's final text frame of len payload bytes: its length (2, 4 or 10). */
size_t gw__hub_frames_head(uint8_t head[10], size_t len);
/* Bytes queued in wslay, not yet handed to out. */
size_t gw__hub_frames_queued(const struct gw__hub_frames *f);
void gw__hub_frames_free(struct gw__hub_frames *f);

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

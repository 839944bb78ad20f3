/*
 * The WebSocket hub: a gateway-terminated WebSocket endpoint (PATH/{client_id}) where clients
 * subscribe to channels and receive the messages published to them, by backends through the
 * admin API or by clients whose roles allow it. docs/internals.md "The hub".
 *
 * One struct gw_hub per process, made and stopped on the control thread; one part per worker
 * (its connections, an inbox of messages to deliver). A message published on any thread goes
 * to the control thread, which sends it to Redis (backend redis: every instance hears it back
 * through its subscription, this one too) or, with backend local or while Redis is down,
 * straight to every worker's inbox. A connection never leaves its worker and holds no snapshot
 * reference: a reload never touches it.
 */
#ifndef GW_HUB_HUB_H
#define GW_HUB_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* The longest hub.redis_channel (config/config_hub.c checks it). */
#define GW_HUB_REDIS_CHANNEL_MAX 128

struct gw_hub;
struct gw_tls_stream;
struct gw_worker;
struct gw_config;

/* What a successful handshake hands to the hub (the strings are copied). */
struct gw_hub_session {
    const char *client_id;  /** from the path, bound to the identity by the caller */
    const char *roles;      /** space-separated roles of the identity, or NULL */
    const char *request_id; /** the handshake's request id, for the log line */
    const char *peer;       /** client address, for the log line */
    const char *head;       /** the 101 answer to send first */
    size_t head_len;
    /** the connection's TLS session (the HTTPS listener), or NULL: the hub's in every case,
     * freed by it even when gw_hub_accept fails */
    struct gw_tls_stream *tls;
};

/* Counters, read on any thread. */
struct gw_hub_stats {
    uint64_t connections;      /** open hub connections, all workers */
    uint64_t published;        /** messages published through this instance */
    uint64_t delivered;        /** messages written to a client */
    uint64_t slow_cut;         /** clients disconnected for a full send queue */
    uint64_t redis_up;         /** 1 when the Redis backend is up */
    uint64_t redis_local;      /** messages delivered locally because Redis could not take them */
    uint64_t redis_reconnects; /** times Redis came back up after being down */
    bool redis_backend;        /** the backend is redis */
    /** the Redis channel messages are published on (backend redis), else "" */
    char redis_channel[GW_HUB_REDIS_CHANNEL_MAX + 1];
};

/* Control thread, before the workers start. Makes the hub for cfg->hub (enabled) and nworkers
 * workers; with backend redis it connects and subscribes on the control loop. 0 or GW_ENOMEM. */
int gw_hub_new(struct gw_hub **out, uv_loop_t *control, const struct gw_config *cfg,
               unsigned nworkers);

/* Control thread, after a reload published cfg: connections that open from now on get its hub
 * settings (path and origins are read from the snapshot; here: channel rules, message and
 * queue limits, subscription limits, keepalive); open connections keep theirs. The backend
 * follows cfg at once, for every connection (none is closed, each keeps its subscriptions):
 * local -> redis connects and subscribes, redis -> local closes the Redis client, a new
 * hub.redis_channel is subscribed and replaces the old one once Redis confirms it, other Redis
 * settings (rate_limit.redis) make a new client. 0, or GW_ENOMEM (the rules stay the old ones
 * when that failed first; a backend that failed to switch is left local). */
int gw_hub_update(struct gw_hub *h, const struct gw_config *cfg);

/* Control thread, when the server stops: closes the Redis client and the control handles. */
void gw_hub_stop(struct gw_hub *h);

/* After the workers were joined and the control loop closed. NULL is fine. */
void gw_hub_free(struct gw_hub *h);

/* Control thread, before worker w's thread starts: gives w its part of the hub (w->hub) on its
 * loop. 0 or a negative code. */
int gw_hub_worker_start(struct gw_hub *h, struct gw_worker *w);

/* Worker thread: hub connections of w still open. */
size_t gw_hub_worker_conns(const struct gw_worker *w);

/* Worker thread, the drain timeout passed: every hub connection of w gets a close frame 1001
 * (going away) and closes within a second. */
void gw_hub_worker_going_away(struct gw_worker *w);

/* Worker thread, stopping with nothing left open: closes w's part (its inbox handle). */
void gw_hub_worker_close(struct gw_worker *w);

/* Worker thread. Takes the client connection (a duplicate of its socket; the caller closes its
 * own handle without a shutdown), sends s->head, then speaks the hub protocol; rest[0..n) are
 * client bytes (plaintext) read past the handshake. With s->tls the socket carries records of
 * that session. 0, or a negative code (nothing was taken but s->tls, which was freed). */
int gw_hub_accept(struct gw_worker *w, uv_stream_t *client, const char *rest, size_t n,
                  const struct gw_hub_session *s);

/* Any thread. Publishes data (JSON text, data_len bytes) to channel (checked with
 * gw_hub_channel_valid), for every subscriber or, with to (NULL or "" for none), for the client
 * with that id only. id_out (33 bytes) gets the message id. 0, GW_EINVAL or GW_ENOMEM. */
int gw_hub_publish(struct gw_hub *h, const char *channel, size_t channel_len, const char *to,
                   const char *data, size_t data_len, char id_out[33]);

/* Who publishes through the proxy port (hub.publish_path), for the channel rules. */
struct gw_hub_publisher {
    const char *client_id; /** the identity's user or consumer ("{client_id}" in rules), or "" */
    const char *roles;     /** space-separated roles of the identity, or NULL */
};

/* Any thread. Publishes the body of a publish request, {"data": any JSON value[, "client_id":
 * "..."]}, to channel: with who, only when the hub's current channel rules let who publish
 * there (as a hub client with those roles could); with who NULL (the admin API), always.
 * id_out (33 bytes) gets the message id. 0; GW_EINVAL (channel not valid); GW_EHUBMESSAGE (the
 * body is not that object); GW_EFORBIDDEN; GW_ENOMEM. */
int gw_hub_publish_body(struct gw_hub *h, const char *channel, size_t channel_len, const char *body,
                        size_t body_len, const struct gw_hub_publisher *who, char id_out[33]);

/* Worker thread. The hub w's part belongs to, or NULL when w has none. */
struct gw_hub *gw_hub_of_worker(const struct gw_worker *w);

/* Any thread. */
void gw_hub_get_stats(struct gw_hub *h, struct gw_hub_stats *out);

#endif

/*
 * The "hub" section's types: the gateway-terminated WebSocket endpoint (config_hub.c, src/hub/).
 */
#ifndef GW_CONFIG_TYPES_HUB_T_H
#define GW_CONFIG_TYPES_HUB_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "hub": the gateway-terminated WebSocket endpoint (src/hub/, README "The WebSocket hub"). */
enum gw_hub_backend {
    GW_HUB_BACKEND_LOCAL = 0, /** messages reach this instance's clients only */
    GW_HUB_BACKEND_REDIS,     /** messages go through Redis pub/sub to every instance */
};

/* One entry of "hub.channels": who may subscribe and publish to the channels it names. */
struct gw_hub_rule_conf {
    /** "channels": patterns; '*' matches any run of characters, "{client_id}" the client's id */
    char **channels;
    size_t nchannels;
    /** "subscribe": roles allowed to subscribe; "*" = any client that passed the handshake */
    char **subscribe;
    size_t nsubscribe;
    /** "publish": roles allowed to publish; none = nobody (backends publish via the admin API) */
    char **publish;
    size_t npublish;
};

struct gw_hub_conf {
    /** off by default */
    bool enabled;
    /** "path": clients connect to PATH/{client_id}; default "/ws" */
    char *path;
    /** "service": the service whose policy chain (IP rules, rate limits, auth) runs on the
     * handshake; NULL = none (anyone may connect) */
    char *service;
    /** "publish_path": backends publish on the proxy port with POST
     * PUBLISH_PATH/{channel}/messages, after the policy chain of "service" and the channel
     * rules' "publish" roles; NULL = off (the admin API only) */
    char *publish_path;
    /** "backend": local (default) or redis (the connection settings of rate_limit.redis) */
    enum gw_hub_backend backend;
    /** "redis_channel": the Redis pub/sub channel the instances share; default "gantry:hub" */
    char *redis_channel;
    /** "channels": the access rules; a channel no rule names can be used by nobody */
    struct gw_hub_rule_conf *rules;
    size_t nrules;
    /** "max_message_size": largest message a client may send; default 64KiB */
    uint32_t max_message_bytes;
    /** "max_queue": bytes waiting to be sent to one client before it is cut (1013); 1MiB */
    uint64_t max_queue_bytes;
    /** "max_subscriptions": channels one client may subscribe to; default 64 */
    uint32_t max_subscriptions;
    /** "max_subscribers": clients one channel may have on this instance; default 100000 */
    uint32_t max_subscribers;
    /** "ping_interval": the server pings an idle client this often; default 30s */
    uint64_t ping_interval_ms;
    /** "idle_timeout": a client silent this long (no pong either) is closed; default 75s */
    uint64_t idle_timeout_ms;
    /** "origins": origin patterns a browser's Origin must match; none = any */
    char **origins;
    size_t norigins;
};

#endif

/*
 * A service's "websocket" section's types: upgrades proxied as tunnels (config_websocket.c).
 */
#ifndef GW_CONFIG_TYPES_WEBSOCKET_T_H
#define GW_CONFIG_TYPES_WEBSOCKET_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

/* One entry of "websocket.routes": upgrades on the requests it matches are allowed or not. */
struct gw_ws_route_conf {
    struct gw_match_conf match; /** "match": prefix and methods */
    bool enabled;               /** "enabled", default true */
};

/* "websocket" of a service: WebSocket (and, when listed, other) upgrades proxied as tunnels. */
struct gw_websocket_conf {
    /** false: an Upgrade is ignored (the request goes upstream as a plain request) */
    bool enabled;
    /** "idle_timeout": a tunnel with no byte either way for this long is closed; 0 = never;
     * default 1h */
    uint64_t idle_timeout_ms;
    /** "max_lifetime": a tunnel is closed after this long whatever it does; 0 = never; default 24h
     */
    uint64_t max_lifetime_ms;
    /** "origins": origin patterns (policy/origin.h) a handshake's Origin must match; none = any */
    char **origins;
    size_t norigins;
    /** "protocols": other Upgrade protocols to tunnel (lowercased tokens); "h2c" never */
    char **protocols;
    size_t nprotocols;
    /** "token_query": a query parameter that carries the bearer token of a handshake (for
     * browsers, which cannot set Authorization); NULL = none. Redacted from the logs. */
    char *token_query;
    /** "token_protocol": a prefix; a Sec-WebSocket-Protocol entry that starts with it carries
     * the bearer token of a handshake after it ("access_token.eyJ..."); NULL = none */
    char *token_protocol;
    /** "routes": the first whose match covers a handshake decides whether it may upgrade;
     * none matching: enabled decides */
    struct gw_ws_route_conf *routes;
    size_t nroutes;
};

#endif

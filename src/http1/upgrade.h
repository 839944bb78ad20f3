/*
 * Protocol upgrades (RFC 9110 7.8) and the WebSocket opening handshake's request checks
 * (RFC 6455 4.2.1). Pure functions over a parsed request head: no allocation, no I/O.
 */
#ifndef GW_HTTP1_UPGRADE_H
#define GW_HTTP1_UPGRADE_H

#include "http1/parser.h"

enum gw_upgrade {
    GW_UPGRADE_NONE = 0,  /* no upgrade asked for */
    GW_UPGRADE_WEBSOCKET, /* "websocket" is among the protocols offered */
    GW_UPGRADE_H2C,       /* "h2c" (and not websocket): HTTP/2 over cleartext, always refused */
    GW_UPGRADE_OTHER,     /* any other protocol */
};

/* What the request asks to switch to: GW_UPGRADE_NONE unless its Connection field lists
 * "upgrade" and it has an Upgrade field (m->upgrade, set by the parser). Protocol names are
 * compared without case; a version suffix ("websocket/13") is not websocket. */
enum gw_upgrade gw_http1_upgrade_kind(const struct gw_http1_message *m);

/* The request side of a WebSocket opening handshake (RFC 6455 4.2.1), for a request whose
 * gw_http1_upgrade_kind is GW_UPGRADE_WEBSOCKET: a GET over HTTP/1.1 without a body, exactly one
 * Sec-WebSocket-Key that is the base64 of 16 bytes, exactly one Sec-WebSocket-Version. Returns
 * 0; GW_EWSVERSION when the version is not 13 (the answer is 426 with
 * "Sec-WebSocket-Version: 13", RFC 6455 4.4); GW_EWSHANDSHAKE for anything else (400). */
int gw_http1_ws_check(const struct gw_http1_message *m);

/* Whether the query ("?a=1&b=2", the '?' optional; NULL with len 0 for none) has a parameter
 * `name` with a non-empty value: 1 with *val and *len the value as sent (still escaped), else
 * 0. The first one counts. */
int gw_http1_query_param(const char *query, size_t query_len, const char *name, const char **val,
                         size_t *len);

#endif

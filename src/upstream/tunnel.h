/*
 * Tunnels: a client connection and an upstream connection joined after a 101 (Switching
 * Protocols), relaying bytes both ways until either side ends. Worker thread only.
 *
 * A tunnel owns duplicates of both sockets (the HTTP/1 connection and the upstream connection
 * that carried the handshake close their own handles), a timer and its writes in flight, and
 * nothing else: no request, no snapshot reference (a reload never touches it), no buffer while
 * idle. docs/internals.md "Tunnels".
 */
#ifndef GW_UPSTREAM_TUNNEL_H
#define GW_UPSTREAM_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct gw_tls_stream;
struct gw_worker;

/* What a tunnel keeps of the request that opened it. The strings are copied. */
struct gw_tunnel_info {
    const char *id;       /** request id */
    const char *service;  /** service name */
    const char *peer;     /** client address */
    const char *target;   /** upstream "host:port" */
    uint64_t idle_ms;     /** no byte either way for this long ends it; 0: never */
    uint64_t lifetime_ms; /** it ends this long after it opened; 0: never */
    bool websocket;       /** it speaks RFC 6455: an end it decides sends close frames */
    /** the TLS session of a side that speaks TLS (the HTTPS listener, an https:// target), or
     * NULL: its socket then carries records, and the tunnel decrypts what it reads there and
     * encrypts what it sends. Established sessions; the tunnel's in every case (freed by it
     * even when it fails to start). */
    struct gw_tls_stream *client_tls;
    struct gw_tls_stream *upstream_tls;
};

/* Joins client and upstream (streams whose sockets are duplicated: the callers then close their
 * own handles, which must have no write queued). to_upstream[0..n_up) are client bytes already
 * read (sent upstream first), to_client[0..n_client) upstream bytes already read (sent to the
 * client first), plaintext; both are copied. What a side's TLS session still holds is read
 * next. Counts the tunnel in the worker (w->tunnels, its metrics, the server's connection
 * count). 0, or a negative code (nothing was taken: the caller closes both). */
int gw_tunnel_start(struct gw_worker *w, uv_stream_t *client, const char *to_upstream, size_t n_up,
                    uv_stream_t *upstream, const char *to_client, size_t n_client,
                    const struct gw_tunnel_info *info);

/* The drain timeout passed: every tunnel of the worker ends, a WebSocket one with a close frame
 * 1001 (going away) each way when it is between frames; each closes within a second. */
void gw_tunnels_going_away(struct gw_worker *w);

#endif

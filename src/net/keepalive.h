/*
 * Repeated POSTs to one http:// URL over one kept-alive HTTP/1.1 connection, for the requests
 * gantry sends again and again to the same place (trace exports: trace/exporter.c). Where
 * net/fetch.h pays a connection per request (a handshake, a close, a socket in TIME_WAIT), this
 * connects once and sends each request on the same connection for as long as the server keeps
 * it open, and connects again when it is gone.
 *
 * Contract
 * - Everything runs on the loop's thread. One request at a time: a post while one is in flight
 *   is refused (GW_EINVAL).
 * - gw_keepalive_post sends the body from the caller's memory (it is not copied): it must stay
 *   valid and unchanged until cb has run or gw_keepalive_cancel has returned.
 * - When gw_keepalive_post returns 0, cb runs exactly once, from the loop and never from inside
 *   gw_keepalive_post, unless gw_keepalive_cancel or gw_keepalive_close comes first. err is as
 *   in net/fetch.h (0: a complete response arrived, whatever its status; GW_EFETCH,
 *   GW_EFETCHTIMEOUT with resp->why). The response's body is read and dropped: resp->body is
 *   "" (the caller here only judges the status, and resp->retry_after: the head's Retry-After).
 * - The connection is kept when the response allows it (HTTP/1.1, no "Connection: close", a
 *   body delimited by Content-Length or chunked coding) and dropped otherwise, on any error and
 *   on a timeout. A server closing an idle kept connection is noticed (its EOF is read while
 *   idle) and the next post connects again. A post that fails on a reused connection before any
 *   byte of the response arrived (the server closed it just as the request went out) is sent
 *   once more on a new connection, as browsers do for requests on reused connections.
 * - DNS: the host is resolved (on libuv's thread pool, unless it is an IP literal) at each new
 *   connection, so a changed address is picked up when the old connection ends.
 */
#ifndef GW_NET_KEEPALIVE_H
#define GW_NET_KEEPALIVE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/fetch.h" /* gw_fetch_cb, struct gw_fetch_resp, the URL rules */

struct gw_keepalive;

/* A client for url (http:// only, the rules of gw_fetch_check_url) sending `headers` (extra
 * "name: value\r\n" lines the caller has checked, as gw_fetch_req's; may be NULL) with each
 * POST. Connects only when the first post comes. 0, GW_EINVAL (the URL) or GW_ENOMEM. */
int gw_keepalive_new(struct gw_keepalive **out, uv_loop_t *loop, const char *url,
                     const char *headers);

/* POSTs body (Content-Length framed) and calls cb with the outcome; the whole exchange, a
 * connection (and a second one for the resend above) included, is bounded by timeout_ms (0:
 * GW_FETCH_DEFAULT_TIMEOUT_MS). 0, or GW_EINVAL (a post in flight, the client closed, a body
 * over INT32_MAX bytes), in which case cb never runs. */
int gw_keepalive_post(struct gw_keepalive *k, const void *body, size_t len, uint64_t timeout_ms,
                      gw_fetch_cb cb, void *arg);

/* Abandons the post in flight (cb will not run) and drops the connection it was using, since
 * the request may be half sent. A no-op when none is in flight; callable from inside cb. */
void gw_keepalive_cancel(struct gw_keepalive *k);

/* Cancels, closes the connection and frees the client once the loop has run the close
 * callbacks. NULL-safe. k must not be used afterwards. */
void gw_keepalive_close(struct gw_keepalive *k);

/* Connections opened so far (for tests and status): 1 while one connection carried every
 * post. */
uint64_t gw_keepalive_connections(const struct gw_keepalive *k);

#endif

/*
 * The proxy exchange of one request: target choice, connect or reuse, request head and body
 * upstream, response head and body back through the request's downstream (r->ds).
 * Worker thread only; the request's downstream calls in, the proxy calls back through r->ds.
 */
#ifndef GW_UPSTREAM_PROXY_H
#define GW_UPSTREAM_PROXY_H

#include <sys/types.h>

#include "conn/request-t.h"

/* The policies let the request through (r->upath is the path to send): pick a target and
 * start the exchange. Answers and failures go through r->ds. */
void gw_proxy_start(struct gw_request *r);

/* More client body bytes arrived (or the client shut its side) while the body is forwarded. */
void gw_proxy_client_input(struct gw_request *r);

/* Bytes (nread > 0, already appended to the upstream connection's buffer) or an error / EOF
 * from the request's upstream connection (upstream/pool.c). */
void gw_proxy_upstream_input(struct gw_request *r, ssize_t nread);

/* A pending r->ds->send completed with status (0 or a UV_E* code). */
void gw_proxy_sent(struct gw_request *r, int status);

/* The retry backoff the proxy asked for (r->ds->defer) has passed. */
void gw_proxy_retry_now(struct gw_request *r);

/* A deadline of the request's own (gRPC's grpc-timeout, upstream/h2_upstream.c) passed: handled
 * as the upstream response timeout is (504 before the response started, else the client's
 * stream is reset). */
void gw_proxy_upstream_deadline(struct gw_request *r);

/* The client went away or failed: drop the upstream side (the request is freed next). */
void gw_proxy_abort(struct gw_request *r);

#endif

/*
 * A client HTTP/1 connection and the request it is serving: the HTTP/1 downstream.
 *
 * One request is served at a time; pipelined requests wait, unread or unparsed, in the
 * input buffer, so responses leave in request order. Reading from the client stops while
 * a request body chunk is being written upstream, and reading from the upstream stops while
 * a response chunk is being written to the client: at most one buffer per direction is in
 * flight, which is the backpressure (and the memory bound) in both directions.
 */
#ifndef GW_CONN_CONN_H
#define GW_CONN_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conn/request-t.h"
#include "core/buf.h"
#include "core/list.h"

struct gw_worker;
struct gw_conn_tls;
struct gw__h2_conn;

/* A client connection's read buffer while a request is in flight (a message head may grow it
 * up to the parser's limits); idle connections keep none (the worker's conn_bufs keeps a few). */
#define GW_CONN_BUF_SIZE 16384

struct gw_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /** client timeouts: header, idle, body */
    struct gw_worker *w;
    struct gw_list link;
    char *in; /** input buffer; NULL while idle with nothing buffered */
    size_t in_len;
    size_t in_off; /** first byte not consumed */
    size_t in_cap;
    struct gw_request *req;
    struct gw_conn_tls *tls; /** the TLS session of an HTTPS connection, NULL on plain TCP */
    /** the HTTP/2 session (conn/h2_conn.c) once the connection speaks HTTP/2; then c->req is
     * never set: its requests are streams */
    struct gw__h2_conn *h2;
    struct gw_buf out; /** a response gantry generates itself */
    unsigned open_handles;
    uint8_t timer_kind; /** what c->timer currently measures */
    bool reading;
    bool closing;
    bool writing; /** a client write is pending */
    bool close_after_write;
    bool lingering;     /** closing: write side shut, discarding input briefly */
    bool peer_eof;      /** the client shut its side after a complete request */
    bool detached;      /** its socket went to a tunnel: close the handle, never shut down */
    bool processing;    /** inside gw_conn_process */
    bool process_again; /** a request finished inline meanwhile: loop, do not recurse */
    uint64_t requests;
    size_t unsent;    /** when TIMER_UNSENT was armed: our bytes the kernel held; when
                         TIMER_SEND was: the bytes libuv still queued for the socket */
    uint64_t idle_at; /** loop time (ms) it last went idle: when TIMER_IDLE is due */
    char peer[48];
};

/* Serves an accepted socket (fd: non-blocking; ownership passes). */
void gw_conn_adopt(struct gw_worker *w, int fd);

/* Serves an accepted socket of the HTTPS listener: TLS first, then HTTP/1.1 inside it, with
 * the certificates of the worker's current snapshot (fd: ownership passes). */
void gw_conn_adopt_tls(struct gw_worker *w, int fd);

/* Answers an accepted socket 503 "too many connections" without reading a request, then
 * closes it (the worker has no descriptor to serve it with; fd: ownership passes). */
void gw_conn_refuse(struct gw_worker *w, int fd);

/* Closes the client connection (and aborts its request); safe to call twice. */
void gw_conn_close(struct gw_conn *c);

/* Starts or stops reading from the client. */
void gw_conn_read_start(struct gw_conn *c);
void gw_conn_read_stop(struct gw_conn *c);

/* The worker drains: an HTTP/2 connection says GOAWAY and closes once its streams are done
 * (an HTTP/1 connection is closed by the worker when idle, or after its request). */
void gw_conn_going_away(struct gw_conn *c);

/* The drain timeout passed (a forced stop): the connection closes now; an HTTP/2 one carrying
 * WebSocket tunnels first aborts its requests and sends each tunnel's sides a close frame 1001
 * (going away), closing within about a second. Safe to call again. */
void gw_conn_force_stop(struct gw_conn *c);

/* Frees the finished requests the worker keeps for reuse (w->request_bufs) and their head
 * buffers: the worker's end, on its thread, once no request is left. */
void gw_conn_requests_clear(struct gw_worker *w);

/* The downstream interface of an HTTP/1 connection's requests (conn/request-t.h). */
extern const struct gw_downstream_ops gw_conn_downstream;

/* The connection a request of gw_conn_downstream belongs to. */
static inline struct gw_conn *gw_conn_of(const struct gw_request *r)
{
    return (struct gw_conn *)r->downstream;
}

#endif

/*
 * Helpers shared by the files of upstream/, not used outside it (and its unit tests).
 */
#ifndef GW_UPSTREAM_INTERNAL_H
#define GW_UPSTREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "policy/chain.h"
#include "runtime/worker-t.h"
#include "upstream/breaker.h"
#include "upstream/pool-t.h"
#include "upstream/pool.h"

struct gw_tls_stream;
struct gw_target;

/* upstream/upconn_tls.c: the TLS side of a connection to an https:// target.
 *
 * connect: starts the TCP connect of uc (its tcp handle initialised) to t, then the handshake;
 * cb runs once, with 0 when the handshake completed (the connection is then usable like a plain
 * one), or with a UV_E* code (connect failed) or GW_EUPTLS (the handshake failed: logged with
 * OpenSSL's reason and counted). Never inline. 0 or a negative code (cb will not run). */
int gw__upconn_tls_connect(struct gw_upconn *uc, const struct gw_target *t, uv_connect_cb cb);

/* Reading (replaces pool.c's callbacks for TLS connections): ciphertext in, plaintext into
 * uc->buf for the proxy. read_start also drains plaintext the session still holds (from an idle
 * handle: never inside the caller). */
void gw__upconn_tls_read_start(struct gw_upconn *uc);

/* Writing: gw_upconn_tls_write (pool.h, behind the inline gw_upconn_write) encrypts the
 * caller's buffers (copied: they are free on return) and sends the records: 1 when all went out
 * now, 0 when some wait in a queued write (cb runs when it is written, req->data == uc). */

/* The session of an established connection, handed to a tunnel after a 101 (proxy.c
 * hand_over): reading stops, and the connection closes without a close_notify. NULL when there
 * is none or ciphertext still waits in the handle's queue (it would be lost with the handle).
 * The session may still hold input (gw_tls_stream_has_input). */
struct gw_tls_stream *gw__upconn_tls_take(struct gw_upconn *uc);

/* Closing: a close_notify is sent when the socket takes it at once; the idle handle is closed
 * (counted in uc->open_handles); free releases the session once every handle closed. */
void gw__upconn_tls_close(struct gw_upconn *uc, uv_close_cb cb);
void gw__upconn_tls_free(struct gw_upconn *uc);

/* upstream/h2_upstream.c: HTTP/2 targets. A request's connection to one is "virtual": its tcp
 * handle never connects; uc->tls is a marker (gw__upconn_tls_h2) whose functions route here,
 * and the bytes it sends and reads are one stream of a connection shared in the pool.
 *
 * connect: attaches uc to a connection of its pool that can take a stream (or a new one); cb
 * runs once, never inline: 0 when the connection is up, else its connect error.
 * write: the proxy's HTTP/1.1 request bytes (gw_upconn_write's contract: 1 taken, 0 pending
 * until cb, or a negative code). read_start: response bytes go on into uc->buf. close: the
 * stream is reset unless complete; the extra handle (the deadline timer) closes with cb. */
struct gw_h2up;
int gw__h2up_connect(struct gw_upconn *uc, const struct gw_target *t, uv_connect_cb cb);
int gw__h2up_write(struct gw_upconn *uc, uv_buf_t *bufs, unsigned n, uv_write_cb cb);
void gw__h2up_read_start(struct gw_upconn *uc);
void gw__h2up_close(struct gw_upconn *uc, uv_close_cb cb);
void gw__h2up_free(struct gw_h2up *hs);
/* Closes the pool's HTTP/2 connections without streams idle for idle_ms (0: all of them). */
void gw__h2up_sweep(struct gw_pool *pl, uint64_t now, uint64_t idle_ms);

/* upstream/h2_tls.c: the TLS layer of an HTTP/2 connection to an https:// target (upstream_protocol
 * "h2"), owned by that connection (h2_upstream.c); worker thread of w.
 *
 * new: a client session on the target's TLS context (its verification, SNI, client certificate)
 * offering only "h2" in ALPN, resuming the pool's session when session reuse is on. NULL when
 * out of memory.
 * input: feeds n bytes of ciphertext from s (none at the start: the ClientHello) and, until the
 * handshake completed, runs it and sends its messages on s. 0 (more input needed, or already
 * established), GW__H2TLS_READY once when the handshake completed with the server choosing h2,
 * or GW_EUPTLS when it failed or the server did not choose h2 (logged with the reason and
 * counted: the caller closes the connection), GW_ENOMEM.
 * read: plaintext into buf[0..cap): gw_tls_stream_read's results (0 with *got > 0,
 * GW_TLS_WANT_INPUT, GW_TLS_CLOSED, or negative: logged); keeps new sessions in pl (NULL-safe).
 * write: encrypts and sends p[0..n) on s (gw_tls_io_write's results and cb contract).
 * shutdown: a close_notify when the handshake completed, sent if the socket takes it.
 * fail: the handshake ended otherwise (the socket closed or failed): logged with why and
 * counted like a handshake failure; returns GW_EUPTLS. */
#define GW__H2TLS_READY 1
struct gw__h2tls;
struct gw_worker;
struct gw__h2tls *gw__h2tls_new(struct gw_worker *w, struct gw_pool *pl, const struct gw_target *t);
void gw__h2tls_free(struct gw__h2tls *x);
int gw__h2tls_input(struct gw__h2tls *x, uv_stream_t *s, struct gw_pool *pl, const char *p,
                    size_t n);
int gw__h2tls_read(struct gw__h2tls *x, uv_stream_t *s, struct gw_pool *pl, char *buf, size_t cap,
                   size_t *got);
int gw__h2tls_write(struct gw__h2tls *x, uv_stream_t *s, const char *p, size_t n, uv_write_cb cb,
                    void *data);
void gw__h2tls_shutdown(struct gw__h2tls *x, uv_stream_t *s);
int gw__h2tls_fail(struct gw__h2tls *x, const char *why);

/* upconn_tls.c: the marker an HTTP/2 stream's connection carries in uc->tls (NULL: out of
 * memory), and the stream it names. */
struct gw_upconn_tls *gw__upconn_tls_h2(struct gw_h2up *hs);
struct gw_h2up *gw__upconn_tls_h2_of(const struct gw_upconn *uc);

/* pool.c: the upstream connection went away while idle, or a TLS error ended it. */
void gw__upconn_idle_gone(struct gw_upconn *uc, const char *why);

/* ---- the proxy exchange: proxy.c, try.c, relay.c ---------------------------------------------
 * One request's exchange, in three files: try.c (target choice, connect or reuse, timeouts,
 * retries), relay.c (the request's bytes up, the response's bytes back), proxy.c (the end of
 * the exchange and its failures). All run on the request's worker. The helpers that are cheap
 * and on every request's path are static inline here, so splitting the exchange in three files
 * costs the request nothing (they were inlined within the one file before). */

/* try.c: picks a target this request has not tried yet and connects to it (fresh: never a
 * pooled connection); failures move on to the next target, then answer through r->ds. */
void gw__proxy_pick_and_connect(struct gw_request *r, bool fresh);
/* try.c: schedules a retry of a try that failed with class cls (GW_RETRY_*) or answered
 * status, when the retry policy allows it; true when it did (the caller must not touch r
 * further), false when the caller goes on with the failure or the answer. */
bool gw__proxy_try_again(struct gw_request *r, int cls, int status);
/* try.c: ends the current try for the balancer, the target's breaker and outlier detection;
 * nothing when no try is running. */
void gw__proxy_end_try(struct gw_request *r);
/* try.c: (re)starts the upstream's inactivity timer with the response (or per-try) timeout. */
void gw__proxy_start_response_timer(struct gw_request *r);
/* try.c: adds n to the target's metric word (GW_MX_T_*), when metrics are on. */
void gw__proxy_mx_target(struct gw_request *r, unsigned word, uint64_t n);

/* relay.c: the connection r->up is ready: builds the request head (once) and sends it, then
 * the body as the client sends it. */
void gw__proxy_send_request(struct gw_request *r);
/* relay.c: moves what the upstream sent (the response head, then body bytes) to the client as
 * far as the client takes it; ends the exchange when the response is complete. */
void gw__proxy_pump_response(struct gw_request *r);

/* proxy.c: answers an upstream failure before any response byte went out (with the stage's
 * fallback when there is one and the failure is the upstream's, else with a). */
void gw__proxy_respond_failure(struct gw_request *r, struct gw_answer *a);
/* proxy.c: ends the exchange with an error: a JSON answer while the client has seen nothing,
 * else a closed connection. */
void gw__proxy_fail_with(struct gw_request *r, struct gw_answer *a);
/* proxy.c: the response is complete (or the 101 went out): the upstream connection goes back
 * to the pool (or to a tunnel) and the request finishes. */
void gw__proxy_finish(struct gw_request *r);
/* proxy.c: the upstream connection failed under the exchange: a read ended (err: UV_EOF or
 * the read's error) or a write of the request failed (writing, err: the write's error). The
 * same rules whichever side saw it first: an idempotent request with nothing answered that
 * was sent on a reused connection goes to a fresh one, the retry policy may try again, else
 * the exchange fails. */
void gw__proxy_upstream_lost(struct gw_request *r, ssize_t err, bool writing);

/* The index of the request's service in its snapshot: its row in the metrics' layout. */
static inline size_t gw__proxy_svc_index(const struct gw_request *r)
{
    return (size_t)(r->svc - r->snap->services);
}

/* The request's outcome for the service's circuit breaker, once: upstream failures and 5xx
 * answers count against it, client faults and aborts do not. */
static inline void gw__proxy_breaker_done(struct gw_request *r, int outcome)
{
    if (!r->breaker_taken)
        return;
    r->breaker_taken = false;
    const struct gw_service *svc = r->svc;
    uint64_t ms = (uv_hrtime() - r->t_upstream) / 1000000;
    gw_breaker_record(&svc->live->breaker, uv_now(&r->w->loop), outcome, ms, r->breaker_probe);
}

/* Ends the current try and lets go of the upstream connection: back to the pool when reusable,
 * else closed. Nothing more when the request has none. */
static inline void gw__proxy_detach_upstream(struct gw_request *r, bool reusable)
{
    struct gw_upconn *uc = r->up;
    gw__proxy_end_try(r);
    r->t_upstream_done = uv_hrtime(); /* the last try's end: upstream_ms spans every try */
    if (!uc)
        return;
    r->up = NULL;
    uv_timer_stop(&uc->timer);
    uc->req = NULL;
    if (reusable)
        gw_pool_release(uc);
    else
        gw_upconn_close(uc);
}

/* gw__proxy_fail_with with the answer of error err (core/error.h). */
static inline void gw__proxy_fail(struct gw_request *r, int err)
{
    struct gw_answer a;
    gw_answer_init(&a, err);
    gw__proxy_fail_with(r, &a);
}

#endif

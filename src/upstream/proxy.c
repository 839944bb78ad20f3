/*
 * The proxy exchange: target choice, connect or reuse, request head and body upstream,
 * response head and body back to the client.
 *
 * Backpressure: a request body chunk is written upstream while the client is not read;
 * a response chunk is written to the client while the upstream is not read. Each side
 * resumes when its write completes, so at most one buffer per direction is in flight.
 * Writes are tried inline first (uv_try_write); the common small exchange never waits.
 *
 * Failure rules: a failure before any response byte reached the client gets a JSON error
 * (502/503/504); after that, the client connection is closed, so a truncated body can never
 * look complete. An idempotent request whose reused keep-alive connection died before
 * answering is retried once on a fresh connection.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "upstream/proxy.h"

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "http1/cookie.h"
#include "http1/upgrade.h"
#include "metrics/metrics.h"
#include "policy/chain.h"
#include "runtime/worker-t.h"
#include "tls/stream.h"
#include "trace/trace.h"
#include "upstream/breaker.h"
#include "upstream/internal.h"
#include "upstream/pool.h"
#include "upstream/retry.h"
#include "upstream/rewrite.h"
#include "upstream/target_state.h"
#include "upstream/tunnel.h"

#define MAX_BUFS 32

static void pick_and_connect(struct gw_request *r, bool fresh);
static void pump_request(struct gw_request *r);
static void pump_response(struct gw_request *r);

/* Metrics at their source (metrics/metrics.h): the request's worker area, when metrics are on. */
static size_t svc_index(const struct gw_request *r)
{
    return (size_t)(r->svc - r->snap->services);
}

static void mx_target(struct gw_request *r, unsigned word, uint64_t n)
{
    if (r->mx)
        gw_mx_target_add(r->mx, &r->snap->metrics->layout, svc_index(r),
                         (size_t)(r->target - r->svc->targets), word, n);
}

static void mx_service(struct gw_request *r, unsigned word)
{
    if (r->mx)
        gw_mx_service_inc(r->mx, svc_index(r), word);
}

/* Ends the current try for the balancer: in-flight count down, outcome and latency in (the
 * EWMA of p2c_ewma learns from them). */
static void end_try(struct gw_request *r)
{
    if (!r->try_acquired)
        return;
    r->try_acquired = false;
    uint64_t t_end = uv_hrtime();
    if (r->trace)
        gw_trace_try_end(r, t_end);
    const struct gw_service *svc = r->svc;
    uint64_t ns = t_end - r->t_try;
    uint64_t us = ns / 1000;
    if (r->mx) {
        mx_target(r, GW_MX_T_TRIES, 1);
        mx_target(r, GW_MX_T_TRY_NS, ns);
        if (!r->try_ok && !r->try_ignore)
            mx_target(r, GW_MX_T_FAILURES, 1);
        gw_mx_hist_record(r->mx, r->snap->metrics->layout.svc[svc_index(r)].hist_try, ns);
    }
    gw_balancer_release(svc->live->balancer, r->target_index, r->try_ok || r->try_ignore, us);
    if (r->tbreaker_taken) {
        r->tbreaker_taken = false;
        int outcome = r->try_ignore ? GW_BREAKER_IGNORE
                                    : (r->try_ok ? GW_BREAKER_SUCCESS : GW_BREAKER_FAILURE);
        gw_breaker_record(svc->targets[r->target_index].breaker, uv_now(&r->w->loop), outcome,
                          us / 1000, r->tbreaker_probe);
    }
    /* Passive health (outlier detection): upstream failures and 5xx in a row eject. */
    const struct gw_service_conf *sc = svc->conf;
    struct gw_target_state *st = svc->targets[r->target_index].state;
    if (!sc->outlier.enabled || !st || r->try_ignore)
        return;
    struct gw_outlier_params p = {sc->outlier.consecutive_failures, sc->outlier.base_ejection_ms,
                                  sc->outlier.max_ejection_ms, sc->outlier.max_ejection_percent};
    uint64_t now = uv_now(&r->w->loop);
    unsigned ejected = gw_target_states_ejected(svc->states, svc->ntargets, now);
    if (gw_target_state_record(st, now, !r->try_ok, &p, ejected, (unsigned)svc->ntargets)) {
        mx_target(r, GW_MX_T_EJECTIONS, 1);
        gw_log_warn("upstream %s: ejected from service %s after %u consecutive failures",
                    r->target->key, sc->name, sc->outlier.consecutive_failures);
    }
}

/* The request's outcome for the service's circuit breaker, once: upstream failures and 5xx
 * answers count against it, client faults and aborts do not. */
static void breaker_done(struct gw_request *r, int outcome)
{
    if (!r->breaker_taken)
        return;
    r->breaker_taken = false;
    const struct gw_service *svc = r->svc;
    uint64_t ms = (uv_hrtime() - r->t_upstream) / 1000000;
    gw_breaker_record(&svc->live->breaker, uv_now(&r->w->loop), outcome, ms, r->breaker_probe);
}

static void detach_upstream(struct gw_request *r, bool reusable)
{
    struct gw_upconn *uc = r->up;
    end_try(r);
    if (!uc)
        return;
    r->up = NULL;
    uv_timer_stop(&uc->timer);
    if (!r->t_upstream_done)
        r->t_upstream_done = uv_hrtime();
    uc->req = NULL;
    if (reusable)
        gw_pool_release(uc);
    else
        gw_upconn_close(uc);
}

void gw_proxy_abort(struct gw_request *r)
{
    r->try_ignore = true; /* the client went away: the target did nothing wrong */
    breaker_done(r, GW_BREAKER_IGNORE);
    detach_upstream(r, false);
}

/*
 * Answers an upstream failure before any response byte went out: with the stage's fallback
 * (r->fallback, the response cache's stale response under stale-if-error) when there is one
 * and the failure is the upstream's (unreachable, reset, invalid, timed out, no target, circuit
 * open), else with a.
 */
static void respond_failure(struct gw_request *r, struct gw_answer *a)
{
    if (r->fallback != NULL) {
        switch (a->err) {
        case GW_EUPSTREAM:
        case GW_EUPCONNECT:
        case GW_EUPRESET:
        case GW_EUPGARBAGE:
        case GW_ENOTARGET:
        case GW_ECIRCUITOPEN:
        case GW_EUPTIMEOUT: {
            struct gw_answer *fb = r->fallback;
            r->fallback_used = true;
            fb->close = a->close;
            r->ds->respond(r, fb);
            return;
        }
        default:
            break;
        }
    }
    r->ds->respond(r, a);
}

/* Ends the exchange with an error: a JSON answer if the client has seen nothing yet,
 * otherwise a closed connection. */
static void fail_with(struct gw_request *r, struct gw_answer *a)
{
    if (r->trace)
        gw_trace_failed(r, a->err);
    /* Failures of the upstream count against the circuit; a client's bad body does not. */
    int status = a->status ? a->status : gw_err_http_status(a->err);
    breaker_done(r, status >= 500 ? GW_BREAKER_FAILURE : GW_BREAKER_IGNORE);
    if (status < 500)
        r->try_ignore = true;
    detach_upstream(r, false);
    if (r->resp_started || r->resp_writing) {
        r->ds->abort(r);
        return;
    }
    /* Unless the whole body went upstream, some of its bytes are still in our buffer or on
     * the wire: parsing on after them would read body bytes as a request. Close instead. */
    a->close = a->close || !r->body_sent;
    respond_failure(r, a);
}

static void fail(struct gw_request *r, int err)
{
    struct gw_answer a;
    gw_answer_init(&a, err);
    fail_with(r, &a);
}

static void pick_and_connect(struct gw_request *r, bool fresh);

/*
 * The retry policy (docs/resilience.md): a failure of class `cls` (or an answer with a
 * retryable status) is retried on another target when nothing reached the client, the
 * request has no body to replay, the method allows it, attempts and the service's retry
 * budget remain. The failed try is dropped and the next one starts after a jittered backoff.
 * Returns true when a retry was scheduled (the caller must not touch r further).
 */
static bool try_again(struct gw_request *r, int cls, int status)
{
    const struct gw_service *svc = r->svc;
    if (!svc->retries_on || r->resp_started || r->resp_writing || r->msg.body != GW_BODY_NONE)
        return false;
    if (!gw_retry_should(&svc->retry, r->msg.method_id, cls, status, false, r->retries))
        return false;
    /* A try that already waited the whole response timeout is not retried: that would
     * multiply the client's wait. Timeouts are retried when a per-try timeout cuts tries
     * short (Envoy's model). */
    if (cls == GW_RETRY_TIMEOUT && !svc->retry.per_try_timeout_ms)
        return false;
    if (!gw_retry_budget_allow(&svc->live->retry_budget, uv_now(&r->w->loop))) {
        mx_service(r, GW_MX_S_BUDGET_REFUSED);
        return false;
    }
    r->retries++;
    mx_service(r, GW_MX_S_RETRIES);
    if (r->trace)
        gw_trace_try_failed(r, cls);
    detach_upstream(r, false);
    r->head_sent = false;
    /* A head write still pending on the failed try died with its connection. */
    r->body_writing = false;
    r->body_consumed = 0;
    r->resp_head_done = false;
    r->resp_done = false;
    r->status = 0;
    /* Another target when one is left; the same one again otherwise. */
    bool all_tried = true;
    for (size_t i = 0; i < svc->ntargets; i++)
        if (!(r->tried[i / 64] & (UINT64_C(1) << (i % 64))))
            all_tried = false;
    if (all_tried)
        memset(r->tried, 0, sizeof(r->tried));
    uint64_t ms = gw_retry_backoff_ms(&svc->retry, r->retries - 1, gw_random_u64());
    gw_log_info("upstream %s: retry %u of request %s in %llu ms", r->target->key, r->retries, r->id,
                (unsigned long long)ms);
    if (ms == 0)
        pick_and_connect(r, true);
    else
        r->ds->defer(r, ms);
    return true;
}

static void on_up_timeout(uv_timer_t *t)
{
    struct gw_upconn *uc = t->data;
    struct gw_request *r = uc->req;
    if (!r || r->up != uc)
        return;
    if (!r->up->connected) {
        if (r->up->tls && gw_upconn_tls_connected(r->up)) {
            /* Connected, and the TLS handshake never finished: a server that is no TLS
             * server, or a stalled one. */
            gw_mx_inc(&r->w->mx.up_tls_failures);
            gw_log_warn("upstream %s: TLS handshake failed: timed out after %llu ms (request %s)",
                        r->target->key, (unsigned long long)r->svc->conf->connect_timeout_ms,
                        r->id);
        } else {
            gw_log_warn("upstream %s: connect timeout (request %s)", r->target->key, r->id);
        }
        mx_target(r, GW_MX_T_CONNECT_ERRORS, 1);
        detach_upstream(r, false);
        if (!r->head_sent) {
            pick_and_connect(r, true);
            return;
        }
        fail(r, GW_EUPCONNECT);
        return;
    }
    gw_log_warn("upstream %s: response timeout (request %s)", r->target->key, r->id);
    mx_target(r, GW_MX_T_TIMEOUTS, 1);
    if (!r->resp_head_done && try_again(r, GW_RETRY_TIMEOUT, 0))
        return;
    fail(r, GW_EUPTIMEOUT);
}

void gw_proxy_retry_now(struct gw_request *r)
{
    pick_and_connect(r, true);
}

void gw_proxy_upstream_deadline(struct gw_request *r)
{
    if (r->up)
        on_up_timeout(&r->up->timer);
}

static void start_response_timer(struct gw_request *r)
{
    uint64_t ms = r->svc->conf->response_timeout_ms;
    /* A per-try timeout bounds each try's wait for its response head. */
    if (r->svc->retries_on && r->svc->retry.per_try_timeout_ms && !r->resp_head_done &&
        r->svc->retry.per_try_timeout_ms < ms)
        ms = r->svc->retry.per_try_timeout_ms;
    if (r->up)
        uv_timer_start(&r->up->timer, on_up_timeout, ms, 0);
}

/* ---- bodies, both ways ------------------------------------------------------------------- */

/* Where one pump's output goes: buffers for one write, and the chunk-size lines they use. */
struct out {
    uv_buf_t bufs[MAX_BUFS];
    unsigned n;
    unsigned slot; /* next r->scratch line */
};

#define SCRATCH_LINES                                                                              \
    (sizeof(((struct gw_request *)0)->scratch) / sizeof(((struct gw_request *)0)->scratch[0]))

static bool out_room(const struct out *o)
{
    return o->n + 3 <= MAX_BUFS && o->slot < SCRATCH_LINES;
}

static void out_raw(struct out *o, const char *data, size_t len)
{
    o->bufs[o->n++] = uv_buf_init((char *)(uintptr_t)data, (unsigned)len);
}

/* data as one chunk: size line, data, CRLF. */
static void out_chunk(struct gw_request *r, struct out *o, const char *data, size_t len)
{
    char *line = r->scratch[o->slot++];
    int k = snprintf(line, sizeof(r->scratch[0]), "%zx\r\n", len);
    out_raw(o, line, (size_t)k);
    out_raw(o, data, len);
    out_raw(o, "\r\n", 2);
}

/*
 * Relays body bytes p[0..avail) of a body framed as `in` (its chunked decoder dec, or *left
 * bytes of a Content-Length) into o, re-chunked when rechunk. *consumed counts the input bytes
 * used, framing included: bytes a decoder consumed are gone even when they produced no data, so
 * the caller drops all *consumed bytes from its buffer whether or not o got anything. *done when
 * the body ended (the last chunk is in o when rechunk). payload adds the data bytes; more than
 * max (0: no cap) is GW_EBODYTOOLARGE. 0 or a negative code (a bad chunked body).
 */
/* Inlined into both pumps: it sits on every response's path, and a call with this many
 * arguments costs more than the common Content-Length case does. */
__attribute__((always_inline)) static inline int
relay(struct gw_request *r, struct out *o, enum gw_http1_body in, struct gw_chunked_decoder *dec,
      uint64_t *left, const char *p, size_t avail, bool rechunk, uint64_t *payload, uint64_t max,
      size_t *consumed, bool *done)
{
    size_t used_total = 0;
    int rc = 0;
    if (in == GW_BODY_LENGTH) {
        size_t take = *left < avail ? (size_t)*left : avail;
        if (take) {
            out_raw(o, p, take);
            *left -= take;
            *payload += take;
            used_total = take;
        }
        *done = *left == 0;
    } else if (in == GW_BODY_CHUNKED) {
        while (out_room(o) && used_total < avail) {
            size_t used;
            const char *data;
            size_t dlen;
            rc = gw_chunked_decode(dec, p + used_total, avail - used_total, &used, &data, &dlen);
            if (rc < 0)
                break;
            used_total += used;
            if (rc == GW_CHUNKED_DATA) {
                *payload += dlen;
                if (max && *payload > max) {
                    rc = GW_EBODYTOOLARGE;
                    break;
                }
                if (rechunk)
                    out_chunk(r, o, data, dlen);
                else
                    out_raw(o, data, dlen);
            } else if (rc == GW_CHUNKED_DONE) {
                if (rechunk)
                    out_raw(o, "0\r\n\r\n", 5);
                *done = true;
                break;
            }
        }
    } else if (in == GW_BODY_UNTIL_EOF && avail) {
        if (rechunk)
            out_chunk(r, o, p, avail);
        else
            out_raw(o, p, avail);
        *payload += avail;
        used_total = avail;
    }
    *consumed = used_total;
    return rc < 0 ? rc : 0;
}

/* ---- request: client -> upstream ---------------------------------------------------- */

static void after_request_write(struct gw_request *r)
{
    r->head_sent = true;
    if (r->body_consumed)
        r->ds->body_consume(r, r->body_consumed);
    r->body_consumed = 0;
    if (r->body_done) {
        r->body_sent = true;
        if (!r->resp_head_done)
            start_response_timer(r);
        return;
    }
    if (!r->resp_head_done && r->up)
        uv_timer_stop(&r->up->timer); /* waiting on the client now: its body timer runs */
    pump_request(r);
}

static void on_up_written(uv_write_t *req, int status)
{
    struct gw_upconn *uc = req->data;
    struct gw_request *r = uc->req;
    if (!r)
        return;
    r->body_writing = false;
    if (status < 0) {
        gw_log_warn("upstream %s: write failed: %s (request %s)", r->target->key,
                    uv_strerror(status), r->id);
        fail(r, GW_EUPRESET);
        return;
    }
    after_request_write(r);
}

static int upstream_write(struct gw_request *r, uv_buf_t *bufs, unsigned n)
{
    return gw_upconn_write(r->up, bufs, n, on_up_written);
}

/* Appends the payload slices of o to the filter's body; true when they fit under max. */
static bool collect_into(struct gw_body_filter *f, const struct out *o)
{
    size_t n = 0;
    for (unsigned i = 0; i < o->n; i++)
        n += o->bufs[i].len;
    /* The cap: max, plus what one read brought (it is checked once that is in). */
    f->body.max = f->body.len + n + 1;
    for (unsigned i = 0; i < o->n; i++)
        if (gw_buf_append(&f->body, o->bufs[i].base, o->bufs[i].len) < 0)
            return false;
    return f->body.len <= f->max;
}

/*
 * The request body for a body filter (struct gw_body_filter): collected whole, then filtered,
 * then sent with the head in o. Returns 1 while it waits for the client (or after it failed
 * the request), 0 when o holds what to send: the head and the filtered body, or, when the body
 * outgrew the filter, the head with the body's own framing and what was collected (the rest
 * then streams as usual).
 */
static __attribute__((noinline)) int collect_request(struct gw_request *r, struct out *o)
{
    struct gw_body_filter *f = r->req_filter;
    bool fits = true;
    while (!r->body_done && fits) {
        const char *p;
        size_t avail = r->ds->body_peek(r, &p);
        size_t consumed = 0;
        struct out tmp;
        tmp.n = tmp.slot = 0;
        int rc = relay(r, &tmp, r->msg.body, &r->req_dec, &r->body_left, p, avail, false,
                       &r->body_in, r->svc->conf->max_body_bytes, &consumed, &r->body_done);
        if (rc < 0) {
            if (rc != GW_EBODYTOOLARGE)
                gw_log_info("client %s: bad chunked body: %s (request %s)", r->peer,
                            gw_strerror(rc), r->id);
            fail(r, rc);
            return 1;
        }
        fits = collect_into(f, &tmp);
        if (consumed)
            r->ds->body_consume(r, consumed);
        if (fits && !r->body_done && consumed == 0) {
            if (r->ds->body_want(r) < 0)
                r->ds->abort(r);
            return 1;
        }
    }
    int rc = 0;
    struct gw_answer a;
    gw_answer_init(&a, 0);
    if (fits)
        rc = f->done(r, f, &a);
    else if (f->refuse_larger)
        rc = GW_EBODYTOOLARGE;
    if (rc < 0 && a.err == 0) {
        a.err = rc;
        a.close = a.close || rc == GW_ENOMEM;
    }
    if (rc == 0)
        rc = fits ? gw_rewrite_request_finish(r, GW_BODY_LENGTH, f->body.len)
                  : gw_rewrite_request_finish(r, r->msg.body, r->msg.content_length);
    r->req_filter = NULL; /* f (the stage's) stays alive: o refers to its body */
    if (rc < 0) {
        if (a.err == 0)
            gw_answer_init(&a, rc);
        fail_with(r, &a);
        return 1;
    }
    out_raw(o, r->head.data, r->head.len);
    if (f->body.len && (fits || r->msg.body != GW_BODY_CHUNKED))
        out_raw(o, f->body.data, f->body.len);
    else if (f->body.len)
        out_chunk(r, o, f->body.data, f->body.len);
    if (!fits && r->body_done && r->msg.body == GW_BODY_CHUNKED)
        out_raw(o, "0\r\n\r\n", 5);
    return 0;
}

static void pump_request(struct gw_request *r)
{
    struct out o;
    size_t consumed = 0;

    if (!r->up || !r->up->connected || r->body_writing)
        return;
    o.n = o.slot = 0;
    if (r->req_filter) {
        if (collect_request(r, &o) != 0)
            return;
    } else if (!r->head_sent) {
        out_raw(&o, r->head.data, r->head.len);
    }
    if (!r->body_done) {
        const char *p;
        size_t avail = r->ds->body_peek(r, &p);
        int rc = relay(r, &o, r->msg.body, &r->req_dec, &r->body_left, p, avail, true, &r->body_in,
                       r->svc->conf->max_body_bytes, &consumed, &r->body_done);
        if (rc < 0) {
            if (rc != GW_EBODYTOOLARGE)
                gw_log_info("client %s: bad chunked body: %s (request %s)", r->peer,
                            gw_strerror(rc), r->id);
            fail(r, rc);
            return;
        }
    }
    if (o.n == 0) {
        /* Only framing (a chunk-size line, a chunk's CRLF) was there: consumed all the same,
         * or the decoder, which moved past it, would read it again. */
        if (consumed)
            r->ds->body_consume(r, consumed);
        /* Waiting for the client's body bytes. */
        if (r->ds->body_want(r) < 0)
            r->ds->abort(r);
        return;
    }
    r->body_consumed = consumed;
    int rc = upstream_write(r, o.bufs, o.n);
    if (rc < 0) {
        gw_log_warn("upstream %s: write failed: %s (request %s)", r->target->key, uv_strerror(rc),
                    r->id);
        fail(r, GW_EUPRESET);
        return;
    }
    if (rc == 0) {
        /* The write refers into the client's buffer: no reading into it until done. An
         * upstream that stops reading must not hold us forever: the response timeout also
         * bounds how long one write may wait. */
        r->body_writing = true;
        if (consumed)
            r->ds->body_hold(r);
        start_response_timer(r);
        return;
    }
    after_request_write(r);
}

void gw_proxy_client_input(struct gw_request *r)
{
    if (r->body_done)
        return; /* pipelined bytes of the next request wait in the buffer */
    pump_request(r);
}

static void send_request(struct gw_request *r)
{
    if (!r->head_built) {
        int rc = gw_rewrite_request_head(r);
        if (rc < 0) {
            fail(r, rc);
            return;
        }
        r->head_built = true;
        /* The head is copied into r->head: its bytes in the input buffer can go. */
        r->ds->body_consume(r, r->msg.head_len);
        if (r->msg.body == GW_BODY_CHUNKED)
            gw_chunked_init(&r->req_dec, 0, 0);
        const char *p;
        if (r->msg.expect_continue && !r->body_done && r->ds->body_peek(r, &p) == 0) {
            /* We answer the expectation ourselves once the upstream is ready for the body
             * (RFC 9110 10.1.1); the upstream never sees Expect. */
            if (r->ds->send_continue(r) < 0) {
                r->ds->abort(r);
                return;
            }
        }
    } else if ((r->secret_len || r->target->conf->secret_header) &&
               gw_rewrite_request_target(r) < 0) {
        fail(r, GW_ENOMEM);
        return;
    }
    gw_http1_parser_init_response(&r->rparser, &r->snap->cfg->http, r->msg.method_id);
    gw_upconn_read_start(r->up);
    pump_request(r);
}

static void on_connected(uv_connect_t *creq, int status)
{
    struct gw_upconn *uc = creq->data;
    struct gw_request *r = uc->req;
    if (!r) {
        gw_upconn_close(uc);
        return;
    }
    uv_timer_stop(&uc->timer);
    if (status < 0) {
        /* A failed TLS handshake was logged with its reason where it failed. */
        if (status != GW_EUPTLS)
            gw_log_warn("upstream %s: connect failed: %s (request %s)", r->target->key,
                        uv_strerror(status), r->id);
        mx_target(r, GW_MX_T_CONNECT_ERRORS, 1);
        detach_upstream(r, false);
        pick_and_connect(r, true);
        return;
    }
    uc->connected = true;
    send_request(r);
}

/* Every target is down, ejected or behind an open circuit: 503 naming the service. */
static void no_target(struct gw_request *r)
{
    /* No usable target is the service failing: it counts against the service's circuit. */
    breaker_done(r, GW_BREAKER_FAILURE);
    mx_service(r, GW_MX_S_NO_TARGET);
    detach_upstream(r, false);
    if (r->resp_started || r->resp_writing) {
        r->ds->abort(r);
        return;
    }
    struct gw_answer a;
    gw_answer_init(&a, GW_ENOTARGET);
    a.service = r->svc->conf->name;
    a.close = !r->body_sent;
    respond_failure(r, &a);
}

/* Targets marked down by active health checks or ejected by outlier detection are skipped. */
struct usable_ctx {
    const struct gw_service *svc;
    uint64_t now_ms;
};

static bool target_usable(void *ctx, size_t i)
{
    const struct usable_ctx *u = ctx;
    const struct gw_target_state *st = u->svc->targets[i].state;
    return !st || gw_target_state_usable(st, u->now_ms);
}

/*
 * Picks a target this request has not tried yet and connects to it (or reuses a pooled
 * connection). Connect failures come back here and move on to the next untried target;
 * when every target was tried the request fails with 502 (503 when there was none).
 */
static void pick_and_connect(struct gw_request *r, bool fresh)
{
    const struct gw_service *svc = r->svc;
    struct gw_worker *w = r->w;
    struct gw_balance_key key = {r->hash_key, r->hash_key_len};
    struct usable_ctx uctx = {svc, uv_now(&w->loop)};
    int idx;
    if (svc->conf->lb_sticky_cookie) {
        bool stuck = false;
        idx =
            gw_balancer_pick_sticky(svc->live->balancer, r->sticky_cookie, strlen(r->sticky_cookie),
                                    &key, target_usable, &uctx, r->tried, gw_random_u64(), &stuck);
        r->sticky_set[0] = '\0';
        if (idx >= 0 && !stuck)
            gw_balancer_sticky_value(svc->live->balancer, idx, r->sticky_set);
    } else {
        idx = gw_balancer_pick(svc->live->balancer, &key, target_usable, &uctx, r->tried,
                               gw_random_u64());
    }
    if (idx < 0) {
        /* Nothing left to try: after connect failures that is a 502; when no target was
         * usable at all (down, ejected, circuit open), or a policy retry found none, 503. */
        if (r->tries && !r->retries) {
            fail(r, GW_EUPCONNECT);
            return;
        }
        no_target(r);
        return;
    }
    gw_balance_exclude_add(r->tried, idx);
    if (svc->breaker_on) {
        uint64_t retry_after_ms;
        struct gw_breaker *tb = svc->targets[idx].breaker;
        int brc = gw_breaker_acquire(tb, uv_now(&w->loop), &retry_after_ms);
        if (brc == GW_BREAKER_REJECT) {
            /* This target's circuit is open: another one, or 503 when none is left. */
            r->target = &svc->targets[idx];
            pick_and_connect(r, fresh);
            return;
        }
        r->tbreaker_taken = true;
        r->tbreaker_probe = brc == GW_BREAKER_ALLOW_PROBE;
    }
    r->target_index = idx;
    r->target = &svc->targets[idx];
    r->tries++;
    r->try_ok = false;
    r->ttfb_done = false;
    r->t_try = uv_hrtime();
    gw_balancer_acquire(svc->live->balancer, idx);
    r->try_acquired = true;
    if (r->trace)
        gw_trace_try_begin(r);
    /* A request that could not be retried on another connection gets a pooled one only
     * after a peek proves it still open. */
    bool verify = !gw_retry_idempotent(r->msg.method_id) || r->msg.body != GW_BODY_NONE;
    struct gw_upconn *uc = fresh ? NULL : gw_pool_acquire(w, r->target, verify);
    if (uc) {
        uc->req = r;
        r->up = uc;
        send_request(r);
        return;
    }
    int rc = gw_upconn_connect(w, r->target, r, &uc, on_connected);
    if (rc < 0) {
        gw_log_warn("upstream %s: cannot connect: %s (request %s)", r->target->key, gw_strerror(rc),
                    r->id);
        mx_target(r, GW_MX_T_CONNECT_ERRORS, 1);
        end_try(r);
        pick_and_connect(r, true);
        return;
    }
    r->up = uc;
    uv_timer_start(&uc->timer, on_up_timeout, svc->conf->connect_timeout_ms, 0);
}

/* The balancer's inputs that come from the request head, copied now: the head's bytes may
 * move before a retry picks again. */
static void capture_balance_inputs(struct gw_request *r)
{
    const struct gw_service_conf *sc = r->svc->conf;
    const char *v = r->peer;
    size_t n = strlen(v);
    if (sc->lb_hash_kind == GW_LB_HASH_HEADER && sc->lb_hash_name) {
        int i = gw_http1_find_header(&r->msg, sc->lb_hash_name, strlen(sc->lb_hash_name));
        v = i >= 0 ? r->msg.headers[i].value : NULL;
        n = i >= 0 ? r->msg.headers[i].value_len : 0;
    } else if (sc->lb_hash_kind == GW_LB_HASH_COOKIE && sc->lb_hash_name) {
        v = gw_http1_find_cookie(&r->msg, sc->lb_hash_name, &n);
    }
    r->hash_key_len = v ? (n < sizeof(r->hash_key) ? n : sizeof(r->hash_key)) : 0;
    if (r->hash_key_len)
        memcpy(r->hash_key, v, r->hash_key_len);
    if (sc->lb_sticky_cookie) {
        size_t cl = 0;
        const char *c = gw_http1_find_cookie(&r->msg, sc->lb_sticky_cookie, &cl);
        if (c && cl < sizeof(r->sticky_cookie)) {
            memcpy(r->sticky_cookie, c, cl);
            r->sticky_cookie[cl] = '\0';
        }
    }
}

/* Open circuit: fail fast with 503 naming the service, never touching the upstream. */
static bool circuit_rejects(struct gw_request *r)
{
    const struct gw_service *svc = r->svc;
    uint64_t retry_after_ms = 0;
    if (!svc->breaker_on)
        return false;
    int rc = gw_breaker_acquire(&svc->live->breaker, uv_now(&r->w->loop), &retry_after_ms);
    if (rc != GW_BREAKER_REJECT) {
        r->breaker_taken = true;
        r->breaker_probe = rc == GW_BREAKER_ALLOW_PROBE;
        return false;
    }
    mx_service(r, GW_MX_S_CIRCUIT_REFUSED);
    struct gw_answer a;
    gw_answer_init(&a, GW_ECIRCUITOPEN);
    a.service = svc->conf->name;
    a.retry_after = (retry_after_ms + 999) / 1000;
    if (a.retry_after == 0)
        a.retry_after = 1;
    a.close = !r->body_done;
    respond_failure(r, &a);
    return true;
}

void gw_proxy_start(struct gw_request *r)
{
    r->t_upstream = uv_hrtime();
    if (circuit_rejects(r))
        return;
    if (r->svc->retries_on)
        gw_retry_budget_on_request(&r->svc->live->retry_budget, uv_now(&r->w->loop));
    capture_balance_inputs(r);
    pick_and_connect(r, false);
}

/* ---- response: upstream -> client --------------------------------------------------- */

/* A HEAD, 204 or 304 answer whose head still announced a body (Content-Length > 0 or
 * Transfer-Encoding): a confused upstream might send that body late, and on a pooled
 * connection it would be read as the next request's response. Such a connection is not
 * reused. */
static bool bodiless_with_framing(const struct gw_request *r)
{
    const struct gw_http1_message *m = &r->rmsg;
    if (m->body != GW_BODY_NONE || m->status < 200)
        return false;
    if (gw_http1_find_header(m, "transfer-encoding", 17) >= 0)
        return true;
    int i = gw_http1_find_header(m, "content-length", 14);
    return i >= 0 && !(m->headers[i].value_len == 1 && m->headers[i].value[0] == '0');
}

static void hand_over(struct gw_request *r);

static void finish(struct gw_request *r)
{
    if (r->upgraded) {
        hand_over(r);
        return;
    }
    struct gw_upconn *uc = r->up;
    bool reusable =
        uc && r->rmsg.keep_alive && r->body_sent && uc->off == uc->len && !bodiless_with_framing(r);
    if (uc)
        uc->requests++;
    r->try_ok = r->status < 500;
    breaker_done(r, r->status >= 500 ? GW_BREAKER_FAILURE : GW_BREAKER_SUCCESS);
    detach_upstream(r, reusable);
    if (!r->body_sent)
        r->keep_alive = false;
    r->ds->finish(r);
}

static void upstream_closed(struct gw_request *r, ssize_t nread)
{
    struct gw_upconn *uc = r->up;
    if (r->resp_head_done && r->rmsg.body == GW_BODY_UNTIL_EOF && nread == UV_EOF) {
        r->resp_done = true;
        r->rmsg.keep_alive = false;
        pump_response(r);
        return;
    }
    bool reused = uc->requests > 0;
    mx_target(r, GW_MX_T_RESETS, 1);
    gw_log_warn("upstream %s: %s before the response was complete (request %s)", r->target->key,
                nread == UV_EOF ? "connection closed" : uv_strerror((int)nread), r->id);
    /* While a body filter collects the request body, nothing went upstream: any method may
     * have a fresh connection. */
    bool nothing_sent = r->req_filter != NULL && !r->head_sent;
    if (!r->resp_head_done && !r->resp_started && reused && uc->len == uc->off &&
        ((gw_retry_idempotent(r->msg.method_id) && r->msg.body == GW_BODY_NONE) || nothing_sent)) {
        /* A keep-alive connection the upstream closed under us: nothing was answered, the
         * method is idempotent, so a fresh connection is safe. */
        detach_upstream(r, false);
        /* The target is not at fault: it may be picked again, on a fresh connection. */
        r->tried[r->target_index / 64] &= ~(UINT64_C(1) << (r->target_index % 64));
        r->head_sent = false; /* the new connection needs the head again */
        r->body_writing = false;
        r->body_consumed = 0;
        pick_and_connect(r, true);
        return;
    }
    if (!r->resp_head_done && uc->len == uc->off && try_again(r, GW_RETRY_RESET_BEFORE_RESPONSE, 0))
        return;
    fail(r, r->resp_head_done ? GW_EUPRESET : (uc->len > uc->off ? GW_EUPGARBAGE : GW_EUPRESET));
}

void gw_proxy_upstream_input(struct gw_request *r, ssize_t nread)
{
    if (nread < 0) {
        upstream_closed(r, nread);
        return;
    }
    if (!r->ttfb_done && r->mx) {
        r->ttfb_done = true;
        gw_mx_hist_record(r->mx, r->snap->metrics->layout.svc[svc_index(r)].hist_ttfb,
                          uv_hrtime() - r->t_try);
    }
    if (r->resp_head_done)
        start_response_timer(r); /* inactivity between body reads */
    pump_response(r);
}

/* The upstream switched protocols (a 101 with Connection: upgrade and Upgrade) for a request
 * that asked to: its head goes to the client like any head, with no body; once it is out,
 * finish() hands both connections to a tunnel. 1, or -1 when the request has been failed. */
static int accept_upgrade(struct gw_request *r)
{
    struct gw_upconn *uc = r->up;
    uv_timer_stop(&uc->timer);
    r->status = 101;
    r->keep_alive = false;
    if (gw_rewrite_upgrade_head(r) < 0) {
        fail(r, GW_EUPGARBAGE);
        return -1;
    }
    uc->off += r->rmsg.head_len;
    r->upgraded = true;
    r->resp_head_done = true;
    r->resp_done = true;
    r->out = GW_OUT_NONE;
    return 1;
}

/* After the 101 went out: the client's and the upstream's connections become a tunnel
 * (upstream/tunnel.h), with the bytes each side sent past the handshake and, on either side
 * that speaks TLS, its session, and the request ends (logged with status 101). */
static void hand_over(struct gw_request *r)
{
    struct gw_upconn *uc = r->up;
    const struct gw_websocket_conf *wc = &r->svc->conf->websocket;
    uv_stream_t *client;
    const char *rest;
    size_t rest_len;
    struct gw_tunnel_info info = {.id = r->id,
                                  .service = r->svc->conf->name,
                                  .peer = r->peer[0] ? r->peer : "-",
                                  .target = r->target->key,
                                  .idle_ms = wc->idle_timeout_ms,
                                  .lifetime_ms = wc->max_lifetime_ms,
                                  .websocket = r->upgrade == GW_UPGRADE_WEBSOCKET};
    int rc;
    if (r->ds->tunnel) {
        /* An HTTP/2 stream (RFC 8441): the downstream joins the upstream to the stream. It
         * relays the upstream socket's bytes as they are: not over an https:// target's TLS. */
        rc = uc->tls ? GW_EUPRESET
                     : r->ds->tunnel(r, (uv_stream_t *)&uc->tcp, uc->buf + uc->off,
                                     uc->len - uc->off, &info);
    } else {
        struct gw_tls_stream *client_tls = NULL, *up_tls = NULL;
        rc = r->ds->detach ? r->ds->detach(r, &client, &rest, &rest_len, &client_tls) : GW_EINVAL;
        if (rc == 0 && uc->tls) {
            up_tls = gw__upconn_tls_take(uc);
            if (!up_tls)
                rc = GW_EUPRESET;
        }
        if (rc < 0) {
            gw_tls_stream_free(client_tls);
        } else {
            info.client_tls = client_tls;
            info.upstream_tls = up_tls;
            rc = gw_tunnel_start(r->w, client, rest, rest_len, (uv_stream_t *)&uc->tcp,
                                 uc->buf + uc->off, uc->len - uc->off, &info);
        }
    }
    uc->requests++;
    detach_upstream(r, false); /* its socket lives on in the tunnel (a duplicate) */
    if (rc < 0) {
        gw_log_warn("upstream %s: cannot open a tunnel: %s (request %s)", r->target->key,
                    gw_strerror(rc), r->id);
        r->ds->abort(r);
        return;
    }
    r->ds->finish(r);
}

/* Parses the response head; returns 1 when the body phase can start, 0 to wait, -1 when
 * the request has been failed. */
static int parse_response_head(struct gw_request *r)
{
    struct gw_upconn *uc = r->up;
    for (;;) {
        int rc =
            gw_http1_parse_response(&r->rparser, uc->buf + uc->off, uc->len - uc->off, &r->rmsg);
        if (rc == GW_HTTP1_PARTIAL) {
            if (uc->off == 0 && uc->len == uc->cap) {
                gw_log_warn("upstream %s: response head larger than %d bytes (request %s)",
                            r->target->key, GW_UPCONN_BUF_SIZE, r->id);
                fail(r, GW_EUPGARBAGE);
                return -1;
            }
            return 0;
        }
        if (rc < 0) {
            gw_log_warn("upstream %s: invalid response: %s (request %s)", r->target->key,
                        gw_strerror(rc), r->id);
            fail(r, GW_EUPGARBAGE);
            return -1;
        }
        if (r->rmsg.status >= 100 && r->rmsg.status < 200) {
            if (r->rmsg.status == 101) {
                if (r->upgrade && r->rmsg.upgrade)
                    return accept_upgrade(r);
                gw_log_warn("upstream %s: unexpected 101 Switching Protocols (request %s)",
                            r->target->key, r->id);
                fail(r, GW_EUPGARBAGE);
                return -1;
            }
            /* Interim responses (100, 103) are not forwarded: we answered Expect
             * ourselves. */
            uc->off += r->rmsg.head_len;
            gw_http1_parser_init_response(&r->rparser, &r->snap->cfg->http, r->msg.method_id);
            continue;
        }
        break;
    }
    uv_timer_stop(&uc->timer);
    if (try_again(r, GW_RETRY_STATUS, r->rmsg.status))
        return -1;
    r->status = r->rmsg.status;
    if (r->w->stopping || !r->body_sent)
        r->keep_alive = false;
    int rc = gw_rewrite_response_head(r);
    if (rc < 0) {
        fail(r, GW_EUPGARBAGE);
        return -1;
    }
    uc->off += r->rmsg.head_len;
    r->resp_head_done = true;
    if (r->rmsg.body == GW_BODY_CHUNKED)
        gw_chunked_init(&r->resp_dec, 0, 0);
    if (r->rmsg.body == GW_BODY_NONE)
        r->resp_done = true;
    start_response_timer(r);
    return 1;
}

static void after_response_write(struct gw_request *r)
{
    struct gw_upconn *uc = r->up;
    uc->off += r->resp_consumed;
    r->resp_consumed = 0;
    if (uc->off == uc->len && !r->resp_done)
        uc->off = uc->len = 0;
    if (r->resp_done) {
        finish(r);
        return;
    }
    gw_upconn_read_start(uc);
    start_response_timer(r); /* inactivity between body reads, from now */
    if (uc->off < uc->len)
        pump_response(r);
}

void gw_proxy_sent(struct gw_request *r, int status)
{
    r->resp_writing = false;
    if (status < 0 || !r->up) {
        r->ds->abort(r);
        return;
    }
    after_response_write(r);
}

/* Puts in[0..len) through the streaming filter (struct gw_stream_filter) and its output in o as
 * one chunk (raw for a close-delimited answer), the last chunk after it at the end. 0 or the
 * filter's negative code. */
static int stream_out(struct gw_request *r, struct out *o, const char *in, size_t len,
                      enum gw_stream_mode mode)
{
    struct gw_stream_filter *f = r->resp_stream;
    size_t from = f->out.len;
    int rc = f->piece(r, f, in, len, mode);
    if (rc < 0)
        return rc;
    if (f->out.len > from && r->out == GW_OUT_CHUNKED)
        out_chunk(r, o, f->out.data + from, f->out.len - from);
    else if (f->out.len > from)
        out_raw(o, f->out.data + from, f->out.len - from);
    if (mode == GW_STREAM_END && r->out == GW_OUT_CHUNKED)
        out_raw(o, "0\r\n\r\n", 5);
    return 0;
}

/*
 * Hands the payload in o->bufs[first..] to the body tee (struct gw_body_tee), then its end when
 * done. When rechunked, o holds (size line, data, CRLF) triples (out_chunk: the size line is in
 * r->scratch) and the last chunk: only the data buffers are payload.
 */
static void feed_tee(struct gw_request *r, const struct out *o, unsigned first, bool rechunked,
                     bool done)
{
    struct gw_body_tee *t = r->resp_tee;
    const char *sc = (const char *)r->scratch, *sc_end = sc + sizeof r->scratch;
    for (unsigned i = first; i < o->n; i++) {
        const char *b = o->bufs[i].base;
        if (!rechunked) {
            t->piece(r, t, b, o->bufs[i].len);
        } else if (b >= sc && b < sc_end && i + 1 < o->n) {
            t->piece(r, t, o->bufs[i + 1].base, o->bufs[i + 1].len);
            i += 2;
        }
    }
    if (done) {
        r->resp_tee = NULL;
        t->end(r, t);
    }
}

/* One upstream read of a body seen by a body tee: relayed as usual, then the tee is fed. */
static __attribute__((noinline)) int tee_response(struct gw_request *r, struct out *o,
                                                  const char *p, size_t avail, size_t *consumed,
                                                  bool *done)
{
    unsigned first = o->n;
    uint64_t payload = 0;
    bool rechunk = r->out == GW_OUT_CHUNKED;
    int rc = relay(r, o, r->rmsg.body, &r->resp_dec, &r->resp_left, p, avail, rechunk, &payload, 0,
                   consumed, done);
    if (rc < 0)
        return rc;
    if (r->rmsg.body == GW_BODY_UNTIL_EOF && r->resp_done && rechunk)
        out_raw(o, "0\r\n\r\n", 5);
    feed_tee(r, o, first, rechunk, *done);
    return 0;
}

/*
 * One upstream read of a body that flows through a streaming filter: the payload it brought
 * (de-chunked) goes through the filter piece by piece, flushed at the read's end (finished at
 * the body's), and what came out goes in o as one chunk. As relay: *consumed input bytes, *done.
 * 0, or a negative code: a bad chunked body, or the filter's failure (GW_ENOMEM).
 */
static __attribute__((noinline)) int stream_response(struct gw_request *r, struct out *o,
                                                     const char *p, size_t avail, size_t *consumed,
                                                     bool *done)
{
    struct gw_stream_filter *f = r->resp_stream;
    struct out tmp;
    uint64_t payload = 0;
    tmp.n = tmp.slot = 0;
    int rc = relay(r, &tmp, r->rmsg.body, &r->resp_dec, &r->resp_left, p, avail, false, &payload, 0,
                   consumed, done);
    if (rc < 0)
        return rc;
    if (r->resp_tee) /* the tee sees the body as the upstream sent it, before the filter */
        feed_tee(r, &tmp, 0, false, *done);
    f->out.len = 0;
    for (unsigned i = 0; i < tmp.n; i++) {
        enum gw_stream_mode mode = i + 1 < tmp.n ? GW_STREAM_MORE
                                   : *done       ? GW_STREAM_END
                                                 : GW_STREAM_FLUSH;
        rc = f->piece(r, f, tmp.bufs[i].base, tmp.bufs[i].len, mode);
        if (rc < 0)
            return rc;
    }
    if (tmp.n == 0 && *done) {
        rc = f->piece(r, f, NULL, 0, GW_STREAM_END);
        if (rc < 0)
            return rc;
    }
    if (f->out.len && r->out == GW_OUT_CHUNKED)
        out_chunk(r, o, f->out.data, f->out.len);
    else if (f->out.len)
        out_raw(o, f->out.data, f->out.len);
    if (*done && r->out == GW_OUT_CHUNKED)
        out_raw(o, "0\r\n\r\n", 5);
    return 0;
}

/*
 * The response body for a body filter: collected whole from the upstream, then filtered, then
 * put in o after the head. Returns 1 while it waits for more (or after it failed the request),
 * 0 when o holds the head and the body (filtered; or, when the body outgrew the filter, what was
 * collected, the rest streaming as usual) and r->resp_started is set.
 */
static __attribute__((noinline)) int collect_response(struct gw_request *r, struct out *o)
{
    struct gw_body_filter *f = r->resp_filter;
    struct gw_upconn *uc = r->up;
    bool fits = true;
    bool done = r->resp_done || r->rmsg.body == GW_BODY_NONE;
    while (!done && fits && uc->off < uc->len) {
        size_t consumed = 0;
        uint64_t payload = 0;
        struct out tmp;
        tmp.n = tmp.slot = 0;
        int rc = relay(r, &tmp, r->rmsg.body, &r->resp_dec, &r->resp_left, uc->buf + uc->off,
                       uc->len - uc->off, false, &payload, 0, &consumed, &done);
        if (rc < 0) {
            gw_log_warn("upstream %s: bad chunked response body: %s (request %s)", r->target->key,
                        gw_strerror(rc), r->id);
            fail(r, GW_EUPGARBAGE);
            return 1;
        }
        fits = collect_into(f, &tmp);
        uc->off += consumed;
        if (uc->off == uc->len)
            uc->off = uc->len = 0;
        if (consumed == 0)
            break;
    }
    r->resp_done = done;
    if (!done && fits)
        return 1; /* more to come: the upstream is being read */
    int rc = 0;
    struct gw_answer a;
    gw_answer_init(&a, 0);
    if (fits)
        rc = f->done(r, f, &a);
    else if (f->refuse_larger)
        rc = GW_EUPGARBAGE;
    uint64_t left = r->resp_left; /* what is still to come of the upstream's body */
    if (rc == 0 && r->resp_stream)
        rc = gw_rewrite_response_finish(r, GW_BODY_CHUNKED, 0); /* the stream filter's */
    else if (rc == 0)
        rc = fits ? gw_rewrite_response_finish(r, GW_BODY_LENGTH, f->body.len)
                  : gw_rewrite_response_finish(r, r->rmsg.body, r->rmsg.content_length);
    r->resp_left = left;
    r->resp_filter = NULL; /* f (the stage's) stays alive: o refers to its body */
    if (rc == 0 && r->resp_stream) {
        /* The collected body flows on through the streaming filter: one piece. */
        r->resp_stream->out.len = 0;
        out_raw(o, r->rhead.data, r->rhead.len);
        rc = stream_out(r, o, f->body.data, f->body.len, done ? GW_STREAM_END : GW_STREAM_FLUSH);
        if (rc == 0) {
            r->resp_started = true;
            return 0;
        }
    }
    if (rc < 0) {
        if (a.err == 0)
            gw_answer_init(&a, rc);
        fail_with(r, &a);
        return 1;
    }
    out_raw(o, r->rhead.data, r->rhead.len);
    r->resp_started = true;
    if (f->body.len && r->out == GW_OUT_CHUNKED)
        out_chunk(r, o, f->body.data, f->body.len);
    else if (f->body.len)
        out_raw(o, f->body.data, f->body.len);
    if (done && r->out == GW_OUT_CHUNKED && r->rmsg.body == GW_BODY_CHUNKED)
        out_raw(o, "0\r\n\r\n", 5);
    return 0;
}

static void pump_response(struct gw_request *r)
{
    struct gw_upconn *uc = r->up;
    struct out o;
    size_t consumed = 0;

    if (r->resp_writing)
        return;
    o.n = o.slot = 0;
    if (!r->resp_head_done) {
        int rc = parse_response_head(r);
        if (rc <= 0)
            return;
    }
    if (!r->resp_started) {
        if (r->resp_filter) {
            if (collect_response(r, &o) != 0)
                return;
        } else {
            out_raw(&o, r->rhead.data, r->rhead.len);
            r->resp_started = true;
        }
    }
    if (!r->resp_done || r->rmsg.body == GW_BODY_UNTIL_EOF) {
        const char *p = uc->buf ? uc->buf + uc->off : NULL;
        size_t avail = uc->len - uc->off;
        uint64_t payload = 0;
        bool done = r->resp_done;
        int rc;
        if (r->resp_stream) {
            rc = stream_response(r, &o, p, avail, &consumed, &done);
        } else if (r->resp_tee) {
            rc = tee_response(r, &o, p, avail, &consumed, &done);
        } else {
            rc = relay(r, &o, r->rmsg.body, &r->resp_dec, &r->resp_left, p, avail,
                       r->out == GW_OUT_CHUNKED, &payload, 0, &consumed, &done);
            /* A close-delimited body ends with the upstream's EOF (upstream_closed). */
            if (r->rmsg.body == GW_BODY_UNTIL_EOF && r->resp_done && r->out == GW_OUT_CHUNKED)
                out_raw(&o, "0\r\n\r\n", 5);
        }
        if (rc < 0) {
            gw_log_warn("upstream %s: bad chunked response body: %s (request %s)", r->target->key,
                        gw_strerror(rc), r->id);
            fail(r, GW_EUPGARBAGE);
            return;
        }
        r->resp_done = done;
    }
    if (o.n == 0) {
        /* Only framing was there (a chunk-size line): it is consumed all the same. */
        uc->off += consumed;
        if (uc->off == uc->len && !r->resp_done)
            uc->off = uc->len = 0;
        if (r->resp_done)
            finish(r);
        return;
    }
    for (unsigned i = 0; i < o.n; i++)
        r->bytes_out += o.bufs[i].len;
    r->resp_consumed = consumed;
    if (r->resp_done) {
        /* The outcome is known: count it before the client can see the end of the answer, so
         * a client that reads it and then asks (the admin API, its next request) finds it
         * counted. finish() finds these done. */
        r->try_ok = r->status < 500;
        breaker_done(r, r->status >= 500 ? GW_BREAKER_FAILURE : GW_BREAKER_SUCCESS);
        end_try(r);
    }
    int rc = r->ds->send(r, o.bufs, o.n);
    if (rc < 0) {
        r->ds->abort(r);
        return;
    }
    if (rc == 0) {
        /* The client is slow to take it: the upstream is not silent, so its inactivity timer
         * stops (the downstream times the client instead) and restarts once the write is done. */
        r->resp_writing = true;
        gw_upconn_read_stop(uc);
        uv_timer_stop(&uc->timer);
        return;
    }
    after_response_write(r);
}

/*
 * The proxy exchange's bytes (see proxy.c): the request head and body upstream, the response
 * head and body back to the client, re-chunked, through a body filter (collected whole), a
 * streaming filter or a body tee when a stage asked for one.
 *
 * Backpressure: a request body chunk is written upstream while the client is not read;
 * a response chunk is written to the client while the upstream is not read. Each side
 * resumes when its write completes, so at most one buffer per direction is in flight.
 * Writes are tried inline first (uv_try_write); the common small exchange never waits.
 */
#include <stdio.h>

#include "upstream/proxy.h"

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "policy/chain.h"
#include "runtime/worker-t.h"
#include "upstream/breaker.h"
#include "upstream/internal.h"
#include "upstream/pool.h"
#include "upstream/retry.h"
#include "upstream/rewrite.h"

#define MAX_BUFS 32

static void pump_request(struct gw_request *r);

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

static void after_request_write(struct gw_request *r)
{
    r->head_sent = true;
    if (r->body_consumed)
        r->ds->body_consume(r, r->body_consumed);
    r->body_consumed = 0;
    if (r->body_done) {
        r->body_sent = true;
        if (!r->resp_head_done)
            gw__proxy_start_response_timer(r);
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
        gw__proxy_upstream_lost(r, status, true);
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
            gw__proxy_fail(r, rc);
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
        gw__proxy_fail_with(r, &a);
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
            gw__proxy_fail(r, rc);
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
        gw__proxy_upstream_lost(r, rc, true);
        return;
    }
    if (rc == 0) {
        /* The write refers into the client's buffer: no reading into it until done. An
         * upstream that stops reading must not hold us forever: the response timeout also
         * bounds how long one write may wait. */
        r->body_writing = true;
        if (consumed)
            r->ds->body_hold(r);
        gw__proxy_start_response_timer(r);
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

void gw__proxy_send_request(struct gw_request *r)
{
    if (!r->head_built) {
        int rc = gw_rewrite_request_head(r);
        if (rc < 0) {
            gw__proxy_fail(r, rc);
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
        gw__proxy_fail(r, GW_ENOMEM);
        return;
    }
    gw_http1_parser_init_response(&r->rparser, &r->snap->cfg->http, r->msg.method_id);
    gw_upconn_read_start(r->up);
    pump_request(r);
}

/* The upstream switched protocols (a 101 with Connection: upgrade and Upgrade) for a request
 * that asked to: its head goes to the client like any head, with no body; once it is out,
 * gw__proxy_finish() hands both connections to a tunnel. 1, or -1 when the request has been failed.
 */
static int accept_upgrade(struct gw_request *r)
{
    struct gw_upconn *uc = r->up;
    uv_timer_stop(&uc->timer);
    r->status = 101;
    r->keep_alive = false;
    if (gw_rewrite_upgrade_head(r) < 0) {
        gw__proxy_fail(r, GW_EUPGARBAGE);
        return -1;
    }
    uc->off += r->rmsg.head_len;
    r->upgraded = true;
    r->resp_head_done = true;
    r->resp_done = true;
    r->out = GW_OUT_NONE;
    return 1;
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
                gw__proxy_fail(r, GW_EUPGARBAGE);
                return -1;
            }
            return 0;
        }
        if (rc < 0) {
            gw_log_warn("upstream %s: invalid response: %s (request %s)", r->target->key,
                        gw_strerror(rc), r->id);
            gw__proxy_fail(r, GW_EUPGARBAGE);
            return -1;
        }
        if (r->rmsg.status >= 100 && r->rmsg.status < 200) {
            if (r->rmsg.status == 101) {
                if (r->upgrade && r->rmsg.upgrade)
                    return accept_upgrade(r);
                gw_log_warn("upstream %s: unexpected 101 Switching Protocols (request %s)",
                            r->target->key, r->id);
                gw__proxy_fail(r, GW_EUPGARBAGE);
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
    if (gw__proxy_try_again(r, GW_RETRY_STATUS, r->rmsg.status))
        return -1;
    r->status = r->rmsg.status;
    if (r->w->stopping || !r->body_sent)
        r->keep_alive = false;
    int rc = gw_rewrite_response_head(r);
    if (rc < 0) {
        gw__proxy_fail(r, GW_EUPGARBAGE);
        return -1;
    }
    uc->off += r->rmsg.head_len;
    r->resp_head_done = true;
    if (r->rmsg.body == GW_BODY_CHUNKED)
        gw_chunked_init(&r->resp_dec, 0, 0);
    if (r->rmsg.body == GW_BODY_NONE)
        r->resp_done = true;
    gw__proxy_start_response_timer(r);
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
        gw__proxy_finish(r);
        return;
    }
    gw_upconn_read_start(uc);
    gw__proxy_start_response_timer(r); /* inactivity between body reads, from now */
    if (uc->off < uc->len)
        gw__proxy_pump_response(r);
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
    if (r->resp_tee) { /* the tee sees the body as the client gets it: after the filter */
        struct gw_body_tee *t = r->resp_tee;
        if (f->out.len)
            t->piece(r, t, f->out.data, f->out.len);
        if (*done) {
            r->resp_tee = NULL;
            t->end(r, t);
        }
    }
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
            gw__proxy_fail(r, GW_EUPGARBAGE);
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
        gw__proxy_fail_with(r, &a);
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

void gw__proxy_pump_response(struct gw_request *r)
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
            gw__proxy_fail(r, GW_EUPGARBAGE);
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
            gw__proxy_finish(r);
        return;
    }
    for (unsigned i = 0; i < o.n; i++)
        r->bytes_out += o.bufs[i].len;
    r->resp_consumed = consumed;
    if (r->resp_done) {
        /* The outcome is known: count it before the client can see the end of the answer, so
         * a client that reads it and then asks (the admin API, its next request) finds it
         * counted. gw__proxy_finish() finds these done. */
        r->try_ok = r->status < 500;
        gw__proxy_breaker_done(r, r->status >= 500 ? GW_BREAKER_FAILURE : GW_BREAKER_SUCCESS);
        gw__proxy_end_try(r);
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

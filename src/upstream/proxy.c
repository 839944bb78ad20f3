/*
 * The proxy exchange: its end and its failures. The exchange is three files:
 * try.c chooses a target, connects (or reuses a pooled connection) and runs the tries, with
 * retries, timeouts and the circuit breakers; relay.c moves the request head and body upstream
 * and the response head and body back; this file ends the exchange (finish, the hand-over of
 * an upgraded connection to a tunnel, an upstream that closed early) and answers its failures.
 * Their shared helpers are gw__proxy_* in upstream/internal.h.
 *
 * Failure rules: a failure before any response byte reached the client gets a JSON error
 * (502/503/504); after that, the client connection is closed, so a truncated body can never
 * look complete. An idempotent request whose reused keep-alive connection died before
 * answering is retried once on a fresh connection.
 */

#include "upstream/proxy.h"

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "http1/upgrade.h"
#include "metrics/metrics.h"
#include "policy/chain.h"
#include "runtime/worker-t.h"
#include "tls/stream.h"
#include "trace/trace.h"
#include "upstream/breaker.h"
#include "upstream/internal.h"
#include "upstream/retry.h"
#include "upstream/tunnel.h"

void gw_proxy_abort(struct gw_request *r)
{
    r->try_ignore = true; /* the client went away: the target did nothing wrong */
    gw__proxy_breaker_done(r, GW_BREAKER_IGNORE);
    gw__proxy_detach_upstream(r, false);
}

/*
 * Answers an upstream failure before any response byte went out: with the stage's fallback
 * (r->fallback, the response cache's stale response under stale-if-error) when there is one
 * and the failure is the upstream's (unreachable, reset, invalid, timed out, no target, circuit
 * open), else with a.
 */
void gw__proxy_respond_failure(struct gw_request *r, struct gw_answer *a)
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
void gw__proxy_fail_with(struct gw_request *r, struct gw_answer *a)
{
    if (r->trace)
        gw_trace_failed(r, a->err);
    /* Failures of the upstream count against the circuit; a client's bad body does not. */
    int status = a->status ? a->status : gw_err_http_status(a->err);
    gw__proxy_breaker_done(r, status >= 500 ? GW_BREAKER_FAILURE : GW_BREAKER_IGNORE);
    if (status < 500)
        r->try_ignore = true;
    gw__proxy_detach_upstream(r, false);
    if (r->resp_started || r->resp_writing) {
        r->ds->abort(r);
        return;
    }
    /* Unless the whole body went upstream, some of its bytes are still in our buffer or on
     * the wire: parsing on after them would read body bytes as a request. Close instead. */
    a->close = a->close || !r->body_sent;
    gw__proxy_respond_failure(r, a);
}

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

void gw__proxy_finish(struct gw_request *r)
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
    gw__proxy_breaker_done(r, r->status >= 500 ? GW_BREAKER_FAILURE : GW_BREAKER_SUCCESS);
    gw__proxy_detach_upstream(r, reusable);
    if (!r->body_sent)
        r->keep_alive = false;
    r->ds->finish(r);
}

void gw__proxy_upstream_lost(struct gw_request *r, ssize_t err, bool writing)
{
    struct gw_upconn *uc = r->up;
    if (!writing && r->resp_head_done && r->rmsg.body == GW_BODY_UNTIL_EOF && err == UV_EOF) {
        r->resp_done = true;
        r->rmsg.keep_alive = false;
        gw__proxy_pump_response(r);
        return;
    }
    bool reused = uc->requests > 0;
    gw__proxy_mx_target(r, GW_MX_T_RESETS, 1);
    /* A TLS error already logged with its reason is not logged again as a reset. */
    if (!uc->failure_logged && writing)
        gw_log_warn("upstream %s: write failed: %s (request %s)", r->target->key,
                    uv_strerror((int)err), r->id);
    else if (!uc->failure_logged)
        gw_log_warn("upstream %s: %s before the response was complete (request %s)", r->target->key,
                    err == UV_EOF ? "connection closed" : uv_strerror((int)err), r->id);
    /*
     * A pooled connection the upstream reset is found by whichever comes first: the read that
     * meets the reset, or the request head's write when the reset sits in the same event batch
     * as the request that took the connection (the pool's idle read had no turn yet). Both get
     * the same rules (the write used to end the exchange with 502, retry policy or not). While
     * a body filter collects the request body, nothing went upstream: any method may have a
     * fresh connection.
     */
    bool nothing_sent = r->req_filter != NULL && !r->head_sent;
    if (!r->resp_head_done && !r->resp_started && reused && uc->len == uc->off &&
        ((gw_retry_idempotent(r->msg.method_id) && r->msg.body == GW_BODY_NONE) || nothing_sent)) {
        /* A keep-alive connection the upstream closed under us: nothing was answered, the
         * method is idempotent, so a fresh connection is safe. */
        gw__proxy_detach_upstream(r, false);
        /* The target is not at fault: it may be picked again, on a fresh connection. */
        r->tried[r->target_index / 64] &= ~(UINT64_C(1) << (r->target_index % 64));
        r->head_sent = false; /* the new connection needs the head again */
        r->body_writing = false;
        r->body_consumed = 0;
        gw__proxy_pick_and_connect(r, true);
        return;
    }
    if (!r->resp_head_done && uc->len == uc->off &&
        gw__proxy_try_again(r, GW_RETRY_RESET_BEFORE_RESPONSE, 0))
        return;
    gw__proxy_fail(r, writing || r->resp_head_done || uc->len == uc->off ? GW_EUPRESET
                                                                         : GW_EUPGARBAGE);
}

void gw_proxy_upstream_input(struct gw_request *r, ssize_t nread)
{
    if (nread < 0) {
        gw__proxy_upstream_lost(r, nread, false);
        return;
    }
    if (!r->ttfb_done && r->mx) {
        r->ttfb_done = true;
        gw_mx_hist_record(r->mx, r->snap->metrics->layout.svc[gw__proxy_svc_index(r)].hist_ttfb,
                          uv_hrtime() - r->t_try);
    }
    if (r->resp_head_done)
        gw__proxy_start_response_timer(r); /* inactivity between body reads */
    gw__proxy_pump_response(r);
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
        /* An HTTP/2 stream (RFC 8441): the downstream joins the upstream to the stream, with
         * an https:// target's session (the tunnel's from here, as for HTTP/1). */
        rc = 0;
        if (uc->tls && !(info.upstream_tls = gw__upconn_tls_take(uc)))
            rc = GW_EUPRESET;
        if (rc == 0)
            rc = r->ds->tunnel(r, (uv_stream_t *)&uc->tcp, uc->buf + uc->off, uc->len - uc->off,
                               &info);
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
    gw__proxy_detach_upstream(r, false); /* its socket lives on in the tunnel (a duplicate) */
    if (rc < 0) {
        gw_log_warn("upstream %s: cannot open a tunnel: %s (request %s)", r->target->key,
                    gw_strerror(rc), r->id);
        r->ds->abort(r);
        return;
    }
    r->ds->finish(r);
}

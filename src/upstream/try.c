/*
 * The proxy exchange's tries (see proxy.c): the target choice (balancer, health, ejection,
 * the circuit breakers), connect or reuse, the connect and response timeouts, and the retry
 * policy; each try's end is reported to the balancer, the target's breaker and outlier
 * detection.
 */
#include <string.h>

#include "upstream/proxy.h"

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "http1/cookie.h"
#include "metrics/metrics.h"
#include "policy/chain.h"
#include "runtime/worker-t.h"
#include "trace/trace.h"
#include "upstream/breaker.h"
#include "upstream/internal.h"
#include "upstream/pool.h"
#include "upstream/retry.h"
#include "upstream/target_state.h"

void gw__proxy_mx_target(struct gw_request *r, unsigned word, uint64_t n)
{
    if (r->mx)
        gw_mx_target_add(r->mx, &r->snap->metrics->layout, gw__proxy_svc_index(r),
                         (size_t)(r->target - r->svc->targets), word, n);
}

static void mx_service(struct gw_request *r, unsigned word)
{
    if (r->mx)
        gw_mx_service_inc(r->mx, gw__proxy_svc_index(r), word);
}

/* Ends the current try for the balancer: in-flight count down, outcome and latency in (the
 * EWMA of p2c_ewma learns from them). */
void gw__proxy_end_try(struct gw_request *r)
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
        gw__proxy_mx_target(r, GW_MX_T_TRIES, 1);
        gw__proxy_mx_target(r, GW_MX_T_TRY_NS, ns);
        if (!r->try_ok && !r->try_ignore)
            gw__proxy_mx_target(r, GW_MX_T_FAILURES, 1);
        gw_mx_hist_record(r->mx, r->snap->metrics->layout.svc[gw__proxy_svc_index(r)].hist_try, ns);
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
        gw__proxy_mx_target(r, GW_MX_T_EJECTIONS, 1);
        gw_log_warn("upstream %s: ejected from service %s after %u consecutive failures",
                    r->target->key, sc->name, sc->outlier.consecutive_failures);
    }
}

/*
 * The retry policy (docs/resilience.md): a failure of class `cls` (or an answer with a
 * retryable status) is retried on another target when nothing reached the client, the
 * request has no body to replay, the method allows it, attempts and the service's retry
 * budget remain. The failed try is dropped and the next one starts after a jittered backoff.
 * Returns true when a retry was scheduled (the caller must not touch r further).
 */
bool gw__proxy_try_again(struct gw_request *r, int cls, int status)
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
    gw__proxy_detach_upstream(r, false);
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
        gw__proxy_pick_and_connect(r, true);
    else
        r->ds->defer(r, ms);
    return true;
}

/*
 * A try's connect failed (refused, timed out, could not start, TLS handshake failed): the
 * upstream received nothing. That is a retry of class connect_failed (docs/resilience.md), to
 * the next untried target, bounded like every retry (`retries` off, `attempts`, `retry_on`; any
 * method, any body: nothing was sent), but without a backoff or a budget token: it adds no load
 * to a target that received nothing, and it goes to another one. It counts as a retry once the
 * pick found that target (gw__proxy_pick_and_connect); not allowed, or no untried target left:
 * 502.
 */
static void connect_failed(struct gw_request *r)
{
    const struct gw_service *svc = r->svc;
    if (!svc->retries_on || !gw_retry_should(&svc->retry, r->msg.method_id, GW_RETRY_CONNECT_FAILED,
                                             0, false, r->retries)) {
        gw__proxy_fail(r, GW_EUPCONNECT);
        return;
    }
    r->connect_retry = true;
    gw__proxy_pick_and_connect(r, true);
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
        gw__proxy_mx_target(r, GW_MX_T_CONNECT_ERRORS, 1);
        gw__proxy_detach_upstream(r, false);
        if (!r->head_sent) {
            connect_failed(r);
            return;
        }
        gw__proxy_fail(r, GW_EUPCONNECT);
        return;
    }
    gw_log_warn("upstream %s: response timeout (request %s)", r->target->key, r->id);
    gw__proxy_mx_target(r, GW_MX_T_TIMEOUTS, 1);
    if (!r->resp_head_done && gw__proxy_try_again(r, GW_RETRY_TIMEOUT, 0))
        return;
    gw__proxy_fail(r, GW_EUPTIMEOUT);
}

void gw_proxy_retry_now(struct gw_request *r)
{
    gw__proxy_pick_and_connect(r, true);
}

void gw_proxy_upstream_deadline(struct gw_request *r)
{
    if (r->up)
        on_up_timeout(&r->up->timer);
}

void gw__proxy_start_response_timer(struct gw_request *r)
{
    uint64_t ms = r->svc->conf->response_timeout_ms;
    /* A per-try timeout bounds each try's wait for its response head. */
    if (r->svc->retries_on && r->svc->retry.per_try_timeout_ms && !r->resp_head_done &&
        r->svc->retry.per_try_timeout_ms < ms)
        ms = r->svc->retry.per_try_timeout_ms;
    if (r->up)
        uv_timer_start(&r->up->timer, on_up_timeout, ms, 0);
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
        gw__proxy_mx_target(r, GW_MX_T_CONNECT_ERRORS, 1);
        gw__proxy_detach_upstream(r, false);
        connect_failed(r);
        return;
    }
    uc->connected = true;
    gw__proxy_send_request(r);
}

/* Every target is down, ejected or behind an open circuit: 503 naming the service. */
static void no_target(struct gw_request *r)
{
    /* No usable target is the service failing: it counts against the service's circuit. */
    gw__proxy_breaker_done(r, GW_BREAKER_FAILURE);
    mx_service(r, GW_MX_S_NO_TARGET);
    gw__proxy_detach_upstream(r, false);
    if (r->resp_started || r->resp_writing) {
        r->ds->abort(r);
        return;
    }
    struct gw_answer a;
    gw_answer_init(&a, GW_ENOTARGET);
    a.service = r->svc->conf->name;
    a.close = !r->body_sent;
    gw__proxy_respond_failure(r, &a);
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
void gw__proxy_pick_and_connect(struct gw_request *r, bool fresh)
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
        if (r->tries && (!r->retries || r->connect_retry)) {
            gw__proxy_fail(r, GW_EUPCONNECT);
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
            gw__proxy_pick_and_connect(r, fresh);
            return;
        }
        r->tbreaker_taken = true;
        r->tbreaker_probe = brc == GW_BREAKER_ALLOW_PROBE;
    }
    if (r->connect_retry) { /* connect_failed's retry has its target */
        r->connect_retry = false;
        r->retries++;
        mx_service(r, GW_MX_S_RETRIES);
        gw_log_info("upstream %s: retry %u of request %s after a failed connect",
                    svc->targets[idx].key, r->retries, r->id);
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
        gw__proxy_send_request(r);
        return;
    }
    int rc = gw_upconn_connect(w, r->target, r, &uc, on_connected);
    if (rc < 0) {
        gw_log_warn("upstream %s: cannot connect: %s (request %s)", r->target->key, gw_strerror(rc),
                    r->id);
        gw__proxy_mx_target(r, GW_MX_T_CONNECT_ERRORS, 1);
        gw__proxy_end_try(r);
        connect_failed(r);
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
    gw__proxy_respond_failure(r, &a);
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
    gw__proxy_pick_and_connect(r, false);
}

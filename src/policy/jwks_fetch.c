/*
 * JWKS refresh on the control thread: fetches auth.jwt.jwks_url at start, every jwks_refresh,
 * and when a worker meets a token whose kid no key knows (at most once per jwks_min_refresh);
 * parses it (policy/jwks.c) and hands the new key set to every worker, which swaps it on its
 * own thread (the callback given to gw_jwks_start; runtime/server.c hands it to the workers).
 * Workers never fetch: a request whose token names an unknown kid is held (suspended, not blocking
 * anything) until the control thread answers — with the refreshed set, or at once with the current
 * one when a fetch started less than jwks_min_refresh ago — and is then verified again, once. A
 * failed fetch or an unusable document keeps the previous key set and logs why.
 */
#include "policy/jwks_fetch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-t.h"
#include "core/error.h"
#include "core/log.h"
#include "net/fetch.h"
#include "policy/jwks.h"
#include "policy/jwt.h"
#include "policy/policy.h"

struct gw_jwks_fetcher {
    gw_jwks_publish_cb publish; /* hands a key set to every worker */
    void *publish_arg;
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_async_t wanted; /* a worker met an unknown kid */
    struct gw_fetch *inflight;
    char *url;
    uint64_t refresh_ms, min_refresh_ms, timeout_ms;
    uint64_t generation;
    struct gw_keyset *current; /* what the workers have (a reference) */
    uint64_t last_start_ms;    /* uv_now of the last fetch started (0: never) */
    unsigned handles_open;
    bool stopping;
};

/* Hands ks (NULL: the current set again, so that waiting requests get their answer) to every
 * worker. */
static void publish(struct gw_jwks_fetcher *f, struct gw_keyset *ks)
{
    if (ks) {
        gw_keyset_unref(f->current);
        f->current = ks;
    }
    if (f->current == NULL) {
        /* Nothing fetched yet (the endpoint is down): an empty set, so that the requests
         * waiting for it get their 401 now instead of at the sweep. */
        f->current = calloc(1, sizeof *f->current);
        if (f->current == NULL)
            return;
        atomic_init(&f->current->refs, 1);
    }
    f->publish(f->publish_arg, f->current);
}

static void publish_keys(struct gw_jwks_fetcher *f, struct gw_jwt_key *keys, size_t n)
{
    struct gw_keyset *ks = calloc(1, sizeof *ks);
    if (ks == NULL) {
        gw_jwks_free(keys, n);
        publish(f, NULL);
        return;
    }
    ks->keys = keys;
    ks->nkeys = n;
    ks->generation = ++f->generation;
    atomic_init(&ks->refs, 1);
    publish(f, ks);
}

static void start_fetch(struct gw_jwks_fetcher *f);

static void on_fetched(void *arg, int err, const struct gw_fetch_resp *resp)
{
    struct gw_jwks_fetcher *f = arg;
    f->inflight = NULL;
    if (err != 0 || resp->status != 200) {
        gw_log_warn("jwks: fetching %s failed: %s; keeping the previous keys", f->url,
                    err != 0 ? (resp && resp->why && resp->why[0] ? resp->why : gw_strerror(err))
                             : "status is not 200");
        publish(f, NULL);
        return;
    }
    struct gw_jwt_key *keys = NULL;
    size_t n = 0;
    char why[256] = "";
    int rc = gw_jwks_parse(resp->body, resp->body_len, &keys, &n, why, sizeof why);
    if (rc != 0) {
        gw_log_warn("jwks: %s is not usable (%s); keeping the previous keys", f->url, why);
        publish(f, NULL);
        return;
    }
    /* A JWKS is a public document, usually fetched from wherever the issuer publishes it: a
     * shared secret (kty "oct") in it would let anyone who can read it mint tokens. */
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].alg <= GW_JWT_HS512) {
            gw_jwt_key_free(&keys[i]);
            dropped++;
        } else {
            keys[kept++] = keys[i];
        }
    }
    n = kept;
    if (dropped)
        gw_log_warn("jwks: %s: ignored %zu symmetric (oct) key%s: secrets never come from a JWKS",
                    f->url, dropped, dropped == 1 ? "" : "s");
    if (why[0])
        gw_log_info("jwks: %s: %zu key%s (%s)", f->url, n, n == 1 ? "" : "s", why);
    else
        gw_log_info("jwks: %s: %zu key%s", f->url, n, n == 1 ? "" : "s");
    publish_keys(f, keys, n);
}

static void start_fetch(struct gw_jwks_fetcher *f)
{
    if (f->inflight || f->url == NULL || f->stopping)
        return;
    struct gw_fetch_req req = {
        .url = f->url,
        .method = "GET",
        .headers = "Accept: application/json\r\n",
        .timeout_ms = f->timeout_ms,
        .max_body = 1u << 20,
    };
    f->last_start_ms = uv_now(f->loop);
    if (gw_fetch_start(f->loop, &req, on_fetched, f, &f->inflight) != 0) {
        f->inflight = NULL;
        gw_log_warn("jwks: cannot start fetching %s", f->url);
        publish(f, NULL);
    }
}

static void on_timer(uv_timer_t *t)
{
    start_fetch(t->data);
}

static void on_wanted(uv_async_t *a)
{
    struct gw_jwks_fetcher *f = a->data;
    if (f->inflight)
        return; /* its end answers the waiting requests */
    uv_update_time(f->loop);
    uint64_t now = uv_now(f->loop);
    uint64_t last = f->last_start_ms;
    if (f->url == NULL || (last && now - last < f->min_refresh_ms)) {
        publish(f, NULL); /* nothing new to fetch yet: let the waiting requests go */
        return;
    }
    gw_log_info("jwks: a token names an unknown key id; refreshing %s", f->url);
    start_fetch(f);
}

static int configure(struct gw_jwks_fetcher *f, const struct gw_config *cfg)
{
    const char *url = cfg->auth.jwks_url;
    bool changed = (url == NULL) != (f->url == NULL) || (url && strcmp(url, f->url) != 0);
    f->refresh_ms = cfg->auth.jwks_refresh_ms;
    f->min_refresh_ms = cfg->auth.jwks_min_refresh_ms;
    f->timeout_ms = cfg->auth.jwks_timeout_ms;
    if (!changed)
        return 0;
    free(f->url);
    f->url = url ? strdup(url) : NULL;
    if (url && f->url == NULL)
        return GW_ENOMEM;
    if (f->inflight) {
        gw_fetch_cancel(f->inflight);
        f->inflight = NULL;
    }
    uv_timer_stop(&f->timer);
    if (f->url == NULL) {
        publish_keys(f, NULL, 0);
        return 0;
    }
    f->last_start_ms = 0;
    uv_timer_start(&f->timer, on_timer, 0, f->refresh_ms);
    return 0;
}

struct gw_jwks_fetcher *gw_jwks_start(uv_loop_t *loop, const struct gw_config *cfg,
                                      gw_jwks_publish_cb publish_cb, void *arg)
{
    struct gw_jwks_fetcher *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->publish = publish_cb;
    f->publish_arg = arg;
    f->loop = loop;
    uv_timer_init(loop, &f->timer);
    uv_async_init(loop, &f->wanted, on_wanted);
    f->timer.data = f->wanted.data = f;
    f->handles_open = 2;
    if (configure(f, cfg) != 0)
        gw_log_error("jwks: out of memory");
    return f;
}

int gw_jwks_update(struct gw_jwks_fetcher *f, const struct gw_config *cfg)
{
    return f ? configure(f, cfg) : 0;
}

bool gw_jwks_want_refresh(struct gw_jwks_fetcher *f)
{
    if (f == NULL || f->stopping)
        return false;
    uv_async_send(&f->wanted); /* wake-ups coalesce: a flood of bogus kids costs one answer */
    return true;
}

static void on_closed(uv_handle_t *h)
{
    struct gw_jwks_fetcher *f = h->data;
    if (--f->handles_open == 0) {
        gw_keyset_unref(f->current);
        free(f->url);
        free(f);
    }
}

void gw_jwks_stop(struct gw_jwks_fetcher *f)
{
    if (f == NULL)
        return;
    f->stopping = true;
    if (f->inflight)
        gw_fetch_cancel(f->inflight);
    f->inflight = NULL;
    uv_close((uv_handle_t *)&f->timer, on_closed);
    uv_close((uv_handle_t *)&f->wanted, on_closed);
}

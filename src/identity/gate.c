/*
 * Login throttling (identity.throttle; identity.h "gw_idp_gate_login"): each login attempt is one
 * decision of the gateway's rate limiter for its account and one for its client address, before
 * any password work. The account is resolved first on the thread pool (GW_IDP_EP_ACCOUNT: the
 * username of the account the login names by username or email, else the login as typed,
 * folded), so the two spellings of one account share one count. The counters are where
 * rate_limit.backend says: in-process (state/ratelimit_local.h, shared by the workers) or in Redis
 * (state/ratelimit_redis.h, the worker's client, shared by every gantry instance), GCRA with a
 * burst of the whole limit. A Redis that cannot answer falls back to the in-process counters,
 * so a throttle never waits for it and never stops counting.
 *
 * This is the rate of attempts, successful or not; the lockout after repeated failures is
 * throttle.c's (in-process).
 */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "state/ratelimit.h"
#include "state/ratelimit_local.h"
#include "state/ratelimit_redis.h"

#define GATE_KEYS 65536u /* in-process keys per limit */

enum {
    ACCOUNT,
    ADDRESS,
    NLIMITS
};

static struct {
    bool on;
    struct gw_rl_conf conf[NLIMITS];
    struct gw_rl_store *store[NLIMITS];
} gate;

struct gw_idp_gate {
    struct gw_rl_redis *redis;
    char keys[NLIMITS][GW_RL_REDIS_MAX_KEY]; /* the Redis keys; the local key follows the prefix */
    size_t key_len[NLIMITS];
    size_t prefix_len;
    int next; /* the limit being decided */
    struct gw_rl_decision d;
    struct gw_rl_redis_op *op;
    gw_idp_gate_cb cb;
    void *arg;
};

int gw__idp_gate_init(const struct gw_identity_conf *ic)
{
    gw__idp_gate_free();
    if (!ic->throttle_enabled)
        return 0;
    uint32_t limit[NLIMITS] = {ic->throttle_account_limit, ic->throttle_address_limit};
    uint64_t period[NLIMITS] = {ic->throttle_account_period_ms, ic->throttle_address_period_ms};
    for (int i = 0; i < NLIMITS; i++) {
        gate.conf[i] = (struct gw_rl_conf){.algo = GW_RL_GCRA,
                                           .limit = limit[i],
                                           .period_us = period[i] * 1000,
                                           .burst = limit[i]};
        int rc = gw_rl_conf_prepare(&gate.conf[i]);
        if (rc == 0)
            rc = gw_rl_store_new(&gate.store[i], &gate.conf[i], GATE_KEYS);
        if (rc < 0) {
            gw__idp_gate_free();
            return rc;
        }
    }
    gate.on = true;
    return 0;
}

void gw__idp_gate_free(void)
{
    for (int i = 0; i < NLIMITS; i++) {
        gw_rl_store_free(gate.store[i]);
        gate.store[i] = NULL;
    }
    gate.on = false;
}

/* The in-process decision of limit i: 0 admitted, else the seconds to wait. */
static uint32_t decide_local(struct gw_idp_gate *g, int i)
{
    struct gw_rl_decision d;
    const char *key = g->keys[i] + g->prefix_len;
    size_t n = g->key_len[i] - g->prefix_len;
    if (gw_rl_store_decide(gate.store[i], key, n, uv_hrtime() / 1000, &d) != 0)
        return 0; /* no memory for a new key: let it through rather than fail */
    return d.allowed ? 0 : (uint32_t)((d.retry_after_us + 999999) / 1000000);
}

static uint32_t wait_of(const struct gw_rl_decision *d)
{
    return d->allowed ? 0 : (uint32_t)((d->retry_after_us + 999999) / 1000000);
}

static void on_decision(void *arg, int status, const struct gw_rl_decision *d);

/* Decides the limits from g->next on: 0 or a wait when every one was answered at once, or
 * GW_IDP_GATE_PENDING (on_decision goes on). */
static int run(struct gw_idp_gate *g)
{
    for (; g->next < NLIMITS; g->next++) {
        int i = g->next;
        uint32_t wait;
        int rc = g->redis ? gw_rl_redis_decide(g->redis, &gate.conf[i], g->keys[i], g->key_len[i],
                                               &g->d, on_decision, g, &g->op)
                          : GW_EREDISDOWN;
        if (rc == 0)
            return GW_IDP_GATE_PENDING;
        wait = rc == GW_RL_REDIS_DONE ? wait_of(&g->d) : decide_local(g, i);
        if (wait > 0)
            return (int)wait;
    }
    return 0;
}

static void on_decision(void *arg, int status, const struct gw_rl_decision *d)
{
    struct gw_idp_gate *g = arg;
    g->op = NULL;
    uint32_t wait = status == 0 ? wait_of(d) : decide_local(g, g->next);
    int rc = (int)wait;
    if (wait == 0) {
        g->next++;
        rc = run(g);
        if (rc == GW_IDP_GATE_PENDING)
            return;
    }
    gw_idp_gate_cb cb = g->cb;
    void *cb_arg = g->arg;
    free(g);
    cb(cb_arg, (uint32_t)rc);
}

bool gw_idp_gate_on(void)
{
    return gate.on;
}

int gw_idp_gate_login(struct gw_rl_redis *redis, const struct gw_config *cfg, const char *account,
                      size_t n, const char *client, gw_idp_gate_cb cb, void *arg,
                      struct gw_idp_gate **out)
{
    *out = NULL;
    if (!gate.on || n == 0)
        return 0;
    struct gw_idp_gate *g = calloc(1, sizeof *g);
    const char *prefix = cfg->rate_limit.redis.key_prefix ? cfg->rate_limit.redis.key_prefix : "";
    if (g == NULL)
        return 0;
    g->redis = cfg->rate_limit.backend == GW_RL_BACKEND_REDIS ? redis : NULL;
    g->cb = cb;
    g->arg = arg;
    g->prefix_len = strlen(prefix);
    int a = snprintf(g->keys[ACCOUNT], sizeof g->keys[0], "%sidentity:account:%.*s", prefix, (int)n,
                     account);
    int b = snprintf(g->keys[ADDRESS], sizeof g->keys[0], "%sidentity:address:%s", prefix, client);
    if (a < 0 || b < 0 || (size_t)a >= sizeof g->keys[0] || (size_t)b >= sizeof g->keys[0] ||
        g->prefix_len >= (size_t)a) {
        free(g);
        return 0;
    }
    g->key_len[ACCOUNT] = (size_t)a;
    g->key_len[ADDRESS] = (size_t)b;
    int rc = run(g);
    if (rc == GW_IDP_GATE_PENDING)
        *out = g;
    else
        free(g);
    return rc;
}

void gw_idp_gate_cancel(struct gw_idp_gate *g)
{
    if (g == NULL)
        return;
    if (g->op != NULL)
        gw_rl_redis_cancel(g->op);
    free(g);
}

/*
 * Retry decisions, backoff and the retry budget. Contracts in retry.h; the reasoning behind
 * the defaults is in docs/resilience.md.
 */
#include "upstream/retry.h"

#include "upstream/breaker.h"

#include "core/error.h"

#define ALL_CLASSES                                                                                \
    (GW_RETRY_CONNECT_FAILED | GW_RETRY_RESET_BEFORE_RESPONSE | GW_RETRY_TIMEOUT | GW_RETRY_STATUS)

void gw_retry_conf_default(struct gw_retry_conf *c)
{
    *c = (struct gw_retry_conf){
        .attempts = 2,
        .on = ALL_CLASSES,
        .non_idempotent = false,
        .n_statuses = 3,
        .statuses = {502, 503, 504},
        .backoff_base_ms = 25,
        .backoff_max_ms = 250,
        .per_try_timeout_ms = 0,
        .budget_pct = 20,
        .budget_min_per_s = 3,
    };
}

int gw_retry_conf_check(const struct gw_retry_conf *c)
{
    if (c->n_statuses > GW_RETRY_MAX_STATUSES || (c->on & ~(uint32_t)ALL_CLASSES) != 0 ||
        c->backoff_max_ms < c->backoff_base_ms)
        return GW_EINVAL;
    for (uint32_t i = 0; i < c->n_statuses; i++) {
        if (c->statuses[i] < 100 || c->statuses[i] > 599)
            return GW_EINVAL;
    }
    return 0;
}

bool gw_retry_idempotent(enum gw_http_method m)
{
    return m == GW_METHOD_GET || m == GW_METHOD_HEAD || m == GW_METHOD_PUT ||
           m == GW_METHOD_DELETE || m == GW_METHOD_OPTIONS || m == GW_METHOD_TRACE;
}

static bool status_listed(const struct gw_retry_conf *c, int status)
{
    for (uint32_t i = 0; i < c->n_statuses && i < GW_RETRY_MAX_STATUSES; i++) {
        if (c->statuses[i] == status)
            return true;
    }
    return false;
}

bool gw_retry_should(const struct gw_retry_conf *c, enum gw_http_method m, int failure_class,
                     int status, bool bytes_sent_to_client, unsigned retries_done)
{
    /* Once the client has a byte of the response, a second response cannot be spliced in. */
    if (bytes_sent_to_client || retries_done >= c->attempts)
        return false;
    if (((uint32_t)failure_class & c->on) == 0)
        return false;
    if (failure_class == GW_RETRY_STATUS && !status_listed(c, status))
        return false;
    /*
     * A failed connect never delivered the request, so repeating it is safe for any method
     * (nginx does the same). Any other failure may have reached the application: only an
     * idempotent method, or an explicit opt-in, may be sent again.
     */
    if (failure_class == GW_RETRY_CONNECT_FAILED)
        return true;
    return gw_retry_idempotent(m) || c->non_idempotent;
}

uint64_t gw_retry_backoff_ms(const struct gw_retry_conf *c, unsigned retries_done, uint64_t rnd)
{
    uint64_t cap = c->backoff_max_ms;
    /* base << n without overflow: stop doubling once the cap is reached. */
    if (retries_done < 63 && c->backoff_base_ms <= (cap >> retries_done))
        cap = c->backoff_base_ms << retries_done;
    if (cap == 0)
        return 0;
    /* The modulo bias is below 2^-50 for any cap a config can hold. */
    return cap == UINT64_MAX ? rnd : rnd % (cap + 1);
}

int gw_retry_budget_init(struct gw_retry_budget *b, const struct gw_retry_conf *c)
{
    b->pct = c->budget_pct;
    b->min_per_s = c->budget_min_per_s;
    return gw_breaker_window_init(&b->window, GW_RETRY_BUDGET_WINDOW_MS, GW_RETRY_BUDGET_BUCKETS);
}

void gw_retry_budget_on_request(struct gw_retry_budget *b, uint64_t now_ms)
{
    gw_breaker_window_add(&b->window, now_ms, 0, 1);
}

bool gw_retry_budget_allow(struct gw_retry_budget *b, uint64_t now_ms)
{
    uint64_t sum[2];
    gw_breaker_window_sum(&b->window, now_ms, sum);
    /*
     * In hundredths of a retry: pct% of the requests, plus min_per_s for each second of the
     * window. The floor keeps a quiet service able to retry (20% of 2 requests is no retry at
     * all) without letting a busy one multiply its load.
     */
    uint64_t window_ms = b->window.bucket_ms * b->window.buckets;
    uint64_t budget = (uint64_t)b->pct * sum[0] + (uint64_t)b->min_per_s * window_ms / 10;
    if ((sum[1] + 1) * 100 > budget)
        return false;
    gw_breaker_window_add(&b->window, now_ms, 1, 1);
    return true;
}

void gw_retry_budget_stats(const struct gw_retry_budget *b, uint64_t now_ms, uint64_t *requests,
                           uint64_t *retries)
{
    uint64_t sum[2];
    gw_breaker_window_sum(&b->window, now_ms, sum);
    *requests = sum[0];
    *retries = sum[1];
}

/*
 * A route row's rates (metrics/rate.h): moving averages of requests per second and windows of
 * per-tick counts for the error shares.
 */
#include "metrics/rate.h"

#include <math.h>

const unsigned gw_metrics_rate_window_s[GW_METRICS_RATE_WINDOWS] = {60, 300, 900};

_Static_assert(GW_METRICS_RATE_TICKS *GW_METRICS_TICK_MS == 900 * 1000,
               "the ring holds the longest window");

static uint32_t saturate(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void gw_metrics_rate_tick(struct gw_metrics_rate *rt, uint64_t req, uint64_t err)
{
    double dt = GW_METRICS_TICK_MS / 1000.0;
    uint64_t dreq = rt->primed && req >= rt->last_req ? req - rt->last_req : 0;
    uint64_t derr = rt->primed && err >= rt->last_err ? err - rt->last_err : 0;
    for (int i = 0; i < GW_METRICS_RATE_WINDOWS; i++) {
        double alpha = 1.0 - exp(-dt / gw_metrics_rate_window_s[i]);
        rt->req[i] += alpha * ((double)dreq / dt - rt->req[i]);
        rt->err[i] += alpha * ((double)derr / dt - rt->err[i]);
    }
    rt->head = (rt->head + 1) % GW_METRICS_RATE_TICKS;
    rt->tick_req[rt->head] = saturate(dreq);
    rt->tick_err[rt->head] = saturate(derr);
    rt->last_req = req;
    rt->last_err = err;
    rt->primed = true;
}

void gw_metrics_rate_window(const struct gw_metrics_rate *rt, unsigned w, uint64_t req_now,
                            uint64_t err_now, uint64_t *req, uint64_t *err)
{
    *req += req_now > rt->last_req ? req_now - rt->last_req : 0;
    *err += err_now > rt->last_err ? err_now - rt->last_err : 0;
    unsigned n = w < GW_METRICS_RATE_WINDOWS
                     ? gw_metrics_rate_window_s[w] * 1000 / GW_METRICS_TICK_MS
                     : GW_METRICS_RATE_TICKS;
    for (unsigned k = 0; k < n; k++) {
        unsigned at = (rt->head + GW_METRICS_RATE_TICKS - k) % GW_METRICS_RATE_TICKS;
        *req += rt->tick_req[at];
        *err += rt->tick_err[at];
    }
}

bool gw_metrics_rate_error_share(const struct gw_metrics_rate *rt, unsigned w, uint64_t req_now,
                                 uint64_t err_now, double *share)
{
    uint64_t req = 0, err = 0;
    gw_metrics_rate_window(rt, w, req_now, err_now, &req, &err);
    if (req == 0)
        return false;
    *share = (double)err / (double)req;
    return true;
}

/*
 * The rates of one route row, updated every GW_METRICS_TICK_MS by the metrics hub from the row's
 * request and 5xx totals: requests per second as exponentially weighted moving averages over 1,
 * 5 and 15 minutes (as Unix load averages are), and the requests and 5xx answers of each tick of
 * the last 15 minutes, from which the error shares over 1, 5 and 15 minutes are exact windows:
 * with no request in a window there is no error share (a moving average of errors over a moving
 * average of requests never recovers when the traffic stops: both decay at the same speed).
 *
 * Threads: the control thread (the hub's).
 */
#ifndef GW_METRICS_RATE_H
#define GW_METRICS_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define GW_METRICS_TICK_MS 5000

/* Ticks in the longest window (15 minutes). */
#define GW_METRICS_RATE_TICKS (15 * 60 * 1000 / GW_METRICS_TICK_MS)

/* The windows, by index: 1, 5 and 15 minutes. */
#define GW_METRICS_RATE_WINDOWS 3
extern const unsigned gw_metrics_rate_window_s[GW_METRICS_RATE_WINDOWS];

struct gw_metrics_rate {
    double req[GW_METRICS_RATE_WINDOWS]; /* requests per second, moving averages */
    double err[GW_METRICS_RATE_WINDOWS]; /* 5xx answers per second, moving averages */
    uint64_t last_req, last_err;         /* the totals at the last tick */
    bool primed;                         /* a tick has been seen (the first gives no rate) */
    /* The requests and 5xx answers of each of the last GW_METRICS_RATE_TICKS ticks (a ring:
     * tick_req[head] is the newest), saturated at UINT32_MAX. */
    uint32_t tick_req[GW_METRICS_RATE_TICKS], tick_err[GW_METRICS_RATE_TICKS];
    uint32_t head;
};

/* One tick: req and err are the row's totals now (requests, 5xx answers). Totals lower than the
 * last (never, as totals carry over reloads) count as no traffic. */
void gw_metrics_rate_tick(struct gw_metrics_rate *rt, uint64_t req, uint64_t err);

/* Requests and 5xx answers in window w (0: 1 minute, 1: 5, 2: 15) up to now, added to *req and
 * *err: the window's ticks, and what the row's totals now (req_now, err_now) hold beyond the last
 * tick's (so a window is up to one tick longer than its name, never empty right after traffic). */
void gw_metrics_rate_window(const struct gw_metrics_rate *rt, unsigned w, uint64_t req_now,
                            uint64_t err_now, uint64_t *req, uint64_t *err);

/* The 5xx share of the requests in window w (as gw_metrics_rate_window counts them): false (and
 * *share untouched) when the window holds no request. */
bool gw_metrics_rate_error_share(const struct gw_metrics_rate *rt, unsigned w, uint64_t req_now,
                                 uint64_t err_now, double *share);

#endif

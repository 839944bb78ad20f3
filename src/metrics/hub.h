/*
 * The metrics hub: what the control thread keeps to turn the workers' areas into totals that
 * never go backwards (metrics/metrics.h has the model), the request rates over 1, 5 and 15
 * minutes, and the hand-off that lets a worker have a scrape rendered on the control thread.
 *
 * Threads: everything runs on the control thread, except gw_metrics_scrape_start and
 * gw_metrics_scrape_cancel (a worker, for a request on the proxy port).
 */
#ifndef GW_METRICS_HUB_H
#define GW_METRICS_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "metrics/metrics.h"
#include "metrics/rate.h"

/* Counters summed over every worker and every set, in the current set's layout: rows[k] has
 * layout->nrows[k] * gw_mx_row_words[k] plain words (histogram rows as in an area). */
struct gw_metrics_total {
    const struct gw_metrics_layout *layout;
    uint64_t *rows[GW_MX_KINDS]; /* not GW_MX_HIST: read those with gw_metrics_total_hist */
    const struct gw_metrics_hub *hub;
};

static inline const uint64_t *gw_metrics_total_row(const struct gw_metrics_total *t,
                                                   enum gw_mx_kind k, size_t row)
{
    return t->rows[k] + row * gw_mx_row_words[k];
}

/* What renders a scrape: format 0 Prometheus text, 1 JSON (the control thread's renderer,
 * installed by the server). 0 or a negative code. */
typedef int (*gw_metrics_render_fn)(void *arg, int format, struct gw_buf *out);

struct gw_metrics_hub;

/* Control thread: a hub for nworkers workers whose scrape requests are served on loop (the
 * control loop). 0 or GW_ENOMEM. */
int gw_metrics_hub_new(struct gw_metrics_hub **out, uv_loop_t *loop, unsigned nworkers);

/* Control thread, after the workers ended: closes the hub's handle (the loop runs the close
 * afterwards). NULL is a no-op. */
void gw_metrics_hub_close(struct gw_metrics_hub *h);

/* Frees the hub and every set it holds, once its handle is closed and no snapshot holding one of
 * its sets is left. NULL is a no-op. */
void gw_metrics_hub_free(struct gw_metrics_hub *h);

/* Installs the renderer for scrapes asked for by workers. */
void gw_metrics_hub_set_render(struct gw_metrics_hub *h, gw_metrics_render_fn fn, void *arg);

/* The set of a newly published snapshot becomes current: the base and every live set are mapped
 * onto its layout by key. The hub owns s from now on (it is freed once released and folded).
 * 0, or GW_ENOMEM (then nothing changed and the caller still owns s). */
int gw_metrics_hub_adopt(struct gw_metrics_hub *h, struct gw_metrics_set *s);

/* Folds the sets whose snapshots are gone into the base and frees them. */
void gw_metrics_hub_collect(struct gw_metrics_hub *h);

/* The current layout (NULL before the first adopt). */
const struct gw_metrics_layout *gw_metrics_hub_layout(const struct gw_metrics_hub *h);

/* Sums everything into *t, which stays valid until the next call or adopt. 0 or GW_ENOMEM. */
int gw_metrics_hub_total(struct gw_metrics_hub *h, struct gw_metrics_total *t);

/* Every GW_METRICS_TICK_MS: updates the rates (metrics/rate.h) from the route rows. */
void gw_metrics_hub_tick(struct gw_metrics_hub *h);

/* The rates of route row i of the current layout, or NULL. */
const struct gw_metrics_rate *gw_metrics_hub_rate(const struct gw_metrics_hub *h, size_t route);

/* Live sets and the bytes they, the base and the scrape buffer hold. */
void gw_metrics_hub_usage(const struct gw_metrics_hub *h, size_t *sets, size_t *bytes);

/* Sums histogram row `row` of the current layout over the base and every live set into out
 * (overwritten). Valid while t is. */
void gw_metrics_total_hist(const struct gw_metrics_total *t, size_t row, struct gw_hist_sum *out);

/* ---- a scrape asked for by a worker ------------------------------------------------------------
 */

struct gw_metrics_scrape;

/* Worker thread: called on the worker's loop with the rendered text (or err < 0); out is the
 * scrape's own buffer, valid during the call. Not called after gw_metrics_scrape_cancel. */
typedef void (*gw_metrics_scrape_cb)(void *arg, int err, struct gw_buf *out);

/* Worker thread: asks the control thread to render a scrape (format as for the renderer) and
 * to call cb on the worker's loop (never inside this call). 0 and *out, or GW_ENOMEM. */
int gw_metrics_scrape_start(struct gw_metrics_hub *h, uv_loop_t *worker_loop, int format,
                            gw_metrics_scrape_cb cb, void *arg, struct gw_metrics_scrape **out);

/* Worker thread: the request went away; cb will not run. The scrape's memory goes when the
 * control thread's answer arrives. NULL is a no-op. */
void gw_metrics_scrape_cancel(struct gw_metrics_scrape *sc);

#endif

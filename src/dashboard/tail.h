/*
 * The access-log tail behind the dashboard's live log: a bounded ring of recent access records
 * per worker, filled only while someone watches, drained by the control thread.
 *
 * Contract
 * - Nothing is recorded while no stream is open: a worker's cost is then one relaxed atomic
 *   load per request (gw_tail_on). The rings' memory is allocated by the first watcher.
 * - Each worker writes its own ring under that ring's mutex (uncontended but for the control
 *   thread's take once a second); a full ring overwrites its oldest record and counts it as
 *   dropped, so a burst costs the watcher records, never the worker memory or time.
 * - gw_tail_watch / gw_tail_unwatch / gw_tail_take / gw_tail_free: control thread.
 * - The filter and the SSE formatting are pure functions (fuzzed in fuzz/fuzz_tail_filter.c).
 */
#ifndef GW_DASHBOARD_TAIL_H
#define GW_DASHBOARD_TAIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"

/* Records a ring keeps (per worker). */
#define GW_TAIL_RING 256

/* One finished request, as the live log shows it (strings truncated, NUL-terminated). */
struct gw_tail_record {
    uint64_t time_ms; /** wall clock at the end of the request, ms since the epoch */
    int status;       /** 0: the client left before an answer */
    double duration_ms;
    double upstream_ms; /** < 0: no upstream try */
    uint64_t bytes_out;
    char id[129]; /** as long as a request id may be (conn/request-t.h) */
    char method[16];
    char path[160];
    char service[72];
    char target[72];
    char client[48];
};

struct gw_tail_ring {
    uv_mutex_t lock;
    struct gw_tail_record *rec; /** GW_TAIL_RING records, NULL until the first watcher */
    size_t head;                /** next slot to write */
    size_t count;               /** records not yet taken */
    uint64_t dropped;           /** overwritten before they were taken */
};

struct gw_tail {
    atomic_uint watchers; /** open streams; 0: workers record nothing */
    unsigned nrings;
    struct gw_tail_ring *rings; /** one per worker */
};

/* Control thread, at start: a tail for nworkers workers (no record memory yet). 0 or
 * GW_ENOMEM. */
int gw_tail_new(struct gw_tail **out, unsigned nworkers);

/* After the workers ended. NULL is a no-op. */
void gw_tail_free(struct gw_tail *t);

/* Any thread: is anyone watching? One relaxed load. */
static inline bool gw_tail_on(struct gw_tail *t)
{
    return t != NULL && atomic_load_explicit(&t->watchers, memory_order_relaxed) > 0;
}

/* Worker thread `worker`: appends rec to its ring (dropping the oldest when full). Call only
 * when gw_tail_on(t); a record that arrives as the last watcher leaves is harmless. */
void gw_tail_push(struct gw_tail *t, unsigned worker, const struct gw_tail_record *rec);

/* Control thread: a stream opens. Allocates the rings on first use. 0 or GW_ENOMEM. */
int gw_tail_watch(struct gw_tail *t);

/* Control thread: a stream closed. When it was the last one, the rings are emptied. */
void gw_tail_unwatch(struct gw_tail *t);

/* Control thread: moves up to cap records (oldest first within each worker, then sorted by
 * time) into out; *dropped gets the records lost since the last take. Returns the count. */
size_t gw_tail_take(struct gw_tail *t, struct gw_tail_record *out, size_t cap, uint64_t *dropped);

/* ---- what one watcher wants to see --------------------------------------------------------- */

struct gw_tail_filter {
    char service[72];         /** "" any; else the exact service name ("-" for unrouted requests) */
    char request_id[48];      /** "" any; else a substring of the request id */
    int status_lo, status_hi; /** inclusive range; 0..999 any ("5xx" gives 500..599) */
};

/* Parses a query string (service=NAME&status=5xx|404|4xx&request_id=TEXT, percent-decoded)
 * into f. Unknown keys are ignored. 0, or GW_EINVAL with the reason in why (a value that does
 * not fit or a status that is neither a code nor a class). */
int gw_tail_filter_parse(const char *query, size_t len, struct gw_tail_filter *f, char *why,
                         size_t why_cap);

/* Does rec pass f? */
bool gw_tail_filter_match(const struct gw_tail_filter *f, const struct gw_tail_record *rec);

/* Appends rec as one JSON object (no trailing newline) to out. 0 or a buffer error. */
int gw_tail_record_json(const struct gw_tail_record *rec, struct gw_buf *out);

/* Copies at most cap - 1 bytes of s (n bytes) into dst and NUL-terminates it. */
void gw_tail_copy(char *dst, size_t cap, const char *s, size_t n);

#endif

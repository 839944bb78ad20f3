/*
 * The trace exporter on the control thread: see exporter.h.
 *
 * Shape: a timer ticks every 5 ms while records come, every 100 ms while none do (at most every
 * flush_interval). Each tick (and each export's end) drains the workers' rings, round robin,
 * encoding each record into the body of the next export at once, until that body holds
 * batch_size spans; then an export starts when the body is full or its oldest record waited
 * flush_interval. Each record is copied out of its ring into one record of ours (`rec`, which
 * stays in the cache) and encoded from there, so the bytes a worker wrote are read once, in
 * order. The client sends the body from our memory (no copy of a few hundred kilobytes per
 * export), so there are two bodies: the one in flight, and the one the next batch is encoded
 * into while it is.
 */
#include "trace/exporter.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "core/version.h"
#include "net/keepalive.h"
#include "trace/otlp.h"
#include "trace/retry.h"
#include "trace/ring.h"
#include "trace/trace-t.h"

/* The timer: every 5 ms while the workers are handing records over, every 100 ms while they
 * are not (never longer than flush_interval). A worker's ring must not fill between two
 * drains: at 5 ms, the default 8192 records is 1.6 million requests a second per worker. */
#define TICK_BUSY_MS 5
#define TICK_IDLE_MS 100
#define STOP_WAIT_MS 2000
/* At most one line a minute about batches given up; the lines in between are counted. */
#define GIVE_UP_LOG_MS 60000
#define BODY_MAX (128u * 1024 * 1024)

struct gw_tracer {
    uv_loop_t *loop;
    uv_timer_t timer;
    bool stopping;
    unsigned nrings;
    unsigned next_ring;
    struct gw_trace_queue *queues; /* one per worker */
    /* settings, copied from the config */
    char *url;     /* NULL: nothing is exported, records are thrown away */
    char *headers; /* Content-Type plus tracing.headers */
    char *prefix;  /* the body up to the first span (resource and scope) */
    size_t prefix_len;
    uint32_t batch_size;
    uint64_t flush_ms;
    uint64_t timeout_ms;
    char instance_id[37]; /* made at start: kept across reloads */
    /* the batch: records already encoded into bodies[next_body] */
    size_t nbatch;           /* records in it */
    size_t batch_spans;      /* their spans */
    uint64_t batch_since;    /* loop ms when its first record came */
    int64_t shift;           /* uv_hrtime() to Unix ns, taken once per drain */
    struct gw_buf bodies[2]; /* the export in flight's (borrowed by the fetch) and the next's */
    unsigned next_body;
    unsigned sent_body; /* the body of the last export */
    struct gw_keepalive
        *client;         /* the kept connection to the collector (made at the first export) */
    bool client_stale;   /* the endpoint or headers changed: a new client at the next export */
    bool inflight;       /* an export is running on client */
    bool inflight_retry; /* ... and it sends a held batch again */
    size_t inflight_spans;
    /* A batch whose export failed in a way worth another try stays in bodies[sent_body] (whole,
     * as it was sent) until it is sent again: held_spans > 0. While it is held or sent again,
     * the next batch fills the other body up to batch_size, and then the workers' rings. */
    size_t held_spans;
    uint64_t held_since; /* loop ms of the held batch's first failure */
    unsigned failures;   /* exports failed in a row (the backoff's exponent) */
    uint64_t retry_at;   /* loop ms before which no export starts after a failure */
    bool failing;        /* the last export failed (for logging changes only) */
    struct gw_log_limit give_up_log;
    /* counters */
    uint64_t exported;
    uint64_t failed;
    uint64_t exports_ok;
    uint64_t exports_failed;
    uint64_t exports_retried;
    char last_error[192];
    struct gw_trace rec; /* the record being encoded, copied out of a ring */
};

static void on_tick(uv_timer_t *h);

/* A version 4 UUID (RFC 9562), the identifier OpenTelemetry recommends for an instance. */
static void make_instance_id(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t a = gw_random_u64(), c = gw_random_u64();
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

/* The batch is thrown away (no endpoint any more): its spans were never counted anywhere. */
static void drop_batch(struct gw_tracer *t)
{
    gw_buf_reset(&t->bodies[t->next_body]);
    t->nbatch = 0;
    t->batch_spans = 0;
}

/* The current ms of the control loop. */
static uint64_t now_ms(struct gw_tracer *t)
{
    return uv_now(t->loop);
}

/* Encodes rec into the batch's body (the body's start first when it is the batch's first). */
static void add_to_batch(struct gw_tracer *t, struct gw_trace *rec)
{
    size_t spans = gw_otlp_span_count(rec);
    int rc = 0;
    if (t->nbatch == 0 && !t->inflight && t->held_spans == 0)
        t->next_body = t->sent_body; /* free again, and the one last in the cache */
    struct gw_buf *body = &t->bodies[t->next_body];
    if (t->nbatch == 0) {
        gw_buf_reset(body);
        rc = gw_buf_append(body, t->prefix, t->prefix_len);
    }
    if (rc == 0)
        rc = gw_otlp_append(body, rec, t->shift, t->nbatch == 0);
    if (rc < 0) {
        /* the body's cap (BODY_MAX): this record is lost, the batch keeps what it has */
        t->failed += spans;
        snprintf(t->last_error, sizeof t->last_error, "out of memory encoding the batch");
        if (t->nbatch == 0)
            gw_buf_reset(body);
        return;
    }
    if (t->nbatch == 0)
        t->batch_since = now_ms(t);
    t->nbatch++;
    t->batch_spans += spans;
}

/* The offset from uv_hrtime() to the wall clock, for the times of the records encoded now. */
static int64_t mono_to_unix(void)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    return (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec - (int64_t)uv_hrtime();
}

/* Moves records from the rings into the batch (encoded) until it holds batch_size spans; without
 * an endpoint, empties the rings. Returns how many records it took. */
static size_t drain(struct gw_tracer *t)
{
    unsigned empty = 0;
    size_t taken = 0;
    while (empty < t->nrings) {
        if (t->url != NULL && t->batch_spans >= t->batch_size)
            return taken;
        struct gw_trace_ring *ring = t->queues[t->next_ring].out;
        t->next_ring = (t->next_ring + 1) % t->nrings;
        if (!gw_trace_ring_pop(ring, &t->rec)) {
            empty++;
            continue;
        }
        empty = 0;
        if (t->url != NULL) {
            if (taken == 0)
                t->shift = mono_to_unix();
            add_to_batch(t, &t->rec);
        }
        taken++; /* without an endpoint (a reload took it away): thrown away */
    }
    return taken;
}

/* The held batch (if any) is given up: quietly, when the endpoint went away (nothing of the
 * queue is counted then either); counted as failed otherwise. */
static void forget_held(struct gw_tracer *t, bool count)
{
    if (count)
        t->failed += t->held_spans;
    t->held_spans = 0;
}

/*
 * An export of `spans` spans failed: why says why for logs and the status; retryable, whether
 * the failure is one to try again after (trace/retry.h); retry_after_ms, the collector's
 * Retry-After (-1: none). No export starts before the wait (the collector's, or the backoff's)
 * is over. The batch stays for another try (in bodies[sent_body], as sent) when the failure is
 * retryable, gantry is not stopping, and that try would start within GW_TRACE_RETRY_WINDOW_MS of
 * the batch's first failure; otherwise its spans count as failed.
 */
static void export_failed(struct gw_tracer *t, size_t spans, const char *why, bool retryable,
                          int64_t retry_after_ms)
{
    uint64_t now = now_ms(t);
    uint64_t since = t->inflight_retry ? t->held_since : now;
    t->inflight_retry = false;
    t->exports_failed++;
    snprintf(t->last_error, sizeof t->last_error, "%s", why);
    if (t->failures < 64)
        t->failures++;
    uint64_t wait = retry_after_ms >= 0 ? (uint64_t)retry_after_ms
                                        : gw_trace_export_backoff_ms(t->failures, gw_random_u64());
    t->retry_at = now + wait;
    bool hold = retryable && !t->stopping && t->url != NULL &&
                now + wait - since <= GW_TRACE_RETRY_WINDOW_MS;
    const char *url = t->url ? t->url : "-";
    const char *lost = !retryable ? "not retried" : t->stopping ? "at stop" : "retries ran out";
    bool first = !t->failing;
    t->failing = true;
    t->held_spans = hold ? spans : 0;
    t->held_since = since;
    if (hold) {
        if (first)
            gw_log_warn("tracing: export to %s failed: %s; retrying with backoff (while it "
                        "fails, spans wait, then are dropped and counted)",
                        url, why);
        return;
    }
    t->failed += spans;
    /* One line when exports start failing, then at most one a minute: a collector refusing
     * every batch must not flood the log. */
    if (first)
        gw_log_warn("tracing: export to %s failed: %s; %zu spans dropped (and counted), %s", url,
                    why, spans, lost);
    else
        gw_log_limited(&t->give_up_log, GW_LOG_LEVEL_WARN,
                       "tracing: dropped %zu spans: their export to %s failed (%s), %s", spans, url,
                       why, lost);
}

static void maybe_export(struct gw_tracer *t);
static void export_batch(struct gw_tracer *t, uint64_t timeout_ms);
static void export_held(struct gw_tracer *t, uint64_t timeout_ms);

/* At stop, nothing in flight any more: the timer and the collector's connection close. */
static void close_handles(struct gw_tracer *t)
{
    gw_keepalive_close(t->client);
    t->client = NULL;
    if (!uv_is_closing((uv_handle_t *)&t->timer))
        uv_close((uv_handle_t *)&t->timer, NULL);
}

/* At stop, with nothing in flight: the next of what is left goes out, bounded by the stop's
 * wait (on_stop_wait) — the held batch's one last try (whatever wait the collector asked for),
 * then the batch the workers left — or, when nothing is left, the handles close. */
static void stop_next(struct gw_tracer *t)
{
    uint64_t wait = t->timeout_ms < STOP_WAIT_MS ? t->timeout_ms : STOP_WAIT_MS;
    if (t->url != NULL && t->held_spans > 0)
        export_held(t, wait);
    if (!t->inflight && t->url != NULL && t->nbatch > 0)
        export_batch(t, wait);
    if (!t->inflight)
        close_handles(t);
}

static void on_exported(void *arg, int err, const struct gw_fetch_resp *resp)
{
    struct gw_tracer *t = arg;
    size_t spans = t->inflight_spans;
    t->inflight = false;
    t->inflight_spans = 0;
    if (t->client_stale) {
        /* a reload changed the endpoint or the headers while this export ran on the old client */
        gw_keepalive_close(t->client);
        t->client = NULL;
    }
    if (err == 0 && resp->status >= 200 && resp->status < 300) {
        /* A 200 with partialSuccess is a success too (the specification: the client MUST NOT
         * retry it); what the collector rejected is its own count. */
        t->exported += spans;
        t->exports_ok++;
        t->inflight_retry = false;
        t->failures = 0;
        t->retry_at = 0;
        if (t->failing)
            gw_log_info("tracing: exports to %s succeed again", t->url ? t->url : "-");
        t->failing = false;
    } else {
        char why[sizeof t->last_error];
        if (err != 0)
            snprintf(why, sizeof why, "%s", resp->why[0] ? resp->why : gw_strerror(err));
        else
            snprintf(why, sizeof why, "the collector answered %d", resp->status);
        uint64_t ra = 0;
        bool has_ra = err == 0 && resp->retry_after != NULL &&
                      gw_trace_retry_after_parse(resp->retry_after, strlen(resp->retry_after),
                                                 (int64_t)time(NULL), &ra) == 0;
        export_failed(t, spans, why, gw_trace_export_retryable(err, resp->status),
                      has_ra ? (int64_t)ra : -1);
    }
    drain(t);
    if (t->stopping) {
        stop_next(t); /* what the workers left goes out too, within the stop's wait */
        return;
    }
    maybe_export(t);
}

/* Posts bodies[which], complete, holding `spans` spans (retry: the held batch again). 0, or a
 * GW_E* code when the post could not start (no export is in flight then). */
static int post_body(struct gw_tracer *t, unsigned which, size_t spans, uint64_t timeout_ms,
                     bool retry)
{
    int rc = 0;
    if (t->client != NULL && t->client_stale) {
        gw_keepalive_close(t->client); /* nothing in flight on it: exports run one at a time */
        t->client = NULL;
    }
    t->client_stale = false;
    if (t->client == NULL)
        rc = gw_keepalive_new(&t->client, t->loop, t->url, t->headers);
    struct gw_buf *body = &t->bodies[which];
    if (rc == 0)
        rc = gw_keepalive_post(t->client, body->data, body->len, timeout_ms, on_exported, t);
    if (rc < 0)
        return rc;
    t->inflight = true;
    t->inflight_retry = retry;
    t->inflight_spans = spans;
    if (retry)
        t->exports_retried++;
    return 0;
}

/* Sends the held batch again (its body is bodies[sent_body], as it was sent). */
static void export_held(struct gw_tracer *t, uint64_t timeout_ms)
{
    size_t spans = t->held_spans;
    t->held_spans = 0;
    int rc = post_body(t, t->sent_body, spans, timeout_ms, true);
    if (rc < 0)
        export_failed(t, spans, gw_strerror(rc), false, -1);
}

static void export_batch(struct gw_tracer *t, uint64_t timeout_ms)
{
    size_t spans = t->batch_spans;
    /* One export in flight at a time, and one batch held: the other body is free for the next
     * batch. */
    struct gw_buf *body = &t->bodies[t->next_body];
    int rc = gw_otlp_end(body);
    t->nbatch = 0;
    t->batch_spans = 0;
    if (rc < 0) {
        export_failed(t, spans, "out of memory encoding the batch", false, -1);
        return;
    }
    rc = post_body(t, t->next_body, spans, timeout_ms, false);
    if (rc < 0) {
        export_failed(t, spans, gw_strerror(rc), false, -1);
        return;
    }
    /* This one is the client's until it calls back (or is cancelled), and stays as it is while
     * it is held for another try; the next batch that starts after that is encoded into it
     * again rather than into the other, so that one body's memory stays in the cache instead of
     * two bodies' taking turns. */
    t->sent_body = t->next_body;
    t->next_body ^= 1u;
}

static void maybe_export(struct gw_tracer *t)
{
    if (t->inflight || t->url == NULL || (t->nbatch == 0 && t->held_spans == 0))
        return;
    uint64_t now = now_ms(t);
    if (now < t->retry_at)
        return;
    if (t->held_spans > 0)
        export_held(t, t->timeout_ms); /* first: the spans keep their order */
    else if (t->batch_spans >= t->batch_size || now - t->batch_since >= t->flush_ms)
        export_batch(t, t->timeout_ms);
}

static void schedule(struct gw_tracer *t, bool busy)
{
    uint64_t ms = busy ? TICK_BUSY_MS : TICK_IDLE_MS;
    uv_timer_start(&t->timer, on_tick, ms < t->flush_ms ? ms : t->flush_ms, 0);
}

static void on_tick(uv_timer_t *h)
{
    struct gw_tracer *t = h->data;
    bool busy = drain(t) > 0;
    maybe_export(t);
    schedule(t, busy);
}

/* The last wait at stop is over: whatever is still in flight is abandoned. */
static void on_stop_wait(uv_timer_t *h)
{
    struct gw_tracer *t = h->data;
    if (t->inflight) {
        gw_keepalive_cancel(t->client);
        t->inflight = false;
        t->failed += t->inflight_spans;
        t->inflight_spans = 0;
    }
    /* the batch the workers left, when the export before it took the whole wait */
    t->failed += t->batch_spans;
    drop_batch(t);
    forget_held(t, true);
    close_handles(t);
}

/* Takes cfg's settings; the timer is the caller's business. 0 or GW_ENOMEM (nothing changed). */
static int apply(struct gw_tracer *t, const struct gw_config *cfg)
{
    const struct gw_tracing_conf *tc = &cfg->tracing;
    char *url = NULL, *headers = NULL;
    struct gw_buf prefix;
    gw_buf_init(&prefix, 1u << 20);
    struct gw_buf hb;
    gw_buf_init(&hb, GW_FETCH_MAX_HEADERS);
    int rc = gw_buf_append_str(&hb, "Content-Type: application/json\r\n");
    for (size_t i = 0; i < tc->nheaders; i++)
        rc |= gw_buf_appendf(&hb, "%s: %s\r\n", tc->headers[i].key, tc->headers[i].value);
    rc |= gw_buf_append(&hb, "", 1);
    struct gw_otlp_resource res = {.service_name = tc->service_name ? tc->service_name : "gantry",
                                   .service_version = GANTRY_VERSION,
                                   .instance_id = tc->service_instance_id ? tc->service_instance_id
                                                                          : t->instance_id,
                                   .extra = tc->resource,
                                   .nextra = tc->nresource};
    rc |= gw_otlp_begin(&prefix, &res);
    if (rc == 0 && tc->enabled && tc->endpoint != NULL && (url = strdup(tc->endpoint)) == NULL)
        rc = GW_ENOMEM;
    if (rc != 0) {
        free(url);
        gw_buf_free(&prefix);
        gw_buf_free(&hb);
        return GW_ENOMEM;
    }
    headers = hb.data; /* NUL-terminated above */
    if (t->url != NULL && (url == NULL || strcmp(url, t->url) != 0)) {
        /* Another collector, or none: the failure state was the old one's (a held batch goes to
         * the new one at once). */
        t->failures = 0;
        t->retry_at = 0;
        t->failing = false;
    }
    if (t->url == NULL || url == NULL || strcmp(url, t->url) != 0 ||
        strcmp(headers, t->headers) != 0)
        t->client_stale = true; /* an export in flight finishes on the old connection */
    free(t->url);
    free(t->headers);
    free(t->prefix);
    t->url = url;
    t->headers = headers;
    t->prefix = prefix.data;
    t->prefix_len = prefix.len;
    t->batch_size = tc->batch_size ? tc->batch_size : 512;
    t->flush_ms = tc->flush_interval_ms ? tc->flush_interval_ms : 5000;
    t->timeout_ms = tc->timeout_ms ? tc->timeout_ms : 10000;
    if (t->url == NULL) {
        drop_batch(t);
        forget_held(t, false);
    }
    if (t->client_stale && !t->inflight && t->client != NULL) {
        gw_keepalive_close(t->client);
        t->client = NULL;
    }
    return 0;
}

static void start_ticks(struct gw_tracer *t)
{
    schedule(t, false);
}

int gw_tracer_new(struct gw_tracer **out, uv_loop_t *loop, unsigned nworkers,
                  const struct gw_config *cfg)
{
    *out = NULL;
    struct gw_tracer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return GW_ENOMEM;
    t->loop = loop;
    t->give_up_log.interval_ms = GIVE_UP_LOG_MS;
    gw_buf_init(&t->bodies[0], BODY_MAX);
    gw_buf_init(&t->bodies[1], BODY_MAX);
    make_instance_id(t->instance_id);
    t->nrings = nworkers ? nworkers : 1;
    t->queues = calloc(t->nrings, sizeof *t->queues);
    if (t->queues == NULL)
        goto fail;
    size_t qsize = cfg->tracing.queue_size ? cfg->tracing.queue_size : 8192;
    for (unsigned i = 0; i < t->nrings; i++) {
        t->queues[i].id = i;
        t->queues[i].out = gw_trace_ring_new(qsize);
        if (t->queues[i].out == NULL)
            goto fail;
    }
    if (apply(t, cfg) < 0)
        goto fail;
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    start_ticks(t);
    *out = t;
    return 0;
fail:
    gw_tracer_free(t);
    return GW_ENOMEM;
}

struct gw_trace_queue *gw_tracer_queue(struct gw_tracer *t, unsigned i)
{
    return t != NULL && i < t->nrings ? &t->queues[i] : NULL;
}

int gw_tracer_update(struct gw_tracer *t, const struct gw_config *cfg)
{
    if (t == NULL || t->stopping)
        return 0;
    size_t qsize = cfg->tracing.queue_size ? cfg->tracing.queue_size : 8192;
    if (qsize != t->queues[0].out->limit)
        gw_log_warn("reload: tracing.queue_size changed; it takes effect at the next start");
    int rc = apply(t, cfg);
    if (rc == 0)
        start_ticks(t);
    return rc;
}

void gw_tracer_stop(struct gw_tracer *t)
{
    if (t == NULL || t->stopping)
        return;
    t->stopping = true;
    uv_timer_stop(&t->timer);
    drain(t);
    if (!t->inflight)
        stop_next(t);
    if (t->inflight)
        uv_timer_start(&t->timer, on_stop_wait, STOP_WAIT_MS, 0);
}

void gw_tracer_free(struct gw_tracer *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; t->queues && i < t->nrings; i++) {
        gw_trace_ring_free(t->queues[i].out);
        while (t->queues[i].free != NULL) {
            struct gw_trace *rec = t->queues[i].free;
            t->queues[i].free = rec->next_free;
            free(rec);
        }
    }
    free(t->queues);
    gw_buf_free(&t->bodies[0]);
    gw_buf_free(&t->bodies[1]);
    free(t->url);
    free(t->headers);
    free(t->prefix);
    free(t);
}

void gw_tracer_stats(struct gw_tracer *t, struct gw_tracer_stats *out)
{
    memset(out, 0, sizeof *out);
    out->last_error = "";
    if (t == NULL)
        return;
    out->exporting = t->url != NULL;
    out->exported = t->exported;
    out->failed = t->failed;
    out->exports_ok = t->exports_ok;
    out->exports_failed = t->exports_failed;
    out->exports_retried = t->exports_retried;
    out->last_error = t->last_error;
    out->pending = t->batch_spans + t->inflight_spans + t->held_spans;
    for (unsigned i = 0; i < t->nrings; i++) {
        out->dropped += gw_trace_ring_dropped(t->queues[i].out);
        out->queued += gw_trace_ring_count(t->queues[i].out);
    }
}

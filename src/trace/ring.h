/*
 * The hand-off of finished trace records from one worker to the control thread: a bounded
 * single-producer, single-consumer ring of pointers, lock-free (Lamport's queue with C11
 * acquire/release). A push never waits: when the ring is full the record is not taken and the
 * drop is counted, so a slow or dead collector costs the request path nothing but the count.
 */
#ifndef GW_TRACE_RING_H
#define GW_TRACE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_trace;

struct gw_trace_ring {
    _Alignas(64) atomic_size_t head; /** next slot to pop (the consumer's) */
    size_t tail_seen; /** the consumer's last look at tail: it reads tail again only when empty */
    _Alignas(64) atomic_size_t tail; /** next slot to fill (the producer's) */
    size_t head_seen; /** the producer's last look at head: it reads head again only when full */
    /** spans of the records refused because the ring was full (written by the producer only) */
    _Alignas(64) _Atomic uint64_t dropped;
    size_t mask;
    struct gw_trace *slots[];
};

/*
 * A worker's side of tracing: its ring of finished records (to the control thread), the ring the
 * control thread gives encoded records back in (reused: a worker allocates nothing per request
 * once records circulate), and one spare the worker keeps (a request that was not sampled).
 * trace/exporter.c makes one per worker; the worker reads it through worker-t.h.
 */
struct gw_trace_queue {
    struct gw_trace_ring *out;  /** finished records: the worker pushes, the control thread pops */
    struct gw_trace_ring *back; /** records to reuse: the control thread pushes, the worker pops */
    struct gw_trace *spare;     /** the worker's own: one record for its next request, or NULL */
    unsigned id;                /** the worker's index: a record's home queue */
};

/* A ring with room for at least `capacity` records (rounded up to a power of two, at least 2),
 * or NULL (out of memory). Any thread. */
struct gw_trace_ring *gw_trace_ring_new(size_t capacity);

/* Frees the ring and every record still in it. Only when neither side can touch it any more. */
void gw_trace_ring_free(struct gw_trace_ring *ring);

/* Producer (the worker): hands t over and returns true, or counts its `spans` as dropped and
 * returns false when the ring is full (t stays the caller's). */
bool gw_trace_ring_push(struct gw_trace_ring *ring, struct gw_trace *t, unsigned spans);

/* Consumer (the control thread): the oldest record, now the caller's, or NULL when empty. */
struct gw_trace *gw_trace_ring_pop(struct gw_trace_ring *ring);

/* Any thread: records waiting (a snapshot: the two sides move meanwhile). */
size_t gw_trace_ring_count(struct gw_trace_ring *ring);

/* Any thread: spans dropped so far. */
uint64_t gw_trace_ring_dropped(struct gw_trace_ring *ring);

#endif

/*
 * The hand-off of finished trace records from one worker to the control thread: a bounded
 * single-producer, single-consumer ring of bytes, lock-free (Lamport's queue with C11
 * acquire/release). The worker copies the used part of a finished record into it (the fields,
 * the child spans it has, the strings it holds: a few hundred bytes) and keeps the record itself
 * for its next request; the control thread copies each out into one record of its own and
 * encodes that. A push never waits: when the ring is full the record is not taken and the drop is
 * counted, so a slow or dead collector costs the request path nothing but the count.
 *
 * Why bytes and not pointers: a ring of pointers hands whole records over, and they must come
 * back to be reused. At full sampling every record then circulates through a few milliseconds of
 * traffic (hundreds of records per worker), so each request began and ended on cache lines that
 * had gone cold, on both threads. Here the worker reuses a handful of records that stay in its
 * cache, and both threads walk the ring's bytes in order, which the hardware prefetches.
 */
#ifndef GW_TRACE_RING_H
#define GW_TRACE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_trace;

/* Bytes of ring per record of queue_size: a typical request's record (a SERVER span, a try, a
 * stage or two, its strings) takes 250 to 450 bytes in it. */
#define GW_TRACE_RING_BYTES_PER_RECORD 512

struct gw_trace_ring {
    _Alignas(64) atomic_size_t head; /** next byte to read (the consumer's) */
    size_t tail_seen; /** the consumer's last look at tail: it reads tail again only when empty */
    _Atomic uint64_t popped;         /** records taken out (written by the consumer only) */
    _Alignas(64) atomic_size_t tail; /** next byte to write (the producer's) */
    size_t head_seen; /** the producer's last look at head: it reads head again only when full */
    _Atomic uint64_t pushed; /** records put in (written by the producer only) */
    uint64_t popped_seen;    /** the producer's last look at popped: read again only when full */
    /** spans of the records refused because the ring was full (written by the producer only) */
    _Atomic uint64_t dropped;
    _Alignas(64) size_t mask;
    uint64_t limit;      /** records it holds at most */
    unsigned char *data; /** mask + 1 bytes */
};

/* Records the worker keeps for reuse at most: more finished at once are freed. */
#define GW_TRACE_FREE_MAX 1024

/*
 * A worker's side of tracing: its ring of finished records (to the control thread), and the
 * records it reuses (a stack: the last one released is the next taken, still in the cache).
 * trace/exporter.c makes one per worker; the worker reads it through worker-t.h.
 */
struct gw_trace_queue {
    struct gw_trace_ring *out; /** finished records: the worker pushes, the control thread pops */
    struct gw_trace *free;     /** the worker's records to reuse (linked by next_free), or NULL */
    unsigned nfree;            /** how many */
    unsigned id;               /** the worker's index */
};

/* A ring for at most `records` records (at least 1) in records * GW_TRACE_RING_BYTES_PER_RECORD
 * bytes (rounded up to a power of two, at least 64 KiB), or NULL (out of memory). Any thread. */
struct gw_trace_ring *gw_trace_ring_new(size_t records);

/* The bytes of data a ring made for `records` records has. Pure. */
size_t gw_trace_ring_bytes(size_t records);

/* Frees the ring (what is still in it is lost). Only when neither side can touch it any more. */
void gw_trace_ring_free(struct gw_trace_ring *ring);

/* Producer (the worker): copies t's used part in and returns true, or counts its 1 + nchild spans
 * as dropped and returns false when the ring holds its limit of records or has not the bytes. t
 * stays the caller's either way. */
bool gw_trace_ring_push(struct gw_trace_ring *ring, const struct gw_trace *t);

/* Consumer (the control thread): copies the oldest record into *out (a whole struct gw_trace:
 * its fields, children and strings are as the worker left them) and returns true, or returns
 * false when the ring is empty. */
bool gw_trace_ring_pop(struct gw_trace_ring *ring, struct gw_trace *out);

/* Any thread: records waiting (a snapshot: the two sides move meanwhile). */
size_t gw_trace_ring_count(struct gw_trace_ring *ring);

/* Any thread: spans dropped so far. */
uint64_t gw_trace_ring_dropped(struct gw_trace_ring *ring);

#endif

/*
 * Single-producer, single-consumer ring of trace records: see ring.h.
 *
 * head and tail count up forever (a size_t does not wrap in practice); the slot of position p
 * is p & mask. The producer alone writes tail, the consumer alone writes head: the release
 * store of tail publishes the slot written before it, the release store of head gives the slot
 * back. Each sits on its own cache line so the two threads do not bounce one line, and each
 * side keeps what it last saw of the other's index next to its own (head_seen, tail_seen): the
 * producer reads head again only when the ring looks full, the consumer reads tail again only
 * when it looks empty, so a busy ring costs no cache-line transfer per record, only one per
 * batch (the exporter drains many records per look at tail).
 */
#include "trace/ring.h"

#include <stdlib.h>

struct gw_trace_ring *gw_trace_ring_new(size_t capacity)
{
    size_t cap = 2;
    while (cap < capacity && cap < ((size_t)1 << 30))
        cap <<= 1;
    struct gw_trace_ring *ring =
        aligned_alloc(64, (sizeof *ring + cap * sizeof ring->slots[0] + 63) / 64 * 64);
    if (ring == NULL)
        return NULL;
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    atomic_init(&ring->dropped, 0);
    ring->head_seen = 0;
    ring->tail_seen = 0;
    ring->mask = cap - 1;
    return ring;
}

void gw_trace_ring_free(struct gw_trace_ring *ring)
{
    if (ring == NULL)
        return;
    struct gw_trace *t;
    while ((t = gw_trace_ring_pop(ring)) != NULL)
        free(t);
    free(ring);
}

bool gw_trace_ring_push(struct gw_trace_ring *ring, struct gw_trace *t, unsigned spans)
{
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    if (tail - ring->head_seen > ring->mask)
        ring->head_seen = atomic_load_explicit(&ring->head, memory_order_acquire);
    if (tail - ring->head_seen > ring->mask) {
        /* One writer: a plain read-modify-write, no locked instruction. */
        uint64_t d = atomic_load_explicit(&ring->dropped, memory_order_relaxed);
        atomic_store_explicit(&ring->dropped, d + spans, memory_order_relaxed);
        return false;
    }
    ring->slots[tail & ring->mask] = t;
    atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
    return true;
}

struct gw_trace *gw_trace_ring_pop(struct gw_trace_ring *ring)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (head == ring->tail_seen) {
        ring->tail_seen = atomic_load_explicit(&ring->tail, memory_order_acquire);
        if (head == ring->tail_seen)
            return NULL;
    }
    struct gw_trace *t = ring->slots[head & ring->mask];
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
    return t;
}

size_t gw_trace_ring_count(struct gw_trace_ring *ring)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    return tail >= head ? tail - head : 0;
}

uint64_t gw_trace_ring_dropped(struct gw_trace_ring *ring)
{
    return atomic_load_explicit(&ring->dropped, memory_order_relaxed);
}

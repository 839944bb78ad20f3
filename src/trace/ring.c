/*
 * Single-producer, single-consumer ring of trace records as bytes: see ring.h.
 *
 * head and tail count bytes up forever (a size_t does not wrap in practice); byte p sits at
 * data[p & mask]. Two bounds: `limit` records (pushed - popped, the producer reading popped again
 * only when the count looks full) and the bytes. A record is a frame: a 4-byte size (the frame's,
 * header included, a multiple of 8), 4 bytes unused, then the record's used part (trace-t.h says
 * which). A frame never wraps: when it does not fit before the end of the data, the producer writes
 * a size of 0 there (the consumer skips to the start) and writes the frame at the start; the one
 * release store of tail publishes both. The release store of head gives the bytes back. Each index
 * sits on its own cache line so the two threads do not bounce one line, and each side keeps what it
 * last saw of the other's (head_seen, tail_seen): the producer reads head again only when the ring
 * looks full, the consumer reads tail again only when it looks empty, so a busy ring costs one
 * cache-line transfer per batch the exporter drains, not one per record.
 */
#include "trace/ring.h"

#include <stdlib.h>
#include <string.h>

#include "trace/trace-t.h"

#define FRAME_HEAD 8u
#define HEAD_BYTES offsetof(struct gw_trace, child)
#define MIN_BYTES ((size_t)64 * 1024)
#define MAX_BYTES ((size_t)1 << 32)

_Static_assert(FRAME_HEAD + HEAD_BYTES + GW_TRACE_MAX_CHILDREN * sizeof(struct gw_trace_child) +
                       GW_TRACE_STRINGS + 7 <=
                   MIN_BYTES / 2,
               "the largest record fits in half the smallest ring");

size_t gw_trace_ring_bytes(size_t records)
{
    size_t bytes = records < MAX_BYTES / GW_TRACE_RING_BYTES_PER_RECORD
                       ? records * GW_TRACE_RING_BYTES_PER_RECORD
                       : MAX_BYTES;
    size_t cap = MIN_BYTES;
    while (cap < bytes)
        cap <<= 1;
    return cap;
}

struct gw_trace_ring *gw_trace_ring_new(size_t records)
{
    size_t cap = gw_trace_ring_bytes(records);
    struct gw_trace_ring *ring = aligned_alloc(64, (sizeof *ring + 63) / 64 * 64);
    if (ring == NULL)
        return NULL;
    /* Pages are touched as the ring first goes round, not here. */
    ring->data = aligned_alloc(64, cap);
    if (ring->data == NULL) {
        free(ring);
        return NULL;
    }
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    atomic_init(&ring->popped, 0);
    atomic_init(&ring->pushed, 0);
    atomic_init(&ring->dropped, 0);
    ring->head_seen = 0;
    ring->tail_seen = 0;
    ring->popped_seen = 0;
    ring->mask = cap - 1;
    ring->limit = records ? records : 1;
    return ring;
}

void gw_trace_ring_free(struct gw_trace_ring *ring)
{
    if (ring == NULL)
        return;
    free(ring->data);
    free(ring);
}

/* One writer: a plain read-modify-write, no locked instruction. */
static inline void count_up(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

bool gw_trace_ring_push(struct gw_trace_ring *ring, const struct gw_trace *t)
{
    size_t nchild = t->nchild <= GW_TRACE_MAX_CHILDREN ? t->nchild : GW_TRACE_MAX_CHILDREN;
    size_t kids = nchild * sizeof t->child[0];
    size_t strs = t->strs_len <= GW_TRACE_STRINGS ? t->strs_len : GW_TRACE_STRINGS;
    size_t size = (FRAME_HEAD + HEAD_BYTES + kids + strs + 7) & ~(size_t)7;
    size_t cap = ring->mask + 1;
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    size_t off = tail & ring->mask;
    size_t skip = cap - off < size ? cap - off : 0; /* the end's bytes when the frame cannot fit */
    uint64_t pushed = atomic_load_explicit(&ring->pushed, memory_order_relaxed);
    if (pushed - ring->popped_seen >= ring->limit) {
        ring->popped_seen = atomic_load_explicit(&ring->popped, memory_order_relaxed);
        if (pushed - ring->popped_seen >= ring->limit) {
            count_up(&ring->dropped, 1u + nchild);
            return false;
        }
    }
    if (tail + skip + size - ring->head_seen > cap) {
        ring->head_seen = atomic_load_explicit(&ring->head, memory_order_acquire);
        if (tail + skip + size - ring->head_seen > cap) {
            count_up(&ring->dropped, 1u + nchild);
            return false;
        }
    }
    if (skip) {
        memset(ring->data + off, 0, 4); /* the consumer goes on at the start */
        off = 0;
    }
    unsigned char *p = ring->data + off;
    uint32_t sz = (uint32_t)size;
    memcpy(p, &sz, 4);
    p += FRAME_HEAD;
    memcpy(p, t, HEAD_BYTES);
    p += HEAD_BYTES;
    memcpy(p, t->child, kids);
    memcpy(p + kids, t->strs, strs);
    atomic_store_explicit(&ring->pushed, pushed + 1, memory_order_relaxed);
    atomic_store_explicit(&ring->tail, tail + skip + size, memory_order_release);
    return true;
}

bool gw_trace_ring_pop(struct gw_trace_ring *ring, struct gw_trace *out)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (head == ring->tail_seen) {
        ring->tail_seen = atomic_load_explicit(&ring->tail, memory_order_acquire);
        if (head == ring->tail_seen)
            return false;
    }
    size_t off = head & ring->mask;
    uint32_t size;
    memcpy(&size, ring->data + off, 4);
    if (size == 0) {
        /* the producer went on at the start: the frame it wrote there came with this marker */
        head += ring->mask + 1 - off;
        off = 0;
        memcpy(&size, ring->data, 4);
    }
    const unsigned char *p = ring->data + off + FRAME_HEAD;
    memcpy(out, p, HEAD_BYTES);
    p += HEAD_BYTES;
    size_t kids = (size_t)out->nchild * sizeof out->child[0];
    memcpy(out->child, p, kids);
    memcpy(out->strs, p + kids, out->strs_len);
    count_up(&ring->popped, 1);
    atomic_store_explicit(&ring->head, head + size, memory_order_release);
    return true;
}

size_t gw_trace_ring_count(struct gw_trace_ring *ring)
{
    uint64_t popped = atomic_load_explicit(&ring->popped, memory_order_relaxed);
    uint64_t pushed = atomic_load_explicit(&ring->pushed, memory_order_relaxed);
    return pushed >= popped ? (size_t)(pushed - popped) : 0;
}

uint64_t gw_trace_ring_dropped(struct gw_trace_ring *ring)
{
    return atomic_load_explicit(&ring->dropped, memory_order_relaxed);
}

/*
 * Latency histograms: log-linear buckets in the manner of HdrHistogram, fixed size, no
 * allocation, one increment per observation.
 *
 * Layout (the reasoning is in docs/metrics.md "Histograms")
 * - A value is recorded in units of 16 ns (ns >> GW_HIST_UNIT_SHIFT).
 * - Values below 64 units have a bucket each (width 1 unit = 16 ns).
 * - Above, each power of two [2^k, 2^(k+1)) is split into 32 buckets of equal width 2^(k-5):
 *   bucket index = (k - 5) * 32 + (v >> (k - 5)).
 * - So a bucket [lo, hi) above 32 units has (hi - lo) / lo <= 1/32, and its midpoint is within
 *   1/64 = 1.5625% of every value in it: a percentile read as the midpoint of the bucket that
 *   holds the sample of that rank is within +-1.57% of the exact sample percentile (below 32
 *   units, 512 ns, within +-8 ns). tests/unit/metrics/test_hist.c proves it on random data.
 * - The range ends at 2^33 units (137 s); longer values are counted in the last bucket (their
 *   exact sum is kept), so a percentile past it reads as about 137 s.
 * - GW_HIST_BUCKETS (928) counters: 7.3 KiB per histogram per worker. Buckets are grouped by
 *   32 ("octave groups", 29 of them); a histogram keeps a bit per group it touched, so summing
 *   or reading it visits only the groups in use.
 *
 * Pure functions: any thread. The recording side (one writer per histogram) is in
 * metrics/metrics.h.
 */
#ifndef GW_METRICS_HIST_H
#define GW_METRICS_HIST_H

#include <stddef.h>
#include <stdint.h>

#define GW_HIST_UNIT_SHIFT 4 /* 16 ns */
#define GW_HIST_SUB_BITS 5   /* 32 buckets per power of two */
#define GW_HIST_MAX_BITS 33  /* values up to 2^33 units */
#define GW_HIST_GROUPS (GW_HIST_MAX_BITS - GW_HIST_SUB_BITS + 1)
#define GW_HIST_BUCKETS (GW_HIST_GROUPS << GW_HIST_SUB_BITS)

_Static_assert(GW_HIST_GROUPS <= 32, "one bit per octave group in a 32-bit mask");

/* The bucket of a value in nanoseconds. */
static inline unsigned gw_hist_index(uint64_t ns)
{
    uint64_t v = ns >> GW_HIST_UNIT_SHIFT;
    if (v < (UINT64_C(2) << GW_HIST_SUB_BITS))
        return (unsigned)v;
    if (v >= (UINT64_C(1) << GW_HIST_MAX_BITS))
        return GW_HIST_BUCKETS - 1;
    unsigned k = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = k - GW_HIST_SUB_BITS;
    return (shift << GW_HIST_SUB_BITS) + (unsigned)(v >> shift);
}

/* The bucket's bounds in nanoseconds: [*lo, *hi). */
static inline void gw_hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
    if (i < (2u << GW_HIST_SUB_BITS)) {
        *lo = (uint64_t)i << GW_HIST_UNIT_SHIFT;
        *hi = (uint64_t)(i + 1) << GW_HIST_UNIT_SHIFT;
        return;
    }
    unsigned shift = (i >> GW_HIST_SUB_BITS) - 1;
    uint64_t m = i - ((uint64_t)shift << GW_HIST_SUB_BITS);
    *lo = (m << shift) << GW_HIST_UNIT_SHIFT;
    *hi = ((m + 1) << shift) << GW_HIST_UNIT_SHIFT;
}

/* The value a bucket stands for: its midpoint, in nanoseconds. */
static inline double gw_hist_value(unsigned i)
{
    uint64_t lo, hi;
    gw_hist_bounds(i, &lo, &hi);
    return ((double)lo + (double)hi) / 2.0;
}

/*
 * A histogram summed for reading (control thread): plain counters.
 */
struct gw_hist_sum {
    uint64_t count;
    uint64_t sum_ns;
    uint32_t used; /* bit g: some bucket of group g is not zero */
    uint64_t b[GW_HIST_BUCKETS];
};

/* The q-quantile (0 < q <= 1) of h in nanoseconds, by nearest rank: the midpoint of the bucket
 * holding the ceil(q * count)-th smallest value. 0 when h is empty. */
double gw_hist_quantile(const struct gw_hist_sum *h, double q);

/* How many values of h are <= le_ns, counting a bucket as a whole when its midpoint is <= le_ns
 * (the exported Prometheus buckets are read this way: exact up to the bucket's resolution). */
uint64_t gw_hist_count_le(const struct gw_hist_sum *h, double le_ns);

/* Fills cum[i] with gw_hist_count_le(h, les[i]) for ascending les[0..n), in one pass. */
void gw_hist_cumulative(const struct gw_hist_sum *h, const double *les, size_t n, uint64_t *cum);

/* dst += src. */
void gw_hist_sum_add(struct gw_hist_sum *dst, const struct gw_hist_sum *src);

#endif

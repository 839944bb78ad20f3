/*
 * Reading summed histograms (metrics/hist.h).
 */
#include "metrics/hist.h"

#include <math.h>

#define GROUP (1u << GW_HIST_SUB_BITS)

double gw_hist_quantile(const struct gw_hist_sum *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned g = 0; g < GW_HIST_GROUPS; g++) {
        if (!(h->used & (1u << g)))
            continue;
        for (unsigned i = g * GROUP; i < (g + 1) * GROUP; i++) {
            seen += h->b[i];
            if (seen >= rank)
                return gw_hist_value(i);
        }
    }
    return gw_hist_value(GW_HIST_BUCKETS - 1);
}

void gw_hist_cumulative(const struct gw_hist_sum *h, const double *les, size_t n, uint64_t *cum)
{
    size_t j = 0;
    uint64_t seen = 0;
    for (unsigned g = 0; g < GW_HIST_GROUPS && j < n; g++) {
        if (!(h->used & (1u << g)))
            continue;
        for (unsigned i = g * GROUP; i < (g + 1) * GROUP; i++) {
            if (h->b[i] == 0)
                continue;
            double mid = gw_hist_value(i);
            while (j < n && mid > les[j])
                cum[j++] = seen;
            seen += h->b[i];
        }
    }
    while (j < n)
        cum[j++] = seen;
}

uint64_t gw_hist_count_le(const struct gw_hist_sum *h, double le_ns)
{
    uint64_t c;
    gw_hist_cumulative(h, &le_ns, 1, &c);
    return c;
}

void gw_hist_sum_add(struct gw_hist_sum *dst, const struct gw_hist_sum *src)
{
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    dst->used |= src->used;
    for (unsigned g = 0; g < GW_HIST_GROUPS; g++) {
        if (!(src->used & (1u << g)))
            continue;
        for (unsigned i = g * GROUP; i < (g + 1) * GROUP; i++)
            dst->b[i] += src->b[i];
    }
}

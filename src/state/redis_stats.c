/*
 * The per-use counters of the shared Redis clients (state/redis_stats.h): a fixed table,
 * filled under a mutex when a client is made (rare), read and counted without one.
 */
#include "state/redis_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

const uint64_t gw_redis_lat_bounds_ns[GW_REDIS_LAT_BUCKETS] = {
    500000ull,     1000000ull,     2500000ull,     5000000ull,    10000000ull,   25000000ull,
    50000000ull,   100000000ull,   250000000ull,   500000000ull,  1000000000ull, 2500000000ull,
    5000000000ull, 10000000000ull, 30000000000ull, 60000000000ull};

static struct gw_redis_stats table[GW_REDIS_USES_MAX];
static _Atomic size_t used; /* entries of table filled, published after their name */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct gw_redis_stats *gw_redis_stats_for(const char *use)
{
    char name[GW_REDIS_USE_NAME_MAX];
    struct gw_redis_stats *s = NULL;
    snprintf(name, sizeof name, "%s", use && use[0] ? use : "other");
    pthread_mutex_lock(&lock);
    size_t n = atomic_load_explicit(&used, memory_order_relaxed);
    for (size_t i = 0; i < n && s == NULL; i++) {
        if (strcmp(table[i].use, name) == 0)
            s = &table[i];
    }
    if (s == NULL && n < GW_REDIS_USES_MAX) {
        s = &table[n];
        memcpy(s->use, name, sizeof name);
        atomic_store_explicit(&used, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&lock);
    return s;
}

size_t gw_redis_stats_count(void)
{
    return atomic_load_explicit(&used, memory_order_acquire);
}

struct gw_redis_stats *gw_redis_stats_at(size_t i)
{
    return i < gw_redis_stats_count() ? &table[i] : NULL;
}

void gw_redis_stats_latency(struct gw_redis_stats *s, uint64_t ns)
{
    size_t b = 0;
    while (b < GW_REDIS_LAT_BUCKETS && ns > gw_redis_lat_bounds_ns[b])
        b++;
    atomic_fetch_add_explicit(&s->lat[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->lat_sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->lat_count, 1, memory_order_relaxed);
}

/*
 * Process-wide counters of the shared Redis clients (state/redis_client.h), one set per use
 * ("ratelimit", "registration", "revocations", "hub", ...): how many clients that use has and
 * how many are connected, connections made and lost, commands sent, failed (error reply,
 * timeout, Redis unavailable when called) and their round trips. Exported by /metrics
 * (observe/prom_state.c) with a `use` label.
 *
 * Thread: a client updates its use's counters from its loop's thread (relaxed atomics: several
 * workers share the "ratelimit" set); any thread reads them. A set lives as long as the
 * process (at most GW_REDIS_USES_MAX uses), so a pointer to it never dangles and its counters
 * never go back when clients are closed and made again by a reload.
 */
#ifndef GW_STATE_REDIS_STATS_H
#define GW_STATE_REDIS_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define GW_REDIS_USES_MAX 16
#define GW_REDIS_USE_NAME_MAX 24

/* Upper bounds (ns) of the round-trip buckets: the bounds /metrics gives every latency
 * histogram (0.5 ms ... 60 s); one more bucket counts what is above the last. */
#define GW_REDIS_LAT_BUCKETS 16
extern const uint64_t gw_redis_lat_bounds_ns[GW_REDIS_LAT_BUCKETS];

struct gw_redis_stats {
    char use[GW_REDIS_USE_NAME_MAX];
    /** clients of this use now open, and those whose command connection is up */
    _Atomic uint64_t clients, clients_up;
    /** command connections made (the first and every reconnect), and lost after being up */
    _Atomic uint64_t connects, disconnects;
    /** commands sent; failed with an error reply, a timeout, or at once (Redis not up) */
    _Atomic uint64_t commands, errors, timeouts, unavailable;
    /** round trips of answered commands: a count per bucket (not cumulative), sum, count */
    _Atomic uint64_t lat[GW_REDIS_LAT_BUCKETS + 1];
    _Atomic uint64_t lat_sum_ns, lat_count;
};

/* Any thread. The set of use (NULL or "": "other"; names longer than GW_REDIS_USE_NAME_MAX - 1
 * are cut), made on first use; NULL when GW_REDIS_USES_MAX sets exist already. */
struct gw_redis_stats *gw_redis_stats_for(const char *use);

/* Any thread. The sets made so far, in the order they were made: 0 <= i < the count. */
size_t gw_redis_stats_count(void);
struct gw_redis_stats *gw_redis_stats_at(size_t i);

/* Loop thread of a client of s. Records one answered command's round trip. */
void gw_redis_stats_latency(struct gw_redis_stats *s, uint64_t ns);

#endif

/*
 * Per-target health and ejection state: see target_state.h for the contract.
 *
 * Reference counting: refs counts the holders (snapshots, health checks) plus one for the
 * registry while the state is in it. Only the control thread adds holders (get), so when the
 * control thread sees refs == 1 nobody else can hold the state or take it again: the sweep
 * may unlink and free it without a lock. Workers only ever decrement; a decrement to zero
 * happens only after the registry has let go (registry freed), and then frees at once.
 */
#include "upstream/target_state.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

struct gw_target_state {
    atomic_uint refs;
    atomic_int health;                  /* enum gw_health */
    _Atomic uint64_t health_since_ms;   /* last change of health, or creation */
    _Atomic uint64_t ejected_until_ms;  /* 0: never ejected */
    _Atomic uint64_t ejected_at_ms;     /* start of the last ejection; 0: never ejected */
    atomic_uint_fast32_t times_ejected; /* ejections in the current run */
    atomic_uint_fast32_t consecutive_failures;
    struct gw_target_state *next; /* hash chain; control thread only */
    size_t hash;
    char key[];
};

struct gw_target_registry {
    struct gw_target_state **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t sweep_cursor; /* next bucket swept by get() */
};

#define INITIAL_BUCKETS 64

struct gw_target_registry *gw_target_registry_new(void)
{
    struct gw_target_registry *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->buckets = calloc(INITIAL_BUCKETS, sizeof(*r->buckets));
    if (r->buckets == NULL) {
        free(r);
        return NULL;
    }
    r->nbuckets = INITIAL_BUCKETS;
    return r;
}

void gw_target_registry_free(struct gw_target_registry *r)
{
    if (r == NULL)
        return;
    for (size_t b = 0; b < r->nbuckets; b++) {
        struct gw_target_state *s = r->buckets[b];
        while (s != NULL) {
            struct gw_target_state *next = s->next;
            s->next = NULL;
            gw_target_state_unref(s); /* the registry's own reference */
            s = next;
        }
    }
    free(r->buckets);
    free(r);
}

/* Frees the unreferenced states of one chain. */
static void sweep_bucket(struct gw_target_registry *r, size_t b)
{
    struct gw_target_state **link = &r->buckets[b];
    while (*link != NULL) {
        struct gw_target_state *s = *link;
        if (atomic_load_explicit(&s->refs, memory_order_acquire) == 1) {
            *link = s->next;
            r->count--;
            free(s);
        } else {
            link = &s->next;
        }
    }
}

void gw_target_registry_sweep(struct gw_target_registry *r)
{
    for (size_t b = 0; b < r->nbuckets; b++)
        sweep_bucket(r, b);
}

size_t gw_target_registry_count(const struct gw_target_registry *r)
{
    return r->count;
}

/* Doubles the table; keeps the old one when out of memory (chains just get longer). */
static void grow(struct gw_target_registry *r)
{
    size_t n = r->nbuckets * 2;
    struct gw_target_state **nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return;
    for (size_t b = 0; b < r->nbuckets; b++) {
        struct gw_target_state *s = r->buckets[b];
        while (s != NULL) {
            struct gw_target_state *next = s->next;
            size_t i = s->hash & (n - 1);
            s->next = nb[i];
            nb[i] = s;
            s = next;
        }
    }
    free(r->buckets);
    r->buckets = nb;
    r->nbuckets = n;
    r->sweep_cursor = 0;
}

static void reset_state(struct gw_target_state *s, uint64_t now_ms)
{
    atomic_store_explicit(&s->health, GW_HEALTH_UNKNOWN, memory_order_relaxed);
    atomic_store_explicit(&s->health_since_ms, now_ms, memory_order_relaxed);
    atomic_store_explicit(&s->ejected_until_ms, 0, memory_order_relaxed);
    atomic_store_explicit(&s->ejected_at_ms, 0, memory_order_relaxed);
    atomic_store_explicit(&s->times_ejected, 0, memory_order_relaxed);
    atomic_store_explicit(&s->consecutive_failures, 0, memory_order_relaxed);
}

struct gw_target_state *gw_target_state_get(struct gw_target_registry *r, const char *key,
                                            uint64_t now_ms)
{
    size_t h = (size_t)gw_fnv1a64_str(key);
    size_t b = h & (r->nbuckets - 1);
    for (struct gw_target_state *s = r->buckets[b]; s != NULL; s = s->next) {
        if (s->hash != h || strcmp(s->key, key) != 0)
            continue;
        /* Unreferenced but not swept yet: its holders are gone, so it starts over (no other
         * thread can see it, see the comment at the top). */
        if (atomic_load_explicit(&s->refs, memory_order_acquire) == 1)
            reset_state(s, now_ms);
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
        return s;
    }

    /* A bounded share of the housekeeping: one other chain per call. */
    sweep_bucket(r, r->sweep_cursor);
    r->sweep_cursor = (r->sweep_cursor + 1) & (r->nbuckets - 1);

    size_t klen = strlen(key);
    struct gw_target_state *s = calloc(1, sizeof(*s) + klen + 1);
    if (s == NULL)
        return NULL;
    memcpy(s->key, key, klen + 1);
    s->hash = h;
    reset_state(s, now_ms);
    atomic_init(&s->refs, 2); /* the registry's and the caller's */
    s->next = r->buckets[b];
    r->buckets[b] = s;
    r->count++;
    if (r->count > r->nbuckets)
        grow(r);
    return s;
}

void gw_target_state_ref(struct gw_target_state *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void gw_target_state_unref(struct gw_target_state *s)
{
    if (s == NULL)
        return;
    /* Release: this thread's writes to s happen before the sweep (acquire) frees it. */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        free(s);
}

const char *gw_target_state_key(const struct gw_target_state *s)
{
    return s->key;
}

static bool is_ejected(const struct gw_target_state *s, uint64_t now_ms)
{
    return now_ms < atomic_load_explicit(&s->ejected_until_ms, memory_order_relaxed);
}

bool gw_target_state_usable(const struct gw_target_state *s, uint64_t now_ms)
{
    if (atomic_load_explicit(&s->health, memory_order_relaxed) == GW_HEALTH_DOWN)
        return false;
    return !is_ejected(s, now_ms);
}

bool gw_target_state_may_eject(unsigned ejected_now, unsigned total, uint32_t max_percent)
{
    if (max_percent == 0 || total < 2 || ejected_now + 1 >= total)
        return false; /* off, or nothing would be left to send requests to */
    if ((uint64_t)(ejected_now + 1) * 100 <= (uint64_t)max_percent * total)
        return true;
    /* A small service (say 3 targets at 10%) could otherwise never eject anything. */
    return ejected_now == 0;
}

static uint64_t ejection_ms(const struct gw_outlier_params *p, uint32_t times)
{
    uint64_t d = p->base_ejection_ms;
    for (uint32_t i = 0; i < times && d < p->max_ejection_ms; i++)
        d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
    return d < p->max_ejection_ms ? d : p->max_ejection_ms;
}

bool gw_target_state_record(struct gw_target_state *s, uint64_t now_ms, bool failure,
                            const struct gw_outlier_params *p, unsigned ejected_now, unsigned total)
{
    uint64_t until = atomic_load_explicit(&s->ejected_until_ms, memory_order_relaxed);
    if (now_ms < until)
        return false; /* a try that started before the ejection */
    if (!failure) {
        /* Load first: a healthy target's successes then never write the shared line. */
        if (atomic_load_explicit(&s->consecutive_failures, memory_order_relaxed) != 0)
            atomic_store_explicit(&s->consecutive_failures, 0, memory_order_relaxed);
        return false;
    }
    uint_fast32_t run =
        atomic_fetch_add_explicit(&s->consecutive_failures, 1, memory_order_relaxed) + 1;
    if (run < p->consecutive_failures)
        return false;
    if (!gw_target_state_may_eject(ejected_now, total, p->max_ejection_percent))
        return false;

    uint32_t times = (uint32_t)atomic_load_explicit(&s->times_ejected, memory_order_relaxed);
    bool forgotten = until != 0 && now_ms - until >= p->max_ejection_ms;
    if (forgotten)
        times = 0;
    uint64_t d = ejection_ms(p, times);
    uint64_t new_until = now_ms + d > now_ms ? now_ms + d : UINT64_MAX;
    if (d == 0)
        new_until = now_ms + 1; /* a zero base still ejects for the current millisecond */
    /* Whoever moves ejected_until first made the ejection; the others saw the same run. */
    if (!atomic_compare_exchange_strong_explicit(&s->ejected_until_ms, &until, new_until,
                                                 memory_order_relaxed, memory_order_relaxed))
        return false;
    atomic_store_explicit(&s->ejected_at_ms, now_ms, memory_order_relaxed);
    atomic_store_explicit(&s->times_ejected, times + 1, memory_order_relaxed);
    atomic_store_explicit(&s->consecutive_failures, 0, memory_order_relaxed);
    return true;
}

unsigned gw_target_states_ejected(struct gw_target_state *const *states, size_t n, uint64_t now_ms)
{
    unsigned count = 0;
    for (size_t i = 0; i < n; i++) {
        if (states[i] != NULL && is_ejected(states[i], now_ms))
            count++;
    }
    return count;
}

void gw_target_state_set_health(struct gw_target_state *s, enum gw_health h, uint64_t now_ms)
{
    /* One writer (the control thread), so the exchange and the time need no CAS loop. */
    if (atomic_exchange_explicit(&s->health, (int)h, memory_order_relaxed) != (int)h)
        atomic_store_explicit(&s->health_since_ms, now_ms, memory_order_relaxed);
}

enum gw_health gw_target_state_health(const struct gw_target_state *s)
{
    return (enum gw_health)atomic_load_explicit(&s->health, memory_order_relaxed);
}

void gw_target_state_info(const struct gw_target_state *s, struct gw_target_state_info *out)
{
    out->health = gw_target_state_health(s);
    out->health_since_ms = atomic_load_explicit(&s->health_since_ms, memory_order_relaxed);
    out->ejected_until_ms = atomic_load_explicit(&s->ejected_until_ms, memory_order_relaxed);
    out->ejected_at_ms = atomic_load_explicit(&s->ejected_at_ms, memory_order_relaxed);
    out->times_ejected = (uint32_t)atomic_load_explicit(&s->times_ejected, memory_order_relaxed);
    out->consecutive_failures =
        (uint32_t)atomic_load_explicit(&s->consecutive_failures, memory_order_relaxed);
}

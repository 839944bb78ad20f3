/* Failed logins per account ("u:<name>") and per client address ("a:<address>"): a table of
 * counters under one mutex, with a lockout once a key reaches its maximum within the window.
 * Bounded: at most THROTTLE_MAX keys; when full, the entries with no lockout running are
 * dropped first (an attacker filling it only resets counters, never unlocks a lockout). */
#include "identity/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define THROTTLE_MAX 65536u

struct entry {
    uint64_t key; /* hash of the key string; 0 = empty */
    uint32_t failures;
    int64_t window_start_ms;
    int64_t locked_until_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table; /* THROTTLE_MAX slots, linear probing */
static size_t used;

static uint64_t key_of(const char *s)
{
    uint64_t h = gw_fnv1a64_str(s);
    return h ? h : 1;
}

static struct entry *slot(uint64_t key, bool create)
{
    if (table == NULL) {
        if (!create)
            return NULL;
        table = calloc(THROTTLE_MAX, sizeof *table);
        if (table == NULL)
            return NULL;
    }
    size_t i = (size_t)gw_hash_mix64(key) & (THROTTLE_MAX - 1);
    for (size_t probes = 0; probes < THROTTLE_MAX; probes++, i = (i + 1) & (THROTTLE_MAX - 1)) {
        if (table[i].key == key)
            return &table[i];
        if (table[i].key == 0) {
            if (!create)
                return NULL;
            if (2 * (used + 1) > THROTTLE_MAX)
                return NULL; /* the caller forgets; see gw__idp_throttle_fail */
            table[i].key = key;
            used++;
            return &table[i];
        }
    }
    return NULL;
}

/* Keeps only the lockouts still running (rebuilt in place through a copy). */
static void prune(int64_t now_ms)
{
    struct entry *old = table;
    table = calloc(THROTTLE_MAX, sizeof *table);
    used = 0;
    if (table == NULL) {
        table = old;
        return;
    }
    for (size_t i = 0; i < THROTTLE_MAX; i++) {
        if (old[i].key != 0 && old[i].locked_until_ms > now_ms) {
            struct entry *e = slot(old[i].key, true);
            if (e)
                *e = old[i];
        }
    }
    free(old);
}

int64_t gw__idp_throttle_wait(const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&lock);
    const struct entry *e = slot(key_of(key), false);
    int64_t wait =
        e && e->locked_until_ms > now_ms ? (e->locked_until_ms - now_ms + 999) / 1000 : 0;
    pthread_mutex_unlock(&lock);
    return wait;
}

bool gw__idp_throttle_fail(const char *key, uint32_t max, uint64_t window_ms, uint64_t lockout_ms,
                           int64_t now_ms)
{
    bool locked = false;
    pthread_mutex_lock(&lock);
    uint64_t k = key_of(key);
    struct entry *e = slot(k, true);
    if (e == NULL && table != NULL) {
        prune(now_ms);
        e = slot(k, true);
    }
    if (e != NULL) {
        if (now_ms - e->window_start_ms > (int64_t)window_ms) {
            e->window_start_ms = now_ms;
            e->failures = 0;
        }
        if (++e->failures >= max && e->locked_until_ms <= now_ms) {
            e->locked_until_ms = now_ms + (int64_t)lockout_ms;
            e->failures = 0;
            e->window_start_ms = now_ms;
            locked = true;
        }
    }
    pthread_mutex_unlock(&lock);
    return locked;
}

void gw__idp_throttle_ok(const char *key)
{
    pthread_mutex_lock(&lock);
    struct entry *e = slot(key_of(key), false);
    if (e != NULL)
        e->failures = 0;
    pthread_mutex_unlock(&lock);
}

int64_t gw__idp_throttle_reserve(const char *key, uint32_t max, uint64_t window_ms,
                                 uint64_t lockout_ms, int64_t now_ms, bool *started)
{
    int64_t wait = 0;
    *started = false;
    pthread_mutex_lock(&lock);
    uint64_t k = key_of(key);
    struct entry *e = slot(k, true);
    if (e == NULL && table != NULL) {
        prune(now_ms);
        e = slot(k, true);
    }
    if (e != NULL && e->locked_until_ms > now_ms) {
        wait = (e->locked_until_ms - now_ms + 999) / 1000;
    } else if (e != NULL) {
        if (now_ms - e->window_start_ms > (int64_t)window_ms) {
            e->window_start_ms = now_ms;
            e->failures = 0;
        }
        if (++e->failures >= max) {
            e->locked_until_ms = now_ms + (int64_t)lockout_ms;
            e->failures = 0;
            e->window_start_ms = now_ms;
            *started = true;
        }
    }
    pthread_mutex_unlock(&lock);
    return wait;
}

void gw__idp_throttle_release(const char *key, uint32_t max, bool started)
{
    pthread_mutex_lock(&lock);
    struct entry *e = slot(key_of(key), false);
    if (e != NULL && started) {
        e->locked_until_ms = 0;
        e->failures = max > 0 ? max - 1 : 0;
    } else if (e != NULL && e->failures > 0) {
        e->failures--;
    }
    pthread_mutex_unlock(&lock);
}

bool gw__idp_throttle_clear(const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&lock);
    struct entry *e = slot(key_of(key), false);
    bool was = e != NULL && e->locked_until_ms > now_ms;
    if (e != NULL) {
        e->failures = 0;
        e->locked_until_ms = 0;
    }
    pthread_mutex_unlock(&lock);
    return was;
}

void gw__idp_throttle_reset(void)
{
    pthread_mutex_lock(&lock);
    free(table);
    table = NULL;
    used = 0;
    pthread_mutex_unlock(&lock);
}

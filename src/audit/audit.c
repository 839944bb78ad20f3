/*
 * The audit log's hub: the queue from every thread to the control thread, the numbering and
 * chaining of entries, their hand-off to the sinks, and the aggregation of authentication
 * events (repeated 401s, API keys from new addresses).
 *
 * Why a mutex-protected list and not a lock-free ring: a record is rare next to requests (an
 * admin change, a 403), the critical section is two pointer stores, and the list keeps records
 * of any size without a fixed slot. The bound (audit.queue) is what keeps a flood of 403s
 * from growing memory: past it records are dropped and counted.
 */
#include "audit/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"

atomic_uint gw__audit_events;

#define UNAUTH_SLOTS 1024
#define SEEN_SLOTS 16384
#define SEEN_PROBE 8

struct unauth_slot {
    char client[48];
    uint64_t start_ms;
    uint32_t count;
};

static struct audit {
    bool started;
    uv_loop_t *loop;
    uv_async_t async;
    uv_thread_t control;
    pthread_mutex_t lock;
    struct gw__audit_item *head, *tail; /* under lock */
    size_t queued;                      /* under lock */
    size_t cap;
    atomic_uint_least64_t dropped;
    atomic_uint_least64_t entries;
    /* control thread */
    uint64_t seq;
    char hash[65];
    struct gw__audit_file *file;
    struct gw__audit_sqlite *db;
    struct gw__audit_pg *pg;
    const struct gw_audit_actor *actor;
    uint32_t unauth_threshold;
    uint64_t unauth_window_ms;
    struct unauth_slot unauth[UNAUTH_SLOTS];
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* (consumer, address) fingerprints seen; 0 is an empty slot. */
static atomic_uint_least64_t seen[SEEN_SLOTS];

static uint64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void item_free(struct gw__audit_item *it)
{
    free(it->actor_key);
    free(it->actor_addr);
    free(it->actor_via);
    free(it->action);
    free(it->object);
    free(it->before);
    free(it->after);
    free(it->detail);
    free(it);
}

/* strdup of s (NULL stays NULL); false when out of memory. */
static bool copy_str(char **dst, const char *s)
{
    *dst = NULL;
    if (s == NULL)
        return true;
    *dst = strdup(s);
    return *dst != NULL;
}

static bool on_control_thread(void)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &g.control);
}

/* ---- writing (control thread) ---------------------------------------------------------------- */

static void write_entry(const struct gw__audit_item *it)
{
    char time[32];
    char hash[65];
    size_t len = 0;
    gw__audit_time(it->time_ms, time, sizeof time);
    char *text = gw__audit_format(it, g.seq + 1, time, g.hash, hash, &len);
    if (text == NULL) {
        atomic_fetch_add_explicit(&g.dropped, 1, memory_order_relaxed);
        gw_log_error("audit: out of memory: entry %s dropped", it->action);
        return;
    }
    struct gw__audit_line l = {
        .seq = g.seq + 1,
        .time = time,
        .actor_key = it->actor_key,
        .actor_addr = it->actor_addr,
        .action = it->action,
        .object = it->object,
        .text = text,
        .len = len,
    };
    memcpy(l.hash, hash, 65);
    memcpy(l.prev, g.hash, 65);
    if (g.file) {
        int rc = gw__audit_file_write(g.file, &l);
        if (rc < 0) {
            static struct gw_log_limit lim = {.interval_ms = 10000};
            gw_log_limited(&lim, GW_LOG_LEVEL_ERROR, "audit: cannot write to %s: %s",
                           gw__audit_file_path(g.file), gw_strerror(rc));
        }
    }
    if (g.db)
        gw__audit_sqlite_write(g.db, &l);
    if (g.pg)
        gw__audit_pg_write(g.pg, &l);
    g.seq++;
    memcpy(g.hash, hash, 65);
    atomic_fetch_add_explicit(&g.entries, 1, memory_order_relaxed);
    free(text);
}

/* A 401 from it->actor_addr: counted per client in a window; the threshold-th writes one
 * entry and starts a new window. */
static void count_unauthorized(const struct gw__audit_item *it)
{
    const char *client = it->actor_addr ? it->actor_addr : "-";
    uint64_t h = gw_hash_mix64(gw_fnv1a64(client, strlen(client)));
    struct unauth_slot *s = &g.unauth[h % UNAUTH_SLOTS];
    if (strcmp(s->client, client) != 0 || it->time_ms - s->start_ms >= g.unauth_window_ms ||
        it->time_ms < s->start_ms) {
        snprintf(s->client, sizeof s->client, "%s", client);
        s->start_ms = it->time_ms;
        s->count = 0;
    }
    if (++s->count < g.unauth_threshold)
        return;
    char object[64];
    char detail[512];
    snprintf(object, sizeof object, "client:%s", client);
    json_t *d = json_pack("{s:I, s:I, s:s*}", "count", (json_int_t)s->count, "window_ms",
                          (json_int_t)g.unauth_window_ms, "last_path", it->object);
    char *dt = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    snprintf(detail, sizeof detail, "%s", dt ? dt : "{}");
    free(dt);
    json_decref(d);
    struct gw__audit_item e = {
        .time_ms = it->time_ms,
        .status = 401,
        .actor_addr = it->actor_addr,
        .actor_via = it->actor_via,
        .action = "auth.unauthorized_repeated",
        .object = object,
        .detail = detail,
    };
    write_entry(&e);
    s->start_ms = it->time_ms;
    s->count = 0;
}

/* Writes everything queued. */
static void drain(void)
{
    pthread_mutex_lock(&g.lock);
    struct gw__audit_item *it = g.head;
    g.head = g.tail = NULL;
    g.queued = 0;
    pthread_mutex_unlock(&g.lock);
    if (it == NULL)
        return;
    if (g.db)
        gw__audit_sqlite_begin(g.db);
    while (it != NULL) {
        struct gw__audit_item *next = it->next;
        if (it->kind == GW__AUDIT_ITEM_UNAUTHORIZED)
            count_unauthorized(it);
        else
            write_entry(it);
        item_free(it);
        it = next;
    }
    if (g.db)
        gw__audit_sqlite_commit(g.db);
}

static void on_async(uv_async_t *a)
{
    (void)a;
    drain();
}

/* ---- recording (any thread) ------------------------------------------------------------------ */

static void push(struct gw__audit_item *it)
{
    pthread_mutex_lock(&g.lock);
    bool full = g.queued >= g.cap;
    if (!full) {
        if (g.tail)
            g.tail->next = it;
        else
            g.head = it;
        g.tail = it;
        g.queued++;
    }
    pthread_mutex_unlock(&g.lock);
    if (full) {
        static struct gw_log_limit lim = {.interval_ms = 10000};
        atomic_fetch_add_explicit(&g.dropped, 1, memory_order_relaxed);
        gw_log_limited(&lim, GW_LOG_LEVEL_WARN,
                       "audit: the queue is full (%zu records): %s dropped", g.cap, it->action);
        item_free(it);
        return;
    }
    if (on_control_thread())
        drain();
    else
        uv_async_send(&g.async);
}

static void enqueue(int kind, const struct gw_audit_record *rec)
{
    if (atomic_load_explicit(&gw__audit_events, memory_order_relaxed) == 0)
        return;
    const struct gw_audit_actor *actor = rec->actor;
    if (actor == NULL && on_control_thread())
        actor = g.actor;
    struct gw__audit_item *it = calloc(1, sizeof *it);
    if (it == NULL)
        goto oom;
    it->kind = kind;
    it->status = rec->status;
    it->time_ms = now_ms();
    if (!copy_str(&it->action, rec->action ? rec->action : "unknown") ||
        !copy_str(&it->object, rec->object) || !copy_str(&it->before, rec->before) ||
        !copy_str(&it->after, rec->after) || !copy_str(&it->detail, rec->detail) ||
        !copy_str(&it->actor_key, actor ? actor->key : NULL) ||
        !copy_str(&it->actor_addr, actor ? actor->addr : NULL) ||
        !copy_str(&it->actor_via, actor ? actor->via : NULL))
        goto oom;
    push(it);
    return;
oom:
    if (it)
        item_free(it);
    atomic_fetch_add_explicit(&g.dropped, 1, memory_order_relaxed);
}

void gw_audit_record(const struct gw_audit_record *rec)
{
    enqueue(GW__AUDIT_ITEM_ENTRY, rec);
}

void gw_audit_unauthorized(const char *client, const char *path)
{
    if (!gw_audit_wants(GW_AUDIT_EV_UNAUTHORIZED))
        return;
    struct gw_audit_actor a = {.addr = client, .via = "proxy"};
    struct gw_audit_record r = {.actor = &a, .action = "auth.unauthorized", .object = path};
    enqueue(GW__AUDIT_ITEM_UNAUTHORIZED, &r);
}

void gw_audit_key_used(const char *consumer, const char *addr)
{
    if (!gw_audit_wants(GW_AUDIT_EV_NEW_ADDRESS) || consumer == NULL || addr == NULL)
        return;
    uint64_t h = gw_fnv1a64(consumer, strlen(consumer) + 1); /* the NUL separates the two */
    h = gw_hash_mix64(gw_fnv1a64_update(h, addr, strlen(addr))) | 1;
    size_t base = (size_t)(h >> 32) % SEEN_SLOTS;
    bool fresh = false;
    for (size_t i = 0; i < SEEN_PROBE; i++) {
        atomic_uint_least64_t *slot = &seen[(base + i) % SEEN_SLOTS];
        uint_least64_t cur = atomic_load_explicit(slot, memory_order_relaxed);
        if (cur == h)
            return;
        if (cur == 0) {
            if (atomic_compare_exchange_strong(slot, &cur, h)) {
                fresh = true;
                break;
            }
            if (cur == h)
                return; /* another thread saw the same pair first */
        }
    }
    if (!fresh) /* the window is full: forget the oldest-placed pair */
        atomic_store_explicit(&seen[base], h, memory_order_relaxed);
    char object[192];
    char detail[160];
    snprintf(object, sizeof object, "consumer:%s", consumer);
    json_t *d = json_pack("{s:s}", "address", addr);
    char *dt = d ? json_dumps(d, JSON_COMPACT) : NULL;
    snprintf(detail, sizeof detail, "%s", dt ? dt : "{}");
    free(dt);
    json_decref(d);
    struct gw_audit_actor a = {.key = consumer, .addr = addr, .via = "proxy"};
    struct gw_audit_record r = {
        .actor = &a, .action = "auth.apikey_new_address", .object = object, .detail = detail};
    gw_audit_record(&r);
}

void gw_audit_set_actor(const struct gw_audit_actor *actor)
{
    g.actor = actor;
}

/* ---- lifecycle (control thread) -------------------------------------------------------------- */

int gw_audit_start(uv_loop_t *loop, const struct gw_config *cfg)
{
    int rc = 0;
    if (!cfg->audit.enabled)
        return 0;
    g.loop = loop;
    g.control = uv_thread_self();
    g.cap = cfg->audit.queue;
    g.unauth_threshold = cfg->audit.unauthorized_threshold;
    g.unauth_window_ms = cfg->audit.unauthorized_window_ms;
    g.seq = 0;
    memcpy(g.hash, GW__AUDIT_ZERO_HASH, 65);
    memset(g.unauth, 0, sizeof g.unauth);
    for (size_t i = 0; i < SEEN_SLOTS; i++)
        atomic_store_explicit(&seen[i], 0, memory_order_relaxed);
    atomic_store(&g.dropped, 0);
    atomic_store(&g.entries, 0);
    uint64_t fseq = 0, dseq = 0;
    char fhash[65], dhash[65];
    if (cfg->audit.file) {
        rc = gw__audit_file_open(cfg->audit.file, &g.file, &fseq, fhash);
        if (rc < 0) {
            gw_log_error("audit: cannot open %s: %s", cfg->audit.file, gw_strerror(rc));
            goto fail;
        }
    }
    if (cfg->audit.sqlite) {
        rc = gw__audit_sqlite_open(cfg->audit.sqlite, &g.db, &dseq, dhash);
        if (rc < 0)
            goto fail;
    }
    /* The chain continues from whichever store holds the later entry: the file, unless it is
     * new or was rotated away while gantry was stopped (then SQLite knows the last entry), or
     * SQLite is new. */
    if (g.file && (g.db == NULL || fseq >= dseq)) {
        g.seq = fseq;
        memcpy(g.hash, fhash, 65);
    } else if (g.db) {
        g.seq = dseq;
        memcpy(g.hash, dhash, 65);
    }
    if (g.file && g.db && fseq != dseq && fseq != 0)
        gw_log_warn("audit: %s ends at entry %llu and %s at %llu: the chain continues from entry "
                    "%llu",
                    cfg->audit.file, (unsigned long long)fseq, cfg->audit.sqlite,
                    (unsigned long long)dseq, (unsigned long long)g.seq);
    if (cfg->audit.pg_dsn) {
        rc = gw__audit_pg_start(loop, cfg->audit.pg_dsn, cfg->audit.pg_queue, &g.pg);
        if (rc < 0)
            goto fail;
    }
    rc = uv_async_init(loop, &g.async, on_async);
    if (rc < 0)
        goto fail;
    g.started = true;
    atomic_store(&gw__audit_events, cfg->audit.events ? cfg->audit.events : 0);
    gw_log_info("audit: recording to%s%s%s%s%s (entry %llu next)", g.file ? " " : "",
                g.file ? cfg->audit.file : "", g.db ? " sqlite:" : "",
                g.db ? cfg->audit.sqlite : "", g.pg ? " postgres" : "",
                (unsigned long long)g.seq + 1);
    return 0;
fail:
    gw__audit_pg_stop(g.pg);
    gw__audit_sqlite_close(g.db);
    gw__audit_file_close(g.file);
    g.pg = NULL;
    g.db = NULL;
    g.file = NULL;
    return rc < 0 ? rc : GW_EINVAL;
}

void gw_audit_stop(void)
{
    if (!g.started)
        return;
    drain();
    atomic_store(&gw__audit_events, 0);
    drain(); /* what raced with the store */
    gw__audit_pg_stop(g.pg);
    gw__audit_sqlite_close(g.db);
    gw__audit_file_close(g.file);
    g.pg = NULL;
    g.db = NULL;
    g.file = NULL;
    g.actor = NULL;
    uv_close((uv_handle_t *)&g.async, NULL);
    g.started = false;
}

void gw_audit_reopen(void)
{
    if (!g.started || g.file == NULL)
        return;
    drain();
    int rc = gw__audit_file_reopen(g.file);
    if (rc < 0)
        gw_log_error("audit: cannot reopen %s: %s; still writing to the old file",
                     gw__audit_file_path(g.file), gw_strerror(rc));
    else
        gw_log_info("audit: reopened %s", gw__audit_file_path(g.file));
}

int gw_audit_query_async(const struct gw_audit_filter *f, gw_audit_query_cb cb, void *arg,
                         char *why, size_t cap)
{
    if (!g.started || g.pg == NULL) {
        snprintf(why, cap, "the audit log has no PostgreSQL store to read");
        return GW_EINVAL;
    }
    drain(); /* what was recorded before the query is queued before it */
    return gw__audit_pg_query(g.pg, f, cb, arg, why, cap);
}

void gw_audit_get_stats(struct gw_audit_stats *st)
{
    memset(st, 0, sizeof *st);
    st->enabled = g.started;
    st->entries = atomic_load_explicit(&g.entries, memory_order_relaxed);
    st->dropped = atomic_load_explicit(&g.dropped, memory_order_relaxed);
    if (g.pg)
        gw__audit_pg_stats(g.pg, st);
}

int gw_audit_query(const struct gw_audit_filter *f, json_t **out, char *why, size_t cap)
{
    *out = NULL;
    if (g.started && g.db == NULL && g.file == NULL && g.pg != NULL)
        return 1;
    if (!g.started || (g.db == NULL && g.file == NULL)) {
        snprintf(why, cap,
                 "the audit log has no store to read: configure audit.file or audit.sqlite");
        return GW_EINVAL;
    }
    drain();
    json_t *arr = json_array();
    if (arr == NULL)
        return GW_ENOMEM;
    int rc = g.db ? gw__audit_sqlite_query(g.db, f, arr, why, cap)
                  : gw__audit_file_query(gw__audit_file_path(g.file), f, arr, why, cap);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    json_t *next = json_null();
    if (json_array_size(arr) > f->limit) {
        json_array_remove(arr, f->limit);
        json_t *last = json_array_get(arr, f->limit - 1);
        next = json_object_get(last, "seq");
        json_incref(next);
    }
    *out = json_pack("{s:o, s:o, s:s}", "entries", arr, "next_cursor", next, "source",
                     g.db ? "sqlite" : "file");
    return *out ? 0 : GW_ENOMEM;
}

/*
 * The registrations themselves: storage, renewal, removal and expiry (registry.h).
 *
 * Storage is an array in registration order; lookups by id scan it. The API answers one
 * request at a time on the control thread, and every change that alters routing costs a
 * reload that is linear in the number of services anyway, so a scan is not what limits it.
 * The timer is armed for the earliest expiry after every change.
 */
#include "registry/internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"

struct gw_registry {
    uv_timer_t timer;      /* the earliest expiry */
    uv_timer_t publish;    /* the next publication of changes */
    uint64_t published_at; /* uv_now of the last publication */
    uint64_t last_cost_ms; /* how long the last publication (a reload) took */
    bool pending;          /* changes wait for the publish timer */
    unsigned open_handles;
    struct gw_registration **items;
    size_t n;
    size_t cap;
    gw_registry_change_fn on_change;
    void *arg;
    uint64_t expiry_interval_ms; /* publish interval for expiries (the last one given) */
    json_t *file_doc;            /* the file's config document, for conflicts */
    uv_timer_t save;             /* the next write of the store */
    char *store;                 /* registration.store, or NULL */
    bool dirty;                  /* changes not yet in the store */
};

static void on_save(uv_timer_t *t)
{
    struct gw_registry *reg = t->data;
    reg->dirty = false;
    if (gw__registry_store_save(reg, reg->store) < 0)
        reg->dirty = true; /* logged; the next change tries again */
}

void gw__registry_touch(struct gw_registry *reg)
{
    if (reg->store == NULL || (reg->dirty && uv_is_active((uv_handle_t *)&reg->save)))
        return;
    reg->dirty = true;
    uv_timer_start(&reg->save, on_save, GW_REGISTRY_SAVE_DELAY_MS, 0);
}

int gw_registry_set_store(struct gw_registry *reg, const char *path)
{
    char *p = NULL;
    if (path && (p = strdup(path)) == NULL)
        return GW_ENOMEM;
    free(reg->store);
    reg->store = p;
    return 0;
}

void gw_registry_set_file_doc(struct gw_registry *reg, json_t *doc)
{
    json_incref(doc);
    json_decref(reg->file_doc);
    reg->file_doc = doc;
}

json_t *gw__registry_file_doc(const struct gw_registry *reg)
{
    return reg->file_doc;
}

uint64_t gw_registry_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_timer(uv_timer_t *t);

static void arm(struct gw_registry *reg)
{
    uint64_t first = UINT64_MAX;
    for (size_t i = 0; i < reg->n; i++) {
        if (reg->items[i]->expires_ms < first)
            first = reg->items[i]->expires_ms;
    }
    if (first == UINT64_MAX) {
        uv_timer_stop(&reg->timer);
        return;
    }
    uint64_t now = gw_registry_now_ms();
    uv_timer_start(&reg->timer, on_timer, first > now ? first - now : 0, 0);
}

static void on_publish(uv_timer_t *t)
{
    struct gw_registry *reg = t->data;
    reg->pending = false;
    uv_update_time(t->loop);
    uint64_t start = uv_now(t->loop);
    if (reg->on_change)
        reg->on_change(reg->arg);
    /* The interval counts from the end of the reload: a reload that takes longer than the
     * interval must not turn every registration into a reload of its own. */
    uv_update_time(t->loop);
    reg->published_at = uv_now(t->loop);
    reg->last_cost_ms = reg->published_at - start;
}

void gw_registry_changed(struct gw_registry *reg, uint64_t interval_ms)
{
    reg->expiry_interval_ms = interval_ms;
    if (reg->pending)
        return;
    uint64_t now = uv_now(reg->publish.loop);
    /* Never sooner than the last publication took either: with many services a reload costs
     * more than the interval, and the control thread must keep at least half its time for the
     * requests (a burst of registrations is answered between reloads). */
    uint64_t gap = interval_ms > reg->last_cost_ms ? interval_ms : reg->last_cost_ms;
    uint64_t due = reg->published_at + gap;
    reg->pending = true;
    uv_timer_start(&reg->publish, on_publish, due > now ? due - now : 0, 0);
}

bool gw_registry_pending(const struct gw_registry *reg)
{
    return reg->pending;
}

static void on_timer(uv_timer_t *t)
{
    struct gw_registry *reg = t->data;
    if (gw_registry_expire(reg, gw_registry_now_ms()))
        gw_registry_changed(reg, reg->expiry_interval_ms);
    arm(reg);
}

int gw_registry_new(uv_loop_t *loop, gw_registry_change_fn on_change, void *arg,
                    struct gw_registry **out)
{
    struct gw_registry *reg = calloc(1, sizeof *reg);
    *out = NULL;
    if (reg == NULL)
        return GW_ENOMEM;
    uv_timer_init(loop, &reg->timer);
    uv_timer_init(loop, &reg->publish);
    uv_timer_init(loop, &reg->save);
    reg->timer.data = reg->publish.data = reg->save.data = reg;
    reg->open_handles = 3;
    reg->published_at = uv_now(loop);
    reg->on_change = on_change;
    reg->arg = arg;
    *out = reg;
    return 0;
}

void gw_registration_free(struct gw_registration *e)
{
    if (e == NULL)
        return;
    free(e->name);
    free(e->url);
    free(e->prefix);
    if (e->token_box)
        explicit_bzero(e->token_box, e->token_box_len);
    free(e->token_box);
    free(e);
}

static void on_closed(uv_handle_t *h)
{
    struct gw_registry *reg = h->data;
    if (--reg->open_handles == 0)
        free(reg);
}

void gw_registry_close(struct gw_registry *reg)
{
    if (reg == NULL)
        return;
    if (reg->store && reg->dirty)
        gw__registry_store_save(reg, reg->store);
    free(reg->store);
    reg->store = NULL;
    for (size_t i = 0; i < reg->n; i++)
        gw_registration_free(reg->items[i]);
    free(reg->items);
    reg->items = NULL;
    json_decref(reg->file_doc);
    reg->file_doc = NULL;
    reg->n = reg->cap = 0;
    uv_close((uv_handle_t *)&reg->timer, on_closed);
    uv_close((uv_handle_t *)&reg->publish, on_closed);
    uv_close((uv_handle_t *)&reg->save, on_closed);
}

static long find(const struct gw_registry *reg, const char *id)
{
    for (size_t i = 0; i < reg->n; i++) {
        if (strcmp(reg->items[i]->id, id) == 0)
            return (long)i;
    }
    return -1;
}

void gw__registry_rearm(struct gw_registry *reg)
{
    arm(reg);
    gw__registry_touch(reg);
}

struct gw_registration *gw__registry_find(struct gw_registry *reg, const char *id)
{
    long i = find(reg, id);
    return i < 0 ? NULL : reg->items[i];
}

const struct gw_registration *gw_registry_get(const struct gw_registry *reg, const char *id)
{
    long i = find(reg, id);
    return i < 0 ? NULL : reg->items[i];
}

size_t gw_registry_count(const struct gw_registry *reg)
{
    return reg->n;
}

const struct gw_registration *gw_registry_at(const struct gw_registry *reg, size_t i)
{
    return i < reg->n ? reg->items[i] : NULL;
}

struct gw_registration *gw__registry_swap(struct gw_registry *reg, struct gw_registration *e)
{
    long i = find(reg, e->id);
    struct gw_registration *old = NULL;
    if (i >= 0) {
        old = reg->items[i];
        reg->items[i] = e;
        arm(reg);
        gw__registry_touch(reg);
        return old;
    }
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        struct gw_registration **p = realloc(reg->items, cap * sizeof *p);
        if (p == NULL)
            return e; /* the caller's own pointer back: out of memory */
        reg->items = p;
        reg->cap = cap;
    }
    reg->items[reg->n++] = e;
    arm(reg);
    gw__registry_touch(reg);
    return NULL;
}

struct gw_registration *gw_registry_remove(struct gw_registry *reg, const char *id)
{
    long i = find(reg, id);
    if (i < 0)
        return NULL;
    struct gw_registration *e = reg->items[i];
    memmove(&reg->items[i], &reg->items[i + 1], (reg->n - (size_t)i - 1) * sizeof *reg->items);
    reg->n--;
    arm(reg);
    gw__registry_touch(reg);
    return e;
}

const struct gw_registration *gw_registry_renew(struct gw_registry *reg, const char *id,
                                                uint64_t now_ms)
{
    long i = find(reg, id);
    if (i < 0)
        return NULL;
    struct gw_registration *e = reg->items[i];
    e->renewed_ms = now_ms;
    e->expires_ms = now_ms + e->ttl_ms;
    arm(reg);
    gw__registry_touch(reg);
    return e;
}

bool gw_registry_expire(struct gw_registry *reg, uint64_t now_ms)
{
    size_t kept = 0;
    bool any = false;
    for (size_t i = 0; i < reg->n; i++) {
        struct gw_registration *e = reg->items[i];
        if (e->expires_ms > now_ms) {
            reg->items[kept++] = e;
            continue;
        }
        gw_log_info("registration %s expired: %s at %s no longer a target of %s (not renewed "
                    "within %llu ms)",
                    e->id, e->url, e->prefix, e->name, (unsigned long long)e->ttl_ms);
        gw_registration_free(e);
        any = true;
    }
    reg->n = kept;
    if (any)
        gw__registry_touch(reg);
    return any;
}

json_t *gw_registration_json(const struct gw_registration *e, uint64_t now_ms)
{
    uint64_t left = e->expires_ms > now_ms ? e->expires_ms - now_ms : 0;
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:f, s:I, s:I, s:I, s:f, s:b}", "id", e->id, "name",
                     e->name, "url", e->url, "prefix", e->prefix, "weight", (int)e->weight, "ttl",
                     (double)e->ttl_ms / 1000.0, "registered_at_ms", (json_int_t)e->created_ms,
                     "renewed_at_ms", (json_int_t)e->renewed_ms, "expires_at_ms",
                     (json_int_t)e->expires_ms, "expires_in", (double)left / 1000.0, "has_token",
                     e->token_box != NULL);
}

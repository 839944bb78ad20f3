/* The sharded in-process rate-limit store; see state/ratelimit_local.h. */
#include "state/ratelimit_local.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/shard_table.h"

struct rl_entry {
    struct gw_shard_entry link;
    size_t len;
    struct gw_rl_state state;
    unsigned char key[];
};

struct gw_rl_store {
    struct gw_rl_conf conf;
    struct gw_shard_table *table;
};

/* When a full shard needs room, the idle test looks at this many least recently used keys. */
#define RL_IDLE_PROBE 8

static struct rl_entry *rl_entry_of(const struct gw_shard_entry *e)
{
    return gw_container_of(e, struct rl_entry, link);
}

static bool key_eq(const struct gw_shard_entry *e, const void *key, size_t len)
{
    const struct rl_entry *r = rl_entry_of(e);
    return r->len == len && memcmp(r->key, key, len) == 0;
}

/* An idle key is back at full allowance: forgetting it changes no decision. */
static bool key_idle(const struct gw_shard_entry *e, uint64_t now, void *ctx)
{
    const struct gw_rl_store *st = ctx;
    return gw_rl_state_idle(&st->conf, &rl_entry_of(e)->state, now);
}

static void free_entry(struct gw_shard_entry *e, void *ctx)
{
    (void)ctx;
    free(rl_entry_of(e));
}

int gw_rl_store_new(struct gw_rl_store **out, const struct gw_rl_conf *conf, size_t max_keys)
{
    int rc = GW_EINVAL;
    struct gw_rl_store *st = NULL;
    if (max_keys < GW_RL_STORE_SHARDS)
        goto fail;
    rc = GW_ENOMEM;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        goto fail;
    st->conf = *conf;
    rc = gw_rl_conf_prepare(&st->conf);
    if (rc != 0)
        goto fail;
    const struct gw_shard_table_conf tc = {
        .max_entries = max_keys,
        .max_shards = GW_RL_STORE_SHARDS,
        .min_per_shard = 1,
        .idle_probe = RL_IDLE_PROBE,
        .key_eq = key_eq,
        .idle = key_idle,
        .free_entry = free_entry,
        .ctx = st,
    };
    rc = gw_shard_table_new(&st->table, &tc);
    if (rc != 0)
        goto fail;
    *out = st;
    return 0;
fail:
    free(st);
    return rc;
}

void gw_rl_store_free(struct gw_rl_store *st)
{
    if (st == NULL)
        return;
    gw_shard_table_free(st->table);
    free(st);
}

int gw_rl_store_decide(struct gw_rl_store *st, const void *key, size_t len, uint64_t now_us,
                       struct gw_rl_decision *out)
{
    if (key == NULL || len == 0 || len > GW_RL_STORE_MAX_KEY)
        return GW_EINVAL;
    uint64_t h = gw_shard_table_hash(st->table, key, len);
    struct gw_shard *sh = gw_shard_table_lock(st->table, h);
    struct gw_shard_entry *found = gw_shard_lookup(sh, h, key, len, now_us);
    struct rl_entry *e;
    if (found != NULL) {
        e = rl_entry_of(found);
    } else {
        e = malloc(sizeof(*e) + len);
        if (e == NULL) {
            gw_shard_unlock(sh);
            return GW_ENOMEM;
        }
        e->link = (struct gw_shard_entry){.hash = h};
        e->len = len;
        memcpy(e->key, key, len);
        gw_rl_state_init(&e->state, &st->conf);
        gw_shard_insert(sh, &e->link, now_us);
    }
    gw_rl_decide(&st->conf, &e->state, now_us, out);
    gw_shard_unlock(sh);
    return 0;
}

size_t gw_rl_store_sweep(struct gw_rl_store *st, uint64_t now_us)
{
    return gw_shard_table_sweep(st->table, now_us);
}

void gw_rl_store_stats(struct gw_rl_store *st, struct gw_rl_store_stats *out)
{
    struct gw_shard_table_stats ts;
    gw_shard_table_stats(st->table, &ts);
    out->keys = ts.entries;
    out->evictions = ts.evictions;
    out->expired = ts.expired;
}

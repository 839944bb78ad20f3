/*
 * The response cache's Redis backend (policy/cache_redis.h): the client per loop, the stage's
 * lookups, stores and invalidations on a worker's loop, and the admin API's purges on the
 * control loop. Every command is bounded by cache.redis.timeout; when Redis cannot answer, a
 * lookup is a miss, a store is dropped, and the request never waits longer than that.
 */
#include "policy/cache_redis.h"

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/entry.h"
#include "cache/key.h"
#include "cache/vary.h"
#include "config/config-t.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "policy/chain.h"
#include "policy/internal.h"
#include "policy/stages.h"
#include "runtime/worker-t.h"
#include "state/redis_client.h"

/* Stores an entry: the variant's field in the key's hash, the hash's TTL only ever raised, the
 * key in the index (scored by its expiry; expired members pruned), the key in each tag's set.
 * A hash with 32 variants that gets a 33rd is emptied first: Vary on a field with many values
 * (User-Agent) must not grow one hash, which every lookup of the key reads whole.
 * KEYS: hash, index. ARGV: field, entry, ttl, key, now, tag key prefix, tags... */
static const char STORE_LUA[] =
    "if redis.call('HLEN', KEYS[1]) >= 32 and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "local ttl = tonumber(ARGV[3])\n"
    "if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end\n"
    "local now = tonumber(ARGV[5])\n"
    "local old = redis.call('ZSCORE', KEYS[2], ARGV[4])\n"
    "if not old or tonumber(old) < now + ttl then\n"
    "  redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)\n"
    "for i = 7, #ARGV do\n"
    "  local t = ARGV[6] .. ARGV[i]\n"
    "  redis.call('SADD', t, ARGV[4])\n"
    "  if redis.call('TTL', t) < ttl then redis.call('EXPIRE', t, ttl) end\n"
    "end\n"
    "return 1\n";

/* Purges; returns the number of variants removed. ARGV: prefix, mode (key, url, prefix, tag,
 * all), value, now. A key's URL part ends at its first NUL (cache/key.h). */
static const char PURGE_LUA[] = "local P, mode, v = ARGV[1], ARGV[2], ARGV[3]\n"
                                "local idx = P .. 'i'\n"
                                "local n = 0\n"
                                "local function drop(k)\n"
                                "  n = n + redis.call('HLEN', P .. 'o:' .. k)\n"
                                "  redis.call('DEL', P .. 'o:' .. k)\n"
                                "  redis.call('ZREM', idx, k)\n"
                                "end\n"
                                "if mode == 'key' then\n"
                                "  drop(v)\n"
                                "elseif mode == 'tag' then\n"
                                "  local t = P .. 't:' .. v\n"
                                "  for _, k in ipairs(redis.call('SMEMBERS', t)) do drop(k) end\n"
                                "  redis.call('DEL', t)\n"
                                "else\n"
                                "  redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. ARGV[4])\n"
                                "  for _, k in ipairs(redis.call('ZRANGE', idx, 0, -1)) do\n"
                                "    local z = string.find(k, '\\0', 1, true)\n"
                                "    local url = z and string.sub(k, 1, z - 1) or k\n"
                                "    if mode == 'all' or (mode == 'url' and url == v) or\n"
                                "       (mode == 'prefix' and string.sub(url, 1, #v) == v) then\n"
                                "      drop(k)\n"
                                "    end\n"
                                "  end\n"
                                "end\n"
                                "return n\n";

static struct gw_redis_script store_script, purge_script;
static uv_once_t scripts_once = UV_ONCE_INIT;
static int scripts_rc;

static void init_scripts(void)
{
    scripts_rc = gw_redis_script_init(&store_script, STORE_LUA);
    if (scripts_rc == 0)
        scripts_rc = gw_redis_script_init(&purge_script, PURGE_LUA);
}

/* Process-wide: clients and how many are down (one log line per change of the whole), and the
 * counters of gw_cache_redis_stats. */
static _Atomic uint64_t n_clients, n_up, n_down, n_errors, n_lookups, n_found, n_stores;

struct gw_cache_redis {
    struct gw_redis *redis;
    struct gw_redis_watch watch;
    bool down, up;
    uint64_t timeout_ms;
    int64_t max_ttl; /* seconds */
    int64_t max_swr, max_sie;
    size_t prefix_len;
    char prefix[72];
    char id[720]; /* the settings it was made with */
};

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void gw_cache_redis_stats(struct gw_cache_redis_stats *out)
{
    *out = (struct gw_cache_redis_stats){
        .clients = atomic_load(&n_clients),
        .up = atomic_load(&n_up),
        .down = atomic_load(&n_down),
        .errors = atomic_load(&n_errors),
        .lookups = atomic_load(&n_lookups),
        .found = atomic_load(&n_found),
        .stores = atomic_load(&n_stores),
    };
}

bool gw_cache_redis_wanted(const struct gw_config *cfg)
{
    if (cfg->rate_limit.redis.host == NULL)
        return false;
    for (size_t i = 0; i < cfg->nservices; i++) {
        if (cfg->services[i].cache.enabled &&
            cfg->services[i].cache.backend == GW_CACHE_BACKEND_REDIS)
            return true;
    }
    return cfg->cache.backend == GW_CACHE_BACKEND_REDIS;
}

/* One line when the first client of the process goes down, one when the last comes back. */
static void on_state(void *arg, int status, const char *why)
{
    struct gw_cache_redis *cr = arg;
    if (status == 0 && !cr->up) {
        cr->up = true;
        atomic_fetch_add(&n_up, 1);
    } else if (status != 0 && cr->up) {
        cr->up = false;
        atomic_fetch_sub(&n_up, 1);
    }
    if (status == 0 && cr->down) {
        cr->down = false;
        if (atomic_fetch_sub(&n_down, 1) == 1)
            gw_log_info("cache: redis at %s is up: the shared cache serves again",
                        gw_redis_addr(cr->redis));
    } else if (status != 0 && !cr->down) {
        cr->down = true;
        if (atomic_fetch_add(&n_down, 1) == 0)
            gw_log_error("cache: redis at %s is down (%s): cached services go upstream (misses, "
                         "nothing stored) until it is back",
                         gw_redis_addr(cr->redis), why ? why : "?");
    }
}

static void settings_id(const struct gw_config *cfg, char *out, size_t cap)
{
    const struct gw_redis_conf *rc = &cfg->rate_limit.redis;
    snprintf(out, cap, "%s|%u|%s|%s|%u|%llu|%llu|%s|%llu|%llu|%llu|%llu", rc->host,
             (unsigned)rc->port, rc->username ? rc->username : "", rc->password ? rc->password : "",
             rc->db, (unsigned long long)rc->backoff_min_ms, (unsigned long long)rc->backoff_max_ms,
             cfg->cache.redis_prefix ? cfg->cache.redis_prefix : "",
             (unsigned long long)cfg->cache.redis_timeout_ms,
             (unsigned long long)cfg->cache.redis_max_ttl_ms,
             (unsigned long long)cfg->cache.max_swr_ms, (unsigned long long)cfg->cache.max_sie_ms);
}

static void close_client(struct gw_cache_redis *cr)
{
    if (cr->down)
        atomic_fetch_sub(&n_down, 1);
    if (cr->up)
        atomic_fetch_sub(&n_up, 1);
    atomic_fetch_sub(&n_clients, 1);
    /* Commands in flight hear GW_EREDISDOWN now; their callbacks do not use cr. */
    gw_redis_close(cr->redis, NULL, NULL);
    free(cr);
}

int gw_cache_redis_sync(struct gw_cache_redis **slot, uv_loop_t *loop, const struct gw_config *cfg,
                        bool stop)
{
    char id[sizeof((struct gw_cache_redis *)0)->id] = "";
    if (!stop && gw_cache_redis_wanted(cfg))
        settings_id(cfg, id, sizeof id);
    if (*slot != NULL && strcmp((*slot)->id, id) == 0)
        return 0;
    if (*slot != NULL) {
        /* Unset first: closing answers the commands in flight now, and the requests they resume
         * must not send anything more on this client. */
        struct gw_cache_redis *old = *slot;
        *slot = NULL;
        close_client(old);
    }
    if (id[0] == '\0')
        return 0;
    uv_once(&scripts_once, init_scripts);
    if (scripts_rc < 0)
        return scripts_rc;
    struct gw_cache_redis *cr = calloc(1, sizeof *cr);
    if (cr == NULL)
        return GW_ENOMEM;
    const struct gw_redis_conf *rc = &cfg->rate_limit.redis;
    struct gw_redis_opts o = {.host = rc->host,
                              .port = rc->port,
                              .username = rc->username,
                              .password = rc->password,
                              .db = rc->db,
                              .connect_timeout_ms = cfg->cache.redis_timeout_ms > 1000
                                                        ? cfg->cache.redis_timeout_ms
                                                        : 1000,
                              .backoff_min_ms = rc->backoff_min_ms,
                              .backoff_max_ms = rc->backoff_max_ms,
                              .use = "cache"};
    snprintf(cr->id, sizeof cr->id, "%s", id);
    snprintf(cr->prefix, sizeof cr->prefix, "%s", cfg->cache.redis_prefix);
    cr->prefix_len = strlen(cr->prefix);
    cr->timeout_ms = cfg->cache.redis_timeout_ms ? cfg->cache.redis_timeout_ms : 50;
    cr->max_ttl = (int64_t)(cfg->cache.redis_max_ttl_ms / 1000);
    cr->max_swr = (int64_t)(cfg->cache.max_swr_ms / 1000);
    cr->max_sie = (int64_t)(cfg->cache.max_sie_ms / 1000);
    int err = gw_redis_new(&cr->redis, loop, &o);
    if (err < 0) {
        free(cr);
        return err;
    }
    if (gw_redis_script_add(cr->redis, &store_script) < 0 ||
        gw_redis_script_add(cr->redis, &purge_script) < 0) {
        gw_redis_close(cr->redis, NULL, NULL);
        free(cr);
        return GW_ENOMEM;
    }
    gw_redis_watch(cr->redis, &cr->watch, on_state, cr);
    count(&n_clients);
    *slot = cr;
    return 0;
}

/* P "o:" K into out (cap bytes); its length, or 0 when it does not fit. */
static size_t object_name(const struct gw_cache_redis *cr, const char *key, size_t len, char *out,
                          size_t cap)
{
    if (cr->prefix_len + 2 + len > cap)
        return 0;
    memcpy(out, cr->prefix, cr->prefix_len);
    memcpy(out + cr->prefix_len, "o:", 2);
    memcpy(out + cr->prefix_len + 2, key, len);
    return cr->prefix_len + 2 + len;
}

/* ---- lookups (a worker's loop) ------------------------------------------------------------- */

/* The first entry of an HGETALL reply that decodes, has the request's key and matches its Vary
 * fields, as a new object; NULL when none. A malformed entry is skipped (and counted). */
static struct gw_cache_obj *pick(const struct redisReply *rep, const struct cache_state *st,
                                 const struct gw_request *r)
{
    unsigned normalize = gw__cache_vary_normalize(r);
    for (size_t i = 1; i < rep->elements; i += 2) {
        const struct redisReply *v = rep->element[i];
        struct gw_cache_entry e;
        if (v->type != REDIS_REPLY_STRING ||
            gw_cache_entry_decode(v->str, (size_t)v->len, &e) != 0) {
            count(&n_errors);
            continue;
        }
        if (e.key_len != st->key_len || memcmp(e.key, st->key, e.key_len) != 0)
            continue;
        struct gw_cache_obj view = {.vary_names = e.vary_names,
                                    .vary_names_len = (uint32_t)e.vary_names_len,
                                    .vary_sig = e.vary_sig,
                                    .vary_sig_len = (uint32_t)e.vary_sig_len};
        if (gw__cache_variant_matches(&view, &r->msg, normalize))
            return gw_cache_entry_obj(&e);
    }
    return NULL;
}

static void on_lookup(void *arg, int status, const struct redisReply *rep)
{
    struct gw_request *r = arg;
    struct cache_state *st = r->slot[GW_STAGE_CACHE];
    st->rcmd = NULL;
    st->rphase = RP_DONE;
    if (status != 0 || rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        st->rerror = true;
        count(&n_errors);
        gw__cache_count(r, GW_MX_CACHE_BACKEND_ERRORS, 1);
    } else {
        st->robj = pick(rep, st, r);
        if (st->robj != NULL)
            count(&n_found);
    }
    gw_policy_resume(r);
}

int gw__cache_redis_lookup(struct cache_state *st, struct gw_request *r)
{
    struct gw_cache_redis *cr = r->w->cache_redis;
    char name[GW_CACHE_KEY_MAX + 80];
    size_t n = object_name(cr, st->key, st->key_len, name, sizeof name);
    if (n == 0)
        return GW_EINVAL;
    const char *argv[] = {"HGETALL", name};
    const size_t lens[] = {7, n};
    int rc = gw_redis_command(cr->redis, 2, argv, lens, cr->timeout_ms, on_lookup, r, &st->rcmd);
    if (rc < 0)
        return rc;
    count(&n_lookups);
    st->rphase = RP_WAIT;
    return 0;
}

void gw__cache_redis_cancel(struct cache_state *st)
{
    if (st->rcmd != NULL)
        gw_redis_cancel(st->rcmd);
    st->rcmd = NULL;
    st->rphase = RP_NONE;
    if (!st->rpurge)
        gw_cache_obj_release(st->robj);
    st->robj = NULL;
}

/* ---- purges ---------------------------------------------------------------------------------- */

static const char *const mode_name[] = {"url", "prefix", "tag", "all", "key"};
#define MODE_KEY 4

static int run_purge(struct gw_cache_redis *cr, int mode, const char *value, size_t len,
                     gw_redis_reply_cb cb, void *arg, struct gw_redis_cmd **cmd)
{
    char now[24];
    int nl = snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    const char *argv[] = {cr->prefix, mode_name[mode], value ? value : "", now};
    const size_t lens[] = {cr->prefix_len, strlen(mode_name[mode]), value ? len : 0, (size_t)nl};
    /* A purge walks the index: give it more time than a lookup. */
    uint64_t timeout = cr->timeout_ms * 20 + 1000;
    return gw_redis_script_run(cr->redis, &purge_script, 0, 4, argv, lens, timeout, cb, arg, cmd);
}

static void on_invalidated(void *arg, int status, const struct redisReply *rep)
{
    (void)arg;
    (void)rep;
    if (status != 0)
        count(&n_errors);
}

void gw__cache_redis_invalidate(struct gw_cache_redis *cr, const char *key, size_t len)
{
    if (cr == NULL || run_purge(cr, MODE_KEY, key, len, on_invalidated, NULL, NULL) < 0)
        count(&n_errors);
}

static void on_purged_url(void *arg, int status, const struct redisReply *rep)
{
    struct gw_request *r = arg;
    struct cache_state *st = r->slot[GW_STAGE_CACHE];
    st->rcmd = NULL;
    st->rphase = RP_DONE;
    if (status == 0 && rep != NULL && rep->type == REDIS_REPLY_INTEGER) {
        st->rcount = (uint64_t)rep->integer;
    } else {
        st->rerror = true;
        count(&n_errors);
        gw__cache_count(r, GW_MX_CACHE_BACKEND_ERRORS, 1);
    }
    gw_policy_resume(r);
}

int gw__cache_redis_purge_url(struct cache_state *st, struct gw_request *r)
{
    size_t url_len = gw_cache_key_url_len(st->key, st->key_len);
    int rc = run_purge(r->w->cache_redis, GW_CACHE_PURGE_URL, st->key, url_len, on_purged_url, r,
                       &st->rcmd);
    if (rc == 0) {
        st->rphase = RP_WAIT;
        st->rpurge = true;
    }
    return rc;
}

struct purge_op {
    gw_cache_redis_purge_cb cb;
    void *arg;
};

static void on_purged(void *arg, int status, const struct redisReply *rep)
{
    struct purge_op *op = arg;
    if (status == 0 && (rep == NULL || rep->type != REDIS_REPLY_INTEGER))
        status = GW_EREDISREPLY;
    if (status != 0)
        count(&n_errors);
    op->cb(op->arg, status, status == 0 ? (uint64_t)rep->integer : 0);
    free(op);
}

int gw_cache_redis_purge(struct gw_cache_redis *cr, enum gw_cache_purge_mode mode,
                         const char *value, size_t len, gw_cache_redis_purge_cb cb, void *arg)
{
    if (cr == NULL)
        return GW_EREDISDOWN;
    struct purge_op *op = malloc(sizeof *op);
    if (op == NULL)
        return GW_ENOMEM;
    op->cb = cb;
    op->arg = arg;
    int rc = run_purge(cr, (int)mode, value, len, on_purged, op, NULL);
    if (rc < 0) {
        count(&n_errors);
        free(op);
    }
    return rc;
}

/* ---- stores ---------------------------------------------------------------------------------- */

/* A store in flight: the fill it ends when Redis answered (the requests waiting for the fill then
 * find the entry in Redis, whichever connection they read it on). */
struct store_op {
    struct gw_cache_store *fill_store;
    size_t fill_len;
    char fill_key[];
};

static void on_stored(void *arg, int status, const struct redisReply *rep)
{
    struct store_op *op = arg;
    (void)rep;
    if (status != 0)
        count(&n_errors);
    else
        count(&n_stores);
    if (op->fill_store != NULL)
        gw_cache_store_fill_end(op->fill_store, op->fill_key, op->fill_len);
    free(op);
}

/* How long Redis keeps the entry: the freshness left plus the stale allowances (RFC 5861,
 * bounded by the gateway's maxima); a response with a validator twice its lifetime and at
 * least a minute, so that it can be revalidated (a 304) rather than fetched again; at least
 * 1 s and at most max_ttl. */
static int64_t entry_ttl(const struct gw_cache_redis *cr, const struct gw_cache_obj *o, int64_t now)
{
    int64_t age = o->initial_age + (now > o->response_time ? now - o->response_time : 0);
    int64_t swr = o->cc.stale_while_revalidate > 0 ? o->cc.stale_while_revalidate : 0;
    int64_t sie = o->cc.stale_if_error > 0 ? o->cc.stale_if_error : 0;
    swr = swr < cr->max_swr ? swr : cr->max_swr;
    sie = sie < cr->max_sie ? sie : cr->max_sie;
    int64_t ttl = o->lifetime - age + (swr > sie ? swr : sie);
    size_t n;
    if (gw__cache_stored_field(o->head, "etag", &n) ||
        gw__cache_stored_field(o->head, "last-modified", &n)) {
        ttl += o->lifetime;
        ttl = ttl > 60 ? ttl : 60;
    }
    ttl = ttl > 1 ? ttl : 1;
    return ttl < cr->max_ttl ? ttl : cr->max_ttl;
}

#define MAX_TAGS 32

int gw__cache_redis_store(struct gw_cache_redis *cr, const struct gw_cache_obj *o,
                          const struct gw_config *cfg, struct gw_cache_store *fill_store,
                          const char *fill_key, size_t fill_len)
{
    (void)cfg;
    if (cr == NULL)
        return GW_EREDISDOWN;
    int64_t now = (int64_t)time(NULL);
    size_t size = gw_cache_entry_size(o);
    char *entry = malloc(size);
    char *field = malloc(o->vary_names_len + 1 + o->vary_sig_len + 1);
    struct store_op *op = malloc(sizeof *op + (fill_store ? fill_len : 0));
    char name[GW_CACHE_KEY_MAX + 80], idx[80], tagp[80], ttl[24], nows[24];
    int rc = GW_ENOMEM;
    if (entry == NULL || field == NULL || op == NULL)
        goto fail;
    rc = GW_EINVAL;
    size_t nl = object_name(cr, o->key, o->key_len, name, sizeof name);
    if (nl == 0 || gw_cache_entry_encode(o, entry, size) != size)
        goto fail;
    memcpy(field, o->vary_names, o->vary_names_len);
    field[o->vary_names_len] = '\0';
    memcpy(field + o->vary_names_len + 1, o->vary_sig, o->vary_sig_len);
    int il = snprintf(idx, sizeof idx, "%si", cr->prefix);
    int tl = snprintf(tagp, sizeof tagp, "%st:", cr->prefix);
    int ttll = snprintf(ttl, sizeof ttl, "%lld", (long long)entry_ttl(cr, o, now));
    int nowl = snprintf(nows, sizeof nows, "%lld", (long long)now);
    const char *argv[8 + MAX_TAGS] = {name, idx, field, entry, ttl, o->key, nows, tagp};
    size_t lens[8 + MAX_TAGS] = {
        nl,           (size_t)il,   o->vary_names_len + 1 + o->vary_sig_len,
        size,         (size_t)ttll, o->key_len,
        (size_t)nowl, (size_t)tl};
    int argc = 8;
    /* Tags: separated by spaces or commas (as the in-process store reads them). */
    for (size_t i = 0; i < o->tags_len && argc < 8 + MAX_TAGS;) {
        while (i < o->tags_len && (o->tags[i] == ' ' || o->tags[i] == ',' || o->tags[i] == '\t'))
            i++;
        size_t a = i;
        while (i < o->tags_len && o->tags[i] != ' ' && o->tags[i] != ',' && o->tags[i] != '\t')
            i++;
        if (i > a) {
            argv[argc] = o->tags + a;
            lens[argc++] = i - a;
        }
    }
    op->fill_store = fill_store;
    op->fill_len = fill_store ? fill_len : 0;
    if (fill_store)
        memcpy(op->fill_key, fill_key, fill_len);
    rc = gw_redis_script_run(cr->redis, &store_script, 2, argc, argv, lens,
                             cr->timeout_ms * 4 + 100, on_stored, op, NULL);
    if (rc < 0)
        goto fail;
    free(entry);
    free(field);
    return 0;
fail:
    count(&n_errors);
    free(entry);
    free(field);
    free(op);
    return rc;
}

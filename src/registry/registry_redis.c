/*
 * Registrations shared by several instances through Redis (registration.redis), with the
 * shared client of state/redis_client.h on the control loop.
 *
 * In Redis: one key per registration, PREFIX "r:" ID, holding its JSON (the store's form: the
 * token only sealed), expiring at the registration's own expiry (SET ... PXAT), and one channel,
 * PREFIX "events", carrying "put ID ORIGIN" and "del ID ORIGIN" (ORIGIN: a random id of the
 * instance that made the change, so it ignores its own messages).
 *
 * - A change made here (registered, renewed, removed through the admin API) is written to Redis
 *   and published; the other instances read the key and apply it as a registration of their own
 *   (gw__registry_apply: the same checks, their own publication within publish_interval).
 * - Expiry needs no message: every instance removes a registration at the same wall-clock time,
 *   and Redis drops the key then.
 * - When the subscription becomes active (at start, and after each reconnect) the instance
 *   resynchronises: it reads every key, walked with SCAN (an instance that starts late loads
 *   the current set), and writes the registrations it holds that Redis does not (made while
 *   Redis was down).
 * - Redis down: commands fail at once (the client never waits for a connection), so the admin
 *   API answers as always and each instance keeps what it has; one log line per change of
 *   state. A registration removed elsewhere while this instance could not hear it stays here
 *   until its TTL.
 */
#include "registry/internal.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "core/url.h"
#include "state/redis_client.h"

#define CMD_TIMEOUT_MS 2000

struct gw_registry_share {
    struct gw_registry *reg;
    struct gw_redis *redis;
    struct gw_redis_watch watch;
    struct gw_redis_sub *sub;
    char *prefix;
    char channel[96];
    char origin[17];
    gw_registry_cfg_fn cfg_of;
    void *arg;
    bool closing;
    bool sub_active; /* the subscription is active: resynchronise when commands are up too */
    int last_state;  /* 1 up, -1 down, 0 not yet known */
};

/* A command's context: the share and, for a GET, the id it reads. */
struct call {
    struct gw_registry_share *sh;
    char id[GW_REGISTRY_ID_LEN + 1];
    bool resync; /* a GET of the resynchronisation: no log line per registration */
};

static void key_of(const struct gw_registry_share *sh, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%sr:%s", sh->prefix, id);
}

static void on_written(void *arg, int status, const struct redisReply *r)
{
    struct call *c = arg;
    if (status != 0 && status != GW_EREDISDOWN && !c->sh->closing)
        gw_log_error("registration.redis: writing registration %s failed: %s%s", c->id,
                     status == GW_EREDISREPLY && r && r->str ? r->str : "",
                     status == GW_EREDISTIMEOUT ? "timed out" : "");
    free(c);
}

static void issue(struct gw_registry_share *sh, const char *id, int argc, const char **argv)
{
    struct call *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->sh = sh;
    snprintf(c->id, sizeof c->id, "%s", id);
    /* Down: the instance keeps it; the resynchronisation writes it when Redis is back. */
    if (gw_redis_command(sh->redis, argc, argv, NULL, CMD_TIMEOUT_MS, on_written, c, NULL) != 0)
        free(c);
}

static void announce(struct gw_registry_share *sh, const char *what, const char *id)
{
    char msg[64];
    snprintf(msg, sizeof msg, "%s %s %s", what, id, sh->origin);
    const char *argv[] = {"PUBLISH", sh->channel, msg};
    issue(sh, id, 3, argv);
}

static void write_one(struct gw_registry_share *sh, const struct gw_registration *e)
{
    char key[160], pxat[32];
    json_t *j = gw__registry_entry_json(e);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return;
    key_of(sh, e->id, key, sizeof key);
    snprintf(pxat, sizeof pxat, "%llu", (unsigned long long)e->expires_ms);
    const char *argv[] = {"SET", key, text, "PXAT", pxat};
    issue(sh, e->id, 5, argv);
    free(text);
}

void gw_registry_share_put(struct gw_registry_share *sh, const struct gw_registration *e)
{
    if (sh == NULL || sh->closing || !gw_redis_up(sh->redis))
        return;
    write_one(sh, e);
    announce(sh, "put", e->id);
}

void gw_registry_share_del(struct gw_registry_share *sh, const char *id)
{
    char key[160];
    if (sh == NULL || sh->closing || !gw_redis_up(sh->redis))
        return;
    key_of(sh, id, key, sizeof key);
    const char *argv[] = {"DEL", key};
    issue(sh, id, 2, argv);
    announce(sh, "del", id);
}

/* A registration read from Redis: applied here (never written back). */
static void on_read(void *arg, int status, const struct redisReply *r)
{
    struct call *c = arg;
    struct gw_registry_share *sh = c->sh;
    if (sh->closing || status != 0 || r == NULL || r->type != REDIS_REPLY_STRING)
        goto out; /* gone meanwhile (expired, removed), or Redis down: nothing to apply */
    const struct gw_config *cfg = sh->cfg_of(sh->arg);
    json_t *j = json_loadb(r->str, r->len, JSON_REJECT_DUPLICATES, NULL);
    struct gw_registration *e = j ? gw__registry_entry_parse(j) : NULL;
    json_decref(j);
    uint64_t now = gw_registry_now_ms();
    if (e == NULL || cfg == NULL || !cfg->registration.enabled) {
        if (e == NULL)
            gw_log_error("registration.redis: key %sr:%s does not hold a registration", sh->prefix,
                         c->id);
        gw_registration_free(e);
        goto out;
    }
    if (e->expires_ms > now) {
        int rc = gw__registry_apply(sh->reg, cfg, e, now, "registration.redis");
        if (rc > 0) {
            if (!c->resync)
                gw_log_info("registration %s from another instance: %s at %s is a target of %s",
                            c->id, e->url, e->prefix, e->name);
            gw_registry_changed(sh->reg, cfg->registration.publish_interval_ms);
        }
    }
    gw_registration_free(e);
out:
    free(c);
}

static void read_one(struct gw_registry_share *sh, const char *id, bool resync)
{
    char key[160];
    struct call *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->sh = sh;
    c->resync = resync;
    snprintf(c->id, sizeof c->id, "%s", id);
    key_of(sh, id, key, sizeof key);
    const char *argv[] = {"GET", key};
    if (gw_redis_command(sh->redis, 2, argv, NULL, CMD_TIMEOUT_MS, on_read, c, NULL) != 0)
        free(c);
}

static bool is_id(const char *s, size_t n)
{
    if (n != GW_REGISTRY_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* One resynchronisation: a SCAN walk over the registration keys (never KEYS, which blocks
 * Redis for the whole keyspace at once), reading each key it meets; at the end of the walk the
 * registrations held here that Redis does not have are written. */
struct scan {
    struct gw_registry_share *sh;
    json_t *there; /* the ids met so far */
    size_t keys;
    char cursor[32];
    char pattern[160];
};

static void scan_next(struct scan *sc);

static void scan_end(struct scan *sc)
{
    struct gw_registry_share *sh = sc->sh;
    size_t pushed = 0;
    for (size_t i = 0; i < gw_registry_count(sh->reg); i++) {
        const struct gw_registration *e = gw_registry_at(sh->reg, i);
        if (json_object_get(sc->there, e->id) == NULL) {
            write_one(sh, e);
            announce(sh, "put", e->id);
            pushed++;
        }
    }
    gw_log_info("registration.redis: in step with %s (%zu registration%s there, %zu written "
                "from here)",
                gw_redis_addr(sh->redis), sc->keys, sc->keys == 1 ? "" : "s", pushed);
}

static void scan_free(struct scan *sc)
{
    json_decref(sc->there);
    free(sc);
}

/* A SCAN reply: [cursor, [key, ...]]. Reads each key, then the next batch or the end. */
static void on_scan(void *arg, int status, const struct redisReply *r)
{
    struct scan *sc = arg;
    struct gw_registry_share *sh = sc->sh;
    if (sh->closing || status != 0 || r == NULL || r->type != REDIS_REPLY_ARRAY ||
        r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[0]->len >= sizeof sc->cursor || r->element[1]->type != REDIS_REPLY_ARRAY) {
        /* Redis went down mid-walk: the next connection resynchronises again. */
        scan_free(sc);
        return;
    }
    size_t plen = strlen(sh->prefix) + 2;
    const struct redisReply *keys = r->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        const struct redisReply *k = keys->element[i];
        if (k->type != REDIS_REPLY_STRING || k->len <= plen || !is_id(k->str + plen, k->len - plen))
            continue;
        char id[GW_REGISTRY_ID_LEN + 1];
        memcpy(id, k->str + plen, GW_REGISTRY_ID_LEN);
        id[GW_REGISTRY_ID_LEN] = '\0';
        /* SCAN may return a key twice (a rehash during the walk): read it once. */
        if (json_object_get(sc->there, id) != NULL)
            continue;
        json_object_set_new(sc->there, id, json_true());
        sc->keys++;
        read_one(sh, id, true);
    }
    memcpy(sc->cursor, r->element[0]->str, r->element[0]->len);
    sc->cursor[r->element[0]->len] = '\0';
    if (strcmp(sc->cursor, "0") == 0) {
        scan_end(sc);
        scan_free(sc);
        return;
    }
    scan_next(sc);
}

static void scan_next(struct scan *sc)
{
    const char *argv[] = {"SCAN", sc->cursor, "MATCH", sc->pattern, "COUNT", "512"};
    if (gw_redis_command(sc->sh->redis, 6, argv, NULL, CMD_TIMEOUT_MS, on_scan, sc, NULL) != 0)
        scan_free(sc);
}

static void resync(struct gw_registry_share *sh)
{
    struct scan *sc = calloc(1, sizeof *sc);
    if (sc == NULL)
        return;
    sc->sh = sh;
    sc->there = json_object();
    if (sc->there == NULL) {
        free(sc);
        return;
    }
    snprintf(sc->cursor, sizeof sc->cursor, "0");
    snprintf(sc->pattern, sizeof sc->pattern, "%sr:*", sh->prefix);
    scan_next(sc);
}

static void on_message(void *arg, int status, const char *channel, size_t channel_len,
                       const char *msg, size_t msg_len)
{
    struct gw_registry_share *sh = arg;
    (void)channel;
    (void)channel_len;
    if (sh->closing)
        return;
    if (msg == NULL) {
        sh->sub_active = status == 0;
        if (sh->sub_active && gw_redis_up(sh->redis))
            resync(sh);
        return;
    }
    if (status != 0)
        return;
    char buf[64], what[4], id[GW_REGISTRY_ID_LEN + 1], origin[17];
    if (msg_len >= sizeof buf)
        return;
    memcpy(buf, msg, msg_len);
    buf[msg_len] = '\0';
    if (sscanf(buf, "%3s %16s %16s", what, id, origin) != 3 || !is_id(id, strlen(id)) ||
        strcmp(origin, sh->origin) == 0)
        return;
    if (strcmp(what, "put") == 0) {
        read_one(sh, id, false);
    } else if (strcmp(what, "del") == 0) {
        struct gw_registration *e = gw_registry_remove(sh->reg, id);
        const struct gw_config *cfg = sh->cfg_of(sh->arg);
        if (e == NULL)
            return;
        gw_log_info("registration %s removed on another instance: %s at %s is no longer a target "
                    "of %s",
                    id, e->url, e->prefix, e->name);
        gw_registration_free(e);
        gw_registry_changed(sh->reg, cfg ? cfg->registration.publish_interval_ms : 0);
    }
}

static void on_state(void *arg, int status, const char *why)
{
    struct gw_registry_share *sh = arg;
    int now = status == 0 ? 1 : -1;
    if (sh->closing)
        return;
    if (now > 0 && sh->sub_active)
        resync(sh);
    if (now == sh->last_state)
        return;
    sh->last_state = now;
    if (now > 0)
        gw_log_info("registration.redis %s: up, sharing registrations", gw_redis_addr(sh->redis));
    else
        gw_log_error("registration.redis %s: down (%s): this instance keeps the registrations it "
                     "has and takes new ones; they reach the others once Redis is back",
                     gw_redis_addr(sh->redis), why ? why : "?");
}

int gw_registry_share_start(struct gw_registry *reg, uv_loop_t *loop, const struct gw_config *cfg,
                            gw_registry_cfg_fn cfg_of, void *arg, struct gw_registry_share **out)
{
    struct gw_url u;
    const char *why = NULL;
    char *host = NULL, *user = NULL, *pass = NULL;
    int rc = GW_ENOMEM;
    const char *url = cfg->registration.redis;
    struct gw_registry_share *sh = calloc(1, sizeof *sh);
    *out = NULL;
    if (sh == NULL)
        return GW_ENOMEM;
    if (gw_url_parse(url, strlen(url), &u, &why) < 0) {
        rc = GW_EINVAL;
        goto fail;
    }
    host = strndup(u.host.host, u.host.host_len);
    user = u.user && u.user_len ? gw_url_decode_dup(u.user, u.user_len) : NULL;
    pass = u.password && u.password_len ? gw_url_decode_dup(u.password, u.password_len) : NULL;
    sh->prefix = strdup(cfg->registration.redis_key_prefix);
    if (host == NULL || sh->prefix == NULL)
        goto fail;
    snprintf(sh->channel, sizeof sh->channel, "%sevents", sh->prefix);
    snprintf(sh->origin, sizeof sh->origin, "%016llx", (unsigned long long)gw_random_u64());
    sh->reg = reg;
    sh->cfg_of = cfg_of;
    sh->arg = arg;
    struct gw_redis_opts o = {.host = host,
                              .port = u.port,
                              .username = user,
                              .password = pass,
                              .db = u.db,
                              .connect_timeout_ms = 1000,
                              .backoff_min_ms = 100,
                              .backoff_max_ms = 5000,
                              .use = "registration"};
    rc = gw_redis_new(&sh->redis, loop, &o);
    if (rc < 0)
        goto fail;
    gw_redis_watch(sh->redis, &sh->watch, on_state, sh);
    const char *channels[] = {sh->channel};
    rc = gw_redis_subscribe(sh->redis, channels, 1, on_message, sh, &sh->sub);
    if (rc < 0) {
        gw_redis_close(sh->redis, NULL, NULL);
        goto fail;
    }
    free(host);
    free(user);
    free(pass);
    *out = sh;
    return 0;
fail:
    free(host);
    free(user);
    free(pass);
    free(sh->prefix);
    free(sh);
    return rc;
}

static void on_closed(void *arg)
{
    struct gw_registry_share *sh = arg;
    free(sh->prefix);
    free(sh);
}

void gw_registry_share_close(struct gw_registry_share *sh)
{
    if (sh == NULL)
        return;
    sh->closing = true;
    gw_redis_close(sh->redis, on_closed, sh);
}

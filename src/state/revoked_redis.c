/* Token revocations shared through Redis (state/revoked_redis.h). */
#include "state/revoked_redis.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "state/redis_client.h"
#include "state/revoked.h"

/* KEYS[1]: the set, also the channel. ARGV: member, expiry, now (Unix seconds). Keeps the later
 * expiry of a member, drops the expired ones, keeps the key alive until the latest expiry, and
 * tells every subscriber. */
static const char SCRIPT[] = "local old = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
                             "if not old or tonumber(old) < tonumber(ARGV[2]) then\n"
                             "  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
                             "end\n"
                             "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])\n"
                             "local ttl = tonumber(ARGV[2]) - tonumber(ARGV[3])\n"
                             "if ttl > 0 and redis.call('TTL', KEYS[1]) < ttl then\n"
                             "  redis.call('EXPIRE', KEYS[1], ttl)\n"
                             "end\n"
                             "redis.call('PUBLISH', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])\n"
                             "return 1\n";

struct ent {
    uint64_t key;
    int64_t until;
};

static struct {
    bool started;       /* under mu: the sink may wake the loop */
    pthread_mutex_t mu; /* guards started, q, nq, capq, dropped */
    struct ent *q;      /* revocations waiting for Redis */
    size_t nq, capq;
    uint64_t dropped;       /* queue overflow since the last log line */
    struct gw_redis *redis; /* loop thread only, from here on */
    struct gw_redis_sub *sub;
    struct gw_redis_watch watch;
    struct gw_redis_script script;
    uv_async_t wake;
    char *key;
    uint64_t timeout_ms;
    bool resync_wanted; /* the subscription came up while commands could not be sent */
    int state;          /* the last state logged: 0 unknown, 1 up, -1 down */
    /* in sync: the command connection up, the subscription active, and the set read after
     * it became so (the read that answers must belong to the subscription's latest coming
     * up: sub_gen counts them) */
    bool cmd_up, sub_up, synced;
    uint64_t sub_gen;
    bool fail_closed; /* identity.revocation.failure_policy */
    int in_sync;      /* the last sync state told (gw_revoked_set_doubt): 0 unknown, 1, -1 */
} rr = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Tells state/revoked.c whether the set may miss revocations made elsewhere, with one log
 * line per change under fail_closed (whose refusals start and end here). */
static void update_doubt(void)
{
    bool sure = rr.cmd_up && rr.sub_up && rr.synced;
    int now = sure ? 1 : -1;
    if (now == rr.in_sync)
        return;
    bool first = rr.in_sync == 0;
    rr.in_sync = now;
    gw_revoked_set_doubt(sure             ? GW_REVOKED_SURE
                         : rr.fail_closed ? GW_REVOKED_DOUBT_REFUSE
                                          : GW_REVOKED_DOUBT_LOCAL);
    if (!rr.fail_closed)
        return;
    if (sure)
        gw_log_info("identity: revocations in sync with Redis: tokens are checked again");
    else if (first)
        gw_log_info("identity: tokens issued here are answered 503 until the revocations are "
                    "read from Redis (identity.revocation.failure_policy fail_closed)");
    else
        gw_log_warn("identity: tokens issued here are answered 503 until the revocations are "
                    "read from Redis again (identity.revocation.failure_policy fail_closed)");
}

int gw_revoked_redis_parse(const char *msg, size_t len, uint64_t *key, int64_t *until)
{
    uint64_t k = 0;
    int64_t u = 0;
    size_t i = 0;
    if (len < 18 || len > 16 + 1 + 18)
        return GW_EINVAL;
    for (; i < 16; i++) {
        char c = msg[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return GW_EINVAL;
        k = k << 4 | (uint64_t)d;
    }
    if (msg[i++] != ' ')
        return GW_EINVAL;
    for (; i < len; i++) {
        if (msg[i] < '0' || msg[i] > '9')
            return GW_EINVAL;
        u = u * 10 + (msg[i] - '0'); /* at most 18 digits: no overflow */
    }
    if (k == 0 || u <= 0)
        return GW_EINVAL;
    *key = k;
    *until = u;
    return 0;
}

/* ---- the queue (any thread) ------------------------------------------------------------------ */

/* Appends e (mu held); the oldest goes when the queue is full. */
static void enqueue_locked(struct ent e)
{
    if (rr.nq == GW_REVOKED_REDIS_QUEUE) {
        memmove(rr.q, rr.q + 1, (rr.nq - 1) * sizeof *rr.q);
        rr.nq--;
        rr.dropped++;
    }
    if (rr.nq == rr.capq) {
        size_t ncap = rr.capq ? 2 * rr.capq : 64;
        struct ent *q = realloc(rr.q, ncap * sizeof *q);
        if (q == NULL) {
            rr.dropped++;
            return;
        }
        rr.q = q;
        rr.capq = ncap;
    }
    rr.q[rr.nq++] = e;
}

static void sink(uint64_t key, int64_t until)
{
    pthread_mutex_lock(&rr.mu);
    if (rr.started) {
        enqueue_locked((struct ent){key, until});
        uv_async_send(&rr.wake);
    }
    pthread_mutex_unlock(&rr.mu);
}

/* ---- the loop thread --------------------------------------------------------------------------
 */

static void on_written(void *arg, int status, const struct redisReply *reply)
{
    struct ent *e = arg;
    (void)reply;
    if (status == GW_EREDISDOWN || status == GW_EREDISTIMEOUT) {
        /* Not known to be written: again when Redis is back (the script is idempotent). */
        pthread_mutex_lock(&rr.mu);
        if (rr.started)
            enqueue_locked(*e);
        pthread_mutex_unlock(&rr.mu);
    } else if (status != 0) {
        gw_log_error("identity: revocation not shared through Redis: %s",
                     reply && reply->str ? reply->str : "error reply");
    }
    free(e);
}

static void send_one(struct ent e, int64_t now)
{
    char member[17], until[24], nows[24];
    snprintf(member, sizeof member, "%016" PRIx64, e.key);
    snprintf(until, sizeof until, "%" PRId64, e.until);
    snprintf(nows, sizeof nows, "%" PRId64, now);
    const char *argv[] = {rr.key, member, until, nows};
    struct ent *arg = malloc(sizeof *arg);
    int rc = GW_ENOMEM;
    if (arg != NULL) {
        *arg = e;
        rc = gw_redis_script_run(rr.redis, &rr.script, 1, 4, argv, NULL, rr.timeout_ms, on_written,
                                 arg, NULL);
    }
    if (rc < 0) {
        free(arg);
        pthread_mutex_lock(&rr.mu);
        enqueue_locked(e);
        pthread_mutex_unlock(&rr.mu);
    }
}

/* Writes what is queued, when Redis is up. */
static void flush(void)
{
    if (!gw_redis_up(rr.redis))
        return;
    pthread_mutex_lock(&rr.mu);
    struct ent *q = rr.q;
    size_t n = rr.nq;
    uint64_t dropped = rr.dropped;
    rr.q = NULL;
    rr.nq = rr.capq = 0;
    rr.dropped = 0;
    pthread_mutex_unlock(&rr.mu);
    if (dropped)
        gw_log_warn("identity: %" PRIu64 " revocation(s) made while Redis was down were not "
                    "shared (more than %d queued); they apply on this instance only",
                    dropped, GW_REVOKED_REDIS_QUEUE);
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++) {
        if (q[i].until > now)
            send_one(q[i], now);
    }
    free(q);
}

static void on_wake(uv_async_t *h)
{
    (void)h;
    flush();
}

/* The live part of the set: member, score, member, score, ... arg: the subscription's
 * generation the read was made for. */
static void on_resync(void *arg, int status, const struct redisReply *r)
{
    uint64_t gen = (uint64_t)(uintptr_t)arg;
    if (status != 0 || r == NULL || r->type != REDIS_REPLY_ARRAY) {
        /* Read again when the command connection is next up (out of sync until then). */
        rr.resync_wanted = true;
        if (status != GW_EREDISDOWN && status != GW_EREDISTIMEOUT)
            gw_log_error("identity: the revocations could not be read from Redis: %s",
                         r && r->str ? r->str : "unexpected reply");
        return;
    }
    size_t learnt = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *m = r->element[i], *s = r->element[i + 1];
        char msg[48];
        uint64_t key;
        int64_t until;
        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING || m->len != 16 ||
            s->len > 18)
            continue;
        int n = snprintf(msg, sizeof msg, "%.*s %.*s", 16, m->str, (int)s->len, s->str);
        if (gw_revoked_redis_parse(msg, (size_t)n, &key, &until) == 0 &&
            gw_revoked_learn(key, until) == 0)
            learnt++;
    }
    gw_log_info("identity: %zu live revocation(s) read from Redis", learnt);
    if (gen == rr.sub_gen && rr.sub_up) {
        rr.synced = true;
        update_doubt();
    }
}

static void resync(void)
{
    char now[24];
    snprintf(now, sizeof now, "(%" PRId64, (int64_t)time(NULL));
    const char *argv[] = {"ZRANGEBYSCORE", rr.key, now, "+inf", "WITHSCORES"};
    rr.resync_wanted = gw_redis_command(rr.redis, 5, argv, NULL, rr.timeout_ms * 20 + 1000,
                                        on_resync, (void *)(uintptr_t)rr.sub_gen, NULL) != 0;
}

static void on_message(void *arg, int status, const char *channel, size_t channel_len,
                       const char *msg, size_t msg_len)
{
    (void)arg;
    (void)channel;
    (void)channel_len;
    uint64_t key;
    int64_t until;
    if (status == 0 && msg == NULL) {
        /* (Re)subscribed: what was published meanwhile is in the set. In sync once read. */
        rr.sub_up = true;
        rr.synced = false;
        rr.sub_gen++;
        update_doubt();
        resync();
        return;
    }
    if (status != 0) {
        /* What is published from now on is not heard until the subscription is back. */
        rr.sub_up = false;
        rr.synced = false;
        update_doubt();
        return;
    }
    if (msg == NULL)
        return;
    if (gw_revoked_redis_parse(msg, msg_len, &key, &until) == 0)
        (void)gw_revoked_learn(key, until);
}

static void on_state(void *arg, int status, const char *why)
{
    (void)arg;
    if (status == 0) {
        if (rr.state != 1)
            gw_log_info("identity: revocations shared through Redis at %s",
                        gw_redis_addr(rr.redis));
        rr.state = 1;
        rr.cmd_up = true;
        if (rr.resync_wanted)
            resync();
        update_doubt();
        flush();
        return;
    }
    if (rr.state != -1)
        gw_log_warn("identity: Redis at %s unreachable (%s): revocations apply on this instance "
                    "and are shared when it is back; %s",
                    gw_redis_addr(rr.redis), why ? why : "down",
                    rr.fail_closed ? "meanwhile tokens issued here are answered 503 "
                                     "(failure_policy fail_closed)"
                                   : "meanwhile this instance refuses what it knows "
                                     "(failure_policy local)");
    rr.state = -1;
    rr.cmd_up = false;
    update_doubt();
}

int gw_revoked_redis_start(uv_loop_t *loop, const struct gw_revoked_redis_conf *conf)
{
    if (rr.redis != NULL || conf->host == NULL || conf->key == NULL)
        return GW_EINVAL;
    const struct gw_redis_opts opts = {
        .host = conf->host,
        .port = conf->port,
        .username = conf->username,
        .password = conf->password,
        .db = conf->db,
        .connect_timeout_ms = conf->timeout_ms,
        .backoff_min_ms = conf->backoff_min_ms,
        .backoff_max_ms = conf->backoff_max_ms,
        .use = "revocations",
    };
    int rc = gw_redis_script_init(&rr.script, SCRIPT);
    if (rc < 0)
        return rc;
    rr.key = strdup(conf->key);
    if (rr.key == NULL)
        return GW_ENOMEM;
    rr.timeout_ms = conf->timeout_ms;
    rr.state = 0;
    rr.resync_wanted = false;
    rr.cmd_up = rr.sub_up = rr.synced = false;
    rr.sub_gen = 0;
    rr.fail_closed = conf->fail_closed;
    rr.in_sync = 0;
    update_doubt(); /* not in sync until connected, subscribed and read */
    rc = gw_redis_new(&rr.redis, loop, &opts);
    if (rc < 0)
        goto fail;
    const char *channels[] = {rr.key};
    if (gw_redis_script_add(rr.redis, &rr.script) != 0 ||
        gw_redis_subscribe(rr.redis, channels, 1, on_message, NULL, &rr.sub) != 0 ||
        uv_async_init(loop, &rr.wake, on_wake) != 0) {
        gw_redis_close(rr.redis, NULL, NULL);
        rr.redis = NULL;
        rc = GW_ENOMEM;
        goto fail;
    }
    gw_redis_watch(rr.redis, &rr.watch, on_state, NULL);
    pthread_mutex_lock(&rr.mu);
    rr.started = true;
    pthread_mutex_unlock(&rr.mu);
    gw_revoked_set_sink(sink);
    return 0;
fail:
    free(rr.key);
    rr.key = NULL;
    return rc;
}

static void on_wake_closed(uv_handle_t *h)
{
    (void)h;
}

void gw_revoked_redis_stop(void)
{
    if (rr.redis == NULL)
        return;
    gw_revoked_set_sink(NULL);
    gw_revoked_set_doubt(GW_REVOKED_SURE);
    pthread_mutex_lock(&rr.mu);
    rr.started = false;
    pthread_mutex_unlock(&rr.mu);
    uv_close((uv_handle_t *)&rr.wake, on_wake_closed);
    gw_redis_close(rr.redis, NULL, NULL); /* pending writes fail now: not queued again */
    rr.redis = NULL;
    rr.sub = NULL;
    pthread_mutex_lock(&rr.mu);
    if (rr.nq)
        gw_log_warn("identity: %zu revocation(s) not shared through Redis at exit", rr.nq);
    free(rr.q);
    rr.q = NULL;
    rr.nq = rr.capq = 0;
    rr.dropped = 0;
    pthread_mutex_unlock(&rr.mu);
    free(rr.key);
    rr.key = NULL;
}

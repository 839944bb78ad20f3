/*
 * Process lifecycle. The main thread is the control thread: it binds the listeners (so a
 * port in use is reported before anything starts), starts the workers, then waits for
 * signals. SIGTERM/SIGINT drain: listeners close, requests in flight finish, idle
 * connections close, and the process exits 0 when the last worker is done or the drain
 * timeout passes (then remaining connections are closed).
 */
#include "runtime/server.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>

#include "audit/audit.h"
#include "control/health.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/log.h"
#include "dashboard/tail.h"
#include "discovery/dns.h"
#include "hub/hub.h"
#include "identity/identity.h"
#include "metrics/hub.h"
#include "net/listen.h"
#include "observe/history.h"
#include "observe/observe.h"
#include "openapi/openapi.h"
#include "policy/cache_redis.h"
#include "policy/jwks_fetch.h"
#include "policy/policy.h"
#include "runtime/sdnotify.h"
#include "runtime/worker.h"
#include "state/revoked.h"
#include "state/revoked_redis.h"
#include "trace/exporter.h"
#include "upstream/target_state.h"

struct control {
    uv_loop_t loop;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;
    uv_signal_t sigusr1;
    char *access_path; /* the log files SIGUSR1 reopens (NULL: not a file) */
    char *error_path;
    int error_fd;
    uv_timer_t drain_timer;
    uv_async_t worker_exit;
    uv_timer_t policy_sweep; /* once a second: idle rate-limit keys, expired cached tokens */
    uv_timer_t watchdog;     /* systemd's WATCHDOG=1, at half of $WATCHDOG_USEC (if set) */
    unsigned sweeps;
    struct gw_server *server;
    bool draining;
};

static void on_closed_noop(uv_handle_t *h)
{
    (void)h;
}

static void stop_control(struct control *ctl)
{
    if (ctl->server->admin)
        ctl->server->admin_service->stop(ctl->server->admin);
    ctl->server->admin = NULL;
    gw_health_stop(ctl->server->health);
    ctl->server->health = NULL;
    gw_jwks_stop(ctl->server->jwks);
    ctl->server->jwks = NULL;
    gw_dns_stop(ctl->server->discovery);
    ctl->server->discovery = NULL;
    gw_openapi_stop(ctl->server->openapi); /* the workers are gone: nobody reads it */
    ctl->server->openapi = NULL;
    gw_metrics_hub_close(ctl->server->metrics);
    gw_tracer_stop(ctl->server->tracer); /* sends what the workers left, then closes */
    gw_hub_stop(ctl->server->hub);       /* after the workers: nobody publishes now */
    gw_cache_redis_sync(&ctl->server->cache_redis, &ctl->loop, ctl->server->snap->cfg, true);
    gw_idp_stop(); /* after the workers: no call is in flight (their loops ran them out) */
    gw_revoked_redis_stop();
    gw_revoked_reset();
    gw_audit_stop(); /* after the admin API and the workers: nothing records any more */
    uv_close((uv_handle_t *)&ctl->sigterm, on_closed_noop);
    uv_close((uv_handle_t *)&ctl->sigint, on_closed_noop);
    uv_close((uv_handle_t *)&ctl->sighup, on_closed_noop);
    uv_close((uv_handle_t *)&ctl->sigusr1, on_closed_noop);
    uv_close((uv_handle_t *)&ctl->drain_timer, on_closed_noop);
    uv_close((uv_handle_t *)&ctl->worker_exit, on_closed_noop);
    uv_close((uv_handle_t *)&ctl->policy_sweep, on_closed_noop);
    uv_close((uv_handle_t *)&ctl->watchdog, on_closed_noop);
}

/* Built-in identity's revocations shared through Redis (identity.revocation.backend "redis"),
 * on the control loop, with the gateway's Redis connection settings; bound at start. */
static int start_revocations(uv_loop_t *loop, const struct gw_config *cfg)
{
    const struct gw_identity_conf *ic = &cfg->identity;
    if (!ic->enabled || ic->revocation_backend != GW_IDP_REVOKE_REDIS)
        return 0;
    const struct gw_redis_conf *rc = &cfg->rate_limit.redis;
    const struct gw_revoked_redis_conf conf = {
        .host = rc->host,
        .port = rc->port,
        .username = rc->username,
        .password = rc->password,
        .db = rc->db,
        .timeout_ms = rc->timeout_ms,
        .backoff_min_ms = rc->backoff_min_ms,
        .backoff_max_ms = rc->backoff_max_ms,
        .key = ic->revocation_key,
        .fail_closed = ic->revocation_failure_policy == GW_IDP_REVOKE_FAIL_CLOSED,
    };
    if (gw_revoked_redis_start(loop, &conf) < 0) {
        gw_log_error("identity: cannot start the Redis revocation sharing (out of memory?)");
        return GW_ENOMEM;
    }
    return 0;
}

/* systemd restarts a unit whose WATCHDOG=1 stops coming: the control loop sending it shows
 * that signals, reloads and the admin API are still served. */
static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    gw_sdnotify("WATCHDOG=1");
}

static void on_policy_sweep(uv_timer_t *t)
{
    struct control *ctl = t->data;
    gw_policy_sweep(ctl->server->snap->policy, uv_hrtime() / 1000);
    /* Metric sets of snapshots that are gone fold into the base; the rates move on. */
    if (ctl->server->metrics) {
        gw_metrics_hub_collect(ctl->server->metrics);
        if (++ctl->sweeps % (GW_METRICS_TICK_MS / 1000) == 0) {
            gw_metrics_hub_tick(ctl->server->metrics);
            gw_observe_history_tick(ctl->server);
        }
    }
}

/* Gives a snapshot its metric set (when metrics are on) and makes it the hub's current one. A
 * snapshot without one records nothing: metrics never stop a reload. */
static void attach_metrics(struct gw_server *s, struct gw_snapshot *snap)
{
    if (s->metrics == NULL || !snap->cfg->metrics.enabled)
        return;
    struct gw_metrics_set *set = NULL;
    if (gw_metrics_set_new(snap, s->nworkers, &set) < 0 ||
        gw_metrics_hub_adopt(s->metrics, set) < 0) {
        gw_log_error("metrics: out of memory for generation %llu: its requests are not counted",
                     (unsigned long long)snap->generation);
        gw_metrics_set_free(set);
        return;
    }
    snap->metrics = set;
}

/* Each worker thread signals its end (worker.c); the last one ends the control loop. */
static void on_worker_exit(uv_async_t *a)
{
    struct control *ctl = a->data;
    if (atomic_load(&ctl->server->exited) == ctl->server->nworkers)
        stop_control(ctl);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct control *ctl = t->data;
    gw_log_warn("drain timeout (%llu ms): closing the remaining connections",
                (unsigned long long)ctl->server->snap->cfg->drain_timeout_ms);
    for (unsigned i = 0; i < ctl->server->nworkers; i++)
        gw_worker_request_stop(&ctl->server->workers[i], true);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    struct control *ctl = h->data;
    if (ctl->draining) {
        gw_log_info("signal %d again: closing every connection now", signum);
        on_drain_timeout(&ctl->drain_timer);
        return;
    }
    ctl->draining = true;
    gw_sdnotify("STOPPING=1\nSTATUS=draining");
    atomic_store(&ctl->server->ready, false);
    atomic_store(&ctl->server->draining, true);
    gw_log_info("signal %d: draining (no new connections, finishing requests in flight)", signum);
    for (unsigned i = 0; i < ctl->server->nworkers; i++)
        gw_worker_request_stop(&ctl->server->workers[i], false);
    uv_timer_start(&ctl->drain_timer, on_drain_timeout, ctl->server->snap->cfg->drain_timeout_ms,
                   0);
}

/* SHA-256 of the file, hex; "" when it cannot be read. Identifies the running config in
 * /gateway/status so operators can tell which version of the file is live. */
static void hash_file(const char *path, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char buf[65536];
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            EVP_DigestUpdate(ctx, buf, n);
        if (EVP_DigestFinal_ex(ctx, md, &mdlen) == 1)
            for (unsigned i = 0; i < mdlen && i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    EVP_MD_CTX_free(ctx);
    fclose(f);
}

struct gw_snapshot *gw_server_snapshot(struct gw_server *s)
{
    return s->snap;
}

static void publish(struct gw_server *s, struct gw_snapshot *snap)
{
    for (unsigned i = 0; i < s->nworkers; i++)
        gw_worker_publish(&s->workers[i], snap);
    struct gw_snapshot *old = s->snap;
    s->snap = snap; /* the reference from gw_snapshot_build */
    gw_snapshot_unref(old);
    if (gw_cache_redis_sync(&s->cache_redis, s->control_loop, snap->cfg, false) < 0)
        gw_log_error("cache: cannot create the control thread's Redis client: admin purges do "
                     "not reach Redis");
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Settings bound at start (sockets, threads) cannot change under a running process. */
static void warn_fixed_settings(const struct gw_config *now, const struct gw_config *next)
{
    if (strcmp(now->listen_host, next->listen_host) != 0 || now->listen_port != next->listen_port)
        gw_log_warn("reload: listen changed (%s:%u -> %s:%u); it takes effect at the next "
                    "start",
                    now->listen_host, (unsigned)now->listen_port, next->listen_host,
                    (unsigned)next->listen_port);
    if (now->admin.enabled != next->admin.enabled ||
        (now->admin.enabled && (strcmp(now->admin.listen_host, next->admin.listen_host) != 0 ||
                                now->admin.listen_port != next->admin.listen_port)))
        gw_log_warn("reload: admin.listen changed; it takes effect at the next start");
    if (now->tls.enabled != next->tls.enabled ||
        (now->tls.enabled && (strcmp(now->tls.listen_host, next->tls.listen_host) != 0 ||
                              now->tls.listen_port != next->tls.listen_port)))
        gw_log_warn("reload: tls was switched on or off or tls.listen changed; the HTTPS "
                    "listener follows at the next start (certificates and settings apply now)");
    if (now->workers != next->workers)
        gw_log_warn("reload: workers changed (%u -> %u); it takes effect at the next start",
                    now->workers, next->workers);
    if (!same_str(now->audit.file, next->audit.file) ||
        !same_str(now->audit.sqlite, next->audit.sqlite) ||
        !same_str(now->audit.pg_dsn, next->audit.pg_dsn) ||
        now->audit.events != next->audit.events || now->audit.queue != next->audit.queue ||
        now->audit.pg_queue != next->audit.pg_queue ||
        now->audit.unauthorized_threshold != next->audit.unauthorized_threshold ||
        now->audit.unauthorized_window_ms != next->audit.unauthorized_window_ms)
        gw_log_warn("reload: audit changed; it takes effect at the next start");
    /* The hub's settings, backend and Redis channel follow reloads (gw_hub_update); its
     * existence does not. */
    if (!now->hub.enabled && next->hub.enabled)
        gw_log_warn("reload: hub was switched on; if it was off at the start, it serves from the "
                    "next start (503 until then)");
}

/* One error without a position (the file parsed; a later step refused it). */
static void add_error(struct gw_config_errors *errs, const char *file, const char *message)
{
    struct gw_config_error *items = realloc(errs->items, (errs->count + 1) * sizeof(*items));
    if (!items)
        return;
    errs->items = items;
    items[errs->count] = (struct gw_config_error){.file = strdup(file),
                                                  .line = 0,
                                                  .column = 0,
                                                  .path = strdup(""),
                                                  .message = strdup(message)};
    errs->count++;
}

/* One "config.reload" entry: the file's hash before and after, and the outcome. The actor is
 * whoever set it on the control thread (the admin API, the SIGHUP handler). */
static void audit_reload(struct gw_server *s, const char *before, int status, const char *detail)
{
    if (!gw_audit_wants(GW_AUDIT_EV_RELOAD))
        return;
    char b[80], a[80], now[65];
    hash_file(s->config_path, now);
    snprintf(b, sizeof b, "sha256:%s", before);
    snprintf(a, sizeof a, "sha256:%s", now);
    struct gw_audit_record r = {.action = "config.reload",
                                .object = "config",
                                .before = before[0] ? b : NULL,
                                .after = now[0] ? a : NULL,
                                .detail = detail,
                                .status = status};
    gw_audit_record(&r);
}

/* The file's config plus what s->extend adds, loaded again as one document (the same
 * validation). *cfg is replaced on success; errors go to errs. */
static int extend_config(struct gw_server *s, struct gw_config **cfg, struct gw_config_errors *errs)
{
    struct gw_config *merged = NULL;
    char *text = NULL;
    json_t *doc = json_deep_copy((*cfg)->source);
    /* Discovered addresses first: a registration joining a discovered service adds to them. */
    int found = doc ? gw_dns_extend(s->discovery, doc) : GW_ENOMEM;
    int rc = found < 0 ? found : s->extend ? s->extend(s->extend_arg, *cfg, doc) : 0;
    if (rc == 0 && found > 0)
        rc = 1;
    if (rc <= 0)
        goto out;
    text = json_dumps(doc, JSON_COMPACT);
    rc =
        text ? gw_config_load_string(s->config_path, text, strlen(text), &merged, errs) : GW_ENOMEM;
    if (rc < 0)
        goto out;
    rc = s->extend_finish ? s->extend_finish(s->extend_arg, merged) : 0;
    if (rc < 0) {
        gw_config_free(merged);
        goto out;
    }
    gw_config_free(*cfg);
    *cfg = merged;
out:
    free(text);
    json_decref(doc);
    return rc < 0 ? rc : 0;
}

static char *dup_or_empty(const char *v)
{
    return strdup(v ? v : "");
}

/* Keeps the outcome of a reload for /gateway/status (and the dashboard): when, whether it
 * worked, and a copy of the errors of a failed one. */
static void remember_reload(struct gw_server *s, bool ok, const struct gw_config_errors *errs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->last_reload_at_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    s->last_reload_ok = ok;
    if (s->last_reload_errors == NULL)
        s->last_reload_errors = calloc(1, sizeof *s->last_reload_errors);
    if (s->last_reload_errors == NULL)
        return;
    gw_config_errors_free(s->last_reload_errors);
    size_t n = ok || errs == NULL ? 0 : errs->count;
    struct gw_config_error *items = n ? calloc(n, sizeof *items) : NULL;
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct gw_config_error *e = &errs->items[i];
        items[i] =
            (struct gw_config_error){.file = dup_or_empty(e->file ? e->file : s->config_path),
                                     .line = e->line,
                                     .column = e->column,
                                     .path = dup_or_empty(e->path),
                                     .message = dup_or_empty(e->message)};
    }
    s->last_reload_errors->items = items;
    s->last_reload_errors->count = n;
}

int gw_server_reload(struct gw_server *s, struct gw_config_errors *errs)
{
    char detail[160];
    struct gw_config_errors local = {0};
    struct gw_config *cfg = NULL;
    struct gw_snapshot *snap = NULL;
    uint64_t t0 = uv_hrtime();
    if (!errs)
        errs = &local;
    int rc = gw_config_load(s->config_path, &cfg, errs);
    if (rc == 0 && s->discovery && gw_dns_update(s->discovery, cfg) < 0)
        gw_log_error("discovery: out of memory: the names to resolve are not updated");
    if (rc == 0 && (s->extend || s->discovery)) {
        rc = extend_config(s, &cfg, errs);
        if (rc < 0) {
            gw_config_free(cfg);
            cfg = NULL;
        }
    }
    if (rc < 0) {
        s->reloads_failed++;
        s->reload_ms_total += (double)(uv_hrtime() - t0) / 1e6;
        gw_log_error("reload refused, %zu error%s; the running configuration is unchanged:",
                     errs->count, errs->count == 1 ? "" : "s");
        for (size_t i = 0; i < errs->count; i++) {
            const struct gw_config_error *e = &errs->items[i];
            bool has_path = e->path && e->path[0];
            const char *file = e->file ? e->file : s->config_path;
            const char *msg = e->message ? e->message : "";
            if (e->line <= 0) /* the file itself: unreadable, too large */
                gw_log_error("  %s: %s", file, msg);
            else
                gw_log_error("  %s:%d:%d: %s%s%s", file, e->line, e->column,
                             has_path ? e->path : "", has_path ? ": " : "", msg);
        }
        snprintf(detail, sizeof detail, "{\"result\":\"refused\",\"errors\":%zu}", errs->count);
        audit_reload(s, s->config_hash, 422, detail);
        remember_reload(s, false, errs);
        gw_config_errors_free(&local);
        return rc;
    }
    warn_fixed_settings(s->snap->cfg, cfg);
    char why[512];
    rc = gw_snapshot_build(cfg, s->generation + 1, s->targets, s->policy, &snap, why, sizeof(why));
    if (rc < 0) {
        s->reloads_failed++;
        s->reload_ms_total += (double)(uv_hrtime() - t0) / 1e6;
        gw_log_error("reload refused: %s; the running configuration is unchanged", why);
        add_error(errs, s->config_path, why);
        snprintf(detail, sizeof detail, "{\"result\":\"refused\",\"errors\":%zu}", errs->count);
        audit_reload(s, s->config_hash, 422, detail);
        remember_reload(s, false, errs);
        gw_config_errors_free(&local);
        return rc;
    }
    s->generation++;
    attach_metrics(s, snap);
    publish(s, snap);
    if (s->health && gw_health_update(s->health, snap) < 0)
        gw_log_error("reload: some health checks could not be started (out of memory)");
    if (gw_jwks_update(s->jwks, snap->cfg) < 0)
        gw_log_error("reload: the JWKS refresh could not be updated (out of memory)");
    if (gw_tracer_update(s->tracer, snap->cfg) < 0)
        gw_log_error("reload: the trace exporter keeps its settings (out of memory)");
    gw_openapi_update(s->openapi, snap);
    if (snap->cfg->hub.enabled && gw_hub_update(s->hub, snap->cfg) < 0)
        gw_log_error("reload: the hub could not apply all its new settings (out of memory)");
    snprintf(detail, sizeof detail, "{\"result\":\"ok\",\"generation\":%llu}",
             (unsigned long long)s->generation);
    audit_reload(s, s->config_hash, 200, detail);
    hash_file(s->config_path, s->config_hash);
    s->reloads_ok++;
    remember_reload(s, true, NULL);
    s->last_reload_ms = (double)(uv_hrtime() - t0) / 1e6;
    s->reload_ms_total += s->last_reload_ms;
    gw_log_info("configuration reloaded: generation %llu, %zu service%s, %.1f ms",
                (unsigned long long)s->generation, snap->nservices, snap->nservices == 1 ? "" : "s",
                s->last_reload_ms);
    return 0;
}

/* DNS discovery saw other addresses: publish them like a reload. */
static void on_discovered(void *arg)
{
    struct gw_server *s = arg;
    if (gw_server_reload(s, NULL) < 0)
        gw_log_error("discovery: the new addresses could not be published (see above); the "
                     "next change or reload tries again");
}

static void on_hup(uv_signal_t *h, int signum)
{
    struct control *ctl = h->data;
    (void)signum;
    gw_log_info("SIGHUP: reloading %s", ctl->server->config_path);
    static const struct gw_audit_actor hup = {.via = "signal", .key = "SIGHUP"};
    /* systemd waits for READY=1 after RELOADING=1 whether the reload worked or not: a refused
     * file leaves the old configuration serving, which is "ready" too. */
    gw_sdnotify_reloading();
    gw_audit_set_actor(&hup);
    int rc = gw_server_reload(ctl->server, NULL);
    gw_audit_set_actor(NULL);
    gw_sdnotify(rc == 0 ? "READY=1\nSTATUS=configuration reloaded"
                        : "READY=1\nSTATUS=reload refused; previous configuration serving");
}

/* SIGUSR1 (logrotate): the log files are reopened under their names (gw_log_reopen_file), and
 * the audit log's file. */
static void on_reopen(uv_signal_t *h, int signum)
{
    struct control *ctl = h->data;
    (void)signum;
    const struct {
        const char *what;
        const char *path;
        int fd;
    } logs[] = {{"access", ctl->access_path, ctl->server->access_fd},
                {"error", ctl->error_path, ctl->error_fd}};
    int rcs[sizeof logs / sizeof logs[0]];
    /* Both first, then the lines saying so: they belong in the new error log. */
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++)
        rcs[i] = logs[i].path && logs[i].fd >= 0 ? gw_log_reopen_file(logs[i].fd, logs[i].path) : 1;
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        int rc = rcs[i];
        if (rc > 0)
            continue;
        if (rc < 0)
            gw_log_error("SIGUSR1: cannot reopen the %s log %s: %s; still writing to the old file",
                         logs[i].what, logs[i].path, strerror(-rc));
        else
            gw_log_info("SIGUSR1: %s log %s reopened", logs[i].what, logs[i].path);
    }
    gw_audit_reopen(); /* the audit log's file, when it has one */
}

/* dest names a file (not a standard stream, not "off"). */
static bool is_log_file(const char *dest)
{
    return dest != NULL && strcmp(dest, "stdout") != 0 && strcmp(dest, "stderr") != 0 &&
           strcmp(dest, "off") != 0;
}

static int open_log(const char *dest)
{
    if (!dest || strcmp(dest, "stdout") == 0)
        return 1;
    if (strcmp(dest, "stderr") == 0)
        return 2;
    if (strcmp(dest, "off") == 0)
        return -1;
    int fd = open(dest, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        gw_log_error("cannot open log file %s", dest);
    return fd;
}

/* Deploys start a new instance on the same port and drain the old one (README "Deploys
 * without dropped requests"): without net.ipv4.tcp_migrate_req the kernel resets a handshake
 * that completes on the old listener between its last accept and its close. */
static void hint_migrate_req(void)
{
    char v[8] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "r");
    if (f == NULL)
        return;
    if (fgets(v, sizeof v, f) && v[0] == '0')
        gw_log_info("net.ipv4.tcp_migrate_req is 0: for deploys that lose no connection, set it "
                    "to 1 (see README, Deploys without dropped requests)");
    fclose(f);
}

/* Closes the listening sockets of the first n workers (start-up failed before they ran). */
static void close_listeners(struct gw_server *s, unsigned n)
{
    for (unsigned j = 0; j < n; j++) {
        if (s->workers[j].listen_fd >= 0)
            close(s->workers[j].listen_fd);
        if (s->workers[j].has_tls)
            close(s->workers[j].tls_fd);
    }
}

/* The JWKS fetcher's answer goes to every worker. */
static void publish_keyset(void *arg, struct gw_keyset *ks)
{
    struct gw_server *s = arg;
    for (unsigned i = 0; i < s->nworkers; i++)
        gw_worker_publish_keyset(&s->workers[i], ks);
}

int gw_server_run(struct gw_config *cfg, const char *path, const struct gw_control_service *admin)
{
    struct gw_server s = {0};
    struct control ctl = {0};
    struct sockaddr_storage addr, tls_addr;
    socklen_t addrlen, tls_addrlen = 0;
    int status = 1;
    unsigned started = 0;

    int efd = open_log(cfg->log.error_log ? cfg->log.error_log : "stderr");
    gw_log_setup((int)cfg->log.level, efd < 0 ? 2 : efd);
    s.access_fd = open_log(cfg->log.access_log);
    s.access_json = cfg->log.access_format == GW_LOG_JSON;
    ctl.error_fd = efd;
    if (is_log_file(cfg->log.access_log))
        ctl.access_path = strdup(cfg->log.access_log);
    if (is_log_file(cfg->log.error_log))
        ctl.error_path = strdup(cfg->log.error_log);
    signal(SIGPIPE, SIG_IGN);

    if (gw_net_resolve(cfg->listen_host, cfg->listen_port, &addr, &addrlen) < 0) {
        gw_log_error("listen: cannot resolve %s", cfg->listen_host);
        gw_config_free(cfg);
        return 1;
    }
    if (cfg->tls.enabled &&
        gw_net_resolve(cfg->tls.listen_host, cfg->tls.listen_port, &tls_addr, &tls_addrlen) < 0) {
        gw_log_error("tls.listen: cannot resolve %s", cfg->tls.listen_host);
        gw_config_free(cfg);
        return 1;
    }
    unsigned nworkers = cfg->workers ? cfg->workers : 1;
    s.config_path = strdup(path);
    s.generation = 1;
    s.started_ms = (uint64_t)time(NULL) * 1000;
    hash_file(path, s.config_hash);
    s.targets = gw_target_registry_new();
    char why[512] = "";
    if (!s.config_path || !s.targets || gw_policy_shared_new(&s.policy, nworkers) < 0 ||
        gw_snapshot_build(cfg, 1, s.targets, s.policy, &s.snap, why, sizeof why) < 0) {
        if (why[0])
            gw_log_error("%s", why);
        free(s.config_path);
        gw_target_registry_free(s.targets);
        gw_policy_shared_free(s.policy);
        return 1;
    }
    s.workers = calloc(nworkers, sizeof(*s.workers));
    if (!s.workers)
        goto out;
    s.nworkers = nworkers;
    for (unsigned i = 0; i < nworkers; i++) {
        struct gw_worker *w = &s.workers[i];
        w->id = i;
        w->server = &s;
        w->snap = s.snap;
        gw_snapshot_ref(w->snap); /* the worker's own reference, dropped on publish/join */
        w->tls_fd = -1;
        w->listen_fd = gw_net_listen_reuseport((struct sockaddr *)&addr, addrlen, 1024);
        if (w->listen_fd < 0) {
            gw_log_error("listen on %s:%u: %s", s.snap->cfg->listen_host,
                         (unsigned)s.snap->cfg->listen_port, strerror(-w->listen_fd));
            close_listeners(&s, i);
            goto out;
        }
        if (s.snap->cfg->tls.enabled) {
            int fd = gw_net_listen_reuseport((struct sockaddr *)&tls_addr, tls_addrlen, 1024);
            if (fd < 0) {
                gw_log_error("listen on %s:%u (tls): %s", s.snap->cfg->tls.listen_host,
                             (unsigned)s.snap->cfg->tls.listen_port, strerror(-fd));
                close_listeners(&s, i + 1);
                goto out;
            }
            w->tls_fd = fd;
            w->has_tls = true;
        }
    }
    uv_loop_init(&ctl.loop);
    ctl.server = &s;
    s.control_loop = &ctl.loop;
    uv_signal_init(&ctl.loop, &ctl.sigterm);
    uv_signal_init(&ctl.loop, &ctl.sigint);
    uv_signal_init(&ctl.loop, &ctl.sighup);
    uv_signal_init(&ctl.loop, &ctl.sigusr1);
    ctl.sigterm.data = ctl.sigint.data = ctl.sighup.data = ctl.sigusr1.data = &ctl;
    uv_signal_start(&ctl.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&ctl.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&ctl.sighup, on_hup, SIGHUP);
    uv_signal_start(&ctl.sigusr1, on_reopen, SIGUSR1);
    uv_timer_init(&ctl.loop, &ctl.drain_timer);
    uv_async_init(&ctl.loop, &ctl.worker_exit, on_worker_exit);
    uv_timer_init(&ctl.loop, &ctl.policy_sweep);
    uv_timer_start(&ctl.policy_sweep, on_policy_sweep, 1000, 1000);
    uv_timer_init(&ctl.loop, &ctl.watchdog);
    ctl.drain_timer.data = ctl.worker_exit.data = ctl.policy_sweep.data = &ctl;
    s.exit_async = &ctl.worker_exit;
    s.history = gw_observe_history_new();
    if (gw_metrics_hub_new(&s.metrics, &ctl.loop, nworkers) < 0 ||
        gw_tail_new(&s.tail, nworkers) < 0 || s.history == NULL)
        goto out;
    gw_metrics_hub_set_render(s.metrics, gw_observe_render, &s);
    attach_metrics(&s, s.snap);
    if (gw_tracer_new(&s.tracer, &ctl.loop, nworkers, s.snap->cfg) < 0) {
        gw_log_error("tracing: out of memory");
        for (unsigned i = 0; i < nworkers; i++)
            close(s.workers[i].listen_fd);
        goto out;
    }
    for (unsigned i = 0; i < nworkers; i++)
        s.workers[i].trace_queue = gw_tracer_queue(s.tracer, i);
    s.health = gw_health_start(&ctl.loop, s.targets, s.snap);
    s.jwks = gw_jwks_start(&ctl.loop, s.snap->cfg, publish_keyset, &s);
    if (gw_audit_start(&ctl.loop, s.snap->cfg) < 0 || gw_idp_start(s.snap->cfg) < 0 ||
        start_revocations(&ctl.loop, s.snap->cfg) < 0) {
        for (unsigned i = 0; i < nworkers; i++)
            close(s.workers[i].listen_fd);
        goto out;
    }
    if (s.snap->cfg->hub.enabled && gw_hub_new(&s.hub, &ctl.loop, s.snap->cfg, nworkers) < 0) {
        gw_log_error("hub: out of memory");
        close_listeners(&s, nworkers);
        goto out;
    }
    if (gw_cache_redis_sync(&s.cache_redis, &ctl.loop, s.snap->cfg, false) < 0)
        gw_log_error("cache: cannot create the control thread's Redis client: admin purges do "
                     "not reach Redis");
    if (gw_openapi_start(&ctl.loop, s.snap, &s.openapi) < 0)
        gw_log_error("openapi: out of memory: the merged document is not served");
    if (gw_dns_start(&ctl.loop, on_discovered, &s, &s.discovery) < 0 ||
        gw_dns_update(s.discovery, s.snap->cfg) < 0)
        gw_log_error("discovery: out of memory: DNS names are not resolved again");
    s.admin_service = admin;
    if (admin && admin->start(&s, &ctl.loop, &s.admin) < 0) {
        close_listeners(&s, nworkers);
        goto out;
    }
    for (; started < nworkers; started++) {
        if (gw_worker_start(&s.workers[started]) < 0)
            break;
    }
    if (started < nworkers) {
        gw_log_error("cannot start worker %u", started);
        goto out;
    }

    atomic_store(&s.ready, true);
    gw_log_info("gantry listening on %s:%u with %u worker%s, %zu service%s",
                s.snap->cfg->listen_host, (unsigned)s.snap->cfg->listen_port, nworkers,
                nworkers == 1 ? "" : "s", s.snap->nservices, s.snap->nservices == 1 ? "" : "s");
    if (s.snap->cfg->tls.enabled)
        gw_log_info("gantry listening for HTTPS on %s:%u (%zu certificate%s)",
                    s.snap->cfg->tls.listen_host, (unsigned)s.snap->cfg->tls.listen_port,
                    s.snap->cfg->tls.ncerts, s.snap->cfg->tls.ncerts == 1 ? "" : "s");
    hint_migrate_req();
    gw_sdnotify("READY=1\nSTATUS=listening");
    uint64_t wd_usec = gw_sdnotify_watchdog_usec();
    if (wd_usec > 0) {
        uint64_t every_ms = wd_usec / 2000 ? wd_usec / 2000 : 1;
        uv_timer_start(&ctl.watchdog, on_watchdog, every_ms, every_ms);
        gw_sdnotify("WATCHDOG=1");
    }
    uv_run(&ctl.loop, UV_RUN_DEFAULT);
    status = 0;
out:
    for (unsigned i = 0; i < started; i++) {
        if (status != 0)
            gw_worker_request_stop(&s.workers[i], true);
        gw_worker_join(&s.workers[i]);
    }
    for (unsigned i = started; s.workers && i < s.nworkers; i++)
        gw_snapshot_unref(s.workers[i].snap); /* never started: its reference is still here */
    if (ctl.server) {
        if (status != 0) {
            stop_control(&ctl);
            uv_run(&ctl.loop, UV_RUN_DEFAULT);
        }
        uv_loop_close(&ctl.loop);
    }
    if (status == 0)
        gw_log_info("stopped");
    free(s.workers);
    gw_snapshot_unref(s.snap);
    gw_metrics_hub_free(s.metrics); /* after the last snapshot: every set is released */
    gw_tracer_free(s.tracer);       /* after the workers and the control loop: nothing pushes now */
    gw_hub_free(s.hub);
    gw_tail_free(s.tail);
    gw_observe_history_free(s.history);
    if (s.last_reload_errors)
        gw_config_errors_free(s.last_reload_errors);
    free(s.last_reload_errors);
    gw_target_registry_free(s.targets);
    gw_policy_shared_free(s.policy);
    free(s.config_path);
    free(ctl.access_path);
    free(ctl.error_path);
    if (s.access_fd > 2)
        close(s.access_fd);
    return status;
}

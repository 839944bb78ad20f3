/*
 * The process: control thread plus worker threads. Types only (see server.h for the
 * functions and who owns what).
 */
#ifndef GW_RUNTIME_SERVER_T_H
#define GW_RUNTIME_SERVER_T_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "net/acceptor-t.h"

struct gw_control_service;
struct gw_worker;
struct gw_snapshot;
struct gw_server;
struct gw_target_registry;
struct gw_health_checker;

struct gw_policy_shared;
struct gw_jwks_fetcher;
struct gw_openapi;
struct gw_dns;
struct gw_metrics_hub;
struct gw_tracer;
struct gw_hub;
struct gw_cache_redis;
struct gw_config;
struct json_t;

/* Adds services or targets to doc, a copy of the document of the file that loaded as file,
 * before every reload's snapshot (the backend registry). 1 when it added something, 0 when
 * not, or a negative code. Control thread. */
typedef int (*gw_server_extend_fn)(void *arg, const struct gw_config *file, struct json_t *doc);
/* Then finishes the configuration loaded from that document (secrets that never go into a
 * document). 0 or a negative code. */
typedef int (*gw_server_finish_fn)(void *arg, struct gw_config *merged);
struct gw_tail;
struct gw_config_errors;
struct gw_observe_history;

struct gw_server {
    struct gw_snapshot *snap; /** current snapshot (control thread's reference) */
    struct gw_worker *workers;
    unsigned nworkers;
    atomic_uint nconns; /** client connections across all workers */
    atomic_bool ready;  /** listeners bound and config loaded */
    atomic_bool draining;
    int access_fd; /** -1 when the access log is off */
    int access_json;
    atomic_uint exited; /** workers whose loop has ended */
    void *exit_async;   /** uv_async_t of the control thread, sent by exiting workers */
    uv_loop_t *control_loop;
    char *config_path;    /** the file reloads read */
    uint64_t started_ms;  /** wall clock, ms since the epoch */
    uint64_t generation;  /** 1 for the first config, +1 per successful reload */
    char config_hash[65]; /** SHA-256 (hex) of the file the current snapshot came from */
    uint64_t reloads_ok;
    uint64_t reloads_failed;
    double last_reload_ms;          /** duration of the last successful reload */
    double reload_ms_total;         /** durations of every reload, successful or not */
    struct gw_metrics_hub *metrics; /** request metrics summed and served (control thread) */
    const struct gw_control_service *admin_service; /** how the admin API starts and stops */
    void *admin;                        /** the admin listener (admin_service's); NULL when off */
    struct gw_target_registry *targets; /** per-target health/ejection, across reloads */
    struct gw_health_checker *health;   /** active health checks (control thread) */
    struct gw_policy_shared *policy;    /** rate-limit counters etc., across reloads */
    struct gw_jwks_fetcher *jwks;       /** JWKS refresh (control thread); NULL when unused */
    struct gw_tracer *tracer;           /** the trace exporter (control thread; trace/exporter.h) */
    struct gw_hub *hub; /** the WebSocket hub (hub/hub.h) when hub is enabled at start, or NULL */
    /** the response cache's Redis client on the control loop (admin purges), in step with the
     * snapshot; NULL when no service uses the Redis backend */
    struct gw_cache_redis *cache_redis;
    /** the backend registry's services (admin/), merged into every reload; NULL: none */
    gw_server_extend_fn extend;
    gw_server_finish_fn extend_finish;
    void *extend_arg;
    /** the aggregated OpenAPI document (fetched on the control thread, read by workers) */
    struct gw_openapi *openapi;
    /** DNS discovery of the targets of services with "discovery" (src/discovery/), control
     * thread; NULL when it could not start */
    struct gw_dns *discovery;
    struct gw_tail *tail; /** the dashboard's live access log (rings filled while watched) */
    struct gw_observe_history *history; /** 15 minutes of totals for the dashboard's charts */
    /** the last reload (API or SIGHUP): when (wall ms, 0 never), whether it worked, and the
     * errors of a failed one with their positions */
    uint64_t last_reload_at_ms;
    bool last_reload_ok;
    struct gw_config_errors *last_reload_errors;
    /** the proxy listener's accept failures and pauses, every worker's (atomics) */
    struct gw_accept_stats accept;
};

#endif

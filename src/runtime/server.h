/*
 * The process: control thread (signals, reload, admin listener) plus worker threads.
 *
 * Everything in this header except the atomics is owned by the control thread (the main
 * thread running the control loop): reload, publish and the admin API all run there, one
 * at a time, so they need no locks among themselves.
 */
#ifndef GW_RUNTIME_SERVER_H
#define GW_RUNTIME_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "control/config.h"

struct gw_worker;
struct gw_snapshot;
struct gw_admin;
struct gw_target_registry;
struct gw_health_checker;

struct gw_policy_shared;
struct gw_jwks_fetcher;

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
    double last_reload_ms;              /** duration of the last successful reload */
    struct gw_admin *admin;             /** the admin listener; NULL when off */
    struct gw_target_registry *targets; /** per-target health/ejection, across reloads */
    struct gw_health_checker *health;   /** active health checks (control thread) */
    struct gw_policy_shared *policy;    /** rate-limit counters etc., across reloads */
    struct gw_jwks_fetcher *jwks;       /** JWKS refresh (control thread); NULL when unused */
};

/* Runs gantry on cfg loaded from path (ownership of cfg passes) until SIGTERM/SIGINT and the
 * drain that follows. Returns the process exit status. */
int gw_server_run(struct gw_config *cfg, const char *path);

/* Control thread. Re-reads the config file, validates it, builds a snapshot (resolving
 * targets) and publishes it to every worker; requests in flight finish on the snapshot they
 * started with, idle upstream connections of targets that remain are kept. On failure the
 * running config is untouched, *errs (if not NULL) holds every problem (free with
 * gw_config_errors_free), the errors are logged and reloads_failed counts it.
 * 0 or GW_ECONFIG / GW_EINVAL. */
int gw_server_reload(struct gw_server *s, struct gw_config_errors *errs);

/* Control thread. The current snapshot (borrowed: valid until the next reload on this
 * thread). */
struct gw_snapshot *gw_server_snapshot(struct gw_server *s);

#endif

/*
 * The process: control thread (signals, reload, admin listener) plus worker threads.
 *
 * struct gw_server (runtime/server-t.h) is owned by the control thread (the main thread running
 * the control loop): reload, publish and the admin API all run there, one at a time, so they
 * need no locks among themselves. Workers read only the atomics and the fields set before they
 * start and never changed after (access_fd, access_json, jwks).
 */
#ifndef GW_RUNTIME_SERVER_H
#define GW_RUNTIME_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "runtime/server-t.h"

/*
 * A control-thread service that drives the server from outside: the admin API. It calls
 * back into the server (reload, snapshot, status), so runtime/ knows it only through this
 * table, which main.c hands over: the dependency points one way.
 */
struct gw_control_service {
    const char *name;
    /* Control thread, before the workers start. 0 with *state set (NULL: turned off by the
     * config), or a negative code after logging why: start-up then fails. */
    int (*start)(struct gw_server *s, uv_loop_t *loop, void **state);
    /* Control thread, once: closes what start opened; the loop runs afterwards. */
    void (*stop)(void *state);
};

/* Runs gantry on cfg loaded from path (ownership of cfg passes) until SIGTERM/SIGINT and the
 * drain that follows, with the admin service (NULL: none). Returns the process exit status. */
int gw_server_run(struct gw_config *cfg, const char *path, const struct gw_control_service *admin);

/* Control thread. Re-reads the config file, validates it, builds a snapshot (resolving
 * targets) and publishes it to every worker; requests in flight finish on the snapshot they
 * started with, idle upstream connections of targets that remain are kept. On failure the
 * running config is untouched, *errs (if not NULL) holds every problem (free with
 * gw_config_errors_free), the errors are logged and reloads_failed counts it.
 * 0 or GW_ECONFIG / GW_EINVAL / GW_ENOMEM. */
int gw_server_reload(struct gw_server *s, struct gw_config_errors *errs);

/* Control thread. The current snapshot (borrowed: valid until the next reload on this
 * thread). */
struct gw_snapshot *gw_server_snapshot(struct gw_server *s);

#endif

/* The process: control thread (signals) plus worker threads. */
#ifndef GW_RUNTIME_SERVER_H
#define GW_RUNTIME_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"

struct gw_worker;
struct gw_snapshot;

struct gw_server {
    struct gw_snapshot *snap;
    struct gw_worker *workers;
    unsigned nworkers;
    atomic_uint nconns; /** client connections across all workers */
    atomic_bool ready;  /** listeners bound and config loaded */
    atomic_bool draining;
    int access_fd; /** -1 when the access log is off */
    int access_json;
    atomic_uint exited;   /** workers whose loop has ended */
    void *exit_async;     /** uv_async_t of the control thread, sent by exiting workers */
};

/* Runs gantry on cfg (ownership passes) until SIGTERM/SIGINT and the drain that follows.
 * Returns the process exit status. */
int gw_server_run(struct gw_config *cfg);

#endif

/*
 * A worker: one thread, one libuv loop, one SO_REUSEPORT listener. Every client
 * connection and every upstream connection it owns stays on it; nothing on the request
 * path takes a lock.
 */
#ifndef GW_RUNTIME_WORKER_H
#define GW_RUNTIME_WORKER_H

#include <stdbool.h>

#include "runtime/worker-t.h"

/* Starts the worker's thread. 0 or a negative code. */
int gw_worker_start(struct gw_worker *w);

/* Hands the worker a new snapshot (thread-safe; takes a reference of its own). New
 * requests use it from the worker's next loop iteration; requests in flight keep theirs. */
void gw_worker_publish(struct gw_worker *w, struct gw_snapshot *snap);

/* Hands the worker a JWKS key set (thread-safe; takes a reference of its own). */
void gw_worker_publish_keyset(struct gw_worker *w, struct gw_keyset *ks);

/* Asks the worker to stop accepting and finish its requests (thread-safe); with force, to
 * close every connection now. Levels are kept in an atomic, not counted from wake-ups,
 * because libuv merges async sends that arrive before the worker runs. */
void gw_worker_request_stop(struct gw_worker *w, bool force);

/* Joins the thread and frees what the worker owns. */
void gw_worker_join(struct gw_worker *w);

#endif

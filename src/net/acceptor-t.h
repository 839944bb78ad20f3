/*
 * The accept loop of a listening socket (see net/acceptor.h). Types only: the worker and the
 * admin listener embed an acceptor, the server holds the counters.
 */
#ifndef GW_NET_ACCEPTOR_T_H
#define GW_NET_ACCEPTOR_T_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* How long accepting pauses after accept(2) failed for lack of resources, unless a free
 * descriptor ends the pause earlier. */
#define GW_ACCEPT_PAUSE_MS 100
/* Connections accepted per wake-up of the loop at most (the rest on the next iteration), so
 * a flood of connects cannot starve the connections already open. */
#define GW_ACCEPT_BATCH 64

/* Counters shared by the acceptors of one listener (every worker's), readable from any
 * thread. Zero-initialised. */
struct gw_accept_stats {
    atomic_uint_fast64_t errors;  /** accept(2) failures that paused accepting (EMFILE...) */
    atomic_uint_fast64_t refused; /** connections taken on the reserve, or closed unanswered */
    atomic_uint_fast64_t pauses;  /** times an acceptor stopped accepting */
    atomic_uint paused;           /** acceptors paused right now */
};

struct gw_acceptor;

/* A new connection: fd is a non-blocking, close-on-exec socket that the callee owns. */
typedef void (*gw_acceptor_cb)(struct gw_acceptor *a, int fd);
typedef void (*gw_acceptor_closed_cb)(struct gw_acceptor *a);

struct gw_acceptor_conf {
    const char *name;         /** in log lines ("worker 0", "admin"); must outlive the acceptor */
    gw_acceptor_cb on_accept; /** required */
    /** A connection accepted in the reserve's slot while out of descriptors (counted as
     * refused): the proxy answers it 503, the admin API serves it (so one operator can still
     * look). Either way it should close soon: until then the acceptor has no reserve. NULL: the
     * acceptor closes it unanswered. */
    gw_acceptor_cb on_reserve;
    struct gw_accept_stats *stats; /** may be NULL */
    void *data;                    /** for the callbacks */
};

struct gw_acceptor {
    uv_poll_t poll;   /** readable: connections are queued */
    uv_timer_t pause; /** ends a pause */
    uv_check_t probe; /** while paused for lack of descriptors: is one free again? */
    int fd;           /** the listening socket (owned once started) */
    int reserve;      /** spare descriptor (/dev/null) given up to refuse a connection, or -1 */
    bool paused;      /** not polling the socket */
    bool closing;
    unsigned open_handles;
    gw_acceptor_closed_cb on_closed;
    struct gw_acceptor_conf conf;
};

#endif

/*
 * The aggregated OpenAPI document (docs/openapi.md): the control thread fetches each service's
 * document (a URL, a path on its first target, or a file) at start, after each reload and every
 * openapi.refresh; a failure keeps the last good copy (one log line when a source starts or
 * stops failing); after each change it merges them (openapi/merge.h) and publishes the text,
 * which the workers serve at openapi.path on the proxy port.
 *
 * Threads: gw_openapi_start, _update and _stop on the control thread; gw_openapi_get and
 * gw_openapi_doc_unref on any thread (the published text is reference counted and swapped
 * under a lock held for a pointer copy).
 */
#ifndef GW_OPENAPI_OPENAPI_H
#define GW_OPENAPI_OPENAPI_H

#include <stdatomic.h>
#include <stddef.h>
#include <uv.h>

struct gw_snapshot;
struct gw_openapi;

/* A published merged document: JSON text, len bytes (NUL-terminated). */
struct gw_openapi_doc {
    atomic_int refs;
    size_t len;
    char text[];
};

/* Control thread: starts the aggregation for snap's configuration (a reference is taken;
 * nothing is fetched while openapi is off). Returns 0 and *out, or GW_ENOMEM. */
int gw_openapi_start(uv_loop_t *loop, struct gw_snapshot *snap, struct gw_openapi **out);

/* Control thread, after a reload published snap: follows the new services and settings (a
 * source whose location did not change keeps its last good document) and fetches again. */
void gw_openapi_update(struct gw_openapi *o, struct gw_snapshot *snap);

/* Control thread, when no worker runs any more: cancels the fetches; the memory goes with the
 * timer's close callback (run the loop). NULL-safe. */
void gw_openapi_stop(struct gw_openapi *o);

/* Any thread: the current merged document (a reference: give it back with
 * gw_openapi_doc_unref), or NULL when there is none (openapi off). NULL-safe. */
struct gw_openapi_doc *gw_openapi_get(struct gw_openapi *o);
void gw_openapi_doc_unref(struct gw_openapi_doc *d);

#endif

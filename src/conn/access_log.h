/*
 * Access log: one line per request, text or JSON, buffered per worker.
 */
#ifndef GW_CONN_ACCESS_LOG_H
#define GW_CONN_ACCESS_LOG_H

struct gw_request;
struct gw_worker;

/* Worker thread: appends the line of a finished (or abandoned, once dispatched) request to the
 * worker's buffer; writes the buffer when it grows past 64 KiB. */
void gw_access_log(const struct gw_request *r);

/* Worker thread: writes the buffered lines (once per loop iteration and before the worker
 * stops), whole lines per write so workers never interleave. */
void gw_access_flush(struct gw_worker *w);

#endif

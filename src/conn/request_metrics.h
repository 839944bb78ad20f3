/*
 * The metrics a request leaves when it ends: one call where the request finishes (beside the
 * access log), from struct gw_request fields only, so every downstream protocol records the
 * same way.
 */
#ifndef GW_CONN_REQUEST_METRICS_H
#define GW_CONN_REQUEST_METRICS_H

struct gw_request;

/* Worker thread: counts a finished (or abandoned, once dispatched) request in its worker's area
 * of its snapshot's metric set: requests by route, method and status, bytes in and out, total
 * time, and the consumer when the service counts consumers. Nothing when metrics are off. */
void gw_request_metrics(const struct gw_request *r);

#endif

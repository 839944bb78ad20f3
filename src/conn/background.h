/*
 * Background requests: a copy of a client's GET or HEAD that runs the rest of the policy chain
 * and the upstream exchange with no client waiting (gw_downstream_ops.background; the response
 * cache's stale-while-revalidate refresh). Their downstream drops the response; they write no
 * access-log line. Worker thread only.
 */
#ifndef GW_CONN_BACKGROUND_H
#define GW_CONN_BACKGROUND_H

#include "conn/request-t.h"

struct gw_worker;

/*
 * The background operation of a client downstream: copies r (see gw_downstream_ops.background
 * for what is copied) into a request of its own on r's worker, counted in w->nbackground and
 * listed in w->background, whose chain resumes at r->stage on the next loop iteration. 0, or
 * GW_ENOMEM, or GW_EINVAL (r has a body or an upgrade, or the worker is stopping): nothing
 * started.
 */
int gw_background_start(struct gw_request *r);

/* Ends every background request of w at once (a forced stop): their upstream exchanges are
 * dropped and their memory released as their timers close. */
void gw_background_abort_all(struct gw_worker *w);

#endif

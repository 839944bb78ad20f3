/*
 * DNS discovery (README "DNS discovery"): the targets of a service with "discovery": "dns" are
 * the A/AAAA addresses of their host names, those of "dns_srv" the SRV records of their host
 * names (host, port, weight), re-resolved every discovery.interval (sooner when the records'
 * TTL is shorter).
 *
 * Contract
 * - Control thread only. Queries run on libuv's thread pool (res_nquery, so the resolver may
 *   be any address and port: discovery.resolver), never on a loop.
 * - The watcher never builds a snapshot: like registrations, it rewrites the file's document
 *   of every reload (gw_dns_extend), and asks for a reload (on_change) when a name's set of
 *   addresses changed, so a change goes through the same validation and atomic publication.
 * - A name that fails to resolve (timeout, SERVFAIL, NXDOMAIN, no address) keeps its last good
 *   set, logged once per change of state; before its first answer the target stays as written
 *   (the snapshot then holds it unresolved: requests to it fail over to others, or get 502).
 */
#ifndef GW_DISCOVERY_DNS_H
#define GW_DISCOVERY_DNS_H

#include <jansson.h>
#include <uv.h>

struct gw_config;
struct gw_dns;

/* Called (control thread) when some name's addresses changed; once per burst. */
typedef void (*gw_dns_change_fn)(void *arg);

/* Control thread. A watcher on loop with nothing to watch yet. 0 or GW_ENOMEM. */
int gw_dns_start(uv_loop_t *loop, gw_dns_change_fn on_change, void *arg, struct gw_dns **out);

/* Control thread. The names to watch are those of cfg's services with discovery (cfg: the
 * file's configuration, before extension); new names are resolved at once, names no longer
 * used are forgotten, the resolver and interval are cfg's. 0 or GW_ENOMEM. */
int gw_dns_update(struct gw_dns *d, const struct gw_config *cfg);

/* Control thread. Replaces, in doc (a copy of the file's document), each target of a service
 * with discovery by one target per resolved address (the URL's host replaced by the address;
 * for dns_srv also its port, and its weight from the record). Returns 1 when doc changed, 0
 * when not, GW_ENOMEM. NULL d: 0. */
int gw_dns_extend(const struct gw_dns *d, json_t *doc);

/* Control thread. Stops; the memory is freed once queries in flight have finished and the
 * timers are closed (run the loop). NULL is ignored. */
void gw_dns_stop(struct gw_dns *d);

#endif

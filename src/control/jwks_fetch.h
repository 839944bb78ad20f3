/*
 * JWKS refresh (control thread): see jwks_fetch.c.
 */
#ifndef GW_CONTROL_JWKS_FETCH_H
#define GW_CONTROL_JWKS_FETCH_H

#include <stdbool.h>
#include <uv.h>

struct gw_server;
struct gw_config;
struct gw_jwks_fetcher;

/* Control thread. Starts fetching server->snap's auth.jwt.jwks_url (if any). NULL when out of
 * memory. */
struct gw_jwks_fetcher *gw_jwks_start(uv_loop_t *loop, struct gw_server *server);
/* Control thread, after a reload: follows a changed URL or intervals. */
int gw_jwks_update(struct gw_jwks_fetcher *f, const struct gw_config *cfg);
/* Any thread: a token named an unknown kid. The control thread refetches unless one started
 * less than jwks_min_refresh ago, and in every case answers by publishing a key set to every
 * worker (gw_worker_publish_keyset), which resumes the requests waiting for it. False when
 * there is nobody to ask (no fetcher, stopping): do not wait. */
bool gw_jwks_want_refresh(struct gw_jwks_fetcher *f);
/* Control thread: cancels the fetch in flight, closes the handles (freed by the loop). */
void gw_jwks_stop(struct gw_jwks_fetcher *f);

#endif

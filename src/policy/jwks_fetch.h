/*
 * JWKS refresh (control thread): see jwks_fetch.c.
 */
#ifndef GW_POLICY_JWKS_FETCH_H
#define GW_POLICY_JWKS_FETCH_H

#include <stdbool.h>
#include <uv.h>

struct gw_config;
struct gw_jwks_fetcher;
struct gw_keyset;

/* Hands a key set to every worker (each takes a reference of its own), on the control thread. */
typedef void (*gw_jwks_publish_cb)(void *arg, struct gw_keyset *ks);

/* Control thread. Starts fetching cfg's auth.jwt.jwks_url (if any); every key set fetched (or
 * the current one again, to answer waiting requests) goes to publish. NULL when out of
 * memory. */
struct gw_jwks_fetcher *gw_jwks_start(uv_loop_t *loop, const struct gw_config *cfg,
                                      gw_jwks_publish_cb publish, void *arg);
/* Control thread, after a reload: follows a changed URL or intervals. */
int gw_jwks_update(struct gw_jwks_fetcher *f, const struct gw_config *cfg);
/* Any thread: a token named an unknown kid. The control thread refetches unless one started
 * less than jwks_min_refresh ago, and in every case answers by publishing a key set to every
 * worker (the publish callback), which resumes the requests waiting for it. False when
 * there is nobody to ask (no fetcher, stopping): do not wait. */
bool gw_jwks_want_refresh(struct gw_jwks_fetcher *f);
/* Control thread: cancels the fetch in flight, closes the handles (freed by the loop). */
void gw_jwks_stop(struct gw_jwks_fetcher *f);

#endif

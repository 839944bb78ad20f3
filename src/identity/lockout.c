/*
 * The lockout after repeated failed logins (internal.h "lockout.c"), where it lives: with the
 * SQLite store (embedded, one instance) in this process's table (throttle.c); with the
 * PostgreSQL store in the database (store_pg_lockout.c), shared by every gantry instance on it,
 * the database's clock deciding when a lockout ends. docs/internals.md "Built-in identity: the
 * lockout" says why there and not in Redis.
 */
#include "identity/internal.h"

#include "core/error.h"

int gw__idp_lock_wait(const char *key, int64_t *wait_s, bool *counted)
{
    struct gw__idp_store *s = gw__idp.store;
    if (s != NULL && s->ops->lock_wait != NULL)
        return s->ops->lock_wait(s, key, wait_s, counted);
    *wait_s = gw__idp_throttle_wait(key, gw__idp_now_ms());
    *counted = true;
    return 0;
}

int gw__idp_lock_fail(const char *key, uint32_t max, bool *started)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    struct gw__idp_store *s = gw__idp.store;
    if (s != NULL && s->ops->lock_fail != NULL)
        return s->ops->lock_fail(s, key, max, ic->lockout_window_ms, ic->lockout_ms, started);
    *started =
        gw__idp_throttle_fail(key, max, ic->lockout_window_ms, ic->lockout_ms, gw__idp_now_ms());
    return 0;
}

int gw__idp_lock_ok(const char *key)
{
    struct gw__idp_store *s = gw__idp.store;
    bool was;
    if (s != NULL && s->ops->lock_clear != NULL)
        return s->ops->lock_clear(s, key, true, &was);
    gw__idp_throttle_ok(key);
    return 0;
}

int gw__idp_lock_clear(const char *key, bool *was)
{
    struct gw__idp_store *s = gw__idp.store;
    if (s != NULL && s->ops->lock_clear != NULL)
        return s->ops->lock_clear(s, key, false, was);
    *was = gw__idp_throttle_clear(key, gw__idp_now_ms());
    return 0;
}

int gw__idp_lock_reserve(const char *key, uint32_t max, int64_t *wait_s, bool *started)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    struct gw__idp_store *s = gw__idp.store;
    if (s != NULL && s->ops->lock_reserve != NULL)
        return s->ops->lock_reserve(s, key, max, ic->lockout_window_ms, ic->lockout_ms, wait_s,
                                    started);
    *wait_s = gw__idp_throttle_reserve(key, max, ic->lockout_window_ms, ic->lockout_ms,
                                       gw__idp_now_ms(), started);
    return 0;
}

int gw__idp_lock_release(const char *key, uint32_t max, bool started)
{
    struct gw__idp_store *s = gw__idp.store;
    if (s != NULL && s->ops->lock_release != NULL)
        return s->ops->lock_release(s, key, max, started);
    gw__idp_throttle_release(key, max, started);
    return 0;
}

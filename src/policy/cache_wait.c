/*
 * The response cache's collapsed misses (policy/internal.h): a request whose key another
 * request is filling waits for that fill, polling from its own loop, then looks up again.
 */
#include <stdlib.h>
#include <string.h>

#include "cache/key.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "policy/chain.h"
#include "policy/internal.h"
#include "runtime/worker-t.h"

static void on_poll_closed(uv_handle_t *h)
{
    free(h);
}

void gw__cache_stop_wait(struct cache_state *st)
{
    if (st->poll == NULL)
        return;
    uv_timer_stop(st->poll);
    uv_close((uv_handle_t *)st->poll, on_poll_closed);
    st->poll = NULL;
}

size_t gw__cache_fill_key(const struct cache_state *st, char *out)
{
    if (st->refresh)
        return gw__cache_refresh_key(st->key, st->key_len, out);
    memcpy(out, st->key, st->key_len);
    return st->key_len;
}

void gw__cache_end_fill(struct cache_state *st)
{
    if (!st->filling || st->key == NULL)
        return;
    st->filling = false;
    if (st->refresh) {
        char key[GW_CACHE_KEY_MAX + GW_CACHE_REFRESH_MARK];
        size_t n = gw__cache_refresh_key(st->key, st->key_len, key);
        gw_cache_store_fill_end(st->store, key, n);
        return;
    }
    gw_cache_store_fill_end(st->store, st->key, st->key_len);
}

/* Polls the fill this request waits for: the filler may be on any worker, and a poll from the
 * waiter's own loop needs no cross-thread wake-up. The interval doubles from 1 ms to 16 ms. */
static void on_poll(uv_timer_t *t)
{
    struct gw_request *r = t->data;
    struct cache_state *st = r->slot[GW_STAGE_CACHE];
    uint64_t now = uv_now(&r->w->loop);
    if (gw_cache_store_fill_active(st->store, st->key, st->key_len) &&
        now - st->wait_start < r->snap->cfg->cache.collapse_ms) {
        st->poll_ms = st->poll_ms < 16 ? st->poll_ms * 2 : 16;
        uv_timer_start(t, on_poll, st->poll_ms, 0);
        return;
    }
    gw__cache_stop_wait(st);
    gw_policy_resume(r); /* on_request again: a hit now, or upstream without filling */
}

int gw__cache_start_wait(struct cache_state *st, struct gw_request *r, uint64_t now)
{
    st->poll = malloc(sizeof *st->poll);
    if (st->poll == NULL)
        return GW_ENOMEM;
    uv_timer_init(&r->w->loop, st->poll);
    st->poll->data = r;
    st->wait_start = now;
    st->poll_ms = 1;
    uv_timer_start(st->poll, on_poll, st->poll_ms, 0);
    return 0;
}

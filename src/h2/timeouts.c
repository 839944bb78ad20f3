/*
 * The per-stream timeouts of an HTTP/2 session (h2/session.h gw_h2_session_expire): the request
 * body the owner waits for and the response payload the client's window holds back. The
 * session only stamps when a wait began; the owner's timer calls gw_h2_session_expire.
 */
#include <nghttp2/nghttp2.h>
#include <time.h>

#include "h2/internal.h"

uint64_t gw_h2_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void gw_h2_stream_body_wait(struct gw_h2_stream *st)
{
    if (st->body_end || st->closed || st->tunnel)
        return;
    st->body_since = gw_h2_clock_ms();
    st->sess->waiting = true;
}

void gw_h2_stream_cut(struct gw_h2_stream *st)
{
    st->cut = true;
}

bool gw_h2_session_waiting(const struct gw_h2_session *s)
{
    return s->waiting;
}

/* A wait that began at `since` (0: none) has lasted ms at `now`. A wait may begin after `now`
 * was read (an owner's callback wrote a response): not passed. */
static bool passed(uint64_t since, uint64_t now, uint64_t ms)
{
    return since && ms && now >= since && now - since >= ms;
}

void gw_h2_session_expire(struct gw_h2_session *s, uint64_t now, uint64_t body_ms, uint64_t send_ms)
{
    bool waiting = false;
    struct gw_list *it = s->streams.next;
    while (it != &s->streams) {
        struct gw_h2_stream *st = gw_container_of(it, struct gw_h2_stream, link);
        it = it->next; /* the owner's callback may answer or reset st; it is freed later */
        if (st->closed || st->tunnel)
            continue;
        if (passed(st->body_since, now, body_ms)) {
            st->body_since = 0;
            if (st->owner_data && !st->body_end)
                s->h->timeout(s->owner, st, GW_H2_TIMEOUT_BODY);
        }
        if (!st->closed && passed(st->send_since, now, send_ms)) {
            st->send_since = 0;
            if (st->owner_data)
                s->h->timeout(s->owner, st, GW_H2_TIMEOUT_SEND);
            else
                gw_h2_stream_reset(st, NGHTTP2_CANCEL);
        }
        if (!st->closed && (st->body_since || st->send_since))
            waiting = true;
    }
    s->waiting = waiting;
}

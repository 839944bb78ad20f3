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
    st->body_wait = true;
    st->body_since = 0;
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

/* A wait first seen at `since` has lasted ms at `now`. */
static bool passed(uint64_t since, uint64_t now, uint64_t ms)
{
    return now >= since && now - since >= ms;
}

void gw_h2_session_expire(struct gw_h2_session *s, uint64_t now, uint64_t body_ms, uint64_t send_ms)
{
    bool waiting = false;
    struct gw_list *it = s->streams.next;
    while (it != &s->streams) {
        struct gw_h2_stream *st = gw_container_of(it, struct gw_h2_stream, link);
        it = it->next; /* the owner's callback may answer or reset st; it is freed later */
        if (st->closed)
            continue;
        if (st->linger) {
            /* Answered and let go; the client's body still comes (session.c stop_request). */
            if (st->linger_since == 0)
                st->linger_since = now;
            else if (passed(st->linger_since, now, GW_H2_LINGER_MS))
                gw__h2_stream_stop(st);
            waiting = waiting || st->linger;
            continue;
        }
        if (st->tunnel)
            continue;
        if (st->body_wait && body_ms) {
            if (st->body_since == 0) {
                st->body_since = now; /* first seen: the bound runs from here */
            } else if (passed(st->body_since, now, body_ms)) {
                st->body_wait = false;
                if (st->owner_data && !st->body_end)
                    s->h->timeout(s->owner, st, GW_H2_TIMEOUT_BODY);
            }
        }
        if (!st->closed && st->send_wait && send_ms) {
            if (st->send_since == 0 || st->taken != st->taken_seen) {
                st->send_since = now; /* first seen, or it moved since the last sweep */
                st->taken_seen = st->taken;
            } else if (passed(st->send_since, now, send_ms)) {
                st->send_wait = false;
                if (st->owner_data)
                    s->h->timeout(s->owner, st, GW_H2_TIMEOUT_SEND);
                else
                    gw_h2_stream_reset(st, NGHTTP2_CANCEL);
            }
        }
        if (!st->closed && ((st->body_wait && body_ms) || (st->send_wait && send_ms)))
            waiting = true;
    }
    s->waiting = waiting;
}

/*
 * Writing to a libuv stream the way every writer in gantry does: try the socket at once
 * (the common small write completes without a callback, a wakeup or an allocation), and queue
 * only what the socket did not take (Redis' "write first, poll for writability only when
 * bytes remain").
 */
#ifndef GW_NET_WRITE_H
#define GW_NET_WRITE_H

#include <uv.h>

/* Writes what the socket takes now. Returns 1 when all of bufs[0..n) went out; 0 when some
 * is left: bufs[*rest..n) then holds exactly what remains (the first of them advanced past the
 * part written) for the caller to uv_write; or a negative UV_E* code. Inline: it is on every
 * response's path. */
static inline int gw_net_try_write(uv_stream_t *s, uv_buf_t *bufs, unsigned n, unsigned *rest)
{
    int w = uv_try_write(s, bufs, n);
    if (w == UV_EAGAIN)
        w = 0;
    if (w < 0)
        return w;
    size_t left = (size_t)w;
    unsigned i = 0;
    while (i < n && left >= bufs[i].len) {
        left -= bufs[i].len;
        i++;
    }
    if (i == n)
        return 1;
    bufs[i].base += left;
    bufs[i].len -= left;
    *rest = i;
    return 0;
}

#endif

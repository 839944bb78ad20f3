#include "net/write.h"

int gw_net_try_write(uv_stream_t *s, uv_buf_t *bufs, unsigned n, unsigned *rest)
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

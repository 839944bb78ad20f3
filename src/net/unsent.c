/*
 * The send queue of a TCP socket, and abortive closes (net/unsent.h).
 */
#include "net/unsent.h"

#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <uv.h>

size_t gw_net_unsent(int fd)
{
    int n = 0;
    if (ioctl(fd, SIOCOUTQ, &n) < 0 || n < 0)
        return 0;
    return (size_t)n;
}

int gw_net_reset_on_close(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0)
        return uv_translate_sys_error(errno);
    return 0;
}

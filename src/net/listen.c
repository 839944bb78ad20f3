#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

int gw_net_resolve(const char *host, uint16_t port, struct sockaddr_storage *addr,
                   socklen_t *addrlen)
{
    struct addrinfo hints = {0};
    struct addrinfo *res = NULL;
    char portstr[8];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
        return GW_EINVAL;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int gw_net_listen_reuseport(const struct sockaddr *addr, socklen_t addrlen, int backlog)
{
    int one = 1;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail;
    if (bind(fd, addr, addrlen) != 0)
        goto fail;
    if (listen(fd, backlog) != 0)
        goto fail;
    return fd;
fail:;
    int err = -errno;
    close(fd);
    return err;
}

int gw_net_peer_ip(int fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    const void *src = ss.ss_family == AF_INET6
                          ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                          : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
    if (!inet_ntop(ss.ss_family, src, out, (socklen_t)outlen))
        return -errno;
    /* An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; log it as a.b.c.d. */
    if (strncmp(out, "::ffff:", 7) == 0 && strchr(out + 7, '.'))
        memmove(out, out + 7, strlen(out + 7) + 1);
    return 0;
}

/* Listening sockets. */
#ifndef GW_NET_LISTEN_H
#define GW_NET_LISTEN_H

#include <stdint.h>
#include <sys/socket.h>

/* Resolves host:port (numeric or name) into *addr. 0 or a negative errno / GW_EINVAL. */
int gw_net_resolve(const char *host, uint16_t port, struct sockaddr_storage *addr,
                   socklen_t *addrlen);

/* Creates a non-blocking TCP socket bound to addr with SO_REUSEADDR and SO_REUSEPORT and
 * listening with the given backlog. Returns the fd or a negative errno. With SO_REUSEPORT
 * every worker binds its own socket and the kernel spreads connections among them. */
int gw_net_listen_reuseport(const struct sockaddr *addr, socklen_t addrlen, int backlog);

/* Formats the peer address of fd as text (no port). 0 or a negative errno. */
int gw_net_peer_ip(int fd, char *out, size_t outlen);

#endif

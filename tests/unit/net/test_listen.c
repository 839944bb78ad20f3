/* Unit tests for src/net/listen.c: resolving listen addresses, SO_REUSEPORT listeners (real
 * sockets on loopback, port 0) and the text form of a peer address. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "net/listen.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static void resolve_ok(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0xA5, sizeof *ss);
    if (gw_net_resolve(host, port, ss, len) != 0)
        fail_msg("cannot resolve %s", host);
}

/* A reuseport listener on host, port 0 (the kernel picks); *port gets the port. -1 when the
 * address family is not available here. */
static int listen_any(const char *host, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    resolve_ok(host, 0, &ss, &len);
    int fd = gw_net_listen_reuseport((struct sockaddr *)&ss, len, 16);
    if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)
        return -1;
    if (fd < 0)
        fail_msg("listen on %s: %s", host, strerror(-fd));
    struct sockaddr_storage got;
    socklen_t glen = sizeof got;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&got, &glen), 0);
    *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                            : ((struct sockaddr_in *)&got)->sin_port);
    assert_true(*port != 0);
    return fd;
}

/* A blocking client connected to ip:port. */
static int connect_to(int family, const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
        len = sizeof *a;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
    return fd;
}

/* Accepts one connection from any of the listeners (they are non-blocking); *which (when not
 * NULL) gets the index of the listener it came from. */
static int accept_from(const int *lfds, size_t n, size_t *which)
{
    struct pollfd p[4];
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = lfds[i], .events = POLLIN};
    assert_true(poll(p, (nfds_t)n, 5000) > 0);
    for (size_t i = 0; i < n; i++)
        if (p[i].revents & POLLIN) {
            int fd = accept4(lfds[i], NULL, NULL, SOCK_CLOEXEC);
            assert_true(fd >= 0);
            if (which)
                *which = i;
            return fd;
        }
    fail_msg("no listener readable");
    return -1;
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

/* ---- gw_net_resolve -------------------------------------------------------------------------- */

static void test_resolve_ipv4(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    resolve_ok("127.0.0.1", 8080, &ss, &len);
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    assert_int_equal(a->sin_family, AF_INET);
    assert_int_equal(len, sizeof *a);
    assert_int_equal(ntohs(a->sin_port), 8080);
    assert_int_equal(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);

    resolve_ok("0.0.0.0", 0, &ss, &len);
    assert_int_equal(a->sin_family, AF_INET);
    assert_int_equal(a->sin_port, 0);
    assert_int_equal(a->sin_addr.s_addr, htonl(INADDR_ANY));

    resolve_ok("10.1.2.3", 65535, &ss, &len);
    assert_int_equal(ntohs(a->sin_port), 65535);
    assert_int_equal(ntohl(a->sin_addr.s_addr), 0x0A010203);
}

static void test_resolve_ipv6(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    resolve_ok("::1", 443, &ss, &len);
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    assert_int_equal(a->sin6_family, AF_INET6);
    assert_int_equal(len, sizeof *a);
    assert_int_equal(ntohs(a->sin6_port), 443);
    assert_memory_equal(&a->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback);

    resolve_ok("::", 9000, &ss, &len);
    assert_int_equal(a->sin6_family, AF_INET6);
    assert_memory_equal(&a->sin6_addr, &in6addr_any, sizeof in6addr_any);
}

static void test_resolve_a_name(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    resolve_ok("localhost", 80, &ss, &len);
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        assert_int_equal(ntohl(a->sin_addr.s_addr) >> 24, 127);
        assert_int_equal(ntohs(a->sin_port), 80);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        assert_int_equal(ss.ss_family, AF_INET6);
        assert_memory_equal(&a->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback);
        assert_int_equal(ntohs(a->sin6_port), 80);
    }
}

static void test_resolve_refuses_what_is_not_an_address(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len = 12345;
    assert_int_equal(gw_net_resolve("", 80, &ss, &len), GW_EINVAL);
    assert_int_equal(gw_net_resolve("[::1]", 80, &ss, &len), GW_EINVAL); /* no brackets here */
    assert_int_equal(len, 12345);
}

/* ---- gw_net_listen_reuseport ----------------------------------------------------------------- */

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof v;
    assert_int_equal(getsockopt(fd, level, name, &v, &l), 0);
    return v;
}

static void test_listener_options(void **state)
{
    (void)state;
    uint16_t port;
    int fd = listen_any("127.0.0.1", &port);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), 1);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    /* non-blocking: nothing to accept is EAGAIN, not a wait */
    assert_int_equal(accept(fd, NULL, NULL), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(fd);
}

/* What SO_REUSEPORT is for: every worker binds its own listener to the same port, and the
 * kernel spreads the connections among them (by a hash of the 4-tuple, so among a few dozen
 * connections from new source ports both get some). */
static void test_two_listeners_share_a_port(void **state)
{
    (void)state;
    uint16_t port;
    int l[2];
    l[0] = listen_any("127.0.0.1", &port);
    struct sockaddr_storage ss;
    socklen_t len;
    resolve_ok("127.0.0.1", port, &ss, &len);
    l[1] = gw_net_listen_reuseport((struct sockaddr *)&ss, len, 16);
    assert_true(l[1] >= 0);
    int served[2] = {0, 0};
    for (int i = 0; i < 200 && !(served[0] && served[1]); i++) {
        size_t which;
        int c = connect_to(AF_INET, "127.0.0.1", port);
        int s = accept_from(l, 2, &which);
        served[which]++;
        close(s);
        close(c);
    }
    if (!served[0] || !served[1])
        fail_msg("200 connections all went to one listener (%d, %d)", served[0], served[1]);
    close(l[0]);
    close(l[1]);
}

static void test_a_port_taken_without_reuseport_is_refused(void **state)
{
    (void)state;
    int plain = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_true(plain >= 0);
    assert_int_equal(bind(plain, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(plain, 4), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(plain, (struct sockaddr *)&a, &alen), 0);
    int before = open_fds();
    int fd = gw_net_listen_reuseport((struct sockaddr *)&a, sizeof a, 16);
    assert_int_equal(fd, -EADDRINUSE);
    assert_int_equal(open_fds(), before); /* the socket it made is closed again */
    close(plain);
}

/* ---- gw_net_peer_ip ------------------------------------------------------------------------ */

static void test_peer_ip_ipv4(void **state)
{
    (void)state;
    uint16_t port;
    int l = listen_any("127.0.0.1", &port);
    int c = connect_to(AF_INET, "127.0.0.1", port);
    int s = accept_from(&l, 1, NULL);
    char ip[48];
    assert_int_equal(gw_net_peer_ip(s, ip, sizeof ip), 0);
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(gw_net_peer_ip(c, ip, sizeof ip), 0); /* the client's peer: the server */
    assert_string_equal(ip, "127.0.0.1");
    char small[8];
    assert_int_equal(gw_net_peer_ip(s, small, sizeof small), -ENOSPC);
    close(s);
    close(c);
    close(l);
}

static void test_peer_ip_ipv6(void **state)
{
    (void)state;
    uint16_t port;
    int l = listen_any("::1", &port);
    if (l < 0)
        skip(); /* no IPv6 loopback here */
    int c = connect_to(AF_INET6, "::1", port);
    int s = accept_from(&l, 1, NULL);
    char ip[48];
    assert_int_equal(gw_net_peer_ip(s, ip, sizeof ip), 0);
    assert_string_equal(ip, "::1");
    close(s);
    close(c);
    close(l);
}

/* An IPv4 client of a dual-stack listener ("::") shows as ::ffff:127.0.0.1; it is logged and
 * matched as 127.0.0.1. */
static void test_peer_ip_of_an_ipv4_client_on_a_dual_stack_listener(void **state)
{
    (void)state;
    uint16_t port;
    int l = listen_any("::", &port);
    if (l < 0 || sockopt(l, IPPROTO_IPV6, IPV6_V6ONLY) != 0)
        skip(); /* no IPv6, or v6-only sockets by default */
    int c = connect_to(AF_INET, "127.0.0.1", port);
    int s = accept_from(&l, 1, NULL);
    char ip[48];
    assert_int_equal(gw_net_peer_ip(s, ip, sizeof ip), 0);
    assert_string_equal(ip, "127.0.0.1");
    close(s);
    close(c);
    close(l);
}

static void test_peer_ip_errors(void **state)
{
    (void)state;
    char ip[48];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(gw_net_peer_ip(fd, ip, sizeof ip), -ENOTCONN);
    close(fd);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(gw_net_peer_ip(p[0], ip, sizeof ip), -ENOTSOCK);
    close(p[0]);
    close(p[1]);
    assert_int_equal(gw_net_peer_ip(-1, ip, sizeof ip), -EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_ipv4),
        cmocka_unit_test(test_resolve_ipv6),
        cmocka_unit_test(test_resolve_a_name),
        cmocka_unit_test(test_resolve_refuses_what_is_not_an_address),
        cmocka_unit_test(test_listener_options),
        cmocka_unit_test(test_two_listeners_share_a_port),
        cmocka_unit_test(test_a_port_taken_without_reuseport_is_refused),
        cmocka_unit_test(test_peer_ip_ipv4),
        cmocka_unit_test(test_peer_ip_ipv6),
        cmocka_unit_test(test_peer_ip_of_an_ipv4_client_on_a_dual_stack_listener),
        cmocka_unit_test(test_peer_ip_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

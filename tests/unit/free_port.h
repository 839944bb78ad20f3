/*
 * A free loopback TCP port for a server a unit test starts later (redis-server, PostgreSQL),
 * taken the way the integration harness takes its own (tests/integration/gwtest/procs.py,
 * free_port and reserve_port), so that the two never hand out one port twice:
 *
 * - drawn below the kernel's ephemeral range: a port bind(0) gives is one the next outgoing
 *   connection of any process may take as its local port, in the time between the pick and
 *   the server's bind, or while the test restarts its server on the same port;
 * - reserved for this process until it exits, against every other process of the harness on
 *   the machine: a POSIX record lock on byte `port` of GW_TEST_PORT_LOCK_FILE (the kernel
 *   drops it when the process ends, however it ends; children do not inherit it);
 * - checked free by binding it once.
 *
 * Returns the port, or -1 when none was found. Not thread-safe (tests call it from their main
 * thread).
 */
#ifndef GW_TEST_FREE_PORT_H
#define GW_TEST_FREE_PORT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define GW_TEST_PORT_LOCK_FILE "/tmp/gwtest-ports.lock"

/* True when port is now reserved for this process (or the lock file cannot be used). */
static inline bool gw_test_reserve_port(int port)
{
    static int fd = -2;
    if (fd == -2) {
        fd = open(GW_TEST_PORT_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd >= 0)
            (void)fchmod(fd, 0666); /* past the umask; fails harmlessly on another's file */
    }
    if (fd < 0)
        return true;
    /* Never closed: closing any descriptor of the file would drop every lock on it. */
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = port;
    fl.l_len = 1;
    return fcntl(fd, F_SETLK, &fl) == 0;
}

static inline int gw_test_free_port(void)
{
    static uint8_t given[65536 / 8]; /* a lock of our own is granted again: skip those */
    int low = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &low) != 1)
            low = 32768;
        fclose(f);
    }
    int lo = low > 11000 ? 10000 : 1024;
    int hi = low > 11000 ? low - 1 : 65535;
    for (int tries = 0; tries < 200; tries++) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint32_t)getpid() * 2654435761u + (uint32_t)tries;
        int port = lo + (int)(r % (uint32_t)(hi - lo + 1));
        if (given[port / 8] & (1u << (port % 8)) || !gw_test_reserve_port(port))
            continue;
        given[port / 8] |= (uint8_t)(1u << (port % 8));
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in a;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            return port;
    }
    return -1;
}

#endif

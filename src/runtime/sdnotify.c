/*
 * sd_notify without libsystemd (see sdnotify.h). The socket is opened per message: messages
 * are a handful per process lifetime (start, reload, stop) plus the watchdog ping every few
 * seconds, so keeping one open buys nothing and would need closing in every child.
 */
#include "runtime/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

/* Fills addr from the NOTIFY_SOCKET value; *len is the address length to pass to sendto (for
 * an abstract socket it counts the name exactly: no trailing NUL). */
static int notify_addr(const char *name, struct sockaddr_un *addr, socklen_t *len)
{
    size_t n = strlen(name);
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (n < 2 || (name[0] != '/' && name[0] != '@') || n >= sizeof addr->sun_path)
        return GW_EINVAL;
    memcpy(addr->sun_path, name, n);
    if (name[0] == '@') {
        /* Linux abstract namespace: the name starts with a NUL byte instead of '@'. */
        addr->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int gw_sdnotify(const char *msg)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un addr;
    socklen_t len = 0;
    if (name == NULL || name[0] == '\0')
        return 0;
    int rc = notify_addr(name, &addr, &len);
    if (rc < 0)
        return rc;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    ssize_t sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
    rc = sent < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int gw_sdnotify_reloading(void)
{
    struct timespec ts;
    char msg[96];
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long usec =
        (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
    return gw_sdnotify(msg);
}

/* A decimal number without sign or garbage, or 0. */
static unsigned long long parse_decimal(const char *s)
{
    unsigned long long v = 0;
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (~0ull - 9) / 10)
            return 0;
        v = v * 10 + (unsigned long long)(*s - '0');
    }
    return v;
}

uint64_t gw_sdnotify_watchdog_usec(void)
{
    const char *pid = getenv("WATCHDOG_PID");
    if (pid != NULL && pid[0] != '\0' && parse_decimal(pid) != (unsigned long long)getpid())
        return 0;
    return parse_decimal(getenv("WATCHDOG_USEC"));
}

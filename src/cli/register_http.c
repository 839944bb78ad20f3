/*
 * The small blocking HTTP/1.1 client of `gantry register` (cli/register.c): one request per
 * connection ("Connection: close") to the admin listener, every step bounded by a timeout.
 * It runs in the CLI process, never in the gateway, so blocking is fine; signals stay blocked
 * while it runs (register.c waits for them in ppoll between requests).
 */
#include "cli/register_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ANSWER (1024 * 1024)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (monotonic ms). 0, or -1 with why. */
static int wait_fd(int fd, short events, uint64_t deadline, const char **why)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            *why = "timed out";
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *why = strerror(errno);
            return -1;
        }
        if (r > 0)
            return 0;
    }
}

/* A connected socket to host:port, or -1 with why. */
static int dial(const char *host, const char *port, uint64_t deadline, const char **why)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    int fd = -1;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return -1;
    }
    *why = "no address";
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            *why = strerror(errno);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline, why) == 0) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                break;
            *why = strerror(err ? err : errno);
        } else if (errno != EINPROGRESS) {
            *why = strerror(errno);
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline, const char **why)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline, why) < 0)
                return -1;
            continue;
        }
        if (w < 0) {
            *why = strerror(errno);
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until the peer closes; the answer (NUL-terminated) or NULL with why. */
static char *read_all(int fd, size_t *len, uint64_t deadline, const char **why)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        *why = "out of memory";
        return NULL;
    }
    for (;;) {
        if (n + 1 == cap) {
            char *p = cap >= MAX_ANSWER ? NULL : realloc(buf, cap * 2);
            if (p == NULL) {
                *why = "answer too large";
                goto fail;
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r == 0)
            break;
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLIN, deadline, why) < 0)
                goto fail;
            continue;
        }
        if (r < 0) {
            *why = strerror(errno);
            goto fail;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    free(buf);
    return NULL;
}

int gw_cli_http(const struct gw_cli_http_req *rq, struct gw_cli_http_answer *ans)
{
    char *req = NULL;
    char *raw = NULL;
    size_t rawlen = 0;
    int fd = -1;
    const char *why = "";
    uint64_t deadline = now_ms() + rq->timeout_ms;
    memset(ans, 0, sizeof *ans);
    size_t blen = rq->body ? strlen(rq->body) : 0;
    size_t cap = 512 + strlen(rq->path) + strlen(rq->host_header) +
                 (rq->api_key ? strlen(rq->api_key) : 0) + blen;
    req = malloc(cap);
    if (req == NULL) {
        why = "out of memory";
        goto fail;
    }
    int n =
        snprintf(req, cap,
                 "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gantry-register\r\n"
                 "Accept: application/json\r\nConnection: close\r\n%s%s%s"
                 "Content-Length: %zu\r\n%s\r\n",
                 rq->method, rq->path, rq->host_header, rq->api_key ? "Authorization: Bearer " : "",
                 rq->api_key ? rq->api_key : "", rq->api_key ? "\r\n" : "", blen,
                 blen ? "Content-Type: application/json\r\n" : "");
    if (n < 0 || (size_t)n >= cap) {
        why = "request too large";
        goto fail;
    }
    fd = dial(rq->host, rq->port, deadline, &why);
    if (fd < 0)
        goto fail;
    if (send_all(fd, req, (size_t)n, deadline, &why) < 0 ||
        (blen && send_all(fd, rq->body, blen, deadline, &why) < 0))
        goto fail;
    raw = read_all(fd, &rawlen, deadline, &why);
    if (raw == NULL)
        goto fail;
    int status = 0;
    if (sscanf(raw, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 599) {
        why = "not an HTTP answer";
        goto fail;
    }
    char *body = strstr(raw, "\r\n\r\n");
    ans->status = status;
    ans->body = strdup(body ? body + 4 : "");
    if (ans->body == NULL) {
        why = "out of memory";
        goto fail;
    }
    free(raw);
    free(req);
    close(fd);
    return 0;
fail:
    snprintf(ans->why, sizeof ans->why, "%s", why);
    free(raw);
    free(req);
    if (fd >= 0)
        close(fd);
    return -1;
}

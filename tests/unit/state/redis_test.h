/* Helpers shared by the unit tests that need a real Redis: redis-server processes on free
 * loopback ports (started and stopped by pid, with no persistence), a blocking RESP client for
 * checks, and a test loop that ends by proving it holds no live handle. */
#ifndef GW_TEST_STATE_REDIS_H
#define GW_TEST_STATE_REDIS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "../free_port.h"

/* ---- redis-server processes and a blocking RESP client for checks ------------------------ */

struct server {
    pid_t pid;
    uint16_t port;
    const char *pass;
};

/* A port for a redis-server, reserved for this process (../free_port.h). */
static inline uint16_t free_port(void)
{
    int port = gw_test_free_port();
    assert_true(port > 0);
    return (uint16_t)port;
}

static inline int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {2, 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

struct rconn {
    int fd;
    char buf[1 << 16];
    size_t len, pos;
};

static inline bool rfill(struct rconn *r)
{
    if (r->pos == r->len)
        r->pos = r->len = 0;
    if (r->len == sizeof(r->buf))
        return false;
    ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
    if (n <= 0)
        return false;
    r->len += (size_t)n;
    return true;
}

static inline bool rline(struct rconn *r, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
        if (nl != NULL) {
            size_t n = (size_t)(nl - (r->buf + r->pos));
            if (n > 0 && r->buf[r->pos + n - 1] == '\r')
                n--;
            if (n >= cap)
                n = cap - 1;
            memcpy(out, r->buf + r->pos, n);
            out[n] = '\0';
            r->pos = (size_t)(nl - r->buf) + 1;
            return true;
        }
        if (!rfill(r))
            return false;
    }
}

/* Reads one reply into out as text: "+OK", "-ERR ...", ":5", the bulk string, or an array's
 * elements one per line. */
static inline bool rreply(struct rconn *r, char *out, size_t cap)
{
    char line[256];
    if (!rline(r, line, sizeof(line)))
        return false;
    if (line[0] == '$') {
        long n = strtol(line + 1, NULL, 10);
        if (n < 0) {
            snprintf(out, cap, "(nil)");
            return true;
        }
        while (r->len - r->pos < (size_t)n + 2)
            if (!rfill(r))
                return false;
        size_t m = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
        memcpy(out, r->buf + r->pos, m);
        out[m] = '\0';
        r->pos += (size_t)n + 2;
        return true;
    }
    if (line[0] == '*') {
        long n = strtol(line + 1, NULL, 10);
        size_t used = 0;
        out[0] = '\0';
        for (long i = 0; i < n; i++) {
            if (!rreply(r, out + used, cap - used))
                return false;
            used += strlen(out + used);
            if (used + 1 < cap) {
                out[used++] = '\n';
                out[used] = '\0';
            }
        }
        return true;
    }
    snprintf(out, cap, "%s", line);
    return true;
}

/* Runs inline commands (one per argument) on a fresh connection; the last reply goes to out.
 * Returns false when Redis cannot be reached. */
static inline bool redis_cmds(uint16_t port, char *out, size_t cap, int n, ...)
{
    static struct rconn r;
    r.fd = tcp_connect(port);
    r.len = r.pos = 0;
    if (r.fd < 0)
        return false;
    bool ok = true;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && ok; i++) {
        const char *cmd = va_arg(ap, const char *);
        char line[512];
        int len = snprintf(line, sizeof(line), "%s\r\n", cmd);
        ok = write(r.fd, line, (size_t)len) == len && rreply(&r, out, cap);
    }
    va_end(ap);
    close(r.fd);
    return ok;
}

static inline void server_start_on(struct server *s, uint16_t port, const char *pass)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    s->port = port;
    s->pass = pass;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        const char *argv[] = {"redis-server",
                              "--port",
                              portstr,
                              "--bind",
                              "127.0.0.1",
                              "--save",
                              "",
                              "--appendonly",
                              "no",
                              "--loglevel",
                              "warning",
                              "--dir",
                              "/tmp",
                              pass ? "--requirepass" : NULL,
                              pass,
                              NULL};
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    /* Ready when it answers PING (NOAUTH counts: it answered). */
    char out[256];
    for (int i = 0; i < 500; i++) {
        if (redis_cmds(port, out, sizeof(out), 1, "PING"))
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("redis-server on port %u did not answer", (unsigned)port);
}

static inline void server_start(struct server *s, const char *pass)
{
    server_start_on(s, free_port(), pass);
}

static inline void server_stop(struct server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGCONT);
    kill(s->pid, SIGTERM);
    int st;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
}

/* ---- loops -------------------------------------------------------------------------------- */

struct tloop {
    uv_loop_t loop;
    uv_timer_t guard;
    bool fired;
};

static inline void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static inline void tloop_init(struct tloop *l)
{
    assert_int_equal(uv_loop_init(&l->loop), 0);
    uv_timer_init(&l->loop, &l->guard);
    l->guard.data = &l->fired;
}

/* Runs until *flag or ms pass; returns *flag.
 *
 * uv_run(UV_RUN_ONCE) runs the due timers before it polls, then polls for as long as the next
 * timer asks, for ever when none is left. The guard measures ms from the loop's cached clock,
 * which is stale when the process was not scheduled for a while (a loaded machine): a guard
 * that came due in that first pass would leave the poll waiting for I/O that may never come
 * (an idle Redis connection). So the clock is refreshed first, and the guard repeats: no poll
 * ever waits longer than ms. */
static inline bool run_until(struct tloop *l, const bool *flag, uint64_t ms)
{
    l->fired = false;
    uv_update_time(&l->loop);
    uv_timer_start(&l->guard, on_guard, ms, ms);
    while (!*flag && !l->fired)
        uv_run(&l->loop, UV_RUN_ONCE);
    uv_timer_stop(&l->guard);
    return *flag;
}

static inline void run_for(struct tloop *l, uint64_t ms)
{
    bool never = false;
    run_until(l, &never, ms);
}

/* Closes the guard and runs the loop out: it must hold no handle then. */
static inline void tloop_close(struct tloop *l)
{
    uv_close((uv_handle_t *)&l->guard, NULL);
    /* Runs the loop out, but never for ever: a handle left open by the code under test is a
     * failure that names the handles (a hang would only say "Timeout" in CTest). */
    for (int i = 0; i < 3000 && uv_loop_alive(&l->loop); i++) {
        uv_run(&l->loop, UV_RUN_NOWAIT);
        if (uv_loop_alive(&l->loop)) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (uv_loop_alive(&l->loop)) {
        uv_print_all_handles(&l->loop, stderr);
        fail_msg("the loop still holds live handles 30 s after everything was closed");
    }
    assert_int_equal(uv_loop_close(&l->loop), 0);
}

#endif

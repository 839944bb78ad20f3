#include "net/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

/* One line per second for the whole process: the limit is per process, so every worker hits
 * it at the same time and one line says it for all. */
static struct gw_log_limit log_no_fds = {.interval_ms = 1000};
static struct gw_log_limit log_other = {.interval_ms = 1000};

static void on_poll(uv_poll_t *p, int status, int events);

static int open_reserve(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int accept_one(const struct gw_acceptor *a)
{
    return accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static void count(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static bool lacks_descriptors(int err)
{
    return err == EMFILE || err == ENFILE;
}

/* accept(2) on Linux reports network errors of the connection it dequeued ("should be treated
 * like EAGAIN by retrying", accept(2)); the next queued connection may be fine. EPERM: a
 * firewall rule refused this one. */
static bool per_connection_error(int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

/*
 * Gives up the reserve to accept queued connections into its slot, up to max, for as long as
 * a reserve can be had again afterwards. on_reserve usually keeps the slot until it has
 * answered (or served) the connection, so this takes one connection and the next waits until
 * that one is closed (the probe then gets the reserve back and resumes). close_unanswered
 * closes them instead (the drain: the socket closes next anyway).
 */
static size_t take_on_reserve(struct gw_acceptor *a, size_t max, bool close_unanswered)
{
    size_t n = 0;
    while (n < max && a->reserve >= 0) {
        close(a->reserve);
        int fd = accept_one(a);
        if (fd >= 0) {
            n++;
            if (a->conf.stats)
                count(&a->conf.stats->refused);
            if (a->conf.on_reserve && !close_unanswered)
                a->conf.on_reserve(a, fd);
            else
                close(fd);
        }
        a->reserve = open_reserve();
        if (fd < 0)
            break; /* nothing queued, or another thread took the slot first */
    }
    return n;
}

/* True when a descriptor is free beyond the reserve (which it first tries to get back). */
static bool descriptor_free(struct gw_acceptor *a)
{
    if (a->reserve < 0) {
        a->reserve = open_reserve();
        return a->reserve >= 0;
    }
    int fd = fcntl(a->reserve, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static void resume(struct gw_acceptor *a)
{
    if (!a->paused || a->closing)
        return;
    a->paused = false;
    if (a->conf.stats)
        atomic_fetch_sub(&a->conf.stats->paused, 1);
    uv_timer_stop(&a->pause);
    uv_check_stop(&a->probe);
    uv_poll_start(&a->poll, UV_READABLE, on_poll);
}

static void on_pause_end(uv_timer_t *t)
{
    resume(t->data);
}

/* After each loop iteration while paused: a connection that closed in it may have freed a
 * descriptor. One or two system calls, and only while out of descriptors. */
static void on_probe(uv_check_t *h)
{
    struct gw_acceptor *a = h->data;
    if (descriptor_free(a))
        resume(a);
}

static void pause_accepting(struct gw_acceptor *a, int err)
{
    if (a->paused || a->closing)
        return;
    a->paused = true;
    if (a->conf.stats) {
        count(&a->conf.stats->pauses);
        atomic_fetch_add(&a->conf.stats->paused, 1);
    }
    uv_poll_stop(&a->poll);
    uv_timer_start(&a->pause, on_pause_end, GW_ACCEPT_PAUSE_MS, 0);
    if (lacks_descriptors(err))
        uv_check_start(&a->probe, on_probe);
}

static unsigned long long refused_total(const struct gw_acceptor *a)
{
    return a->conf.stats ? (unsigned long long)atomic_load(&a->conf.stats->refused) : 0;
}

/* accept(2) failed with err (an errno) for a reason that would fail the next call too. */
static void on_accept_failed(struct gw_acceptor *a, int err)
{
    if (a->conf.stats)
        count(&a->conf.stats->errors);
    if (lacks_descriptors(err)) {
        take_on_reserve(a, GW_ACCEPT_BATCH, false);
        gw_log_limited(&log_no_fds, GW_LOG_LEVEL_WARN,
                       "%s: out of file descriptors (accept: %s): new connections wait up to "
                       "%d ms or are refused; %llu refused so far (raise ulimit -n)",
                       a->conf.name, uv_strerror(-err), GW_ACCEPT_PAUSE_MS, refused_total(a));
    } else {
        gw_log_limited(&log_other, GW_LOG_LEVEL_WARN, "%s: accept: %s: pausing accept for %d ms",
                       a->conf.name, uv_strerror(-err), GW_ACCEPT_PAUSE_MS);
    }
    pause_accepting(a, err);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct gw_acceptor *a = p->data;
    (void)events;
    if (status < 0) {
        on_accept_failed(a, -status);
        return;
    }
    for (int i = 0; i < GW_ACCEPT_BATCH && !a->paused && !a->closing; i++) {
        int fd = accept_one(a);
        if (fd >= 0) {
            a->conf.on_accept(a, fd);
            continue;
        }
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK)
            return;
        if (!per_connection_error(err)) {
            on_accept_failed(a, err);
            return;
        }
    }
}

int gw_acceptor_start(struct gw_acceptor *a, uv_loop_t *loop, int fd,
                      const struct gw_acceptor_conf *conf)
{
    *a = (struct gw_acceptor){.fd = fd, .reserve = -1, .conf = *conf};
    int rc = uv_poll_init(loop, &a->poll, fd);
    if (rc < 0)
        return rc;
    uv_timer_init(loop, &a->pause);
    uv_check_init(loop, &a->probe);
    a->poll.data = a->pause.data = a->probe.data = a;
    uv_unref((uv_handle_t *)&a->probe);
    a->reserve = open_reserve();
    /* Cannot fail on a handle just made for an fd no other handle of the loop watches. */
    return uv_poll_start(&a->poll, UV_READABLE, on_poll);
}

size_t gw_acceptor_drain(struct gw_acceptor *a, size_t max)
{
    size_t n = 0;
    for (size_t tries = 0; n < max && tries < 2 * max; tries++) {
        int fd = accept_one(a);
        if (fd >= 0) {
            n++;
            a->conf.on_accept(a, fd);
            continue;
        }
        int err = errno;
        if (per_connection_error(err))
            continue;
        if (lacks_descriptors(err)) {
            if (a->conf.stats)
                count(&a->conf.stats->errors);
            size_t r = take_on_reserve(a, max - n, true);
            gw_log_limited(&log_no_fds, GW_LOG_LEVEL_WARN,
                           "%s: out of file descriptors (accept: %s) while draining: %zu queued "
                           "connection%s closed unanswered (raise ulimit -n)",
                           a->conf.name, uv_strerror(-err), r, r == 1 ? "" : "s");
        }
        break;
    }
    return n;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct gw_acceptor *a = h->data;
    if (--a->open_handles == 0 && a->on_closed)
        a->on_closed(a);
}

void gw_acceptor_close(struct gw_acceptor *a, gw_acceptor_closed_cb on_closed)
{
    if (a->closing)
        return;
    if (a->paused && a->conf.stats)
        atomic_fetch_sub(&a->conf.stats->paused, 1);
    a->paused = false;
    a->closing = true;
    a->on_closed = on_closed;
    a->open_handles = 3;
    /* Closing the poll handle takes the fd out of epoll at once, so the fd can go now. */
    uv_close((uv_handle_t *)&a->poll, on_handle_closed);
    uv_close((uv_handle_t *)&a->pause, on_handle_closed);
    uv_close((uv_handle_t *)&a->probe, on_handle_closed);
    close(a->fd);
    a->fd = -1;
    if (a->reserve >= 0)
        close(a->reserve);
    a->reserve = -1;
}

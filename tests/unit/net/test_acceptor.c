/*
 * Unit tests for src/net/acceptor.c on a real loop with a real listening socket on loopback.
 * Running out of file descriptors is real too: the test lowers its own RLIMIT_NOFILE so that
 * exactly a few descriptors are left (after filling every lower hole), with client sockets
 * connected before that. Each test ends by closing the acceptor and proving that the loop
 * closes with no live handle.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "net/acceptor.h"
#include "net/listen.h"

#define MAX_FDS 256

struct fixture {
    uv_loop_t loop;
    struct gw_acceptor a;
    struct gw_accept_stats stats;
    uint16_t port;
    int accepted[MAX_FDS]; /* fds handed to on_accept, still open */
    int naccepted;
    int reserved[MAX_FDS]; /* fds handed to on_reserve, still open */
    int nreserved;
    int clients[MAX_FDS];
    int nclients;
    int fillers[MAX_FDS]; /* /dev/null descriptors that fill the holes below the limit */
    int nfillers;
    struct rlimit saved;
    bool limited;
    bool closed;
};

static void on_accept(struct gw_acceptor *a, int fd)
{
    struct fixture *f = a->conf.data;
    assert_true(f->naccepted < MAX_FDS);
    f->accepted[f->naccepted++] = fd;
}

static void on_reserve(struct gw_acceptor *a, int fd)
{
    struct fixture *f = a->conf.data;
    assert_true(f->nreserved < MAX_FDS);
    f->reserved[f->nreserved++] = fd;
}

static void on_closed(struct gw_acceptor *a)
{
    struct fixture *f = a->conf.data;
    f->closed = true;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = gw_net_listen_reuseport((struct sockaddr *)&sin, sizeof sin, 512);
    assert_true(fd >= 0);
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    f->port = ntohs(sin.sin_port);
    struct gw_acceptor_conf conf = {.name = "test listener",
                                    .on_accept = on_accept,
                                    .on_reserve = on_reserve,
                                    .stats = &f->stats,
                                    .data = f};
    assert_int_equal(gw_acceptor_start(&f->a, &f->loop, fd, &conf), 0);
    *state = f;
    return 0;
}

static void close_all(int *fds, int *n)
{
    for (int i = 0; i < *n; i++)
        close(fds[i]);
    *n = 0;
}

static void unlimit(struct fixture *f)
{
    if (f->limited)
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->saved), 0);
    f->limited = false;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlimit(f);
    close_all(f->accepted, &f->naccepted);
    close_all(f->reserved, &f->nreserved);
    close_all(f->clients, &f->nclients);
    close_all(f->fillers, &f->nfillers);
    gw_acceptor_close(&f->a, on_closed);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_true(f->closed);
    assert_int_equal(atomic_load(&f->stats.paused), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* A client connection, complete once this returns (the kernel queues it for accept). */
static void connect_clients(struct fixture *f, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons(f->port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
        f->clients[f->nclients++] = fd;
    }
}

static int highest_fd(void)
{
    int top = -1;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int own = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end == '\0' && end != e->d_name && v != own && v > top)
            top = (int)v;
    }
    closedir(d);
    return top;
}

/* Leaves exactly `spare` descriptors that can still be opened: fills every free number up to
 * the highest one in use, then sets the soft limit just above. */
static void limit_descriptors(struct fixture *f, int spare)
{
    int top = highest_fd();
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        if (fd > top) {
            close(fd);
            break;
        }
        assert_true(f->nfillers < MAX_FDS);
        f->fillers[f->nfillers++] = fd;
    }
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &f->saved), 0);
    struct rlimit lim = {.rlim_cur = (rlim_t)top + 1 + (rlim_t)spare,
                         .rlim_max = f->saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    f->limited = true;
}

/* Runs loop iterations until cond holds; fails after many (each waits at most for the next
 * event, and the pause timer is one within GW_ACCEPT_PAUSE_MS). */
#define RUN_UNTIL(f, cond)                                                                         \
    do {                                                                                           \
        for (int i_ = 0; !(cond); i_++) {                                                          \
            assert_true(i_ < 1000);                                                                \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                       \
        }                                                                                          \
    } while (0)

/* True when the peer of a client socket closed it (EOF or reset) within a second. */
static bool closed_by_peer(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 1000) != 1)
        return false;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_accepts_in_batches(void **state)
{
    struct fixture *f = *state;
    connect_clients(f, GW_ACCEPT_BATCH + 20);
    /* One wake-up takes one batch; the rest waits for the next iteration. */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->naccepted, GW_ACCEPT_BATCH);
    RUN_UNTIL(f, f->naccepted == GW_ACCEPT_BATCH + 20);
    assert_int_equal(atomic_load(&f->stats.errors), 0);
    assert_int_equal(atomic_load(&f->stats.pauses), 0);
    assert_int_equal(f->nreserved, 0);
}

static void test_out_of_descriptors_pauses_and_uses_the_reserve(void **state)
{
    struct fixture *f = *state;
    connect_clients(f, 8);
    limit_descriptors(f, 2);
    /* Two fit; the third accept fails with EMFILE: the acceptor gives up its reserve for one
     * queued connection, cannot get a reserve back, and stops polling the socket. */
    RUN_UNTIL(f, f->a.paused);
    assert_int_equal(f->naccepted, 2);
    assert_int_equal(f->nreserved, 1);
    assert_int_equal(f->a.reserve, -1);
    assert_false(uv_is_active((uv_handle_t *)&f->a.poll)); /* nothing can spin on it */
    assert_true(atomic_load(&f->stats.errors) >= 1);
    assert_int_equal(atomic_load(&f->stats.refused), 1);
    assert_int_equal(atomic_load(&f->stats.paused), 1);

    /* The connection on the reserve is answered and closed: its slot comes back as the
     * reserve, accepting resumes, fails again and takes the next connection on it. */
    close(f->reserved[--f->nreserved]);
    RUN_UNTIL(f, atomic_load(&f->stats.refused) == 2);
    assert_int_equal(f->nreserved, 1);
    assert_int_equal(f->naccepted, 2);

    /* Descriptors are back (a client left, the limit went up): the rest is accepted. */
    close(f->reserved[--f->nreserved]);
    unlimit(f);
    RUN_UNTIL(f, f->naccepted == 6);
    RUN_UNTIL(f, !f->a.paused);
    assert_int_equal(atomic_load(&f->stats.paused), 0);
    assert_true(uv_is_active((uv_handle_t *)&f->a.poll));
    assert_true(f->a.reserve >= 0);
    assert_int_equal(atomic_load(&f->stats.refused), 2);
}

static void test_drain_closes_what_it_has_no_descriptor_for(void **state)
{
    struct fixture *f = *state;
    connect_clients(f, 5);
    limit_descriptors(f, 1);
    /* The drain accepts one, then closes the other four in the reserve's slot, one by one. */
    assert_int_equal(gw_acceptor_drain(&f->a, 100), 1);
    assert_int_equal(f->naccepted, 1);
    assert_int_equal(f->nreserved, 0);
    assert_int_equal(atomic_load(&f->stats.refused), 4);
    assert_true(f->a.reserve >= 0);
    unlimit(f);
    int closed = 0;
    for (int i = 0; i < f->nclients; i++)
        closed += closed_by_peer(f->clients[i]);
    assert_int_equal(closed, 4);
}

static void test_close_stops_listening(void **state)
{
    struct fixture *f = *state;
    gw_acceptor_close(&f->a, on_closed);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(f->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accepts_in_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_descriptors_pauses_and_uses_the_reserve, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drain_closes_what_it_has_no_descriptor_for, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_stops_listening, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

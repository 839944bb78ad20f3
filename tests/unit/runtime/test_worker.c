/*
 * Unit tests for src/runtime/worker.c: one worker (its thread, loop and SO_REUSEPORT listener)
 * started on a real snapshot without the rest of the server (no control thread, admin or
 * signals; this test's thread stands in for the control thread), driven by real client sockets
 * on loopback. Each test stops the worker and proves that its loop ended with no live handle.
 *
 * The rest of src/runtime/ (server.c) is the process itself: signals, the control loop, the
 * admin listener, reload from the file. gw_server_run is covered by the integration tests,
 * which run the binary.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "config/config.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "net/listen.h"
#include "policy/policy.h"
#include "runtime/server.h"
#include "runtime/worker.h"
#include "upstream/target_state.h"

/* ---- the stand-in for the control thread ---------------------------------------------------- */

struct fixture {
    struct gw_server server;
    struct gw_worker worker;
    uv_loop_t control;
    uv_async_t exit_async; /* the worker's loop ended */
    uv_timer_t deadline;   /* a drain that does not end fails the test */
    uint16_t port;
    size_t live_handles; /* handles left in the worker's loop when it ended */
    bool timed_out;
};

/* A closed loopback port: connects to it are refused. */
static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A snapshot with one service on prefix, its one target on a closed port. */
static struct gw_snapshot *snapshot(struct fixture *f, const char *prefix, uint64_t generation)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"listen\": \"127.0.0.1:%u\", \"workers\": 1, \"admin\": {\"listen\": \"off\"},"
             " \"log\": {\"access\": \"off\"},"
             " \"services\": [{\"name\": \"s\", \"prefix\": \"%s\","
             " \"targets\": [{\"url\": \"http://127.0.0.1:%u\"}]}]}",
             (unsigned)f->port, prefix, (unsigned)closed_port());
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load_string("t.json", text, strlen(text), &cfg, &errs), 0);
    gw_config_errors_free(&errs);
    struct gw_snapshot *snap = NULL;
    char why[256] = "";
    if (gw_snapshot_build(cfg, generation, f->server.targets, f->server.policy, &snap, why,
                          sizeof why) != 0)
        fail_msg("snapshot: %s", why);
    return snap;
}

static void count_handle(uv_handle_t *h, void *arg)
{
    size_t *n = arg;
    (void)h;
    (*n)++;
}

/* The worker's thread sends this after its loop returned: from here on it does not touch the
 * loop, so this thread may walk it (the atomic `exited` orders the two). */
static void on_worker_exit(uv_async_t *a)
{
    struct fixture *f = a->data;
    if (atomic_load(&f->server.exited) != 1)
        return;
    f->live_handles = 0;
    uv_walk(&f->worker.loop, count_handle, &f->live_handles);
    uv_close((uv_handle_t *)&f->exit_async, NULL);
    uv_close((uv_handle_t *)&f->deadline, NULL);
}

static void on_deadline(uv_timer_t *t)
{
    struct fixture *f = t->data;
    f->timed_out = true;
    gw_worker_request_stop(&f->worker, true);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    struct sockaddr_storage ss;
    socklen_t len;
    if (gw_net_resolve("127.0.0.1", 0, &ss, &len) != 0)
        return -1;
    f->worker.listen_fd = gw_net_listen_reuseport((struct sockaddr *)&ss, len, 64);
    if (f->worker.listen_fd < 0)
        return -1;
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    if (getsockname(f->worker.listen_fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    f->port = ntohs(a.sin_port);

    f->server.access_fd = -1;
    f->server.generation = 1;
    f->server.targets = gw_target_registry_new();
    if (f->server.targets == NULL || gw_policy_shared_new(&f->server.policy, 1) < 0)
        return -1;
    f->server.snap = snapshot(f, "/a", 1);
    f->server.workers = &f->worker;
    f->server.nworkers = 1;
    if (uv_loop_init(&f->control) != 0)
        return -1;
    f->server.control_loop = &f->control;
    uv_async_init(&f->control, &f->exit_async, on_worker_exit);
    f->exit_async.data = f;
    f->server.exit_async = &f->exit_async;
    uv_timer_init(&f->control, &f->deadline);
    f->deadline.data = f;

    f->worker.id = 0;
    f->worker.server = &f->server;
    f->worker.snap = f->server.snap;
    gw_snapshot_ref(f->worker.snap); /* the worker's own reference, as server.c gives it */
    if (gw_worker_start(&f->worker) != 0)
        return -1;
    atomic_store(&f->server.ready, true);
    *state = f;
    return 0;
}

/* Runs the control loop until the worker's loop ended (after a stop the test asked for), joins
 * the worker and checks that its loop ended with no live handle. */
static void wait_worker_end(struct fixture *f)
{
    uv_timer_start(&f->deadline, on_deadline, 10000, 0);
    uv_run(&f->control, UV_RUN_DEFAULT);
    gw_worker_join(&f->worker);
    assert_false(f->timed_out);
    assert_int_equal(f->live_handles, 0);
    assert_int_equal(atomic_load(&f->server.nconns), 0);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = uv_loop_close(&f->control);
    gw_snapshot_unref(f->server.snap);
    gw_target_registry_free(f->server.targets);
    gw_policy_shared_free(f->server.policy);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- a blocking client ---------------------------------------------------------------------- */

static int client(const struct fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        assert_true(k > 0);
        s += k;
        n -= (size_t)k;
    }
}

struct answer {
    int status;
    bool close; /* Connection: close */
};

/* Reads one response (Content-Length framed, as gantry's own answers are). */
static struct answer read_answer(int fd)
{
    char buf[8192];
    size_t len = 0;
    char *end = NULL;
    while (end == NULL) {
        assert_true(len < sizeof buf - 1);
        ssize_t k = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (k <= 0)
            fail_msg("connection ended (%zd, %s) after %zu bytes of a response head", k,
                     k < 0 ? strerror(errno) : "EOF", len);
        len += (size_t)k;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    struct answer a = {0};
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d ", &a.status), 1);
    *end = '\0';
    a.close = strstr(buf, "\r\nConnection: close") != NULL;
    const char *cl = strstr(buf, "\r\nContent-Length: ");
    assert_non_null(cl);
    size_t body = strtoul(cl + 18, NULL, 10);
    size_t have = len - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        assert_true(k > 0);
        have += (size_t)k;
    }
    assert_int_equal(have, body); /* nothing after it */
    return a;
}

static int get(int fd, const char *path)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    send_all(fd, req);
    return read_answer(fd).status;
}

/* True when the peer closes (FIN or RST) within the receive timeout, bytes before it dropped. */
static bool closed_by_peer(int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k == 0 || (k < 0 && errno == ECONNRESET))
            return true;
        if (k < 0)
            return false; /* timed out */
    }
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* Serves requests; a drain closes the idle keep-alive connection at once, lets a connection
 * that has not sent its request yet send it (answered with Connection: close), then the loop
 * ends with nothing left in it. */
static void test_serves_then_drains_with_no_live_handle(void **state)
{
    struct fixture *f = *state;
    int idle = client(f);
    assert_int_equal(get(idle, "/health"), 200);
    assert_int_equal(get(idle, "/ready"), 200);
    assert_int_equal(get(idle, "/nowhere"), 404);
    assert_int_equal(get(idle, "/a/x"), 502); /* routed; its target refuses connections */
    int fresh = client(f);
    gw_worker_request_stop(&f->worker, false);
    assert_true(closed_by_peer(idle));
    send_all(fresh, "GET /ready HTTP/1.1\r\nHost: t\r\n\r\n");
    struct answer a = read_answer(fresh);
    assert_int_equal(a.status, 503); /* draining: not ready */
    assert_true(a.close);
    assert_true(closed_by_peer(fresh));
    close(idle);
    close(fresh); /* our FIN ends gantry's lingering close */
    wait_worker_end(f);
}

/* A published snapshot is what new requests route with; the worker's old one is released
 * (LeakSanitizer checks that every reference went). */
static void test_publish_switches_the_snapshot(void **state)
{
    struct fixture *f = *state;
    int c = client(f);
    assert_int_equal(get(c, "/b/x"), 404);
    struct gw_snapshot *next = snapshot(f, "/b", 2);
    gw_worker_publish(&f->worker, next);
    gw_snapshot_unref(f->server.snap); /* the control thread's reference moves on to next */
    f->server.snap = next;
    /* the worker switches on its next loop iteration: ask until it did */
    int status = 404;
    for (int i = 0; i < 500 && status == 404; i++) {
        status = get(c, "/b/x");
        if (status == 404)
            usleep(10000);
    }
    assert_int_equal(status, 502);
    assert_int_equal(get(c, "/a/x"), 404);
    gw_worker_request_stop(&f->worker, false);
    assert_true(closed_by_peer(c));
    close(c);
    wait_worker_end(f);
}

/* A drain lets a connection that is still sending its first request head finish it; a forced
 * stop closes it. */
static void test_forced_stop_closes_a_request_in_progress(void **state)
{
    struct fixture *f = *state;
    int idle = client(f);
    assert_int_equal(get(idle, "/health"), 200);
    int partial = client(f);
    send_all(partial, "GET /health HTTP/1.1\r\nHo");
    gw_worker_request_stop(&f->worker, false);
    assert_true(closed_by_peer(idle)); /* the drain started */
    struct pollfd p = {.fd = partial, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 200), 0); /* kept: neither answered nor closed */
    gw_worker_request_stop(&f->worker, true);
    assert_true(closed_by_peer(partial));
    close(idle);
    close(partial);
    wait_worker_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_serves_then_drains_with_no_live_handle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish_switches_the_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forced_stop_closes_a_request_in_progress, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

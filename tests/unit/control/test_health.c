/* Unit tests for src/control/health.c: the checker runs on its own loop against small
 * in-process libuv servers (answering 200 or 500, closing, never answering, sending garbage)
 * and a port where nothing listens; the tests assert the check counters, the verdicts written
 * to the shared target states, the log lines, reload behaviour, and that stop() leaves a loop
 * that closes with no live handle. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control/health.h"
#include "control/snapshot.h"
#include "core/list.h"
#include "core/log.h"
#include "upstream/target_state.h"

/* ---- test servers ------------------------------------------------------------------------- */

enum mode {
    MODE_200 = 0,
    MODE_500,
    MODE_CLOSE,   /* closes as soon as the connection is accepted */
    MODE_SILENT,  /* reads and never answers */
    MODE_GARBAGE, /* answers with something that is not HTTP */
    MODE_INTERIM, /* 100 Continue, then 204 */
    MODE_BY_PATH, /* 200 for "GET /ok ", 500 otherwise */
};

struct server {
    uv_tcp_t listener;
    enum mode mode;
    uint16_t port;
    unsigned accepted;
    char last_request[2048];
    struct gw_list conns;
};

struct sconn {
    uv_tcp_t tcp;
    uv_write_t wreq;
    struct server *srv;
    struct gw_list link;
    char buf[2048];
    size_t len;
    bool answered;
    bool closing;
};

static void on_sconn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void sconn_close(struct sconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    gw_list_remove(&c->link);
    uv_close((uv_handle_t *)&c->tcp, on_sconn_closed);
}

static void on_sconn_written(uv_write_t *req, int status)
{
    (void)status;
    sconn_close(req->data);
}

static void sconn_reply(struct sconn *c, const char *text)
{
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_sconn_written) != 0)
        sconn_close(c);
}

static void on_salloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sconn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - 1 - c->len));
}

static void on_sread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sconn *c = s->data;
    (void)buf;
    if (nread < 0) {
        sconn_close(c);
        return;
    }
    c->len += (size_t)nread;
    c->buf[c->len] = '\0';
    if (c->answered || strstr(c->buf, "\r\n\r\n") == NULL)
        return;
    c->answered = true;
    snprintf(c->srv->last_request, sizeof(c->srv->last_request), "%s", c->buf);
    switch (c->srv->mode) {
    case MODE_200:
        sconn_reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        break;
    case MODE_500:
        sconn_reply(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        break;
    case MODE_GARBAGE:
        sconn_reply(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n");
        break;
    case MODE_INTERIM:
        sconn_reply(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
        break;
    case MODE_BY_PATH:
        if (strncmp(c->buf, "GET /ok ", 8) == 0)
            sconn_reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        else
            sconn_reply(c, "HTTP/1.1 500 No\r\nContent-Length: 0\r\n\r\n");
        break;
    case MODE_CLOSE:
    case MODE_SILENT:
        break;
    }
}

static void on_sconnection(uv_stream_t *l, int status)
{
    struct server *srv = l->data;
    assert_int_equal(status, 0);
    struct sconn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->srv = srv;
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    gw_list_insert_tail(&srv->conns, &c->link);
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    srv->accepted++;
    if (srv->mode == MODE_CLOSE) {
        sconn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_salloc, on_sread);
}

static void server_start(uv_loop_t *loop, struct server *srv, enum mode mode)
{
    memset(srv, 0, sizeof(*srv));
    srv->mode = mode;
    gw_list_init(&srv->conns);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_init(loop, &srv->listener), 0);
    srv->listener.data = srv;
    assert_int_equal(uv_tcp_bind(&srv->listener, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv->listener, 64, on_sconnection), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    assert_int_equal(uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len), 0);
    srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void server_stop(struct server *srv)
{
    while (!gw_list_empty(&srv->conns))
        sconn_close(gw_container_of(srv->conns.next, struct sconn, link));
    uv_close((uv_handle_t *)&srv->listener, NULL);
}

/* A port where nothing listens: bound, read and closed again. */
static uint16_t refused_port(uv_loop_t *loop)
{
    struct server srv;
    server_start(loop, &srv, MODE_200);
    uint16_t port = srv.port;
    server_stop(&srv);
    uv_run(loop, UV_RUN_NOWAIT);
    return port;
}

/* ---- hand-built snapshots ------------------------------------------------------------------ */

#define MAX_SVC 2
#define MAX_TGT 4

struct fixture {
    struct gw_snapshot snap;
    struct gw_service svc[MAX_SVC];
    struct gw_service_conf conf[MAX_SVC];
    struct gw_target tg[MAX_SVC][MAX_TGT];
    struct gw_target_conf tconf[MAX_SVC][MAX_TGT];
    char authority[MAX_SVC][MAX_TGT][32];
};

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->snap.services = f->svc;
}

/* Adds a service checking 127.0.0.1 at each of ports[0..n) every 40 ms (timeout 20 ms). */
static void add_service(struct fixture *f, const char *name, const char *path,
                        const uint16_t *ports, size_t n, uint32_t healthy, uint32_t unhealthy)
{
    size_t s = f->snap.nservices++;
    assert_true(s < MAX_SVC && n <= MAX_TGT);
    struct gw_service_conf *sc = &f->conf[s];
    sc->name = (char *)name;
    sc->health_check.enabled = path != NULL;
    sc->health_check.path = (char *)path;
    sc->health_check.interval_ms = 40;
    sc->health_check.timeout_ms = 20;
    sc->health_check.healthy_threshold = healthy;
    sc->health_check.unhealthy_threshold = unhealthy;
    sc->health_check.status_min = 200;
    sc->health_check.status_max = 399;
    f->svc[s].conf = sc;
    f->svc[s].targets = f->tg[s];
    f->svc[s].ntargets = n;
    for (size_t i = 0; i < n; i++) {
        struct gw_target *t = &f->tg[s][i];
        struct gw_target_conf *tc = &f->tconf[s][i];
        snprintf(f->authority[s][i], sizeof(f->authority[s][i]), "127.0.0.1:%u",
                 (unsigned)ports[i]);
        tc->host = (char *)"127.0.0.1";
        tc->port = ports[i];
        tc->authority = f->authority[s][i];
        t->conf = tc;
        uv_ip4_addr("127.0.0.1", ports[i], (struct sockaddr_in *)&t->addr);
        t->addrlen = sizeof(struct sockaddr_in);
        snprintf(t->key, sizeof(t->key), "127.0.0.1:%u", (unsigned)ports[i]);
    }
}

/* ---- helpers --------------------------------------------------------------------------------- */

static const char *key_of(uint16_t port)
{
    static char key[32];
    snprintf(key, sizeof(key), "127.0.0.1:%u", (unsigned)port);
    return key;
}

static struct gw_health_check_info info_of(struct gw_health_checker *h, const char *svc,
                                           uint16_t port)
{
    struct gw_health_check_info info;
    memset(&info, 0, sizeof(info));
    assert_int_equal(gw_health_check_info(h, svc, key_of(port), &info), 0);
    return info;
}

typedef bool (*pred_fn)(struct gw_health_checker *h, const char *svc, uint16_t port, uint64_t arg);

static bool status_is(struct gw_health_checker *h, const char *svc, uint16_t port, uint64_t arg)
{
    return info_of(h, svc, port).status == (enum gw_health)arg;
}

static bool probes_at_least(struct gw_health_checker *h, const char *svc, uint16_t port,
                            uint64_t arg)
{
    return info_of(h, svc, port).probes >= arg;
}

static bool successes_at_least(struct gw_health_checker *h, const char *svc, uint16_t port,
                               uint64_t arg)
{
    return info_of(h, svc, port).successes >= arg;
}

static bool failures_at_least(struct gw_health_checker *h, const char *svc, uint16_t port,
                              uint64_t arg)
{
    return info_of(h, svc, port).failures >= arg;
}

/* Runs the loop until pred holds (polling, no sleeps) or 5 s pass (a test failure). */
static void run_until(uv_loop_t *loop, struct gw_health_checker *h, pred_fn pred, const char *svc,
                      uint16_t port, uint64_t arg)
{
    uv_update_time(loop);
    uint64_t deadline = uv_now(loop) + 5000;
    while (!pred(h, svc, port, arg)) {
        if (uv_now(loop) > deadline)
            fail_msg("condition not reached for %s of %s", key_of(port), svc);
        uv_run(loop, UV_RUN_ONCE);
    }
}

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static enum gw_health state_health(struct gw_target_registry *reg, uint16_t port)
{
    struct gw_target_state *s = gw_target_state_get(reg, key_of(port), 0);
    enum gw_health h = gw_target_state_health(s);
    gw_target_state_unref(s);
    return h;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_up_after_healthy_threshold(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct gw_target_registry *reg = gw_target_registry_new();
    struct server srv;
    server_start(&loop, &srv, MODE_200);
    struct fixture f;
    fixture_init(&f);
    add_service(&f, "api", "/healthz?full=1", &srv.port, 1, 2, 3);

    struct gw_health_checker *h = gw_health_start(&loop, reg, &f.snap);
    assert_non_null(h);
    assert_int_equal(gw_health_count(h), 1);
    run_until(&loop, h, probes_at_least, "api", srv.port, 1);
    struct gw_health_check_info info = info_of(h, "api", srv.port);
    assert_int_equal(info.successes, 1);
    assert_int_equal(info.status, GW_HEALTH_UNKNOWN); /* one pass is not enough */
    assert_int_equal(state_health(reg, srv.port), GW_HEALTH_UNKNOWN);

    run_until(&loop, h, status_is, "api", srv.port, GW_HEALTH_UP);
    info = info_of(h, "api", srv.port);
    assert_int_equal(info.successes, 2);
    assert_int_equal(info.failures, 0);
    assert_int_equal(state_health(reg, srv.port), GW_HEALTH_UP);

    char want[256];
    snprintf(want, sizeof(want),
             "GET /healthz?full=1 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: "
             "gantry-health\r\nConnection: close\r\n\r\n",
             (unsigned)srv.port);
    assert_string_equal(srv.last_request, want);

    /* the verdict stays with the state for its other holders (the snapshots) */
    struct gw_target_state *held = gw_target_state_get(reg, key_of(srv.port), 0);
    gw_health_stop(h);
    server_stop(&srv);
    close_loop(&loop);
    assert_int_equal(gw_target_state_health(held), GW_HEALTH_UP);
    gw_target_state_unref(held);
    gw_target_registry_free(reg);
}

static void test_interim_response_skipped(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct gw_target_registry *reg = gw_target_registry_new();
    struct server srv;
    server_start(&loop, &srv, MODE_INTERIM);
    struct fixture f;
    fixture_init(&f);
    add_service(&f, "api", "/", &srv.port, 1, 1, 1);
    struct gw_health_checker *h = gw_health_start(&loop, reg, &f.snap);
    run_until(&loop, h, status_is, "api", srv.port, GW_HEALTH_UP);
    gw_health_stop(h);
    server_stop(&srv);
    close_loop(&loop);
    gw_target_registry_free(reg);
}

/* DOWN after 3 failures of one kind; last_error names the kind. Then, for servers that can be
 * switched, UP again after healthy_threshold (2) passes. */
static void check_down(enum mode mode, bool refused, const char *why)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct gw_target_registry *reg = gw_target_registry_new();
    struct server srv;
    uint16_t port;
    if (refused) {
        port = refused_port(&loop);
    } else {
        server_start(&loop, &srv, mode);
        port = srv.port;
    }
    struct fixture f;
    fixture_init(&f);
    add_service(&f, "api", "/health", &port, 1, 2, 3);
    struct gw_health_checker *h = gw_health_start(&loop, reg, &f.snap);
    assert_non_null(h);

    run_until(&loop, h, failures_at_least, "api", port, 2);
    struct gw_health_check_info info = info_of(h, "api", port);
    assert_int_equal(info.failures, 2);
    assert_int_equal(info.status, GW_HEALTH_UNKNOWN);
    assert_int_equal(state_health(reg, port), GW_HEALTH_UNKNOWN);

    run_until(&loop, h, status_is, "api", port, GW_HEALTH_DOWN);
    info = info_of(h, "api", port);
    assert_int_equal(info.failures, 3);
    assert_int_equal(info.successes, 0);
    if (strstr(info.last_error, why) == NULL)
        fail_msg("last_error \"%s\" does not contain \"%s\"", info.last_error, why);
    assert_int_equal(state_health(reg, port), GW_HEALTH_DOWN);
    struct gw_target_state *st = gw_target_state_get(reg, key_of(port), 0);
    assert_false(gw_target_state_usable(st, 0));
    gw_target_state_unref(st);

    if (!refused) {
        srv.mode = MODE_200;
        run_until(&loop, h, successes_at_least, "api", port, 1);
        assert_int_equal(info_of(h, "api", port).status, GW_HEALTH_DOWN);
        run_until(&loop, h, status_is, "api", port, GW_HEALTH_UP);
        assert_int_equal(info_of(h, "api", port).successes, 2);
        assert_int_equal(state_health(reg, port), GW_HEALTH_UP);
    }

    gw_health_stop(h);
    if (!refused)
        server_stop(&srv);
    close_loop(&loop);
    gw_target_registry_free(reg);
}

static void test_down_refused(void **state)
{
    (void)state;
    check_down(MODE_200, true, "connection refused");
}

static void test_down_status_500(void **state)
{
    (void)state;
    check_down(MODE_500, false, "status 500");
}

static void test_down_timeout(void **state)
{
    (void)state;
    check_down(MODE_SILENT, false, "timed out after 20 ms");
}

static void test_down_closed(void **state)
{
    (void)state;
    check_down(MODE_CLOSE, false, "connection closed before a response head");
}

static void test_down_garbage(void **state)
{
    (void)state;
    check_down(MODE_GARBAGE, false, "invalid response");
}

static void test_log_lines(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    gw_log_setup(GW_LOG_LEVEL_INFO, fds[1]);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct gw_target_registry *reg = gw_target_registry_new();
    uint16_t port = refused_port(&loop);
    struct fixture f;
    fixture_init(&f);
    add_service(&f, "billing", "/h", &port, 1, 1, 3);
    struct gw_health_checker *h = gw_health_start(&loop, reg, &f.snap);
    run_until(&loop, h, status_is, "billing", port, GW_HEALTH_DOWN);
    run_until(&loop, h, probes_at_least, "billing", port, 5); /* no second line */
    gw_health_stop(h);
    close_loop(&loop);
    gw_target_registry_free(reg);

    gw_log_setup(GW_LOG_LEVEL_INFO, 2);
    char out[4096];
    ssize_t n = read(fds[0], out, sizeof(out) - 1);
    assert_true(n > 0);
    out[n] = '\0';
    close(fds[0]);
    close(fds[1]);
    char want[160];
    snprintf(want, sizeof(want),
             "health: target 127.0.0.1:%u of service billing is DOWN (3 consecutive "
             "failures: connection refused)",
             (unsigned)port);
    if (strstr(out, want) == NULL)
        fail_msg("log \"%s\" lacks \"%s\"", out, want);
    assert_null(strstr(strstr(out, want) + 1, "health:"));
}

static void test_update_keeps_counters(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct gw_target_registry *reg = gw_target_registry_new();
    struct server a, b;
    server_start(&loop, &a, MODE_200);
    server_start(&loop, &b, MODE_200);

    struct fixture f1;
    fixture_init(&f1);
    add_service(&f1, "api", "/h", &a.port, 1, 3, 3);
    struct gw_health_checker *h = gw_health_start(&loop, reg, &f1.snap);
    run_until(&loop, h, successes_at_least, "api", a.port, 2);
    assert_int_equal(info_of(h, "api", a.port).status, GW_HEALTH_UNKNOWN);
    uint64_t probes = info_of(h, "api", a.port).probes;

    /* reload: a stays (new snapshot objects, new path), b is added; f1 may go away */
    struct fixture f2;
    fixture_init(&f2);
    uint16_t both[2] = {a.port, b.port};
    add_service(&f2, "api", "/h2", both, 2, 3, 3);
    memset(&f1, 0xA5, sizeof(f1));
    assert_int_equal(gw_health_update(h, &f2.snap), 0);
    assert_int_equal(gw_health_count(h), 2);
    struct gw_health_check_info ia = info_of(h, "api", a.port);
    assert_int_equal(ia.successes, 2);
    assert_int_equal(ia.probes, probes);
    assert_int_equal(info_of(h, "api", b.port).probes, 0);
    run_until(&loop, h, status_is, "api", a.port, GW_HEALTH_UP);
    assert_int_equal(info_of(h, "api", a.port).successes, 3); /* 2 before, 1 after */
    run_until(&loop, h, probes_at_least, "api", a.port, probes + 2);
    assert_true(strncmp(a.last_request, "GET /h2 ", 8) == 0);
    run_until(&loop, h, status_is, "api", b.port, GW_HEALTH_UP);

    /* reload: a is gone (its verdict goes back to UNKNOWN), b stays */
    struct fixture f3;
    fixture_init(&f3);
    add_service(&f3, "api", "/h2", &b.port, 1, 3, 3);
    assert_int_equal(gw_health_update(h, &f3.snap), 0);
    assert_int_equal(gw_health_count(h), 1);
    struct gw_health_check_info none;
    assert_int_equal(gw_health_check_info(h, "api", key_of(a.port), &none), GW_EINVAL);
    assert_int_equal(state_health(reg, a.port), GW_HEALTH_UNKNOWN);
    assert_int_equal(info_of(h, "api", b.port).status, GW_HEALTH_UP);

    /* reload: checks turned off */
    struct fixture f4;
    fixture_init(&f4);
    add_service(&f4, "api", NULL, &b.port, 1, 3, 3);
    assert_int_equal(gw_health_update(h, &f4.snap), 0);
    assert_int_equal(gw_health_count(h), 0);
    assert_int_equal(state_health(reg, b.port), GW_HEALTH_UNKNOWN);

    gw_health_stop(h);
    server_stop(&a);
    server_stop(&b);
    close_loop(&loop);
    gw_target_registry_free(reg);
}

static void test_shared_target_any_down(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct gw_target_registry *reg = gw_target_registry_new();
    struct server srv;
    server_start(&loop, &srv, MODE_BY_PATH);
    struct fixture f;
    fixture_init(&f);
    add_service(&f, "good", "/ok", &srv.port, 1, 1, 1);
    add_service(&f, "bad", "/no", &srv.port, 1, 1, 1);
    struct gw_health_checker *h = gw_health_start(&loop, reg, &f.snap);
    assert_int_equal(gw_health_count(h), 2);
    run_until(&loop, h, status_is, "good", srv.port, GW_HEALTH_UP);
    run_until(&loop, h, status_is, "bad", srv.port, GW_HEALTH_DOWN);
    run_until(&loop, h, probes_at_least, "good", srv.port, 3);
    assert_int_equal(state_health(reg, srv.port), GW_HEALTH_DOWN);

    struct fixture g;
    fixture_init(&g);
    add_service(&g, "good", "/ok", &srv.port, 1, 1, 1);
    assert_int_equal(gw_health_update(h, &g.snap), 0);
    assert_int_equal(state_health(reg, srv.port), GW_HEALTH_UP);

    gw_health_stop(h);
    server_stop(&srv);
    close_loop(&loop);
    gw_target_registry_free(reg);
}

/* stop() in the middle of probes (one connected and waiting, one connecting) and right after a
 * reload that removed checks: the loop closes with no handle left, and ASan sees no leak. */
static void test_stop_mid_probe(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct gw_target_registry *reg = gw_target_registry_new();
    struct server silent;
    server_start(&loop, &silent, MODE_SILENT);
    struct fixture f;
    fixture_init(&f);
    uint16_t ports[2] = {silent.port, refused_port(&loop)};
    add_service(&f, "api", "/h", ports, 2, 1, 1);
    struct gw_health_checker *h = gw_health_start(&loop, reg, &f.snap);
    while (silent.accepted == 0)
        uv_run(&loop, UV_RUN_ONCE);
    struct fixture g;
    fixture_init(&g);
    add_service(&g, "api", "/h", ports, 1, 1, 1);
    assert_int_equal(gw_health_update(h, &g.snap), 0);
    gw_health_stop(h);
    gw_health_stop(NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    server_stop(&silent);
    close_loop(&loop);
    gw_target_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up_after_healthy_threshold),
        cmocka_unit_test(test_interim_response_skipped),
        cmocka_unit_test(test_down_refused),
        cmocka_unit_test(test_down_status_500),
        cmocka_unit_test(test_down_timeout),
        cmocka_unit_test(test_down_closed),
        cmocka_unit_test(test_down_garbage),
        cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_update_keeps_counters),
        cmocka_unit_test(test_shared_target_any_down),
        cmocka_unit_test(test_stop_mid_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/dashboard/tail.c: the live log's rings (nothing kept without a watcher,
 * oldest dropped and counted when full, records of every worker merged by time, emptied when
 * the last watcher leaves, two threads at once), its filter (service, status code or class,
 * request id; bad values refused) and a record's JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "core/error.h"
#include "dashboard/tail.h"

static struct gw_tail_record rec(uint64_t t, int status, const char *svc, const char *id)
{
    struct gw_tail_record r;
    memset(&r, 0, sizeof r);
    r.time_ms = t;
    r.status = status;
    r.duration_ms = 1.5;
    r.upstream_ms = -1;
    gw_tail_copy(r.service, sizeof r.service, svc, strlen(svc));
    gw_tail_copy(r.id, sizeof r.id, id, strlen(id));
    gw_tail_copy(r.method, sizeof r.method, "GET", 3);
    gw_tail_copy(r.path, sizeof r.path, "/a\"b", 4);
    return r;
}

static void test_nothing_kept_without_a_watcher(void **state)
{
    (void)state;
    struct gw_tail *t = NULL;
    assert_int_equal(gw_tail_new(&t, 2), 0);
    assert_false(gw_tail_on(t));
    assert_null(t->rings[0].rec); /* no record memory until someone watches */
    struct gw_tail_record r = rec(1, 200, "a", "x");
    gw_tail_push(t, 0, &r); /* harmless: nowhere to keep it */
    assert_int_equal(gw_tail_watch(t), 0);
    assert_true(gw_tail_on(t));
    struct gw_tail_record out[4];
    uint64_t dropped = 9;
    assert_int_equal(gw_tail_take(t, out, 4, &dropped), 0);
    assert_int_equal(dropped, 0);
    gw_tail_unwatch(t);
    assert_false(gw_tail_on(t));
    gw_tail_free(t);
    gw_tail_free(NULL);
}

static void test_full_ring_drops_oldest_and_merges_by_time(void **state)
{
    (void)state;
    struct gw_tail *t = NULL;
    assert_int_equal(gw_tail_new(&t, 2), 0);
    assert_int_equal(gw_tail_watch(t), 0);
    for (uint64_t i = 0; i < GW_TAIL_RING + 10; i++) {
        struct gw_tail_record r = rec(2 * i, 200, "a", "x");
        gw_tail_push(t, 0, &r);
    }
    struct gw_tail_record r1 = rec(41, 500, "b", "y");
    gw_tail_push(t, 1, &r1);
    gw_tail_push(t, 7, &r1); /* no such worker: ignored */
    struct gw_tail_record *out = calloc(2 * GW_TAIL_RING, sizeof *out);
    assert_non_null(out);
    uint64_t dropped = 0;
    size_t n = gw_tail_take(t, out, 2 * GW_TAIL_RING, &dropped);
    assert_int_equal(n, GW_TAIL_RING + 1);
    assert_int_equal(dropped, 10);
    assert_int_equal(out[0].time_ms, 20); /* the 10 oldest went */
    for (size_t i = 1; i < n; i++)
        assert_true(out[i - 1].time_ms <= out[i].time_ms);
    int fives = 0;
    for (size_t i = 0; i < n; i++)
        fives += out[i].status == 500;
    assert_int_equal(fives, 1);
    /* taken: the next take is empty */
    assert_int_equal(gw_tail_take(t, out, 2 * GW_TAIL_RING, &dropped), 0);
    assert_int_equal(dropped, 0);
    /* a cap smaller than what is kept counts the rest as dropped */
    for (int i = 0; i < 5; i++)
        gw_tail_push(t, 1, &r1);
    assert_int_equal(gw_tail_take(t, out, 2, &dropped), 2);
    assert_int_equal(dropped, 3);
    /* the last watcher leaving empties the rings */
    gw_tail_push(t, 1, &r1);
    gw_tail_unwatch(t);
    assert_int_equal(gw_tail_watch(t), 0);
    assert_int_equal(gw_tail_take(t, out, 2 * GW_TAIL_RING, &dropped), 0);
    gw_tail_unwatch(t);
    free(out);
    gw_tail_free(t);
}

struct pusher {
    struct gw_tail *t;
    unsigned worker;
};

static void push_many(void *arg)
{
    struct pusher *p = arg;
    for (int i = 0; i < 20000; i++) {
        struct gw_tail_record r = rec((uint64_t)i, 200, "a", "x");
        gw_tail_push(p->t, p->worker, &r);
    }
}

/* Two workers push while the control thread takes: every record is either taken or counted
 * as dropped (ASan/TSan-style races would show as lost or torn records). */
static void test_two_workers_and_a_taker(void **state)
{
    (void)state;
    struct gw_tail *t = NULL;
    assert_int_equal(gw_tail_new(&t, 2), 0);
    assert_int_equal(gw_tail_watch(t), 0);
    struct pusher p[2] = {{t, 0}, {t, 1}};
    uv_thread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(uv_thread_create(&th[i], push_many, &p[i]), 0);
    struct gw_tail_record *out = calloc(2 * GW_TAIL_RING, sizeof *out);
    assert_non_null(out);
    uint64_t total = 0, dropped = 0;
    for (int k = 0; k < 200; k++) {
        size_t n = gw_tail_take(t, out, 2 * GW_TAIL_RING, &dropped);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(out[i].service, "a");
        total += n + dropped;
    }
    for (int i = 0; i < 2; i++)
        uv_thread_join(&th[i]);
    size_t n = gw_tail_take(t, out, 2 * GW_TAIL_RING, &dropped);
    total += n + dropped;
    assert_int_equal(total, 40000);
    gw_tail_unwatch(t);
    free(out);
    gw_tail_free(t);
}

static void parse_ok(const char *q, struct gw_tail_filter *f)
{
    char why[128] = "";
    int rc = gw_tail_filter_parse(q, strlen(q), f, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", q, why);
    assert_int_equal(rc, 0);
}

static void test_filter(void **state)
{
    (void)state;
    struct gw_tail_filter f;
    parse_ok("", &f);
    assert_string_equal(f.service, "");
    assert_int_equal(f.status_lo, 0);
    assert_int_equal(f.status_hi, 999);
    struct gw_tail_record a = rec(1, 503, "users", "0af3c9");
    struct gw_tail_record b = rec(1, 200, "orders", "77aa01");
    struct gw_tail_record gone = rec(1, 0, "users", "ffff"); /* client left: no status */
    assert_true(gw_tail_filter_match(&f, &a) && gw_tail_filter_match(&f, &gone));

    parse_ok("service=users&status=5xx", &f);
    assert_string_equal(f.service, "users");
    assert_int_equal(f.status_lo, 500);
    assert_int_equal(f.status_hi, 599);
    assert_true(gw_tail_filter_match(&f, &a));
    assert_false(gw_tail_filter_match(&f, &b));
    assert_false(gw_tail_filter_match(&f, &gone));

    parse_ok("status=200&x=1&service=", &f);
    assert_false(gw_tail_filter_match(&f, &a));
    assert_true(gw_tail_filter_match(&f, &b));

    parse_ok("request_id=f3c&status=5XX", &f);
    assert_true(gw_tail_filter_match(&f, &a));
    assert_false(gw_tail_filter_match(&f, &b));

    parse_ok("service=my%20svc+x", &f);
    assert_string_equal(f.service, "my svc x");
    parse_ok("status=", &f);
    assert_int_equal(f.status_hi, 999);

    static const char *const bad[] = {
        "status=600",
        "status=5x",
        "status=50",
        "status=abc",
        "status=1234",
        "service=%zz",
        "service=%4",
        "request_id=%0a",
        "service=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[128] = "";
        assert_int_equal(gw_tail_filter_parse(bad[i], strlen(bad[i]), &f, why, sizeof why),
                         GW_EINVAL);
        assert_true(why[0] != '\0');
    }
}

static void test_record_json(void **state)
{
    (void)state;
    struct gw_tail_record r = rec(1796583586740ull, 404, "users", "abc");
    gw_tail_copy(r.client, sizeof r.client, "127.0.0.1", 9);
    struct gw_buf b;
    gw_buf_init(&b, 4096);
    assert_int_equal(gw_tail_record_json(&r, &b), 0);
    json_error_t err;
    json_t *j = json_loadb(b.data, b.len, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "time_ms")), 1796583586740ll);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 404);
    assert_true(json_is_null(json_object_get(j, "upstream_ms")));
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/a\"b");
    assert_string_equal(json_string_value(json_object_get(j, "service")), "users");
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "abc");
    json_decref(j);
    /* escapes inside a run of plain bytes, and milliseconds rounded as "%.3f" */
    gw_tail_copy(r.path, sizeof r.path, "/x\\y\x01z\"", 7);
    r.duration_ms = 12.3456;
    gw_buf_reset(&b);
    assert_int_equal(gw_tail_record_json(&r, &b), 0);
    static const char want_ms[] = "\"duration_ms\":12.346,";
    static const char want_path[] = "\"path\":\"/x\\\\y\\u0001z\\\"\"";
    assert_non_null(memmem(b.data, b.len, want_ms, sizeof want_ms - 1));
    assert_non_null(memmem(b.data, b.len, want_path, sizeof want_path - 1));
    j = json_loadb(b.data, b.len, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/x\\y\x01z\"");
    json_decref(j);
    r.upstream_ms = 2.25;
    gw_buf_reset(&b);
    assert_int_equal(gw_tail_record_json(&r, &b), 0);
    j = json_loadb(b.data, b.len, 0, &err);
    assert_non_null(j);
    assert_true(json_real_value(json_object_get(j, "upstream_ms")) == 2.25);
    json_decref(j);
    gw_buf_free(&b);

    char small[4];
    gw_tail_copy(small, sizeof small, "abcdef", 6);
    assert_string_equal(small, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_kept_without_a_watcher),
        cmocka_unit_test(test_full_ring_drops_oldest_and_merges_by_time),
        cmocka_unit_test(test_two_workers_and_a_taker),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_record_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

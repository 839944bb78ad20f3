/* Unit tests for src/upstream/retry.c: should/should-not matrix, backoff, retry budget. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "upstream/retry.h"

#define T0 UINT64_C(5000000)

static const enum gw_http_method idempotent[] = {
    GW_METHOD_GET,    GW_METHOD_HEAD,    GW_METHOD_PUT,
    GW_METHOD_DELETE, GW_METHOD_OPTIONS, GW_METHOD_TRACE,
};
static const enum gw_http_method unsafe[] = {
    GW_METHOD_POST,
    GW_METHOD_PATCH,
    GW_METHOD_CONNECT,
    GW_METHOD_OTHER,
};
static const int classes[] = {
    GW_RETRY_CONNECT_FAILED,
    GW_RETRY_RESET_BEFORE_RESPONSE,
    GW_RETRY_TIMEOUT,
    GW_RETRY_STATUS,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_defaults_and_check(void **state)
{
    (void)state;
    struct gw_retry_conf c;
    gw_retry_conf_default(&c);
    assert_int_equal(c.attempts, 2);
    assert_int_equal(c.n_statuses, 3);
    assert_int_equal(c.statuses[0], 502);
    assert_int_equal(c.statuses[1], 503);
    assert_int_equal(c.statuses[2], 504);
    assert_int_equal(c.backoff_base_ms, 25);
    assert_int_equal(c.backoff_max_ms, 250);
    assert_int_equal(c.per_try_timeout_ms, 0);
    assert_int_equal(c.budget_pct, 20);
    assert_int_equal(c.budget_min_per_s, 3);
    assert_false(c.non_idempotent);
    assert_int_equal(gw_retry_conf_check(&c), 0);

    struct gw_retry_conf bad = c;
    bad.n_statuses = GW_RETRY_MAX_STATUSES + 1;
    assert_int_equal(gw_retry_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.statuses[1] = 600;
    assert_int_equal(gw_retry_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.on |= 1u << 7;
    assert_int_equal(gw_retry_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.backoff_max_ms = 10;
    assert_int_equal(gw_retry_conf_check(&bad), GW_EINVAL);

    for (size_t i = 0; i < N(idempotent); i++)
        assert_true(gw_retry_idempotent(idempotent[i]));
    for (size_t i = 0; i < N(unsafe); i++)
        assert_false(gw_retry_idempotent(unsafe[i]));
}

/* The expected answer, written independently of the implementation's branch order. */
static bool expect(const struct gw_retry_conf *c, bool idem, int cls, int status, bool sent,
                   unsigned done)
{
    if (sent || done >= c->attempts || !(c->on & (uint32_t)cls))
        return false;
    if (cls == GW_RETRY_STATUS && status != 502 && status != 503 && status != 504)
        return false;
    return idem || c->non_idempotent || cls == GW_RETRY_CONNECT_FAILED;
}

static void check_matrix(const struct gw_retry_conf *c)
{
    static const int statuses[] = {500, 502, 503, 504, 429};
    for (int m = 0; m < 2; m++) {
        const enum gw_http_method *ms = m == 0 ? idempotent : unsafe;
        size_t nm = m == 0 ? N(idempotent) : N(unsafe);
        for (size_t i = 0; i < nm; i++) {
            for (size_t k = 0; k < N(classes); k++) {
                for (size_t s = 0; s < N(statuses); s++) {
                    for (int sent = 0; sent < 2; sent++) {
                        for (unsigned done = 0; done < 4; done++) {
                            bool want = expect(c, m == 0, classes[k], statuses[s], sent, done);
                            bool got =
                                gw_retry_should(c, ms[i], classes[k], statuses[s], sent, done);
                            if (want != got)
                                fail_msg("method %d class %d status %d sent %d done %u: want "
                                         "%d got %d",
                                         (int)ms[i], classes[k], statuses[s], sent, done, (int)want,
                                         (int)got);
                        }
                    }
                }
            }
        }
    }
}

static void test_should_matrix(void **state)
{
    (void)state;
    struct gw_retry_conf c;
    gw_retry_conf_default(&c);
    check_matrix(&c);
    c.non_idempotent = true;
    check_matrix(&c);
    c.non_idempotent = false;
    c.on = GW_RETRY_CONNECT_FAILED | GW_RETRY_STATUS;
    check_matrix(&c);
    c.attempts = 0;
    check_matrix(&c);
    c.attempts = 3;
    check_matrix(&c);
}

static void test_should_spot_checks(void **state)
{
    (void)state;
    struct gw_retry_conf c;
    gw_retry_conf_default(&c);
    /* The cases the issue spells out. */
    assert_true(gw_retry_should(&c, GW_METHOD_GET, GW_RETRY_CONNECT_FAILED, 0, false, 0));
    assert_true(gw_retry_should(&c, GW_METHOD_GET, GW_RETRY_RESET_BEFORE_RESPONSE, 0, false, 1));
    assert_false(gw_retry_should(&c, GW_METHOD_GET, GW_RETRY_RESET_BEFORE_RESPONSE, 0, false, 2));
    assert_true(gw_retry_should(&c, GW_METHOD_GET, GW_RETRY_STATUS, 503, false, 0));
    assert_false(gw_retry_should(&c, GW_METHOD_GET, GW_RETRY_STATUS, 500, false, 0));
    assert_false(gw_retry_should(&c, GW_METHOD_GET, GW_RETRY_STATUS, 503, true, 0));
    assert_false(gw_retry_should(&c, GW_METHOD_POST, GW_RETRY_STATUS, 503, false, 0));
    assert_false(gw_retry_should(&c, GW_METHOD_POST, GW_RETRY_TIMEOUT, 0, false, 0));
    assert_true(gw_retry_should(&c, GW_METHOD_POST, GW_RETRY_CONNECT_FAILED, 0, false, 0));
    assert_false(gw_retry_should(&c, GW_METHOD_POST, GW_RETRY_CONNECT_FAILED, 0, true, 0));
    c.non_idempotent = true;
    assert_true(gw_retry_should(&c, GW_METHOD_POST, GW_RETRY_STATUS, 503, false, 0));
    /* A configured extra status. */
    c.statuses[c.n_statuses++] = 429;
    assert_true(gw_retry_should(&c, GW_METHOD_GET, GW_RETRY_STATUS, 429, false, 0));
}

static void test_backoff(void **state)
{
    (void)state;
    struct gw_retry_conf c;
    gw_retry_conf_default(&c);

    static const uint64_t rnds[] = {
        0, 1, 24, 25, 26, 249, 250, 251, 12345, UINT64_MAX, UINT64_MAX - 1, 0x8000000000000000u};
    for (unsigned a = 0; a < 70; a++) {
        uint64_t cap = a < 4 ? 25u << a : 250; /* 25, 50, 100, 200, 250, ... */
        uint64_t seen_max = 0;
        for (size_t i = 0; i < N(rnds); i++) {
            uint64_t d = gw_retry_backoff_ms(&c, a, rnds[i]);
            assert_true(d <= cap);
            if (d > seen_max)
                seen_max = d;
        }
        /* Uniform over [0, cap]: rnd = cap hits the top, rnd = 0 the bottom. */
        assert_int_equal(gw_retry_backoff_ms(&c, a, cap), cap);
        assert_int_equal(gw_retry_backoff_ms(&c, a, 0), 0);
        assert_int_equal(gw_retry_backoff_ms(&c, a, cap + 1), 0);
    }
    /* Spread: 10,000 pseudo-random draws fill every tenth of [0, 25]. */
    unsigned hist[26] = {0};
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hist[gw_retry_backoff_ms(&c, 0, x)]++;
    }
    for (int i = 0; i <= 25; i++)
        assert_true(hist[i] > 200);

    c.backoff_base_ms = 0;
    c.backoff_max_ms = 0;
    assert_int_equal(gw_retry_backoff_ms(&c, 5, 99), 0);
    c.backoff_base_ms = 1;
    c.backoff_max_ms = UINT64_MAX;
    assert_int_equal(gw_retry_backoff_ms(&c, 63, UINT64_MAX), UINT64_MAX);
    assert_int_equal(gw_retry_backoff_ms(&c, 62, UINT64_MAX), UINT64_MAX % ((1ull << 62) + 1));
}

static unsigned drain(struct gw_retry_budget *b, uint64_t now)
{
    unsigned n = 0;
    while (gw_retry_budget_allow(b, now) && n < 1000000)
        n++;
    return n;
}

static void test_budget(void **state)
{
    (void)state;
    struct gw_retry_conf c;
    gw_retry_conf_default(&c);
    struct gw_retry_budget b;
    assert_int_equal(gw_retry_budget_init(&b, &c), 0);

    /* No traffic: the floor alone, 3/s over the 10 s window. */
    assert_int_equal(drain(&b, T0), 30);

    /* 1000 requests: 20% = 200 more (on top of the 30 already spent from the floor). */
    assert_int_equal(gw_retry_budget_init(&b, &c), 0);
    for (int i = 0; i < 1000; i++)
        gw_retry_budget_on_request(&b, T0);
    assert_int_equal(drain(&b, T0), 230);
    uint64_t req, ret;
    gw_retry_budget_stats(&b, T0, &req, &ret);
    assert_int_equal(req, 1000);
    assert_int_equal(ret, 230);
    /* Each 5 new requests earn one more retry. */
    for (int i = 0; i < 4; i++)
        gw_retry_budget_on_request(&b, T0 + 1);
    assert_false(gw_retry_budget_allow(&b, T0 + 1));
    gw_retry_budget_on_request(&b, T0 + 1);
    assert_true(gw_retry_budget_allow(&b, T0 + 1));
    assert_false(gw_retry_budget_allow(&b, T0 + 1));

    /* Once the window has moved on, the spent retries and the old requests are forgotten. */
    assert_int_equal(drain(&b, T0 + 10000), 30);

    /* A retry storm: every request failing and asking for retries stays at 20% + floor. */
    assert_int_equal(gw_retry_budget_init(&b, &c), 0);
    unsigned granted = 0;
    for (int i = 0; i < 5000; i++) {
        gw_retry_budget_on_request(&b, T0);
        for (int r = 0; r < 2; r++)
            granted += gw_retry_budget_allow(&b, T0);
    }
    assert_true(granted <= 5000 / 5 + 30);
    assert_true(granted >= 5000 / 5);

    /* Tunable: 0% and no floor means no retry at all. */
    c.budget_pct = 0;
    c.budget_min_per_s = 0;
    assert_int_equal(gw_retry_budget_init(&b, &c), 0);
    gw_retry_budget_on_request(&b, T0);
    assert_false(gw_retry_budget_allow(&b, T0));
}

#define THREADS 4
#define PER_THREAD 200000

static void *requests(void *p)
{
    struct gw_retry_budget *b = p;
    for (int i = 0; i < PER_THREAD; i++)
        gw_retry_budget_on_request(b, T0 + (uint64_t)i / 1000);
    return NULL;
}

static void test_budget_concurrent(void **state)
{
    (void)state;
    struct gw_retry_conf c;
    gw_retry_conf_default(&c);
    struct gw_retry_budget *b = malloc(sizeof(*b));
    assert_non_null(b);
    assert_int_equal(gw_retry_budget_init(b, &c), 0);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, requests, b), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    uint64_t req, ret;
    gw_retry_budget_stats(b, T0 + 199, &req, &ret);
    assert_int_equal(req, THREADS * PER_THREAD);
    assert_int_equal(ret, 0);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_check),
        cmocka_unit_test(test_should_matrix),
        cmocka_unit_test(test_should_spot_checks),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_budget_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

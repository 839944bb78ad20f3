/*
 * Unit tests for src/cache/fresh.c against RFC 9111: reading a response head, storability
 * (3, 3.5, Set-Cookie, Vary: *), the freshness lifetime (4.2.1: s-maxage over max-age over
 * Expires - Date, invalid Expires, malformed max-age; 4.2.2 heuristics only when configured),
 * the age calculation (4.2.3), reuse (4.2.4, 5.2.1: request no-cache, max-age, min-fresh,
 * max-stale; must-revalidate, proxy-revalidate, s-maxage forbid stale; RFC 5861).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cache/fresh.h"
#include "cache_test.h"

#define T0 INT64_C(784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */

static const struct gw_cache_fresh_conf none = {0};

static struct gw_cache_resp_info resp(int status, const char *const *pairs)
{
    struct test_msg t;
    msg_make(&t, status, pairs);
    struct gw_cache_resp_info info;
    gw_cache_resp_info_read(&info, &t.m, T0);
    return info;
}

static struct gw_cache_req_info req(const char *const *pairs)
{
    struct test_msg t;
    msg_make(&t, 0, pairs);
    struct gw_cache_req_info info;
    gw_cache_req_info_read(&info, &t.m);
    return info;
}

static void test_read(void **state)
{
    (void)state;
    const char *h[] = {"Cache-Control",
                       "max-age=60",
                       "cache-control",
                       "public",
                       "Date",
                       "Sun, 06 Nov 1994 08:49:37 GMT",
                       "Age",
                       "10",
                       "ETag",
                       "\"x\"",
                       "Last-Modified",
                       "Sun, 06 Nov 1994 08:00:00 GMT",
                       "Vary",
                       "accept, *",
                       NULL};
    struct gw_cache_resp_info i = resp(200, h);
    assert_int_equal(i.cc.max_age, 60);
    assert_true(i.cc.flags & GW_CC_PUBLIC);
    assert_int_equal(i.date, T0);
    assert_int_equal(i.age, 10);
    assert_true(i.has_etag);
    assert_int_equal(i.last_modified, T0 - 2977);
    assert_true(i.vary_star);
    const char *v[] = {"Vary", "x-star, accept", "Age", "x", NULL};
    i = resp(200, v);
    assert_false(i.vary_star);
    assert_int_equal(i.age, -1);
}

static void test_storable(void **state)
{
    (void)state;
    struct gw_cache_req_info plain = req(NULL);
    const char *ok[] = {"Cache-Control", "max-age=60", NULL};
    struct gw_cache_resp_info r = resp(200, ok);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &r, &none, T0), GW_CACHE_STORE_OK);
    assert_int_equal(gw_cache_storable(GW_METHOD_POST, &plain, &r, &none, T0), GW_CACHE_NS_METHOD);
    assert_int_equal(gw_cache_storable(GW_METHOD_HEAD, &plain, &r, &none, T0), GW_CACHE_NS_METHOD);

    /* statuses: any final one with explicit freshness, but not 206 and 304 */
    struct gw_cache_resp_info s = resp(500, ok);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0), GW_CACHE_STORE_OK);
    s = resp(206, ok);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0), GW_CACHE_NS_STATUS);
    s = resp(304, ok);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0), GW_CACHE_NS_STATUS);
    s = resp(101, ok);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0), GW_CACHE_NS_STATUS);

    const char *ns[] = {"Cache-Control", "max-age=60, no-store", NULL};
    s = resp(200, ns);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0), GW_CACHE_NS_NO_STORE);
    const char *rns[] = {"Cache-Control", "no-store", NULL};
    struct gw_cache_req_info q = req(rns);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &q, &r, &none, T0), GW_CACHE_NS_NO_STORE);
    const char *pv[] = {"Cache-Control", "max-age=60, private", NULL};
    s = resp(200, pv);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0), GW_CACHE_NS_PRIVATE);

    /* 3.5: Authorization */
    const char *auth[] = {"Authorization", "Bearer x", NULL};
    q = req(auth);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &q, &r, &none, T0),
                     GW_CACHE_NS_AUTHORIZATION);
    const char *pub[] = {"Cache-Control", "max-age=60, public", NULL};
    const char *smax[] = {"Cache-Control", "s-maxage=60", NULL};
    const char *mr[] = {"Cache-Control", "max-age=60, must-revalidate", NULL};
    s = resp(200, pub);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &q, &s, &none, T0), GW_CACHE_STORE_OK);
    s = resp(200, smax);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &q, &s, &none, T0), GW_CACHE_STORE_OK);
    s = resp(200, mr);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &q, &s, &none, T0), GW_CACHE_STORE_OK);

    /* Set-Cookie only when configured */
    const char *ck[] = {"Cache-Control", "max-age=60", "Set-Cookie", "a=b", NULL};
    s = resp(200, ck);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0),
                     GW_CACHE_NS_SET_COOKIE);
    struct gw_cache_fresh_conf cookies = {.allow_set_cookie = true};
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &cookies, T0), GW_CACHE_STORE_OK);

    const char *vs[] = {"Cache-Control", "max-age=60", "Vary", "*", NULL};
    s = resp(200, vs);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0),
                     GW_CACHE_NS_VARY_STAR);

    /* no freshness: not stored, unless it can be revalidated and says so, or a ttl applies */
    s = resp(200, NULL);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0),
                     GW_CACHE_NS_NO_FRESHNESS);
    struct gw_cache_fresh_conf ttl = {.default_ttl = 300};
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &ttl, T0), GW_CACHE_STORE_OK);
    const char *nc[] = {"Cache-Control", "no-cache", "ETag", "\"1\"", NULL};
    s = resp(200, nc);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0), GW_CACHE_STORE_OK);
    const char *nc2[] = {"Cache-Control", "no-cache", NULL};
    s = resp(200, nc2);
    assert_int_equal(gw_cache_storable(GW_METHOD_GET, &plain, &s, &none, T0),
                     GW_CACHE_NS_NO_FRESHNESS);
}

static void test_lifetime(void **state)
{
    (void)state;
    const char *both[] = {"Cache-Control", "max-age=60, s-maxage=120", NULL};
    assert_int_equal(gw_cache_freshness_lifetime(&(struct gw_cache_resp_info){0}, &none, T0), 0);
    struct gw_cache_resp_info r = resp(200, both);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &none, T0), 120);
    const char *ma[] = {"Cache-Control", "max-age=60", "Expires", "Sun, 06 Nov 1994 09:49:37 GMT",
                        NULL};
    r = resp(200, ma);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &none, T0), 60);
    const char *ex[] = {"Date", "Sun, 06 Nov 1994 08:49:37 GMT", "Expires",
                        "Sun, 06 Nov 1994 09:49:37 GMT", NULL};
    r = resp(200, ex);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &none, T0 + 999), 3600);
    /* no Date: the time the response arrived */
    const char *ex2[] = {"Expires", "Sun, 06 Nov 1994 09:49:37 GMT", NULL};
    r = resp(200, ex2);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &none, T0 + 600), 3000);
    /* 5.3: an invalid Expires, "0" in particular, is in the past */
    const char *ex0[] = {"Expires", "0", NULL};
    r = resp(200, ex0);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &none, T0), 0);
    const char *exdup[] = {"Expires", "Sun, 06 Nov 1994 09:49:37 GMT", "Expires",
                           "Sun, 06 Nov 1994 09:49:37 GMT", NULL};
    r = resp(200, exdup);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &none, T0), 0);
    /* 4.2.1: malformed freshness makes the response stale, even with a valid Expires */
    const char *bad[] = {"Cache-Control", "max-age=abc", "Expires", "Sun, 06 Nov 1994 09:49:37 GMT",
                         NULL};
    r = resp(200, bad);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &none, T0), 0);
}

static void test_heuristic(void **state)
{
    (void)state;
    /* Last-Modified 1000 s before Date: 10% is 100 s, only when configured */
    const char *lm[] = {"Date", "Sun, 06 Nov 1994 08:49:37 GMT", "Last-Modified",
                        "Sun, 06 Nov 1994 08:32:57 GMT", NULL};
    struct gw_cache_resp_info r = resp(200, lm);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &none, T0), 0);
    struct gw_cache_fresh_conf h = {.heuristic_percent = 10, .heuristic_max = 86400};
    assert_int_equal(gw_cache_freshness_lifetime(&r, &h, T0), 100);
    h.heuristic_max = 30;
    assert_int_equal(gw_cache_freshness_lifetime(&r, &h, T0), 30);
    /* not for a status that is not heuristically cacheable, unless public */
    r = resp(302, lm);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &h, T0), 0);
    const char *lmp[] = {"Date",
                         "Sun, 06 Nov 1994 08:49:37 GMT",
                         "Last-Modified",
                         "Sun, 06 Nov 1994 08:32:57 GMT",
                         "Cache-Control",
                         "public",
                         NULL};
    r = resp(302, lmp);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &h, T0), 30);
    /* the default ttl: only without any freshness information */
    struct gw_cache_fresh_conf ttl = {.default_ttl = 300};
    r = resp(200, NULL);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &ttl, T0), 300);
    const char *zero[] = {"Cache-Control", "max-age=0", NULL};
    r = resp(200, zero);
    assert_int_equal(gw_cache_freshness_lifetime(&r, &ttl, T0), 0);
}

static void test_age(void **state)
{
    (void)state;
    /* 4.2.3 */
    const char *h[] = {"Date", "Sun, 06 Nov 1994 08:49:37 GMT", "Age", "30", NULL};
    struct gw_cache_resp_info r = resp(200, h);
    /* sent at T0+1, received at T0+3: corrected age = 30 + 2; apparent = 3 */
    assert_int_equal(gw_cache_initial_age(&r, T0 + 1, T0 + 3), 32);
    /* apparent age wins when the Date is older */
    assert_int_equal(gw_cache_initial_age(&r, T0 + 99, T0 + 100), 100);
    /* a Date in the future gives no negative age */
    const char *fut[] = {"Date", "Sun, 06 Nov 1994 09:49:37 GMT", NULL};
    r = resp(200, fut);
    assert_int_equal(gw_cache_initial_age(&r, T0, T0), 0);
}

static struct gw_cc cc_of(const char *s)
{
    struct gw_cc cc;
    gw_cc_init(&cc);
    if (s)
        gw_cc_parse(&cc, s, strlen(s));
    return cc;
}

static void test_usable(void **state)
{
    (void)state;
    struct gw_cc r = cc_of("max-age=100"), q = cc_of(NULL);
    assert_int_equal(gw_cache_usable(&r, 100, 50, &q, 0), GW_CACHE_USE_FRESH);
    assert_int_equal(gw_cache_usable(&r, 100, 100, &q, 0), GW_CACHE_USE_VALIDATE);
    /* request directives */
    q = cc_of("no-cache");
    assert_int_equal(gw_cache_usable(&r, 100, 0, &q, 0), GW_CACHE_USE_VALIDATE);
    q = cc_of("max-age=10");
    assert_int_equal(gw_cache_usable(&r, 100, 11, &q, 0), GW_CACHE_USE_VALIDATE);
    assert_int_equal(gw_cache_usable(&r, 100, 10, &q, 0), GW_CACHE_USE_FRESH);
    q = cc_of("max-age=abc");
    assert_int_equal(gw_cache_usable(&r, 100, 0, &q, 0), GW_CACHE_USE_VALIDATE);
    q = cc_of("min-fresh=20");
    assert_int_equal(gw_cache_usable(&r, 100, 81, &q, 0), GW_CACHE_USE_VALIDATE);
    assert_int_equal(gw_cache_usable(&r, 100, 80, &q, 0), GW_CACHE_USE_FRESH);
    q = cc_of("max-stale=10");
    assert_int_equal(gw_cache_usable(&r, 100, 110, &q, 0), GW_CACHE_USE_STALE);
    assert_int_equal(gw_cache_usable(&r, 100, 111, &q, 0), GW_CACHE_USE_VALIDATE);
    q = cc_of("max-stale");
    assert_int_equal(gw_cache_usable(&r, 100, 99999, &q, 0), GW_CACHE_USE_STALE);
    /* 4.2.4: no stale with must-revalidate, proxy-revalidate, s-maxage */
    const char *forbid[] = {"max-age=100, must-revalidate", "max-age=100, proxy-revalidate",
                            "s-maxage=100"};
    for (size_t i = 0; i < 3; i++) {
        struct gw_cc f = cc_of(forbid[i]);
        assert_int_equal(gw_cache_usable(&f, 100, 101, &q, 60), GW_CACHE_USE_VALIDATE);
        struct gw_cc none_q = cc_of(NULL);
        assert_false(gw_cache_stale_if_error(&f, 100, 101, &none_q, 60));
    }
    /* response no-cache: validate even when fresh */
    struct gw_cc nc = cc_of("max-age=100, no-cache");
    q = cc_of(NULL);
    assert_int_equal(gw_cache_usable(&nc, 100, 0, &q, 0), GW_CACHE_USE_VALIDATE);
    /* RFC 5861, bounded by the gateway's maxima */
    struct gw_cc swr = cc_of("max-age=100, stale-while-revalidate=60, stale-if-error=600");
    assert_int_equal(gw_cache_usable(&swr, 100, 130, &q, 3600), GW_CACHE_USE_SWR);
    assert_int_equal(gw_cache_usable(&swr, 100, 160, &q, 3600), GW_CACHE_USE_VALIDATE);
    assert_int_equal(gw_cache_usable(&swr, 100, 130, &q, 10), GW_CACHE_USE_VALIDATE);
    assert_true(gw_cache_stale_if_error(&swr, 100, 700, &q, 3600));
    assert_false(gw_cache_stale_if_error(&swr, 100, 701, &q, 3600));
    assert_false(gw_cache_stale_if_error(&swr, 100, 700, &q, 300));
    assert_false(gw_cache_stale_if_error(&r, 100, 101, &q, 3600));
    struct gw_cc qsie = cc_of("stale-if-error=30");
    assert_true(gw_cache_stale_if_error(&r, 100, 130, &qsie, 3600));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),     cmocka_unit_test(test_storable),
        cmocka_unit_test(test_lifetime), cmocka_unit_test(test_heuristic),
        cmocka_unit_test(test_age),      cmocka_unit_test(test_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

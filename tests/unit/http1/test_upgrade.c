/* Unit tests for src/http1/upgrade.c: which upgrade a request asks for, the WebSocket
 * handshake's request checks (RFC 6455 4.2.1), and the query parameter lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http1/parser.h"
#include "http1/upgrade.h"

#include "../guard_page.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

struct parsed {
    struct gw_http1_header fields[32];
    struct gw_http1_message m;
    struct guard g;
};

/* Parses head (a complete request head) placed before a guard page. */
static void parse(struct parsed *p, const char *head)
{
    struct gw_http1_limits lim = {8192, 32768, 32};
    struct gw_http1_parser ps;
    memset(&p->m, 0, sizeof p->m);
    p->m.headers = p->fields;
    p->m.headers_capacity = 32;
    guard_init(&p->g, strlen(head));
    const char *at = guard_place(&p->g, head, strlen(head));
    gw_http1_parser_init_request(&ps, &lim);
    assert_int_equal(gw_http1_parse_request(&ps, at, strlen(head), &p->m), GW_HTTP1_DONE);
}

static int check(const char *head, enum gw_upgrade *kind)
{
    struct parsed p;
    parse(&p, head);
    *kind = gw_http1_upgrade_kind(&p.m);
    int rc = gw_http1_ws_check(&p.m);
    guard_free(&p.g);
    return rc;
}

#define REQ(method, ver, extra)                                                                    \
    method " /chat HTTP/1." ver "\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"               \
           "Upgrade: websocket\r\n" extra "\r\n"

static void test_valid_handshake(void **unused)
{
    (void)unused;
    enum gw_upgrade kind;
    assert_int_equal(check(REQ("GET", "1",
                               "Sec-WebSocket-Key: " KEY "\r\n"
                               "Sec-WebSocket-Version: 13\r\n"),
                           &kind),
                     0);
    assert_int_equal(kind, GW_UPGRADE_WEBSOCKET);
    /* names and the protocol without regard to case; websocket among several protocols */
    assert_int_equal(check("GET / HTTP/1.1\r\nHost: h\r\nconnection: UPGRADE\r\nupgrade: foo, "
                           "WebSocket\r\nsec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
                           "sec-websocket-version: 13\r\n\r\n",
                           &kind),
                     0);
    assert_int_equal(kind, GW_UPGRADE_WEBSOCKET);
}

static void test_bad_handshakes(void **unused)
{
    (void)unused;
    enum gw_upgrade kind;
    /* not a GET, not 1.1, a body */
    assert_int_equal(check(REQ("POST", "1",
                               "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: "
                               "13\r\nContent-Length: 0\r\n"),
                           &kind),
                     GW_EWSHANDSHAKE);
    assert_int_equal(check(REQ("GET", "0",
                               "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: "
                               "13\r\n"),
                           &kind),
                     GW_EWSHANDSHAKE);
    assert_int_equal(check(REQ("GET", "1",
                               "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: "
                               "13\r\nContent-Length: 3\r\n"),
                           &kind),
                     GW_EWSHANDSHAKE);
    /* no key, a key of 15 or 17 bytes, two keys, a bad character */
    assert_int_equal(check(REQ("GET", "1", "Sec-WebSocket-Version: 13\r\n"), &kind),
                     GW_EWSHANDSHAKE);
    assert_int_equal(check(REQ("GET", "1",
                               "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n"
                               "Sec-WebSocket-Version: 13\r\n"),
                           &kind),
                     GW_EWSHANDSHAKE);
    assert_int_equal(check(REQ("GET", "1",
                               "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==\r\n"
                               "Sec-WebSocket-Version: 13\r\n"),
                           &kind),
                     GW_EWSHANDSHAKE);
    assert_int_equal(check(REQ("GET", "1",
                               "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Key: " KEY
                               "\r\nSec-WebSocket-Version: 13\r\n"),
                           &kind),
                     GW_EWSHANDSHAKE);
    assert_int_equal(check(REQ("GET", "1",
                               "Sec-WebSocket-Key: AAAAAAAAAAAA*AAAAAAAAA==\r\n"
                               "Sec-WebSocket-Version: 13\r\n"),
                           &kind),
                     GW_EWSHANDSHAKE);
    /* no version: malformed; another version: 426 */
    assert_int_equal(check(REQ("GET", "1", "Sec-WebSocket-Key: " KEY "\r\n"), &kind),
                     GW_EWSHANDSHAKE);
    assert_int_equal(check(REQ("GET", "1",
                               "Sec-WebSocket-Key: " KEY "\r\n"
                               "Sec-WebSocket-Version: 8\r\n"),
                           &kind),
                     GW_EWSVERSION);
    assert_int_equal(check(REQ("GET", "1",
                               "Sec-WebSocket-Key: " KEY "\r\n"
                               "Sec-WebSocket-Version: 13, 8\r\n"),
                           &kind),
                     GW_EWSVERSION);
}

static void test_upgrade_kinds(void **unused)
{
    (void)unused;
    enum gw_upgrade kind;
    check("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", &kind);
    assert_int_equal(kind, GW_UPGRADE_NONE); /* Connection does not list upgrade */
    check("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", &kind);
    assert_int_equal(kind, GW_UPGRADE_NONE); /* no Upgrade field */
    check("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: "
          "h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
          &kind);
    assert_int_equal(kind, GW_UPGRADE_H2C);
    check("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: mqtt\r\n\r\n", &kind);
    assert_int_equal(kind, GW_UPGRADE_OTHER);
    check("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket/13\r\n\r\n",
          &kind);
    assert_int_equal(kind, GW_UPGRADE_OTHER);
}

static void test_query_param(void **unused)
{
    (void)unused;
    const char *v;
    size_t n;
    const char *q = "?a=1&access_token=abc.def&b=";
    assert_int_equal(gw_http1_query_param(q, strlen(q), "access_token", &v, &n), 1);
    assert_int_equal(n, 7);
    assert_memory_equal(v, "abc.def", 7);
    assert_int_equal(gw_http1_query_param(q, strlen(q), "a", &v, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(gw_http1_query_param(q, strlen(q), "b", &v, &n), 0); /* empty */
    assert_int_equal(gw_http1_query_param(q, strlen(q), "token", &v, &n), 0);
    assert_int_equal(gw_http1_query_param(q, strlen(q), "access", &v, &n), 0);
    assert_int_equal(gw_http1_query_param(NULL, 0, "a", &v, &n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_handshake),
        cmocka_unit_test(test_bad_handshakes),
        cmocka_unit_test(test_upgrade_kinds),
        cmocka_unit_test(test_query_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

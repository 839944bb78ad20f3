/*
 * The HTTP/1.1 message-head cases shared by test_parser.c (whole / every split / byte at a
 * time) and test_parser_guard.c (every prefix ending at a PROT_NONE page); parser_check.h
 * runs a row and judges the result. Each row is one input with its expected result:
 * GW_HTTP1_DONE with the fields below, GW_HTTP1_PARTIAL, or a GW_E* code (alt[] lists other
 * codes accepted where two positions of the input could equally be blamed).
 *
 * Expectations follow RFC 9112 / RFC 9110 read strictly; where the RFC leaves a choice,
 * the comment on the row says which one gantry makes.
 */
#ifndef GW_TEST_HTTP1_PARSER_CASES_H
#define GW_TEST_HTTP1_PARSER_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "http1/parser.h"

#define MAX_TEST_HEADERS 128u

/* Zero means "not checked" for every expectation field, so the encodings below shift. */
#define YES 1
#define NO 2
#define V10 1
#define V11 2
#define NH(n) ((n) + 1)
#define HOST(i) ((i) + 2)
#define NOHOST 1
#define MID(x) ((int)(x) + 1)
enum {
    B_ANY = 0,
    B_NONE,
    B_LEN,
    B_CHUNKED,
    B_EOF,
    B_CL0 /* LENGTH 0 or NONE */
};

#define DONE GW_HTTP1_DONE
#define PARTIAL GW_HTTP1_PARTIAL
#define IN(s) .in = (s), .len = sizeof(s) - 1
#define RESP .resp = true
#define LIM(rl, hb, nh) .lim = {(rl), (hb), (nh)}

/* Requests built around one interesting line. */
#define G11(lines) "GET / HTTP/1.1\r\nHost: a\r\n" lines "\r\n"
#define P11(lines) "POST / HTTP/1.1\r\nHost: a\r\n" lines "\r\n"
#define GET_OK .rc = DONE, .method = "GET", .mid = MID(GW_METHOD_GET), .target = "/", .ver = V11
#define POST_OK .rc = DONE, .method = "POST", .mid = MID(GW_METHOD_POST), .target = "/", .ver = V11

struct hcheck {
    uint32_t idx;
    const char *name; /* NULL: no check */
    const char *value;
};

struct pcase {
    const char *name;
    const char *in;
    size_t len;
    bool resp;
    enum gw_http_method req; /* responses: the request's method */
    struct gw_http1_limits lim;
    uint32_t cap; /* headers_capacity; 0: MAX_TEST_HEADERS */
    int rc;
    int alt[3];
    /* checked on DONE when non-zero */
    const char *method;
    int mid;
    const char *target;
    int ver;
    int status;
    const char *reason;
    int nh;
    struct hcheck h[2];
    size_t tail; /* bytes after the head (body, next message) */
    int body;
    uint64_t cl;
    int ka, ec, up;
    int host;
};

/* clang-format off */
static const struct pcase parser_cases[] = {
    /* ---- valid requests ---- */
    {"get minimal", IN(G11("")), GET_OK, .nh = NH(1), .h = {{0, "Host", "a"}}, .body = B_NONE,
     .ka = YES, .ec = NO, .up = NO, .host = HOST(0)},
    {"get query, three headers",
     IN("GET /index.html?q=1&r=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1.0\r\n"
        "Accept: */*\r\n\r\n"),
     .rc = DONE, .method = "GET", .target = "/index.html?q=1&r=%20", .ver = V11, .nh = NH(3),
     .h = {{0, "Host", "example.com"}, {2, "Accept", "*/*"}}, .body = B_NONE, .ka = YES,
     .host = HOST(0)},
    {"1.0 without Host", IN("GET / HTTP/1.0\r\n\r\n"), .rc = DONE, .method = "GET", .ver = V10,
     .nh = NH(0), .body = B_NONE, .ka = NO, .ec = NO, .host = NOHOST},
    {"1.0 with Host", IN("GET / HTTP/1.0\r\nHost: a\r\n\r\n"), .rc = DONE, .ver = V10,
     .nh = NH(1), .ka = NO, .host = HOST(0)},
    {"1.0 keep-alive", IN("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), .rc = DONE,
     .ver = V10, .ka = YES, .host = NOHOST},
    {"1.0 Keep-Alive mixed case", IN("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
     .rc = DONE, .ka = YES},
    {"1.0 keep-alive, close", IN("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
     .rc = DONE, .ka = NO},
    {"1.1 close", IN(G11("Connection: close\r\n")), GET_OK, .ka = NO, .nh = NH(2)},
    {"1.1 Close mixed case", IN(G11("Connection: CLoSe\r\n")), GET_OK, .ka = NO},
    {"1.1 keep-alive, close", IN(G11("Connection: keep-alive, close\r\n")), GET_OK, .ka = NO},
    {"1.1 close inside list", IN(G11("Connection: foo,close ,bar\r\n")), GET_OK, .ka = NO},
    {"1.1 'closed' is not close", IN(G11("Connection: closed\r\n")), GET_OK, .ka = YES},
    {"1.1 explicit keep-alive", IN(G11("Connection: keep-alive\r\n")), GET_OK, .ka = YES},
    {"post with body", IN(P11("Content-Length: 5\r\n") "hello"), POST_OK, .tail = 5,
     .nh = NH(2), .h = {{1, "Content-Length", "5"}}, .body = B_LEN, .cl = 5, .ka = YES},
    {"content-length 0", IN(P11("Content-Length: 0\r\n")), POST_OK, .body = B_CL0},
    {"content-length leading zeros", IN(P11("Content-Length: 007\r\n")), POST_OK,
     .body = B_LEN, .cl = 7},
    {"content-length INT64_MAX", IN(P11("Content-Length: 9223372036854775807\r\n")), POST_OK,
     .body = B_LEN, .cl = 9223372036854775807ull},
    {"content-length with OWS", IN(P11("Content-Length: \t 12 \t\r\n")), POST_OK,
     .h = {{1, "Content-Length", "12"}}, .body = B_LEN, .cl = 12},
    {"content-length lowercase name", IN(P11("content-length: 3\r\n") "abc"), POST_OK,
     .tail = 3, .body = B_LEN, .cl = 3},
    {"content-length uppercase name", IN(P11("CONTENT-LENGTH: 3\r\n")), POST_OK, .body = B_LEN,
     .cl = 3},
    {"chunked", IN(P11("Transfer-Encoding: chunked\r\n")), POST_OK, .body = B_CHUNKED,
     .ka = YES},
    {"CHUNKED uppercase", IN(P11("Transfer-Encoding: CHUNKED\r\n")), POST_OK,
     .body = B_CHUNKED},
    {"TE: HT chunked (HT is OWS)", IN(P11("Transfer-Encoding:\tchunked\r\n")), POST_OK,
     .h = {{1, "Transfer-Encoding", "chunked"}}, .body = B_CHUNKED},
    {"TE: chunked + trailing OWS", IN(P11("Transfer-Encoding: chunked \t \r\n")), POST_OK,
     .h = {{1, "Transfer-Encoding", "chunked"}}, .body = B_CHUNKED},
    {"lowercase transfer-encoding name", IN(P11("transfer-encoding: chunked\r\n")), POST_OK,
     .body = B_CHUNKED},
    {"chunked with body after head",
     IN(P11("Transfer-Encoding: chunked\r\n") "5\r\nhello\r\n0\r\n\r\n"), POST_OK, .tail = 15,
     .body = B_CHUNKED},
    {"expect 100-continue", IN(P11("Content-Length: 10\r\nExpect: 100-continue\r\n")), POST_OK,
     .ec = YES, .body = B_LEN, .cl = 10},
    {"expect 100-CONTINUE", IN(P11("Expect: 100-CONTINUE\r\nContent-Length: 1\r\n")), POST_OK,
     .ec = YES},
    {"expect + chunked", IN(P11("Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n")),
     POST_OK, .ec = YES, .body = B_CHUNKED},
    /* RFC 9110 10.1.1: a server MUST ignore a 100-continue expectation in a 1.0 request. */
    {"1.0 expect ignored",
     IN("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"),
     .rc = DONE, .ver = V10, .ec = NO, .body = B_LEN, .cl = 1},
    {"host with port", IN("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"), GET_OK,
     .h = {{0, "Host", "example.com:8080"}}, .host = HOST(0)},
    {"host IPv6 literal", IN("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), GET_OK,
     .host = HOST(0)},
    {"host IPv4", IN("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), GET_OK, .host = HOST(0)},
    {"host OWS trimmed", IN("GET / HTTP/1.1\r\nHost:   a.b \t\r\n\r\n"), GET_OK,
     .h = {{0, "Host", "a.b"}}},
    /* RFC 9112 3.2: Host with an empty value is what a client sends for a URI without an
     * authority; it is valid syntax (uri-host may be an empty reg-name). */
    {"host empty value", IN("GET / HTTP/1.1\r\nHost:\r\n\r\n"), GET_OK,
     .h = {{0, "Host", ""}}, .host = HOST(0)},
    {"hOsT mixed case", IN("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n"), GET_OK, .host = HOST(0)},
    {"host not first", IN("GET / HTTP/1.1\r\nUser-Agent: x\r\nAccept: y\r\nHost: a\r\n\r\n"),
     GET_OK, .nh = NH(3), .host = HOST(2)},
    {"obs-text value", IN(G11("X-Name: caf\xc3\xa9\r\n")), GET_OK,
     .h = {{1, "X-Name", "caf\xc3\xa9"}}},
    {"obs-text only value", IN(G11("X: \x80\xff\r\n")), GET_OK, .h = {{1, "X", "\x80\xff"}}},
    {"HT inside value", IN(G11("X: a\tb\r\n")), GET_OK, .h = {{1, "X", "a\tb"}}},
    {"inner spaces kept", IN(G11("X: a  b\r\n")), GET_OK, .h = {{1, "X", "a  b"}}},
    {"OWS trimmed both sides", IN(G11("X: \t  a b \t \r\n")), GET_OK, .h = {{1, "X", "a b"}}},
    {"empty value", IN(G11("X:\r\n")), GET_OK, .h = {{1, "X", ""}}},
    {"OWS-only value", IN(G11("X:  \t \r\n")), GET_OK, .h = {{1, "X", ""}}},
    {"value VCHAR specials", IN(G11("X: \"q\" (c) <a>, {b} [c] \\ ~ : ; = ?\r\n")), GET_OK,
     .h = {{1, "X", "\"q\" (c) <a>, {b} [c] \\ ~ : ; = ?"}}},
    {"value with colons", IN(G11("X: a:b:c\r\n")), GET_OK, .h = {{1, "X", "a:b:c"}}},
    {"name of all tchar", IN(G11("!#$%&'*+-.^_`|~09azAZ: v\r\n")), GET_OK,
     .h = {{1, "!#$%&'*+-.^_`|~09azAZ", "v"}}},
    {"repeated ordinary field", IN(G11("X: 1\r\nX: 2\r\n")), GET_OK, .nh = NH(3),
     .h = {{1, "X", "1"}, {2, "X", "2"}}},
    /* RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request-line. */
    {"CRLF before request line", IN("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), GET_OK,
     .nh = NH(1), .host = HOST(0)},
    {"two CRLF before request line", IN("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), GET_OK},
    {"PROPFIND is OTHER", IN("PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE,
     .method = "PROPFIND", .mid = MID(GW_METHOD_OTHER), .target = "/d"},
    {"M-SEARCH is OTHER", IN("M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE,
     .method = "M-SEARCH", .mid = MID(GW_METHOD_OTHER), .target = "/x"},
    /* RFC 9112 3.2.4: the asterisk-form is only for OPTIONS. */
    {"M-SEARCH *", IN("M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    /* RFC 9110 9.1: the method token is case-sensitive; "get" is some other method. */
    {"lowercase get is OTHER", IN("get / HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE,
     .method = "get", .mid = MID(GW_METHOD_OTHER)},
    {"HEAD", IN("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE, .method = "HEAD",
     .mid = MID(GW_METHOD_HEAD), .target = "/x", .body = B_NONE},
    {"PUT", IN("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"), .rc = DONE,
     .mid = MID(GW_METHOD_PUT), .tail = 2, .body = B_LEN, .cl = 2},
    {"DELETE", IN("DELETE /x/1 HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE,
     .mid = MID(GW_METHOD_DELETE), .target = "/x/1"},
    {"PATCH", IN("PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE, .mid = MID(GW_METHOD_PATCH)},
    {"TRACE", IN("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE, .mid = MID(GW_METHOD_TRACE)},
    {"OPTIONS *", IN("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE, .method = "OPTIONS",
     .mid = MID(GW_METHOD_OPTIONS), .target = "*"},
    {"OPTIONS path", IN("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE,
     .mid = MID(GW_METHOD_OPTIONS), .target = "/x"},
    {"CONNECT authority", IN("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
     .rc = DONE, .method = "CONNECT", .mid = MID(GW_METHOD_CONNECT), .target = "example.com:443"},
    {"CONNECT IPv6", IN("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"), .rc = DONE,
     .mid = MID(GW_METHOD_CONNECT), .target = "[::1]:443"},
    {"absolute-form http", IN("GET http://example.com/p?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
     .rc = DONE, .target = "http://example.com/p?x=1", .mid = MID(GW_METHOD_GET)},
    {"absolute-form https with port",
     IN("GET https://example.com:8443 HTTP/1.1\r\nHost: x\r\n\r\n"),
     .rc = DONE, .target = "https://example.com:8443"},
    /* RFC 3986 3.1: schemes are case-insensitive. */
    {"absolute-form HTTP uppercase", IN("GET HTTP://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n"),
     .rc = DONE, .target = "HTTP://example.com/"},
    {"target with sub-delims",
     IN("GET /a/b;c=d/e:f@g!h$i&j'k(l)m*n+o,p~r?s/t?u HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = DONE, .target = "/a/b;c=d/e:f@g!h$i&j'k(l)m*n+o,p~r?s/t?u"},
    {"encoded hash in target", IN("GET /a%23b?c=%23 HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = DONE,
     .target = "/a%23b?c=%23"},
    /* RFC 9110 2.5: a higher minor version of a supported major is processed as 1.1. */
    {"HTTP/1.2 served as 1.1", IN("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), .rc = DONE, .ver = V11},
    {"websocket upgrade",
     IN(G11("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n")),
     GET_OK, .up = YES, .ka = YES, .nh = NH(4)},
    {"upgrade in a list", IN(G11("Connection: keep-alive, Upgrade\r\nUpgrade: h2c\r\n")),
     GET_OK, .up = YES},
    {"Connection upgrade without Upgrade", IN(G11("Connection: upgrade\r\n")), GET_OK,
     .up = NO},
    {"Upgrade without Connection upgrade", IN(G11("Upgrade: websocket\r\n")), GET_OK,
     .up = NO},
    {"next message left alone", IN(G11("") "GARBAGE"), GET_OK, .tail = 7, .body = B_NONE},
    {"1.0 post with length", IN("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"), .rc = DONE,
     .ver = V10, .tail = 3, .body = B_LEN, .cl = 3, .ka = NO},
    {"max_headers reached exactly", IN(G11("X: 1\r\nY: 2\r\n")), LIM(0, 0, 3), GET_OK,
     .nh = NH(3)},
    {"request line exactly at limit", IN(G11("")), LIM(16, 0, 0), GET_OK},
    {"header block exactly at limit", IN(G11("")), LIM(0, 11, 0), GET_OK},
    {"capacity reached exactly", IN(G11("X: 1\r\n")), .cap = 2, GET_OK, .nh = NH(2)},

    /* ---- incomplete ---- */
    {"empty input", IN(""), .rc = PARTIAL},
    {"request line without CRLF", IN("GET / HTTP/1.1"), .rc = PARTIAL},
    {"request line CR only", IN("GET / HTTP/1.1\r"), .rc = PARTIAL},
    {"no final empty line", IN("GET / HTTP/1.1\r\nHost: a\r\n"), .rc = PARTIAL},
    {"final CR only", IN("GET / HTTP/1.1\r\nHost: a\r\n\r"), .rc = PARTIAL},
    {"only CRLF", IN("\r\n"), .rc = PARTIAL},
    {"only CR", IN("\r"), .rc = PARTIAL},
    {"mid header name", IN("GET / HTTP/1.1\r\nHos"), .rc = PARTIAL},

    /* ---- request line ---- */
    {"two spaces after method", IN("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EREQLINE},
    {"two spaces after target", IN("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EREQLINE},
    {"trailing space", IN("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), .rc = GW_EREQLINE},
    {"leading space", IN(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EREQLINE},
    {"empty version", IN("GET / \r\nHost: a\r\n\r\n"), .rc = GW_EREQLINE, .alt = {GW_EVERSION}},
    {"no version (0.9 style)", IN("GET /index.html\r\n\r\n"), .rc = GW_EREQLINE},
    {"method only", IN("GET\r\n\r\n"), .rc = GW_EREQLINE},
    {"missing target", IN("GET HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EREQLINE},
    {"missing method", IN("/ HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EMETHOD,
     .alt = {GW_EREQLINE}},
    {"@ in method", IN("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EMETHOD},
    {"NUL in method", IN("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EMETHOD,
     .alt = {GW_ECTL}},
    {"HT after method", IN("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EMETHOD,
     .alt = {GW_EREQLINE, GW_ECTL}},
    {"HT after version", IN("GET / HTTP/1.1\t\r\nHost: a\r\n\r\n"), .rc = GW_EVERSION,
     .alt = {GW_EREQLINE, GW_ECTL}},
    {"NUL in target", IN("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET,
     .alt = {GW_ECTL}},
    {"DEL in target", IN("GET /a\x7f" "b HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET,
     .alt = {GW_ECTL}},
    {"non-ASCII in target", IN("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    {"HT in target", IN("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET,
     .alt = {GW_ECTL}},
    {"target without slash", IN("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"asterisk with GET", IN("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"CONNECT origin-form", IN("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"CONNECT without port", IN("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    {"CONNECT empty port", IN("CONNECT example.com: HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    {"authority-form with GET", IN("GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    {"ftp absolute-form", IN("GET ftp://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    {"http:// without host", IN("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"http:/// empty host", IN("GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    /* RFC 9110 4.2.4: userinfo in an http URI is invalid. */
    {"userinfo in absolute-form", IN("GET http://u@h/ HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    /* RFC 9112 3.2: origin-form = absolute-path [ "?" query ] and absolute-form =
     * absolute-URI: neither has a fragment, and "#" is in no other part of either (RFC 3986
     * 3.3, 3.4). A client never sends one; a target with "#" is refused, wherever it is. */
    {"fragment in origin-form", IN("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"empty fragment", IN("GET /a# HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"fragment only", IN("GET /# HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"fragment after query", IN("GET /a?x=1#frag HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    {"hash inside query", IN("GET /a?x=#&y=2 HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    /* the target scan takes 16 bytes at a time: "#" at the end of a block and past it */
    {"fragment at byte 16 of the target",
     IN("GET /0123456789abcd#f HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"fragment at byte 17 of the target",
     IN("GET /0123456789abcde#f HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"fragment after 40 bytes",
     IN("GET /0123456789/0123456789/0123456789/0123#x HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    {"fragment in absolute-form",
     IN("GET http://example.com/p?x=1#f HTTP/1.1\r\nHost: example.com\r\n\r\n"),
     .rc = GW_ETARGET},
    {"fragment right after the authority",
     IN("GET http://example.com#f HTTP/1.1\r\nHost: example.com\r\n\r\n"), .rc = GW_ETARGET},
    {"hash in CONNECT authority", IN("CONNECT a#b:443 HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_ETARGET},
    {"OPTIONS *#", IN("OPTIONS *# HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_ETARGET},
    {"lowercase http version", IN("GET / http/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EVERSION},
    {"version without minor", IN("GET / HTTP/1\r\nHost: a\r\n\r\n"), .rc = GW_EVERSION},
    {"version 1.1.1", IN("GET / HTTP/1.1.1\r\nHost: a\r\n\r\n"), .rc = GW_EVERSION},
    {"version 10.1", IN("GET / HTTP/10.1\r\nHost: a\r\n\r\n"), .rc = GW_EVERSION},
    {"version 1.x", IN("GET / HTTP/1.x\r\nHost: a\r\n\r\n"), .rc = GW_EVERSION},
    {"HTTPS/1.1", IN("GET / HTTPS/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EVERSION},
    {"HTTP/2.0", IN("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), .rc = GW_EVERSIONUNSUP},
    {"HTTP/0.9", IN("GET / HTTP/0.9\r\n\r\n"), .rc = GW_EVERSIONUNSUP},
    {"HTTP/3.0", IN("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), .rc = GW_EVERSIONUNSUP},

    /* ---- line endings ---- */
    {"bare LF after request line", IN("GET / HTTP/1.1\nHost: a\r\n\r\n"), .rc = GW_EBARELF},
    {"bare LF before request line", IN("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .rc = GW_EBARELF},
    {"bare LF after header", IN("GET / HTTP/1.1\r\nHost: a\n\r\n"), .rc = GW_EBARELF},
    {"bare LF as final line", IN("GET / HTTP/1.1\r\nHost: a\r\n\n"), .rc = GW_EBARELF},
    {"LF only", IN("\n"), .rc = GW_EBARELF},
    {"CR CR LF after version", IN("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), .rc = GW_EBARECR},
    {"bare CR splits request line", IN("GET / HTTP/1.1\rHost: a\r\n\r\n"), .rc = GW_EBARECR,
     .alt = {GW_EREQLINE}},
    {"bare CR in target", IN("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), .rc = GW_EBARECR,
     .alt = {GW_ETARGET}},
    {"CR CR LF first line", IN("\r\r\n"), .rc = GW_EBARECR, .alt = {GW_EMETHOD, GW_EREQLINE}},
    {"bare CR between headers", IN("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"),
     .rc = GW_EBARECR},
    {"CR CR LF after header", IN("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"), .rc = GW_EBARECR},

    /* ---- header lines ---- */
    {"NUL in value", IN(G11("X: a\0b\r\n")), .rc = GW_EHDRVALUE, .alt = {GW_ECTL}},
    {"DEL in value", IN(G11("X: a\x7f" "b\r\n")), .rc = GW_EHDRVALUE, .alt = {GW_ECTL}},
    {"SOH in value", IN(G11("X: \x01\r\n")), .rc = GW_EHDRVALUE, .alt = {GW_ECTL}},
    {"VT in value", IN(G11("X: a\x0b\r\n")), .rc = GW_EHDRVALUE, .alt = {GW_ECTL}},
    {"FF in value", IN(G11("X: a\x0c" "b\r\n")), .rc = GW_EHDRVALUE, .alt = {GW_ECTL}},
    {"US in value", IN(G11("X: a\x1f\r\n")), .rc = GW_EHDRVALUE, .alt = {GW_ECTL}},
    {"NUL in name", IN(G11("X\0Y: a\r\n")), .rc = GW_EHDRNAME, .alt = {GW_ECTL}},
    {"NUL line", IN(G11("\0\r\n")), .rc = GW_EHDRNAME, .alt = {GW_ECTL}},
    {"slash in name", IN(G11("X/Y: a\r\n")), .rc = GW_EHDRNAME},
    {"@ in name", IN(G11("X@Y: a\r\n")), .rc = GW_EHDRNAME},
    {"quote in name", IN(G11("X\"Y: a\r\n")), .rc = GW_EHDRNAME},
    {"non-ASCII in name", IN(G11("X\xc3\xa9: a\r\n")), .rc = GW_EHDRNAME},
    {"parenthesis in name", IN(G11("(X): a\r\n")), .rc = GW_EHDRNAME},
    {"brace in name", IN(G11("X{Y}: a\r\n")), .rc = GW_EHDRNAME},
    {"empty name", IN(G11(": a\r\n")), .rc = GW_EHDRNAME},
    {"space before colon", IN("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), .rc = GW_EHDRCOLONWS},
    {"HT before colon", IN("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), .rc = GW_EHDRCOLONWS},
    {"no colon", IN(G11("NoColonHere\r\n")), .rc = GW_EHDRNOCOLON},
    {"no colon, with space", IN(G11("X-Foo bar\r\n")), .rc = GW_EHDRNOCOLON,
     .alt = {GW_EHDRNAME}},
    {"space inside name", IN(G11("Foo bar: x\r\n")), .rc = GW_EHDRNAME,
     .alt = {GW_EHDRCOLONWS}},
    {"obs-fold SP", IN(G11("X: a\r\n b\r\n")), .rc = GW_EOBSFOLD},
    {"obs-fold HT", IN(G11("X: a\r\n\tb\r\n")), .rc = GW_EOBSFOLD},
    /* RFC 9112 2.2: whitespace between the start-line and the first field: reject. */
    {"whitespace before first field", IN("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
     .rc = GW_EOBSFOLD, .alt = {GW_EHDRNAME}},
    {"whitespace-only line", IN(G11(" \r\n")), .rc = GW_EOBSFOLD},
    {"CR inside name", IN(G11("Ho\rst: a\r\n")), .rc = GW_EBARECR, .alt = {GW_EHDRNAME}},

    /* ---- limits ---- */
    {"request line over limit", IN(G11("")), LIM(15, 0, 0), .rc = GW_EURITOOLONG},
    {"request line over limit before CRLF", IN("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaa"),
     LIM(16, 0, 0), .rc = GW_EURITOOLONG},
    {"header block over limit", IN(G11("")), LIM(0, 10, 0), .rc = GW_EHDRTOOLARGE},
    {"header block over limit before CRLF",
     IN("GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaa"), LIM(0, 16, 0),
     .rc = GW_EHDRTOOLARGE},
    {"too many headers", IN(G11("X: 1\r\nY: 2\r\n")), LIM(0, 0, 2), .rc = GW_ETOOMANYHDRS},
    {"over headers capacity", IN(G11("X: 1\r\nY: 2\r\n")), .cap = 2, .rc = GW_ETOOMANYHDRS},
    /* A line already over its limit when its (bare) LF arrives: a peer that delivers the
     * bytes one at a time gets the limit error before the LF exists, so every split must. */
    {"bare LF after a too-long request line", IN("GET /aaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\n\r\n"),
     LIM(16, 0, 0), .rc = GW_EURITOOLONG},
    {"bare LF after a too-long header block",
     IN("GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaa\n\r\n"),
     LIM(0, 16, 0), .rc = GW_EHDRTOOLARGE},

    /* ---- framing: smuggling shapes ---- */
    {"CL.TE", IN(P11("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n") "0\r\n\r\nG"),
     .rc = GW_ECLTE},
    {"TE.CL",
     IN(P11("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n") "8\r\nSMUGGLED\r\n0\r\n\r\n"),
     .rc = GW_ECLTE},
    {"TE + CL 0", IN(P11("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n")),
     .rc = GW_ECLTE},
    {"TE + lowercase content-length",
     IN(P11("transfer-encoding: chunked\r\ncontent-length: 4\r\n")),
     .rc = GW_ECLTE},
    {"Transfer-Encoding SP colon", IN(P11("Transfer-Encoding : chunked\r\nContent-Length: 4\r\n")),
     .rc = GW_EHDRCOLONWS},
    {"Content-Length SP colon", IN(P11("Content-Length : 4\r\n")), .rc = GW_EHDRCOLONWS},
    /* RFC 9112 6.3: chunked not final in a request is a MUST-400; it outranks the 501 of
     * an unknown coding (a SHOULD in 6.1). */
    {"TE xchunked", IN(P11("Transfer-Encoding: xchunked\r\n")), .rc = GW_ETENOTCHUNKED},
    {"TE chunked then TE x", IN(P11("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n")),
     .rc = GW_ETENOTCHUNKED},
    {"TE chunked, gzip", IN(P11("Transfer-Encoding: chunked, gzip\r\n")),
     .rc = GW_ETENOTCHUNKED},
    {"TE identity", IN(P11("Transfer-Encoding: identity\r\n")), .rc = GW_ETENOTCHUNKED},
    {"TE gzip, chunked", IN(P11("Transfer-Encoding: gzip, chunked\r\n")), .rc = GW_ETEUNSUP},
    {"TE gzip then TE chunked",
     IN(P11("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n")),
     .rc = GW_ETEUNSUP},
    {"TE chunked, chunked", IN(P11("Transfer-Encoding: chunked, chunked\r\n")),
     .rc = GW_ETEINVALID},
    {"TE chunked twice", IN(P11("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
     .rc = GW_ETEINVALID},
    {"TE empty", IN(P11("Transfer-Encoding:\r\n")), .rc = GW_ETEINVALID},
    /* gantry refuses empty list elements in Transfer-Encoding (RFC 9110 5.6.1 lets a
     * recipient ignore them; a proxy that re-frames must not guess). */
    {"TE chunked,", IN(P11("Transfer-Encoding: chunked,\r\n")), .rc = GW_ETEINVALID},
    {"TE ,chunked", IN(P11("Transfer-Encoding: ,chunked\r\n")), .rc = GW_ETEINVALID},
    {"TE chunked;q=1", IN(P11("Transfer-Encoding: chunked;q=1\r\n")), .rc = GW_ETEINVALID,
     .alt = {GW_ETEUNSUP, GW_ETENOTCHUNKED}},
    {"TE quoted chunked", IN(P11("Transfer-Encoding: \"chunked\"\r\n")), .rc = GW_ETEINVALID,
     .alt = {GW_ETEUNSUP, GW_ETENOTCHUNKED}},
    {"TE chunked chunked (space)", IN(P11("Transfer-Encoding: chunked chunked\r\n")),
     .rc = GW_ETEINVALID, .alt = {GW_ETEUNSUP, GW_ETENOTCHUNKED}},
    {"TE chunked VT", IN(P11("Transfer-Encoding: chunked\x0b\r\n")), .rc = GW_EHDRVALUE,
     .alt = {GW_ECTL}},
    {"TE in HTTP/1.0", IN("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
     .rc = GW_ETEHTTP10},
    {"TE + CL in HTTP/1.0",
     IN("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
     .rc = GW_ETEHTTP10, .alt = {GW_ECLTE}},
    {"CL +5", IN(P11("Content-Length: +5\r\n")), .rc = GW_ECLINVALID},
    {"CL -5", IN(P11("Content-Length: -5\r\n")), .rc = GW_ECLINVALID},
    {"CL 0x5", IN(P11("Content-Length: 0x5\r\n")), .rc = GW_ECLINVALID},
    {"CL 5 5", IN(P11("Content-Length: 5 5\r\n")), .rc = GW_ECLINVALID},
    {"CL 5 HT 5", IN(P11("Content-Length: 5\t5\r\n")), .rc = GW_ECLINVALID},
    {"CL empty", IN(P11("Content-Length:\r\n")), .rc = GW_ECLINVALID},
    {"CL OWS only", IN(P11("Content-Length:   \r\n")), .rc = GW_ECLINVALID},
    {"CL 5a", IN(P11("Content-Length: 5a\r\n")), .rc = GW_ECLINVALID},
    {"CL 1.5", IN(P11("Content-Length: 1.5\r\n")), .rc = GW_ECLINVALID},
    {"CL 1e3", IN(P11("Content-Length: 1e3\r\n")), .rc = GW_ECLINVALID},
    {"CL non-ASCII digit", IN(P11("Content-Length: \xd9\xa5\r\n")), .rc = GW_ECLINVALID},
    {"CL 5,", IN(P11("Content-Length: 5,\r\n")), .rc = GW_ECLINVALID, .alt = {GW_ECLDUP}},
    {"CL 5, 5", IN(P11("Content-Length: 5, 5\r\n")), .rc = GW_ECLDUP},
    {"CL 5,6", IN(P11("Content-Length: 5,6\r\n")), .rc = GW_ECLDUP, .alt = {GW_ECLINVALID}},
    {"two equal CL", IN(P11("Content-Length: 5\r\nContent-Length: 5\r\n")), .rc = GW_ECLDUP},
    {"two different CL", IN(P11("Content-Length: 5\r\nContent-Length: 6\r\n")),
     .rc = GW_ECLDUP},
    {"CL and content-length", IN(P11("Content-Length: 5\r\ncontent-length: 5\r\n")),
     .rc = GW_ECLDUP},
    {"CL INT64_MAX + 1", IN(P11("Content-Length: 9223372036854775808\r\n")),
     .rc = GW_ECLOVERFLOW},
    {"CL 2^64 (wraps to 0)", IN(P11("Content-Length: 18446744073709551616\r\n")),
     .rc = GW_ECLOVERFLOW},
    {"CL 2^64 + 5 (wraps to 5)", IN(P11("Content-Length: 18446744073709551621\r\n")),
     .rc = GW_ECLOVERFLOW},
    {"CL 40 digits", IN(P11("Content-Length: 9999999999999999999999999999999999999999\r\n")),
     .rc = GW_ECLOVERFLOW},
    {"missing Host in 1.1", IN("GET / HTTP/1.1\r\nX: y\r\n\r\n"), .rc = GW_EHOSTMISSING},
    {"missing Host, no headers", IN("GET / HTTP/1.1\r\n\r\n"), .rc = GW_EHOSTMISSING},
    {"two Host", IN("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), .rc = GW_EHOSTDUP},
    {"two equal Host", IN("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), .rc = GW_EHOSTDUP},
    /* RFC 9112 3.2: more than one Host in any request message is a 400. */
    {"two Host in 1.0", IN("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), .rc = GW_EHOSTDUP},
    {"Host with space", IN("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), .rc = GW_EHOSTINVALID},
    {"Host with userinfo", IN("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n"),
     .rc = GW_EHOSTINVALID},
    {"Host bad port", IN("GET / HTTP/1.1\r\nHost: a:port\r\n\r\n"), .rc = GW_EHOSTINVALID},
    {"Host two ports", IN("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n"), .rc = GW_EHOSTINVALID},
    {"Host port too big", IN("GET / HTTP/1.1\r\nHost: a:99999999\r\n\r\n"),
     .rc = GW_EHOSTINVALID},
    {"Host with path", IN("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), .rc = GW_EHOSTINVALID},
    {"Host with query", IN("GET / HTTP/1.1\r\nHost: a?b\r\n\r\n"), .rc = GW_EHOSTINVALID},
    {"Host with fragment", IN("GET / HTTP/1.1\r\nHost: a#b\r\n\r\n"), .rc = GW_EHOSTINVALID},
    {"Host unclosed IPv6", IN("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), .rc = GW_EHOSTINVALID},
    {"Host non-ASCII", IN("GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n"),
     .rc = GW_EHOSTINVALID},
    {"Host invalid in 1.0", IN("GET / HTTP/1.0\r\nHost: a b\r\n\r\n"), .rc = GW_EHOSTINVALID},
    {"Expect other", IN(P11("Expect: something\r\n")), .rc = GW_EEXPECT},
    {"Expect 100-continue, foo", IN(P11("Expect: 100-continue, foo\r\n")), .rc = GW_EEXPECT},
    {"Expect 100-continueX", IN(P11("Expect: 100-continueX\r\n")), .rc = GW_EEXPECT},

    /* ---- responses ---- */
    {"200 with length", IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), RESP,
     .rc = DONE, .status = 200, .reason = "OK", .ver = V11, .nh = NH(1), .tail = 5,
     .body = B_LEN, .cl = 5, .ka = YES, .up = NO},
    {"200 until EOF", IN("HTTP/1.1 200 OK\r\n\r\n"), RESP, .rc = DONE, .status = 200,
     .nh = NH(0), .body = B_EOF, .ka = NO},
    {"204", IN("HTTP/1.1 204 No Content\r\n\r\n"), RESP, .rc = DONE, .status = 204,
     .reason = "No Content", .body = B_NONE, .ka = YES},
    {"204 with CL", IN("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"), RESP,
     .rc = DONE, .body = B_NONE, .ka = YES},
    {"304 with CL", IN("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"), RESP,
     .rc = DONE, .status = 304, .body = B_NONE, .ka = YES},
    {"304 with TE", IN("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"), RESP,
     .rc = DONE, .body = B_NONE},
    {"100 Continue", IN("HTTP/1.1 100 Continue\r\n\r\n"), RESP, .rc = DONE, .status = 100,
     .body = B_NONE},
    {"103 Early Hints", IN("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"),
     RESP, .rc = DONE, .status = 103, .body = B_NONE, .h = {{0, "Link", "</s.css>; rel=preload"}}},
    {"101 switching",
     IN("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
     RESP, .rc = DONE, .status = 101, .body = B_NONE, .up = YES},
    {"HEAD response with CL", IN("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"), RESP,
     .req = GW_METHOD_HEAD, .rc = DONE, .body = B_NONE, .ka = YES},
    {"HEAD response with TE", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), RESP,
     .req = GW_METHOD_HEAD, .rc = DONE, .body = B_NONE},
    /* RFC 9112 6.3 rule 2: a 2xx to CONNECT makes the connection a tunnel. */
    {"CONNECT 200 is a tunnel",
     IN("HTTP/1.1 200 Connection Established\r\nContent-Length: 5\r\n\r\n"),
     RESP, .req = GW_METHOD_CONNECT, .rc = DONE, .body = B_EOF, .ka = NO},
    {"chunked response", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), RESP,
     .rc = DONE, .body = B_CHUNKED, .ka = YES},
    {"gzip, chunked response", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
     RESP, .rc = DONE, .body = B_CHUNKED},
    /* RFC 9112 6.3 rule 4: chunked not final in a response: read until close. */
    {"gzip response", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), RESP,
     .rc = DONE, .body = B_EOF, .ka = NO},
    {"response CL + TE",
     IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
     RESP, .rc = GW_ECLTE},
    /* RFC 9110 8.6: identical repeated Content-Length values may be accepted. */
    {"response equal CLs", IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
     RESP, .rc = DONE, .body = B_LEN, .cl = 5},
    {"response different CLs",
     IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
     RESP, .rc = GW_ECLDUP},
    {"response CL 0", IN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), RESP, .rc = DONE,
     .body = B_CL0, .ka = YES},
    {"response CL +5", IN("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"), RESP,
     .rc = GW_ECLINVALID},
    {"response CL abc", IN("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"), RESP,
     .rc = GW_ECLINVALID},
    {"response CL overflow", IN("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n"),
     RESP, .rc = GW_ECLOVERFLOW},
    {"empty reason", IN("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"), RESP, .rc = DONE,
     .status = 200, .reason = ""},
    {"reason with SP HT obs-text", IN("HTTP/1.1 404 Not\tFound \xff\r\n\r\n"), RESP, .rc = DONE,
     .status = 404, .reason = "Not\tFound \xff"},
    {"1.0 response with CL", IN("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"), RESP,
     .rc = DONE, .ver = V10, .tail = 2, .body = B_LEN, .cl = 2, .ka = NO},
    {"1.0 response keep-alive",
     IN("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n"),
     RESP, .rc = DONE, .ver = V10, .ka = YES},
    {"1.0 response no headers", IN("HTTP/1.0 200 OK\r\n\r\n"), RESP, .rc = DONE, .ver = V10,
     .body = B_EOF, .ka = NO},
    {"1.1 response close", IN("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n"),
     RESP, .rc = DONE, .body = B_LEN, .cl = 2, .ka = NO},
    {"response status 599", IN("HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n"), RESP, .rc = DONE,
     .status = 599},
    {"response HTTP/1.2", IN("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n"), RESP, .rc = DONE,
     .ver = V11},
    {"response incomplete", IN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"), RESP,
     .rc = PARTIAL},
    {"status 600", IN("HTTP/1.1 600 X\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"status 099", IN("HTTP/1.1 099 X\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"status without SP", IN("HTTP/1.1 200\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"status 2 digits", IN("HTTP/1.1 20 OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"status 4 digits", IN("HTTP/1.1 2000 OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"status 20x", IN("HTTP/1.1 20x OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"HTTP/2 status", IN("HTTP/2 200 OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"HTTP/2.0 status", IN("HTTP/2.0 200 OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE,
     .alt = {GW_EVERSIONUNSUP}},
    {"lowercase http status", IN("http/1.1 200 OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE,
     .alt = {GW_EVERSION}},
    {"status leading space", IN(" HTTP/1.1 200 OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"status two spaces", IN("HTTP/1.1  200 OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"CRLF before status line", IN("\r\nHTTP/1.1 200 OK\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE},
    {"status bare LF", IN("HTTP/1.1 200 OK\n\r\n"), RESP, .rc = GW_EBARELF},
    {"NUL in reason", IN("HTTP/1.1 200 O\0K\r\n\r\n"), RESP, .rc = GW_ESTATUSLINE,
     .alt = {GW_ECTL}},
    {"CR in reason", IN("HTTP/1.1 200 OK\r\r\n\r\n"), RESP, .rc = GW_EBARECR,
     .alt = {GW_ESTATUSLINE}},
    {"response SP colon", IN("HTTP/1.1 200 OK\r\nX : y\r\n\r\n"), RESP, .rc = GW_EHDRCOLONWS},
    {"response obs-fold", IN("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n"), RESP, .rc = GW_EOBSFOLD},
    {"response NUL value", IN("HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n"), RESP, .rc = GW_EHDRVALUE,
     .alt = {GW_ECTL}},
    {"response bare LF header", IN("HTTP/1.1 200 OK\r\nX: y\n\r\n"), RESP, .rc = GW_EBARELF},
    {"response TE chunked twice",
     IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
     RESP, .rc = GW_ETEINVALID},
    {"status line over limit", IN("HTTP/1.1 200 OK\r\n\r\n"), RESP, LIM(10, 0, 0),
     .rc = GW_ESTATUSLINE, .alt = {GW_EURITOOLONG}},
    {"bare LF after a too-long status line", IN("HTTP/1.1 200 A rather long reason phrase\n\r\n"),
     RESP, LIM(16, 0, 0), .rc = GW_ESTATUSLINE, .alt = {GW_EURITOOLONG}},
    {"response too many headers", IN("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n"), RESP,
     LIM(0, 0, 1), .rc = GW_ETOOMANYHDRS},
    {"response header block over limit", IN("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n"), RESP,
     LIM(0, 8, 0), .rc = GW_EHDRTOOLARGE},
};
/* clang-format on */

#define NUM_PARSER_CASES (sizeof(parser_cases) / sizeof(parser_cases[0]))

#endif

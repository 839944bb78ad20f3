/*
 * HTTP/1.1 message-head parser: every row of parser_cases.h parsed whole, split in two at
 * every offset and one byte at a time, each call on a fresh exactly-sized copy of the bytes
 * (the buffer may move between calls; ASan catches a read past len or of a freed copy);
 * pipelined streams driven through parser and chunked decoder; the default limits at their
 * edges.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http1/chunked.h"
#include "http1/parser.h"

#include "parser_check.h"

enum mode {
    M_WHOLE,         /* one call with every byte */
    M_SPLIT,         /* len = k, then len = n */
    M_BYTES,         /* len = 1, 2, ..., n */
    M_BYTES_INPLACE, /* as M_BYTES, one buffer that does not move (large inputs) */
};

static const char *const mode_names[] = {"whole", "split", "bytes", "bytes-inplace"};

static size_t next_len(enum mode md, size_t k, size_t cur, size_t n, int first)
{
    switch (md) {
    case M_SPLIT:
        return first ? k : n;
    case M_BYTES:
    case M_BYTES_INPLACE:
        return first ? (n ? 1 : 0) : cur + 1;
    case M_WHOLE:
    default:
        return n;
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* Runs one row in one mode. Returns the result of the last call; *why is set when a DONE
 * result breaks an expectation or an invariant. */
static int run_case(const struct pcase *c, enum mode md, size_t k, const char **why)
{
    struct gw_http1_parser p;
    struct gw_http1_message m;
    struct gw_http1_header hdrs[MAX_TEST_HEADERS];
    char *cur = NULL;
    size_t len = 0;
    int first = 1;
    int rc;

    *why = NULL;
    pcase_init(c, &p, &m, hdrs);
    if (md == M_BYTES_INPLACE) {
        cur = xmalloc(c->len);
        memcpy(cur, c->in, c->len);
    }
    do {
        len = next_len(md, k, len, c->len, first);
        first = 0;
        if (md != M_BYTES_INPLACE) {
            /* A fresh copy per call, the old one freed first: the parser may keep offsets
             * between calls, never pointers. */
            char *b = xmalloc(len);
            memcpy(b, c->in, len);
            free(cur);
            cur = b;
        }
        rc = pcase_parse(c, &p, cur, len, &m);
    } while (rc == GW_HTTP1_PARTIAL && len < c->len);
    if (rc == GW_HTTP1_DONE)
        *why = check_done(c, &m, cur, len);
    free(cur);
    return rc;
}

static unsigned report_failure(const struct pcase *c, size_t idx, enum mode md, size_t k, int rc,
                               const char *why)
{
    char esc[1024];
    escape_bytes(c->in, c->len, esc, sizeof(esc));
    fprintf(stderr, "FAIL case %zu '%s' [%s k=%zu]: got %s, expected %s%s%s\n  input: \"%s\"\n",
            idx, c->name, mode_names[md], k, rc_name(rc), rc_name(c->rc), why ? ": " : "",
            why ? why : "", esc);
    return 1;
}

/* Runs a row in every mode. Returns the number of failures (at most one is printed). */
static unsigned check_case(const struct pcase *c, size_t idx, bool every_split)
{
    const char *why;
    int whole = run_case(c, M_WHOLE, c->len, &why);

    if (!rc_accepted(c, whole) || why)
        return report_failure(c, idx, M_WHOLE, c->len, whole, why);
    if (whole != c->rc)
        printf("note: case '%s' answers %s (row prefers %s)\n", c->name, rc_name(whole),
               rc_name(c->rc));
    if (whole < 0 && (gw_err_http_status(whole) < 400 || gw_err_http_status(whole) > 599 ||
                      strcmp(gw_err_name(whole), "UNKNOWN") == 0))
        return report_failure(c, idx, M_WHOLE, c->len, whole, "error outside the table");

    size_t step = every_split ? 1 : (c->len / 97 + 1);
    for (size_t k = 0; k < c->len; k += step) {
        int rc = run_case(c, M_SPLIT, k, &why);
        if (rc != whole || why)
            return report_failure(c, idx, M_SPLIT, k, rc, why ? why : "differs from whole");
    }
    enum mode bytes = every_split ? M_BYTES : M_BYTES_INPLACE;
    int rc = run_case(c, bytes, 0, &why);
    if (rc != whole || why)
        return report_failure(c, idx, bytes, 0, rc, why ? why : "differs from whole");
    return 0;
}

static void test_table(void **state)
{
    (void)state;
    unsigned failures = 0;
    size_t requests = 0;
    for (size_t i = 0; i < NUM_PARSER_CASES; i++) {
        requests += !parser_cases[i].resp;
        failures += check_case(&parser_cases[i], i, true);
    }
    printf("parser table: %zu cases (%zu requests, %zu responses), %u failing\n", NUM_PARSER_CASES,
           requests, NUM_PARSER_CASES - requests, failures);
    assert_true(NUM_PARSER_CASES >= 150);
    assert_int_equal(failures, 0);
}

/* ---- the default limits at their edges (inputs built at run time) ---- */

static char *build_request_line(size_t line_len, bool crlf, size_t *n)
{
    /* "GET /aaa...a HTTP/1.1\r\n" of exactly line_len bytes, then a Host field. */
    const char *host = "Host: a\r\n\r\n";
    size_t total = line_len + strlen(host);
    char *s = xmalloc(total);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', line_len - 5 - 11);
    memcpy(s + line_len - 11, " HTTP/1.1\r\n", 11);
    if (!crlf) {
        *n = line_len - 2;
        return s;
    }
    memcpy(s + line_len, host, strlen(host));
    *n = total;
    return s;
}

static char *build_headers(size_t count, size_t block_len, size_t *n)
{
    /* Request line, Host, count - 1 fields "X: v", the last one padded so the header block
     * (Host through the final CRLF) is block_len bytes when block_len is non-zero. */
    size_t cap = 64 + count * 16 + block_len;
    char *s = xmalloc(cap);
    size_t o = 0;
    memcpy(s, "GET / HTTP/1.1\r\nHost: a\r\n", 25);
    o = 25;
    for (size_t i = 1; i < count; i++) {
        memcpy(s + o, "X: v\r\n", 6);
        o += 6;
    }
    if (block_len) {
        size_t used = o - 16 + 2 + 5; /* block so far, final CRLF, "Y: " and CRLF */
        assert_true(block_len >= used);
        memcpy(s + o, "Y: ", 3);
        memset(s + o + 3, 'v', block_len - used);
        o += 3 + block_len - used;
        memcpy(s + o, "\r\n", 2);
        o += 2;
    }
    memcpy(s + o, "\r\n", 2);
    o += 2;
    *n = o;
    return s;
}

static void test_default_limits(void **state)
{
    (void)state;
    struct {
        const char *name;
        char *in;
        size_t len;
        int rc;
    } big[8];
    size_t nb = 0;
    unsigned failures = 0;

    big[nb].name = "request line of 8192 bytes";
    big[nb].in = build_request_line(GW_HTTP1_DEFAULT_MAX_REQUEST_LINE, true, &big[nb].len);
    big[nb++].rc = GW_HTTP1_DONE;
    big[nb].name = "request line of 8193 bytes";
    big[nb].in = build_request_line(GW_HTTP1_DEFAULT_MAX_REQUEST_LINE + 1, true, &big[nb].len);
    big[nb++].rc = GW_EURITOOLONG;
    big[nb].name = "request line of 9000 bytes without CRLF";
    big[nb].in = build_request_line(9002, false, &big[nb].len);
    big[nb++].rc = GW_EURITOOLONG;
    big[nb].name = "100 header fields";
    big[nb].in = build_headers(GW_HTTP1_DEFAULT_MAX_HEADERS, 0, &big[nb].len);
    big[nb++].rc = GW_HTTP1_DONE;
    big[nb].name = "101 header fields";
    big[nb].in = build_headers(GW_HTTP1_DEFAULT_MAX_HEADERS + 1, 0, &big[nb].len);
    big[nb++].rc = GW_ETOOMANYHDRS;
    big[nb].name = "header block of 32768 bytes";
    big[nb].in = build_headers(2, GW_HTTP1_DEFAULT_MAX_HEADER_BYTES, &big[nb].len);
    big[nb++].rc = GW_HTTP1_DONE;
    big[nb].name = "header block of 32769 bytes";
    big[nb].in = build_headers(2, GW_HTTP1_DEFAULT_MAX_HEADER_BYTES + 1, &big[nb].len);
    big[nb++].rc = GW_EHDRTOOLARGE;

    for (size_t i = 0; i < nb; i++) {
        struct pcase c = {.name = big[i].name, .in = big[i].in, .len = big[i].len, .rc = big[i].rc};
        failures += check_case(&c, i, false);
        free(big[i].in);
    }
    assert_int_equal(failures, 0);
}

/* ---- pipelining: a connection's byte stream through parser and chunked decoder ---- */

struct pipe_msg {
    const char *target;
    const char *body;
};

struct pipe_case {
    const char *name;
    const char *in;
    size_t len;
    struct pipe_msg msgs[4];
    size_t nmsgs;
    int end_rc; /* result once the stream is exhausted: PARTIAL or the error of the last */
};

static const struct pipe_case pipe_cases[] = {
    {"get, length, chunked, 1.0 after CRLF",
     IN("GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nworld\r\n3;x=y\r\n!!!\r\n0\r\nT: v\r\n\r\n"
        "\r\nGET /d HTTP/1.0\r\n\r\n"),
     {{"/a", ""}, {"/b", "hello"}, {"/c", "world!!!"}, {"/d", ""}},
     4,
     GW_HTTP1_PARTIAL},
    {"body that looks like a request",
     IN("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 19\r\n\r\nGET /y HTTP/1.1\r\n\r\n"
        "GET /z HTTP/1.1\r\nHost: a\r\n\r\n"),
     {{"/x", "GET /y HTTP/1.1\r\n\r\n"}, {"/z", ""}},
     2,
     GW_HTTP1_PARTIAL},
    {"CL.TE smuggle after a good request",
     IN("GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n"),
     {{"/a", ""}},
     1,
     GW_ECLTE},
    {"chunked body then next request in the same segment",
     IN("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1\r\nG\r\n0\r\n\r\nGET /n HTTP/1.1\r\nHost: a\r\n\r\nGET /m HTTP/1.1\r\nHost: a\r\n"),
     {{"/c", "G"}, {"/n", ""}},
     2,
     GW_HTTP1_PARTIAL},
    {"bad chunk ends the stream",
     IN("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nabc\r\n0\r\n\r\n"),
     {{"/c", "ab"}},
     1,
     GW_ECHUNKCRLF},
};

enum {
    PH_HEAD,
    PH_LENGTH,
    PH_CHUNKED
};

/* Feeds the stream `step` bytes at a time, each time on a fresh copy of all bytes received
 * so far, and checks the messages it yields. */
static unsigned run_pipe(const struct pipe_case *pc, size_t step)
{
    struct gw_http1_parser p;
    struct gw_http1_message m;
    struct gw_http1_header hdrs[MAX_TEST_HEADERS];
    struct gw_chunked_decoder d;
    char targets[4][64];
    char bodies[4][64];
    size_t body_len = 0;
    size_t nmsgs = 0;
    size_t msg_start = 0, pos = 0, delivered = 0;
    uint64_t remaining = 0;
    int phase = PH_HEAD;
    int rc = GW_HTTP1_PARTIAL;
    char *buf = NULL;
    const char *fail = NULL;

    memset(&m, 0xA5, sizeof(m));
    m.headers = hdrs;
    m.headers_capacity = MAX_TEST_HEADERS;
    gw_http1_parser_init_request(&p, NULL);
    while (delivered < pc->len && rc >= 0) {
        delivered = delivered + step < pc->len ? delivered + step : pc->len;
        char *b = xmalloc(delivered);
        memcpy(b, pc->in, delivered);
        free(buf);
        buf = b;
        for (;;) {
            if (phase == PH_HEAD) {
                rc = gw_http1_parse_request(&p, buf + msg_start, delivered - msg_start, &m);
                if (rc != GW_HTTP1_DONE)
                    break;
                if (nmsgs == 4) {
                    fail = "too many messages";
                    break;
                }
                snprintf(targets[nmsgs], sizeof(targets[0]), "%.*s", (int)m.target_len, m.target);
                body_len = 0;
                bodies[nmsgs][0] = '\0';
                nmsgs++;
                pos = msg_start + m.head_len;
                if (m.body == GW_BODY_LENGTH) {
                    remaining = m.content_length;
                    phase = PH_LENGTH;
                } else if (m.body == GW_BODY_CHUNKED) {
                    gw_chunked_init(&d, 0, 0);
                    phase = PH_CHUNKED;
                } else {
                    msg_start = pos;
                    gw_http1_parser_init_request(&p, NULL);
                }
                continue;
            }
            const char *data = NULL;
            size_t data_len = 0, consumed = 0;
            if (phase == PH_LENGTH) {
                size_t take = delivered - pos;
                if (take > remaining)
                    take = (size_t)remaining;
                data = buf + pos;
                data_len = take;
                consumed = take;
                remaining -= take;
                rc = remaining ? GW_HTTP1_PARTIAL : GW_CHUNKED_DONE;
            } else {
                if (pos == delivered) {
                    rc = GW_HTTP1_PARTIAL;
                    break;
                }
                rc = gw_chunked_decode(&d, buf + pos, delivered - pos, &consumed, &data, &data_len);
                if (rc != GW_CHUNKED_DATA)
                    data_len = 0;
            }
            if (rc < 0)
                break;
            if (body_len + data_len >= sizeof(bodies[0])) {
                fail = "body too long";
                break;
            }
            if (data_len)
                memcpy(bodies[nmsgs - 1] + body_len, data, data_len);
            body_len += data_len;
            bodies[nmsgs - 1][body_len] = '\0';
            pos += consumed;
            if (rc == GW_CHUNKED_DONE) {
                phase = PH_HEAD;
                msg_start = pos;
                rc = GW_HTTP1_PARTIAL;
                gw_http1_parser_init_request(&p, NULL);
                continue;
            }
            if (pos == delivered) {
                rc = GW_HTTP1_PARTIAL;
                break;
            }
        }
        if (fail)
            break;
    }
    free(buf);

    if (!fail && rc != pc->end_rc)
        fail = "stream ended with the wrong result";
    if (!fail && nmsgs != pc->nmsgs)
        fail = "wrong number of messages";
    for (size_t i = 0; !fail && i < nmsgs; i++) {
        if (strcmp(targets[i], pc->msgs[i].target) != 0 || strcmp(bodies[i], pc->msgs[i].body))
            fail = "wrong target or body";
    }
    if (!fail)
        return 0;
    fprintf(stderr, "FAIL pipeline '%s' step %zu: %s (rc %s, %zu messages)\n", pc->name, step, fail,
            rc_name(rc), nmsgs);
    for (size_t i = 0; i < nmsgs; i++)
        fprintf(stderr, "  message %zu: %s body '%s'\n", i, targets[i], bodies[i]);
    return 1;
}

static void test_pipelined(void **state)
{
    (void)state;
    unsigned failures = 0;
    for (size_t i = 0; i < sizeof(pipe_cases) / sizeof(pipe_cases[0]); i++) {
        const struct pipe_case *pc = &pipe_cases[i];
        for (size_t step = 1; step <= pc->len; step++)
            failures += run_pipe(pc, step);
    }
    assert_int_equal(failures, 0);
}

/* Two requests in one buffer, the second parsed at buf + head_len + body of the first. */
static void test_pipelined_offsets(void **state)
{
    (void)state;
    static const char in[] = "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                             "GET /2 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";
    struct gw_http1_parser p;
    struct gw_http1_message m = {0};
    struct gw_http1_header hdrs[8];
    m.headers = hdrs;
    m.headers_capacity = 8;

    gw_http1_parser_init_request(&p, NULL);
    assert_int_equal(gw_http1_parse_request(&p, in, sizeof(in) - 1, &m), GW_HTTP1_DONE);
    assert_int_equal(m.body, GW_BODY_LENGTH);
    assert_int_equal(m.content_length, 3);
    assert_true(m.keep_alive);
    size_t next = m.head_len + (size_t)m.content_length;
    assert_memory_equal(in + m.head_len, "abc", 3);

    gw_http1_parser_init_request(&p, NULL);
    assert_int_equal(gw_http1_parse_request(&p, in + next, sizeof(in) - 1 - next, &m),
                     GW_HTTP1_DONE);
    assert_int_equal(m.target_len, 2);
    assert_memory_equal(m.target, "/2", 2);
    assert_ptr_equal(m.method, in + next);
    assert_int_equal(m.head_len, sizeof(in) - 1 - next);
    assert_int_equal(m.num_headers, 2);
    assert_memory_equal(m.headers[0].value, "b", 1);
    assert_false(m.keep_alive);
}

static void test_method_id(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        enum gw_http_method id;
    } t[] = {
        {"GET", GW_METHOD_GET},         {"HEAD", GW_METHOD_HEAD},
        {"POST", GW_METHOD_POST},       {"PUT", GW_METHOD_PUT},
        {"DELETE", GW_METHOD_DELETE},   {"CONNECT", GW_METHOD_CONNECT},
        {"OPTIONS", GW_METHOD_OPTIONS}, {"TRACE", GW_METHOD_TRACE},
        {"PATCH", GW_METHOD_PATCH},     {"get", GW_METHOD_OTHER},
        {"GETS", GW_METHOD_OTHER},      {"GE", GW_METHOD_OTHER},
        {"", GW_METHOD_OTHER},          {"PROPFIND", GW_METHOD_OTHER},
        {"Post", GW_METHOD_OTHER},      {"CONNECTX", GW_METHOD_OTHER},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(gw_http_method_id(t[i].s, strlen(t[i].s)), t[i].id);
}

static void test_find_header(void **state)
{
    (void)state;
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nHost2: b\r\n\r\n";
    struct gw_http1_parser p;
    struct gw_http1_message m = {0};
    struct gw_http1_header hdrs[8];
    m.headers = hdrs;
    m.headers_capacity = 8;
    gw_http1_parser_init_request(&p, NULL);
    /* Two Host-like names: only the exact one counts as Host. */
    assert_int_equal(gw_http1_parse_request(&p, in, sizeof(in) - 1, &m), GW_HTTP1_DONE);
    assert_int_equal(gw_http1_find_header(&m, "host", 4), 0);
    assert_int_equal(gw_http1_find_header(&m, "HOST", 4), 0);
    assert_int_equal(gw_http1_find_header(&m, "X-a", 3), 1);
    assert_int_equal(gw_http1_find_header(&m, "host2", 5), 3);
    assert_int_equal(gw_http1_find_header(&m, "Hos", 3), -1);
    assert_int_equal(gw_http1_find_header(&m, "X-Missing", 9), -1);
    assert_int_equal(m.host_index, 0);
}

/* The Origin header's index, found in the framing pass: none, one (any case, among other
 * names of six bytes: Accept, Expect, Cookie), more than one (-2), and the same again from
 * gw_http1_origin_index for an edited list. */
static void test_origin_index(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int index;
    } t[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n", -1},
        {"GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nOrigin: https://a.example\r\n\r\n", 2},
        {"GET / HTTP/1.1\r\noRiGiN: null\r\nCookie: a=1\r\nExpect: 100-continue\r\nHost: a\r\n\r\n",
         0},
        {"GET / HTTP/1.1\r\nOrigin: https://a.example\r\nHost: a\r\nOrigin: "
         "https://b.example\r\n\r\n",
         -2},
        {"GET / HTTP/1.1\r\nOrigins: x\r\nOrigi: x\r\nHost: a\r\n\r\n", -1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct gw_http1_parser p;
        struct gw_http1_message m = {0};
        struct gw_http1_header hdrs[8];
        m.headers = hdrs;
        m.headers_capacity = 8;
        gw_http1_parser_init_request(&p, NULL);
        assert_int_equal(gw_http1_parse_request(&p, t[i].in, strlen(t[i].in), &m), GW_HTTP1_DONE);
        assert_int_equal(m.origin_index, t[i].index);
        assert_int_equal(gw_http1_origin_index(&m), t[i].index);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_pipelined),    cmocka_unit_test(test_pipelined_offsets),
        cmocka_unit_test(test_method_id),    cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_origin_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

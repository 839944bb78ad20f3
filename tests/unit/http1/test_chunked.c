/*
 * Chunked transfer-coding decoder (RFC 9112 7.1): a table of bodies, each decoded whole,
 * split in two at every offset and one byte at a time; each call gets a fresh exactly-sized
 * copy of the unconsumed bytes, then the same again with those bytes ending at a PROT_NONE
 * page. Checked: the concatenated payload, the final result, the bytes consumed at DONE
 * (what follows belongs to the next message) and the zero-copy span contract.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http1/chunked.h"

#include "../guard_page.h"

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define DATA(s) .data = (s), .data_len = sizeof(s) - 1
#define DONE GW_CHUNKED_DONE
#define PARTIAL GW_CHUNKED_PARTIAL

struct ccase {
    const char *name;
    const char *in;
    size_t len;
    uint32_t max_line;    /* 0: default */
    uint32_t max_trailer; /* 0: default */
    int rc;               /* DONE, PARTIAL (input ends inside the body) or GW_E* */
    int alt[2];
    const char *data; /* payload produced before the result (NULL: none) */
    size_t data_len;
    size_t tail; /* DONE: bytes after the body, left alone */
};

/* clang-format off */
static const struct ccase chunked_cases[] = {
    /* ---- valid ---- */
    {"last chunk only", IN("0\r\n\r\n"), .rc = DONE},
    {"one chunk", IN("5\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"two chunks", IN("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), .rc = DONE, DATA("hello world")},
    {"uppercase hex", IN("A\r\n0123456789\r\n0\r\n\r\n"), .rc = DONE, DATA("0123456789")},
    {"lowercase hex", IN("a\r\n0123456789\r\n0\r\n\r\n"), .rc = DONE, DATA("0123456789")},
    {"two-digit size", IN("1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"), .rc = DONE,
     DATA("abcdefghijklmnopqrstuvwxyz")},
    {"leading zeros", IN("0005\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"last chunk 000", IN("000\r\n\r\n"), .rc = DONE},
    /* 1*HEXDIG: the value, not the digit count, decides overflow. */
    {"23 digits of leading zeros", IN("00000000000000000000005\r\nhello\r\n0\r\n\r\n"), .rc = DONE,
     DATA("hello")},
    {"ext name=token", IN("5;foo=bar\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"ext name only", IN("5;foo\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"ext quoted value", IN("5;foo=\"bar baz\"\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"ext BWS SP", IN("5 ; foo = bar\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"ext BWS HT", IN("5\t;\tfoo\t=\tbar\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"two exts", IN("5;a=1;b=2\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"ext on last chunk", IN("0;x=y\r\n\r\n"), .rc = DONE},
    {"ext quoted-pair", IN("5;a=\"x\\\"y\"\r\nhello\r\n0\r\n\r\n"), .rc = DONE, DATA("hello")},
    {"ext obs-text in quotes", IN("5;a=\"\x80\xff\"\r\nhello\r\n0\r\n\r\n"), .rc = DONE,
     DATA("hello")},
    {"ext name of all tchar", IN("5;!#$%&'*+-.^_`|~=v\r\nhello\r\n0\r\n\r\n"), .rc = DONE,
     DATA("hello")},
    {"one trailer", IN("0\r\nX-T: v\r\n\r\n"), .rc = DONE},
    {"two trailers", IN("1\r\na\r\n0\r\nA: 1\r\nB: 2\r\n\r\n"), .rc = DONE, DATA("a")},
    {"trailer empty value", IN("0\r\nA:\r\n\r\n"), .rc = DONE},
    {"trailer obs-text and HT", IN("0\r\nA: \x80\tz\r\n\r\n"), .rc = DONE},
    {"next request left alone", IN("0\r\n\r\nGET / HTTP/1.1\r\n"), .rc = DONE, .tail = 16},
    {"trailers then next bytes", IN("0\r\nA: 1\r\n\r\nXYZ"), .rc = DONE, .tail = 3},
    {"data with CRLF inside", IN("4\r\n\r\n\r\n\r\n0\r\n\r\n"), .rc = DONE, DATA("\r\n\r\n")},
    {"data with NUL", IN("3\r\na\0b\r\n0\r\n\r\n"), .rc = DONE, DATA("a\0b")},
    {"data that looks like a chunk", IN("5\r\n0\r\n\r\n\r\n0\r\n\r\n"), .rc = DONE,
     DATA("0\r\n\r\n")},
    {"one-byte chunks", IN("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"), .rc = DONE, DATA("abc")},
    {"trailer at the limit", IN("0\r\nA: 1\r\n\r\n"), .max_trailer = 8, .rc = DONE},
    {"size line within the limit", IN("5;abcdefgh\r\nhello\r\n0\r\n\r\n"), .max_line = 16,
     .rc = DONE, DATA("hello")},

    /* ---- incomplete ---- */
    {"empty", IN(""), .rc = PARTIAL},
    {"inside data", IN("5\r\nhel"), .rc = PARTIAL, DATA("hel")},
    {"after data CRLF", IN("5\r\nhello\r\n"), .rc = PARTIAL, DATA("hello")},
    {"after last chunk", IN("0\r\n"), .rc = PARTIAL},
    {"final CR", IN("0\r\n\r"), .rc = PARTIAL},
    {"inside quoted ext", IN("5;a=\"x"), .rc = PARTIAL},
    {"largest size accepted (2^60 - 1)", IN("fffffffffffffff\r\n"), .rc = PARTIAL},

    /* ---- chunk size ---- */
    {"empty size", IN("\r\n"), .rc = GW_ECHUNKSIZE},
    {"non-hex size", IN("g\r\n"), .rc = GW_ECHUNKSIZE},
    {"negative size", IN("-5\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKSIZE},
    {"plus size", IN("+5\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKSIZE},
    {"0x prefix", IN("0x5\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKSIZE, .alt = {GW_ECHUNKEXT}},
    {"leading space", IN(" 5\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKSIZE},
    {"trailing space without ext", IN("5 \r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKSIZE,
     .alt = {GW_ECHUNKEXT}},
    {"bare LF after size", IN("5\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKSIZE},
    {"bare CR after size", IN("5\rhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKSIZE},
    {"missing size after chunk", IN("5\r\nhello\r\n\r\n"), .rc = GW_ECHUNKSIZE, DATA("hello")},
    {"size 2^60", IN("1000000000000000\r\n"), .rc = GW_ECHUNKOVERFLOW},
    {"size 2^64 - 1", IN("ffffffffffffffff\r\n"), .rc = GW_ECHUNKOVERFLOW},
    {"size 2^64 (wraps to 0)", IN("10000000000000000\r\n\r\n"), .rc = GW_ECHUNKOVERFLOW},
    {"size 2^64 + 5 (wraps to 5)", IN("10000000000000005\r\nhello\r\n0\r\n\r\n"),
     .rc = GW_ECHUNKOVERFLOW},
    {"size of 17 f", IN("fffffffffffffffff\r\n"), .rc = GW_ECHUNKOVERFLOW},
    {"size line over limit", IN("0000000005\r\nhello\r\n0\r\n\r\n"), .max_line = 8,
     .rc = GW_ECHUNKSIZE, .alt = {GW_ECHUNKOVERFLOW}},

    /* ---- data CRLF ---- */
    {"junk after data", IN("5\r\nhelloX\r\n0\r\n\r\n"), .rc = GW_ECHUNKCRLF, DATA("hello")},
    {"bare LF after data", IN("5\r\nhello\n0\r\n\r\n"), .rc = GW_ECHUNKCRLF, DATA("hello")},
    {"CR without LF after data", IN("5\r\nhello\r0\r\n\r\n"), .rc = GW_ECHUNKCRLF,
     DATA("hello")},
    {"size shorter than data", IN("2\r\nabc\r\n0\r\n\r\n"), .rc = GW_ECHUNKCRLF, DATA("ab")},

    /* ---- extensions ---- */
    {"empty ext", IN("5;\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext without name", IN("5;=x\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext empty value", IN("5;a=\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext unterminated quote", IN("5;a=\"x\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext space in name", IN("5;a b\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext space in value", IN("5;a=b c\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext CTL in value", IN("5;a=\x01\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext CTL in quotes", IN("5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext CTL after backslash", IN("5;a=\"x\\\x01\"\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext trailing semicolon", IN("5;a=1;\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext a=b=c", IN("5;a=b=c\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext bare LF", IN("5;a\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext NUL", IN("5;a\0\r\nhello\r\n0\r\n\r\n"), .rc = GW_ECHUNKEXT},
    {"ext line over limit", IN("5;abcdefghijk\r\nhello\r\n0\r\n\r\n"), .max_line = 8,
     .rc = GW_ECHUNKEXT, .alt = {GW_ECHUNKSIZE}},
    {"ext over limit before CRLF", IN("5;abcdefghijklmnop"), .max_line = 8, .rc = GW_ECHUNKEXT,
     .alt = {GW_ECHUNKSIZE}},

    /* ---- trailers ---- */
    {"trailer SP before colon", IN("0\r\nX : y\r\n\r\n"), .rc = GW_ETRAILER},
    {"trailer without colon", IN("0\r\nNoColon\r\n\r\n"), .rc = GW_ETRAILER},
    {"trailer obs-fold", IN("0\r\nA: 1\r\n folded\r\n\r\n"), .rc = GW_ETRAILER},
    {"trailer NUL", IN("0\r\nX: a\0b\r\n\r\n"), .rc = GW_ETRAILER},
    {"trailer DEL", IN("0\r\nX: a\x7f\r\n\r\n"), .rc = GW_ETRAILER},
    {"trailer bare LF", IN("0\r\nX: a\n\r\n"), .rc = GW_ETRAILER},
    {"trailer bare CR", IN("0\r\nX: a\rb\r\n\r\n"), .rc = GW_ETRAILER},
    {"trailer empty name", IN("0\r\n: v\r\n\r\n"), .rc = GW_ETRAILER},
    {"final bare LF", IN("0\r\n\n"), .rc = GW_ETRAILER},
    {"final CR CR", IN("0\r\n\r\r"), .rc = GW_ETRAILER},
    {"trailer over limit", IN("0\r\nX-Long-Trailer: 0123456789\r\n\r\n"), .max_trailer = 16,
     .rc = GW_ETRAILERTOOLARGE},
    {"trailer over limit before CRLF", IN("0\r\nX-Long-Trailer: 0123456789abcdef"),
     .max_trailer = 16, .rc = GW_ETRAILERTOOLARGE},
    {"trailer one over the limit", IN("0\r\nA: 1\r\n\r\n"), .max_trailer = 7,
     .rc = GW_ETRAILERTOOLARGE},
};
/* clang-format on */

#define NUM_CHUNKED_CASES (sizeof(chunked_cases) / sizeof(chunked_cases[0]))

/* ---- where each call's bytes live ---- */

/* With a guard: the bytes end at the PROT_NONE page. Without: a fresh exact malloc. */
static char *place(struct guard *g, const char *src, size_t n)
{
    if (g)
        return guard_place(g, src, n);
    char *b = malloc(n ? n : 1);
    assert_non_null(b);
    if (n)
        memcpy(b, src, n);
    return b;
}

static void release(struct guard *g, char *b)
{
    if (!g)
        free(b);
}

/* ---- driver ---- */

enum mode {
    M_WHOLE,
    M_SPLIT,
    M_BYTES
};
static const char *const mode_names[] = {"whole", "split", "bytes"};

struct outcome {
    int rc;
    size_t consumed; /* total bytes consumed */
    char *data;      /* concatenated payload (malloc'd, len + 1 bytes) */
    size_t data_len;
    const char *why; /* contract broken */
};

static const char *rc_name(int rc)
{
    if (rc == GW_CHUNKED_DONE)
        return "DONE";
    if (rc == GW_CHUNKED_PARTIAL)
        return "PARTIAL";
    if (rc == GW_CHUNKED_DATA)
        return "DATA";
    return gw_err_name(rc);
}

/* Feeds in[0, n) in the given mode; `avail` bytes have arrived, `pos` are consumed. */
static void decode(const struct ccase *c, const char *in, size_t n, enum mode md, size_t k,
                   struct guard *g, struct outcome *o)
{
    struct gw_chunked_decoder d;
    size_t pos = 0, avail = 0;
    int first = 1;

    memset(o, 0, sizeof(*o));
    o->data = malloc(n + 1);
    assert_non_null(o->data);
    o->rc = GW_CHUNKED_PARTIAL;
    gw_chunked_init(&d, c->max_line, c->max_trailer);
    while (first || avail < n) {
        if (md == M_WHOLE)
            avail = n;
        else if (md == M_SPLIT)
            avail = first ? k : n;
        else
            avail = avail < n ? avail + 1 : n;
        first = 0;
        while (pos < avail) {
            size_t have = avail - pos;
            char *b = place(g, in + pos, have);
            const char *data = NULL;
            size_t data_len = 0, consumed = (size_t)-1;
            int rc = gw_chunked_decode(&d, b, have, &consumed, &data, &data_len);
            o->rc = rc;
            if (consumed > have) {
                o->why = "consumed more than it was given";
            } else if (rc == GW_CHUNKED_DATA) {
                if (data_len == 0 || consumed == 0)
                    o->why = "DATA without progress";
                else if (data < b || data + data_len != b + consumed)
                    o->why = "data span does not end at buf + consumed";
                else if (o->data_len + data_len > n)
                    o->why = "more payload than input";
                else {
                    memcpy(o->data + o->data_len, data, data_len);
                    o->data_len += data_len;
                }
            } else if (rc == GW_CHUNKED_PARTIAL && consumed != have) {
                o->why = "PARTIAL without consuming all input";
            }
            release(g, b);
            if (o->why || rc < 0)
                return;
            pos += consumed;
            o->consumed = pos;
            if (rc == GW_CHUNKED_DONE)
                return;
            if (rc == GW_CHUNKED_PARTIAL)
                break;
        }
    }
    /* Input exhausted without DONE: the body is incomplete. */
    o->rc = GW_CHUNKED_PARTIAL;
}

static bool accepted(const struct ccase *c, int rc)
{
    return rc == c->rc || (c->alt[0] && rc == c->alt[0]) || (c->alt[1] && rc == c->alt[1]);
}

static unsigned report_failure(const struct ccase *c, enum mode md, size_t k, bool guarded,
                               const struct outcome *o, const char *why)
{
    char esc[512];
    size_t e = 0;
    for (size_t i = 0; i < c->len && e + 5 < sizeof(esc); i++) {
        unsigned char ch = (unsigned char)c->in[i];
        if (ch >= 0x20 && ch < 0x7F)
            esc[e++] = (char)ch;
        else
            e += (size_t)snprintf(esc + e, sizeof(esc) - e, "\\x%02x", ch);
    }
    esc[e] = '\0';
    fprintf(stderr,
            "FAIL chunked '%s' [%s k=%zu%s]: got %s consumed %zu data %zu bytes, expected %s: "
            "%s\n  input: \"%s\"\n",
            c->name, mode_names[md], k, guarded ? " guard" : "", rc_name(o->rc), o->consumed,
            o->data_len, rc_name(c->rc), why, esc);
    return 1;
}

static unsigned check_one(const struct ccase *c, enum mode md, size_t k, struct guard *g,
                          const struct outcome *whole)
{
    struct outcome o;
    const char *why = NULL;
    unsigned failed = 0;

    decode(c, c->in, c->len, md, k, g, &o);
    if (o.why)
        why = o.why;
    else if (!accepted(c, o.rc))
        why = "wrong result";
    else if (whole && o.rc != whole->rc)
        why = "result differs from the whole input";
    else if (o.data_len != c->data_len || (c->data_len && memcmp(o.data, c->data, o.data_len)))
        why = "wrong payload";
    else if (o.rc == GW_CHUNKED_DONE && o.consumed != c->len - c->tail)
        why = "wrong number of bytes consumed at DONE";
    if (why)
        failed = report_failure(c, md, k, g != NULL, &o, why);
    free(o.data);
    return failed;
}

static unsigned check_case(const struct ccase *c, struct guard *g)
{
    struct outcome whole;
    decode(c, c->in, c->len, M_WHOLE, c->len, NULL, &whole);
    unsigned failed = check_one(c, M_WHOLE, c->len, NULL, NULL);
    if (!failed && whole.rc != c->rc)
        printf("note: chunked case '%s' answers %s (row prefers %s)\n", c->name, rc_name(whole.rc),
               rc_name(c->rc));
    for (size_t k = 0; !failed && k < c->len; k++)
        failed = check_one(c, M_SPLIT, k, NULL, &whole);
    if (!failed)
        failed = check_one(c, M_BYTES, 0, NULL, &whole);
    if (!failed)
        failed = check_one(c, M_WHOLE, c->len, g, &whole);
    for (size_t k = 0; !failed && k < c->len; k++)
        failed = check_one(c, M_SPLIT, k, g, &whole);
    if (!failed)
        failed = check_one(c, M_BYTES, 0, g, &whole);
    free(whole.data);
    return failed;
}

static void test_table(void **state)
{
    (void)state;
    size_t longest = 0;
    for (size_t i = 0; i < NUM_CHUNKED_CASES; i++)
        if (chunked_cases[i].len > longest)
            longest = chunked_cases[i].len;
    struct guard g;
    guard_init(&g, longest);
    unsigned failures = 0;
    for (size_t i = 0; i < NUM_CHUNKED_CASES; i++)
        failures += check_case(&chunked_cases[i], &g);
    guard_free(&g);
    printf("chunked table: %zu cases, %u failing\n", NUM_CHUNKED_CASES, failures);
    assert_true(NUM_CHUNKED_CASES >= 40);
    assert_int_equal(failures, 0);
}

/* Generated bodies: many chunks of varied sizes (every split), then the same followed by a
 * large chunk (strided splits), each ending with a trailer and the next message. */
static size_t build_body(char *in, size_t cap, char *payload, size_t *plen, int chunks, size_t big)
{
    size_t n = 0;
    uint32_t x = 12345;
    *plen = 0;
    for (int i = 0; i < chunks; i++) {
        size_t sz = (size_t)(i % 37) + 1;
        n += (size_t)snprintf(in + n, cap - n, i % 5 ? "%zx\r\n" : "%zX;i=%d\r\n", sz, i);
        for (size_t j = 0; j < sz; j++) {
            x = x * 1103515245u + 12345u;
            in[n++] = payload[(*plen)++] = (char)(x >> 16);
        }
        memcpy(in + n, "\r\n", 2);
        n += 2;
    }
    if (big) {
        n += (size_t)snprintf(in + n, cap - n, "%zx\r\n", big);
        memset(in + n, 'B', big);
        memset(payload + *plen, 'B', big);
        n += big;
        *plen += big;
        memcpy(in + n, "\r\n", 2);
        n += 2;
    }
    static const char end[] = "0\r\nTrailer: t\r\n\r\nGET / HTTP/1.1\r\n";
    memcpy(in + n, end, sizeof(end) - 1);
    return n + sizeof(end) - 1;
}

static void test_generated(void **state)
{
    (void)state;
    size_t cap = 1 << 20, n, plen;
    char *in = malloc(cap);
    char *payload = malloc(cap);
    assert_non_null(in);
    assert_non_null(payload);
    unsigned failures = 0;

    n = build_body(in, cap, payload, &plen, 120, 0);
    struct ccase small = {.name = "generated small chunks",
                          .in = in,
                          .len = n,
                          .rc = DONE,
                          .data = payload,
                          .data_len = plen,
                          .tail = 16};
    failures += check_one(&small, M_WHOLE, n, NULL, NULL);
    failures += check_one(&small, M_BYTES, 0, NULL, NULL);
    for (size_t k = 0; k < n; k++)
        failures += check_one(&small, M_SPLIT, k, NULL, NULL);

    n = build_body(in, cap, payload, &plen, 300, 200000);
    struct ccase large = {.name = "generated with a large chunk",
                          .in = in,
                          .len = n,
                          .rc = DONE,
                          .data = payload,
                          .data_len = plen,
                          .tail = 16};
    failures += check_one(&large, M_WHOLE, n, NULL, NULL);
    for (size_t k = 0; k < n; k += 4999)
        failures += check_one(&large, M_SPLIT, k, NULL, NULL);
    free(in);
    free(payload);
    assert_int_equal(failures, 0);
}

/* After DONE or an error the decoder refuses more input instead of running on. */
static void test_after_done(void **state)
{
    (void)state;
    struct gw_chunked_decoder d;
    const char *data = NULL;
    size_t consumed = 0, data_len = 0;
    gw_chunked_init(&d, 0, 0);
    assert_int_equal(gw_chunked_decode(&d, "0\r\n\r\nX", 6, &consumed, &data, &data_len), DONE);
    assert_int_equal(consumed, 5);
    assert_true(gw_chunked_decode(&d, "X", 1, &consumed, &data, &data_len) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_after_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/trace/otlp.c (the OTLP JSON an export carries, read back with jansson) and
 * the sampling decision of src/trace/trace.c (gw_trace_ratio_sampled). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/random.h"
#include "trace/context.h"
#include "trace/otlp.h"
#include "trace/trace.h"

static struct gw_trace_str put(struct gw_trace *t, const char *s)
{
    struct gw_trace_str out = {t->strs_len, (uint16_t)strlen(s)};
    memcpy(t->strs + t->strs_len, s, out.len);
    t->strs_len = (uint16_t)(t->strs_len + out.len);
    return out;
}

/* A request with a client parent, one stage and two tries (a refused connect, then a 503). */
static struct gw_trace *sample_trace(void)
{
    struct gw_trace *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->trace_id.hi = 0x4bf92f3577b34da6ull;
    t->trace_id.lo = 0xa3ce929d0e0e4736ull;
    gw_trace_id_hex(&t->trace_id, t->trace_hex);
    t->parent_id = 0x00f067aa0ba902b7ull;
    t->span_id = 0x1111111111111111ull;
    t->t_start = 1000;
    t->t_end = 9000;
    t->status = 503;
    t->error = GW_TRACE_ERR_STATUS;
    t->http_minor = 1;
    t->retries = 1;
    t->server_port = 8000;
    t->rl_outcome = GW_RL_OUTCOME_ALLOWED;
    t->tracestate = put(t, "rojo=1,congo=2");
    t->method = put(t, "GET");
    t->path = put(t, "/api/users/7");
    t->route = put(t, "/api/users");
    t->service = put(t, "users");
    t->server = put(t, "api.example.com");
    t->client = put(t, "192.0.2.1");
    t->request_id = put(t, "req-1");
    t->consumer = put(t, "we\"ird\\one");
    t->nchild = 3;
    t->child[0] = (struct gw_trace_child){.span_id = 0x2222222222222222ull,
                                          .t_start = 1100,
                                          .t_end = 1200,
                                          .name = "auth",
                                          .kind = GW_TRACE_STAGE};
    t->child[1] = (struct gw_trace_child){.span_id = 0x3333333333333333ull,
                                          .t_start = 1300,
                                          .t_end = 1400,
                                          .kind = GW_TRACE_TRY,
                                          .port = 3001,
                                          .error = GW_TRACE_ERR_CONNECT};
    t->child[1].addr = put(t, "10.0.0.1");
    t->child[2] = (struct gw_trace_child){.span_id = 0x4444444444444444ull,
                                          .t_start = 1500,
                                          .t_end = 8000,
                                          .kind = GW_TRACE_TRY,
                                          .port = 3002,
                                          .status = 503,
                                          .resend = 1,
                                          .error = GW_TRACE_ERR_STATUS};
    t->child[2].addr = put(t, "10.0.0.2");
    return t;
}

/* The first span of an export document. */
static json_t *first_span(json_t *doc)
{
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    return json_array_get(json_object_get(ss, "spans"), 0);
}

static json_t *attr(json_t *span, const char *key)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(span, "attributes"), i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0)
            return json_object_get(a, "value");
    }
    return NULL;
}

static const char *attr_str(json_t *span, const char *key)
{
    json_t *v = attr(span, key);
    return v ? json_string_value(json_object_get(v, "stringValue")) : NULL;
}

static const char *attr_int(json_t *span, const char *key)
{
    json_t *v = attr(span, key);
    return v ? json_string_value(json_object_get(v, "intValue")) : NULL;
}

static void test_export_shape(void **state)
{
    (void)state;
    struct gw_kv extra[] = {{"deployment.environment", "test"}};
    struct gw_otlp_resource res = {"edge", "1.2.3", "inst-1", extra, 1};
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    struct gw_trace *t = sample_trace();
    assert_int_equal(gw_otlp_span_count(t), 4);
    assert_int_equal(gw_otlp_begin(&b, &res), 0);
    assert_int_equal(gw_otlp_append(&b, t, 1000000000, true), 0);
    assert_int_equal(gw_otlp_append(&b, t, 1000000000, false), 0);
    assert_int_equal(gw_otlp_end(&b), 0);

    json_error_t err;
    json_t *doc = json_loadb(b.data, b.len, 0, &err);
    if (doc == NULL)
        fail_msg("not JSON: %s at %d: %.*s", err.text, err.position, (int)b.len, b.data);
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *resource = json_object_get(rs, "resource");
    assert_string_equal(attr_str(resource, "service.name"), "edge");
    assert_string_equal(attr_str(resource, "service.version"), "1.2.3");
    assert_string_equal(attr_str(resource, "service.instance.id"), "inst-1");
    assert_string_equal(attr_str(resource, "deployment.environment"), "test");
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ss, "scope"), "name")),
                        "gantry");
    json_t *spans = json_object_get(ss, "spans");
    assert_int_equal(json_array_size(spans), 8);

    json_t *server = json_array_get(spans, 0);
    assert_string_equal(json_string_value(json_object_get(server, "traceId")),
                        "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(json_string_value(json_object_get(server, "spanId")), "1111111111111111");
    assert_string_equal(json_string_value(json_object_get(server, "parentSpanId")),
                        "00f067aa0ba902b7");
    assert_string_equal(json_string_value(json_object_get(server, "traceState")), "rojo=1,congo=2");
    assert_string_equal(json_string_value(json_object_get(server, "name")), "GET /api/users");
    assert_int_equal(json_integer_value(json_object_get(server, "kind")), 2);
    assert_string_equal(json_string_value(json_object_get(server, "startTimeUnixNano")),
                        "1000001000");
    assert_string_equal(json_string_value(json_object_get(server, "endTimeUnixNano")),
                        "1000009000");
    assert_string_equal(attr_str(server, "http.request.method"), "GET");
    assert_string_equal(attr_str(server, "url.path"), "/api/users/7");
    assert_string_equal(attr_str(server, "http.route"), "/api/users");
    assert_string_equal(attr_str(server, "server.address"), "api.example.com");
    assert_string_equal(attr_int(server, "server.port"), "8000");
    assert_string_equal(attr_int(server, "http.response.status_code"), "503");
    assert_string_equal(attr_str(server, "error.type"), "503");
    assert_string_equal(attr_str(server, "gantry.consumer"), "we\"ird\\one");
    assert_string_equal(attr_str(server, "gantry.rate_limit"), "allowed");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(server, "status"), "code")),
                     2);

    json_t *stage = json_array_get(spans, 1);
    assert_string_equal(json_string_value(json_object_get(stage, "name")), "auth");
    assert_int_equal(json_integer_value(json_object_get(stage, "kind")), 1);
    assert_string_equal(json_string_value(json_object_get(stage, "parentSpanId")),
                        "1111111111111111");
    assert_string_equal(attr_str(stage, "gantry.outcome"), "passed");
    assert_null(json_object_get(stage, "status")); /* unset: left out */

    json_t *try1 = json_array_get(spans, 2);
    assert_int_equal(json_integer_value(json_object_get(try1, "kind")), 3);
    assert_string_equal(json_string_value(json_object_get(try1, "name")), "GET");
    assert_string_equal(attr_str(try1, "server.address"), "10.0.0.1");
    assert_string_equal(attr_int(try1, "server.port"), "3001");
    assert_string_equal(attr_str(try1, "error.type"), "connect_error");
    assert_null(attr(try1, "http.response.status_code"));
    assert_null(attr(try1, "http.request.resend_count"));
    json_t *try2 = json_array_get(spans, 3);
    assert_string_equal(attr_int(try2, "http.response.status_code"), "503");
    assert_string_equal(attr_int(try2, "http.request.resend_count"), "1");
    assert_string_equal(attr_str(try2, "error.type"), "503");
    /* the second record's spans follow the first's */
    assert_string_equal(json_string_value(json_object_get(json_array_get(spans, 4), "spanId")),
                        "1111111111111111");

    json_decref(doc);
    free(t);
    gw_buf_free(&b);
}

/* A gantry-started trace has no parentSpanId; a span without an error has an empty status. */
static void test_root_without_parent(void **state)
{
    (void)state;
    struct gw_otlp_resource res = {"gantry", "0", "i", NULL, 0};
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    struct gw_trace *t = sample_trace();
    t->parent_id = 0;
    t->error = GW_TRACE_ERR_NONE;
    t->status = 200;
    t->tracestate.len = 0;
    t->route.len = 0;
    t->nchild = 0;
    assert_int_equal(gw_otlp_begin(&b, &res), 0);
    assert_int_equal(gw_otlp_append(&b, t, 0, true), 0);
    assert_int_equal(gw_otlp_end(&b), 0);
    json_t *doc = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(doc);
    json_t *span = first_span(doc);
    assert_null(json_object_get(span, "parentSpanId"));
    assert_null(json_object_get(span, "traceState"));
    assert_string_equal(json_string_value(json_object_get(span, "name")), "GET");
    assert_string_equal(attr_str(span, "url.scheme"), "http");
    assert_null(json_object_get(span, "status"));
    assert_null(attr(span, "error.type"));
    json_decref(doc);
    free(t);
    gw_buf_free(&b);
}

/* A request that came in on the TLS listener says so (url.scheme). */
static void test_scheme_of_a_tls_request(void **state)
{
    (void)state;
    struct gw_otlp_resource res = {"gantry", "0", "i", NULL, 0};
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    struct gw_trace *t = sample_trace();
    t->secure = true;
    assert_int_equal(gw_otlp_begin(&b, &res), 0);
    assert_int_equal(gw_otlp_append(&b, t, 0, true), 0);
    assert_int_equal(gw_otlp_end(&b), 0);
    json_t *doc = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(doc);
    json_t *span = first_span(doc);
    assert_string_equal(attr_str(span, "url.scheme"), "https");
    json_decref(doc);
    free(t);
    gw_buf_free(&b);
}

/* The n-th span of an export document. */
static json_t *nth_span(json_t *doc, size_t n)
{
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    return json_array_get(json_object_get(ss, "spans"), n);
}

static json_t *encode_one(struct gw_buf *b, const struct gw_trace *t)
{
    struct gw_otlp_resource res = {"gantry", "0", "i", NULL, 0};
    gw_buf_init(b, 1u << 20);
    assert_int_equal(gw_otlp_begin(b, &res), 0);
    assert_int_equal(gw_otlp_append(b, t, 0, true), 0);
    assert_int_equal(gw_otlp_end(b), 0);
    json_t *doc = json_loadb(b->data, b->len, 0, NULL);
    assert_non_null(doc);
    return doc;
}

/* OpenTelemetry's HTTP conventions: a method that is not one of RFC 9110's or PATCH (or is in
 * another case) is "_OTHER", the method as sent goes in http.request.method_original, and span
 * names say "HTTP" in its place. */
static void test_unknown_method_is_other(void **state)
{
    (void)state;
    struct gw_trace *t = sample_trace();
    t->method = put(t, "PROPFIND");
    t->method_other = true;
    struct gw_buf b;
    json_t *doc = encode_one(&b, t);
    json_t *server = nth_span(doc, 0), *try = nth_span(doc, 2);
    assert_string_equal(json_string_value(json_object_get(server, "name")), "HTTP /api/users");
    assert_string_equal(attr_str(server, "http.request.method"), "_OTHER");
    assert_string_equal(attr_str(server, "http.request.method_original"), "PROPFIND");
    assert_string_equal(json_string_value(json_object_get(try, "name")), "HTTP");
    assert_string_equal(attr_str(try, "http.request.method"), "_OTHER");
    assert_string_equal(attr_str(try, "http.request.method_original"), "PROPFIND");
    json_decref(doc);
    free(t);
    gw_buf_free(&b);

    /* a known method has no method_original */
    t = sample_trace();
    doc = encode_one(&b, t);
    assert_string_equal(json_string_value(json_object_get(nth_span(doc, 0), "name")),
                        "GET /api/users");
    assert_null(attr(nth_span(doc, 0), "http.request.method_original"));
    assert_null(attr(nth_span(doc, 2), "http.request.method_original"));
    json_decref(doc);
    free(t);
    gw_buf_free(&b);
}

/* The request's query is url.query; a try says what it asked its target for in url.full
 * (scheme from the target, an IPv6 host in brackets, the path and query sent upstream). */
static void test_query_and_url_full(void **state)
{
    (void)state;
    struct gw_trace *t = sample_trace();
    t->query = put(t, "a=1&b=\"2\"");
    t->upath = put(t, "/7?a=1&b=\"2\"");
    t->child[2].tls = true;
    t->child[1].ipv6 = true;
    t->child[1].addr = put(t, "2001:db8::1");
    struct gw_buf b;
    json_t *doc = encode_one(&b, t);
    assert_string_equal(attr_str(nth_span(doc, 0), "url.query"), "a=1&b=\"2\"");
    assert_string_equal(attr_str(nth_span(doc, 2), "url.full"),
                        "http://[2001:db8::1]:3001/7?a=1&b=\"2\"");
    assert_string_equal(attr_str(nth_span(doc, 3), "url.full"),
                        "https://10.0.0.2:3002/7?a=1&b=\"2\"");
    assert_null(attr(nth_span(doc, 1), "url.full")); /* a stage */
    json_decref(doc);
    free(t);
    gw_buf_free(&b);

    /* without them (a request no try was made for, no query): neither attribute */
    t = sample_trace();
    doc = encode_one(&b, t);
    assert_null(attr(nth_span(doc, 0), "url.query"));
    assert_null(attr(nth_span(doc, 2), "url.full"));
    json_decref(doc);
    free(t);
    gw_buf_free(&b);
}

/* Strings are escaped as JSON asks (and invalid UTF-8 becomes U+FFFD, so that a collector
 * never gets invalid text); numbers of every length are written right. */
static void test_strings_and_numbers(void **state)
{
    (void)state;
    struct gw_otlp_resource res = {"g", "0", "i", NULL, 0};
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    struct gw_trace *t = sample_trace();
    t->strs_len = 0;
    t->method = put(t, "GET");
    t->path = put(t, "/a/long/path/with/\"quote\"/and\\back\x01slash/and/more");
    t->route.len = 0;
    t->consumer = put(t, "Jos\xc3\xa9 \xff\xe2\x82");
    t->server = put(t, "h\x7f\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\x80");
    t->request_id = put(t, "abcdefgh");
    t->client = put(t, "192.0.2.1");
    t->service = put(t, "svc");
    t->nchild = 0;
    t->t_start = 0;
    t->t_end = UINT64_C(9999999999999999999) - 7;
    t->status = 0;
    t->retries = 10;
    t->server_port = 9;
    assert_int_equal(gw_otlp_begin(&b, &res), 0);
    assert_int_equal(gw_otlp_append(&b, t, 7, true), 0);
    assert_int_equal(gw_otlp_end(&b), 0);
    json_error_t err;
    json_t *doc = json_loadb(b.data, b.len, 0, &err);
    if (doc == NULL)
        fail_msg("not JSON: %s: %.*s", err.text, (int)b.len, b.data);
    json_t *span = first_span(doc);
    assert_string_equal(attr_str(span, "url.path"),
                        "/a/long/path/with/\"quote\"/and\\back\x01slash/and/more");
    assert_string_equal(attr_str(span, "gantry.consumer"),
                        "Jos\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    /* DEL escaped; a 3- and a 4-byte sequence kept; a surrogate (ED A0 80) is not UTF-8 */
    assert_string_equal(attr_str(span, "server.address"),
                        "h\x7f\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(span, "startTimeUnixNano")), "7");
    assert_string_equal(json_string_value(json_object_get(span, "endTimeUnixNano")),
                        "9999999999999999999");
    assert_string_equal(attr_int(span, "gantry.retries"), "10");
    assert_string_equal(attr_int(span, "server.port"), "9");
    assert_null(attr(span, "http.response.status_code"));
    json_decref(doc);

    /* a byte to escape at every place of strings of every length up to 20 (the fast check
     * reads a string 8 bytes at a time, its end as one word) */
    t->server.len = t->client.len = t->request_id.len = t->service.len = t->consumer.len = 0;
    t->tracestate.len = 0;
    for (size_t len = 1; len <= 20; len++) {
        for (size_t at = 0; at < len; at++) {
            char str[21];
            memset(str, 'a', len);
            str[len] = '\0';
            str[at] = '"';
            t->strs_len = 0;
            t->method = put(t, "GET");
            t->path = put(t, str);
            gw_buf_reset(&b);
            assert_int_equal(gw_otlp_append(&b, t, 0, true), 0);
            json_t *one = json_loadb(b.data, b.len, 0, &err);
            if (one == NULL)
                fail_msg("not JSON (%zu, %zu): %s: %.*s", len, at, err.text, (int)b.len, b.data);
            assert_string_equal(attr_str(one, "url.path"), str);
            json_decref(one);
        }
    }
    t->strs_len = 0;
    t->method = put(t, "GET");

    /* every length of number */
    uint64_t v = 1;
    for (int d = 1; d <= 20; d++) {
        gw_buf_reset(&b);
        t->t_start = v - 1;
        t->t_end = v;
        assert_int_equal(gw_otlp_append(&b, t, 0, true), 0);
        char want[64];
        snprintf(want, sizeof want, "\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\"",
                 (unsigned long long)(v - 1), (unsigned long long)v);
        if (strstr(b.data, want) == NULL)
            fail_msg("%s not in %.*s", want, (int)b.len, b.data);
        if (d < 20)
            v *= 10;
    }

    /* every port, status and count from 1 to 65535 (put_small: 1 to 5 digits) */
    for (uint32_t n = 1; n <= 65535; n++) {
        gw_buf_reset(&b);
        t->server_port = (uint16_t)n;
        assert_int_equal(gw_otlp_append(&b, t, 0, true), 0);
        char want[64];
        snprintf(want, sizeof want, "\"server.port\",\"value\":{\"intValue\":\"%u\"}", n);
        if (memmem(b.data, b.len, want, strlen(want)) == NULL)
            fail_msg("%s not in %.*s", want, (int)b.len, b.data);
    }
    free(t);
    gw_buf_free(&b);
}

/* A proxied GET with one upstream try, as most exports carry it: no caller, no stage. */
static struct gw_trace *common_trace(void)
{
    struct gw_trace *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->trace_id.hi = 0x0af7651916cd43ddull;
    t->trace_id.lo = 0x8448eb211c80319cull;
    gw_trace_id_hex(&t->trace_id, t->trace_hex);
    t->span_id = 0xb7ad6b7169203331ull;
    t->t_start = 5000000123ull;
    t->t_end = 5000950777ull;
    t->status = 200;
    t->http_minor = 1;
    t->method = put(t, "GET");
    t->path = put(t, "/");
    t->route = put(t, "/");
    t->service = put(t, "origin");
    t->server = put(t, "bench");
    t->client = put(t, "127.0.0.1");
    t->request_id = put(t, "5d41402abc4b2a76b9719d911017c592");
    t->nchild = 1;
    t->child[0] = (struct gw_trace_child){.span_id = 0x00f067aa0ba902b7ull,
                                          .t_start = 5000100000ull,
                                          .t_end = 5000900000ull,
                                          .kind = GW_TRACE_TRY,
                                          .port = 8080,
                                          .status = 200};
    t->child[0].addr = put(t, "127.0.0.1");
    return t;
}

/* The encoder's exact bytes for two fixed records (the JSON checks above read it back; this
 * pins every byte, so that a faster encoder must write the same text). */
static void test_exact_bytes(void **state)
{
    (void)state;
    static const char want_common[] =
        "{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"b7ad6b7169203331\",\"name"
        "\":\"GET /\",\"kind\":2,\"startTimeUnixNano\":\"1796577218000000123\",\"endTimeUnixNano"
        "\":\"1796577218000950777\",\"attributes\":[{\"key\":\"http.request.method\",\"value\":{"
        "\"stringValue\":\"GET\"}},{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/\"}},{\"ke"
        "y\":\"url.scheme\",\"value\":{\"stringValue\":\"http\"}},{\"key\":\"server.address\",\"v"
        "alue\":{\"stringValue\":\"bench\"}},{\"key\":\"client.address\",\"value\":{\"stringValue"
        "\":\"127.0.0.1\"}},{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/\"}},{\"key\":"
        "\"http.response.status_code\",\"value\":{\"intValue\":\"200\"}},{\"key\":\"gantry.reques"
        "t_id\",\"value\":{\"stringValue\":\"5d41402abc4b2a76b9719d911017c592\"}},{\"key\":\"gant"
        "ry.service\",\"value\":{\"stringValue\":\"origin\"}}]},{\"traceId\":\"0af7651916cd43dd84"
        "48eb211c80319c\",\"spanId\":\"00f067aa0ba902b7\",\"parentSpanId\":\"b7ad6b7169203331\","
        "\"name\":\"GET\",\"kind\":3,\"startTimeUnixNano\":\"1796577218000100000\",\"endTimeUnixN"
        "ano\":\"1796577218000900000\",\"attributes\":[{\"key\":\"http.request.method\",\"value\""
        ":{\"stringValue\":\"GET\"}},{\"key\":\"server.address\",\"value\":{\"stringValue\":\"127"
        ".0.0.1\"}},{\"key\":\"server.port\",\"value\":{\"intValue\":\"8080\"}},{\"key\":\"http.r"
        "esponse.status_code\",\"value\":{\"intValue\":\"200\"}}]}";
    static const char want_sample[] =
        ",{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"1111111111111111\",\"par"
        "entSpanId\":\"00f067aa0ba902b7\",\"name\":\"GET /api/users\",\"traceState\":\"rojo=1,con"
        "go=2\",\"kind\":2,\"startTimeUnixNano\":\"1000001000\",\"endTimeUnixNano\":\"1000009000"
        "\",\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}}"
        ",{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/api/users/7\"}},{\"key\":\"url.sche"
        "me\",\"value\":{\"stringValue\":\"http\"}},{\"key\":\"server.address\",\"value\":{\"stri"
        "ngValue\":\"api.example.com\"}},{\"key\":\"server.port\",\"value\":{\"intValue\":\"8000"
        "\"}},{\"key\":\"client.address\",\"value\":{\"stringValue\":\"192.0.2.1\"}},{\"key\":\"h"
        "ttp.route\",\"value\":{\"stringValue\":\"/api/users\"}},{\"key\":\"http.response.status_"
        "code\",\"value\":{\"intValue\":\"503\"}},{\"key\":\"error.type\",\"value\":{\"stringValu"
        "e\":\"503\"}},{\"key\":\"gantry.request_id\",\"value\":{\"stringValue\":\"req-1\"}},{\"k"
        "ey\":\"gantry.service\",\"value\":{\"stringValue\":\"users\"}},{\"key\":\"gantry.consume"
        "r\",\"value\":{\"stringValue\":\"we\\\"ird\\\\one\"}},{\"key\":\"gantry.retries\",\"valu"
        "e\":{\"intValue\":\"1\"}},{\"key\":\"gantry.rate_limit\",\"value\":{\"stringValue\":\"al"
        "lowed\"}}],\"status\":{\"code\":2}},{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\""
        "spanId\":\"2222222222222222\",\"parentSpanId\":\"1111111111111111\",\"name\":\"auth\",\""
        "kind\":1,\"startTimeUnixNano\":\"1000001100\",\"endTimeUnixNano\":\"1000001200\",\"attri"
        "butes\":[{\"key\":\"gantry.stage\",\"value\":{\"stringValue\":\"auth\"}},{\"key\":\"gant"
        "ry.outcome\",\"value\":{\"stringValue\":\"passed\"}}]},{\"traceId\":\"4bf92f3577b34da6a3"
        "ce929d0e0e4736\",\"spanId\":\"3333333333333333\",\"parentSpanId\":\"1111111111111111\","
        "\"name\":\"GET\",\"kind\":3,\"startTimeUnixNano\":\"1000001300\",\"endTimeUnixNano\":\"1"
        "000001400\",\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":"
        "\"GET\"}},{\"key\":\"server.address\",\"value\":{\"stringValue\":\"10.0.0.1\"}},{\"key\""
        ":\"server.port\",\"value\":{\"intValue\":\"3001\"}},{\"key\":\"error.type\",\"value\":{"
        "\"stringValue\":\"connect_error\"}}],\"status\":{\"code\":2}},{\"traceId\":\"4bf92f3577b"
        "34da6a3ce929d0e0e4736\",\"spanId\":\"4444444444444444\",\"parentSpanId\":\"1111111111111"
        "111\",\"name\":\"GET\",\"kind\":3,\"startTimeUnixNano\":\"1000001500\",\"endTimeUnixNano"
        "\":\"1000008000\",\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringVa"
        "lue\":\"GET\"}},{\"key\":\"server.address\",\"value\":{\"stringValue\":\"10.0.0.2\"}},{"
        "\"key\":\"server.port\",\"value\":{\"intValue\":\"3002\"}},{\"key\":\"http.response.stat"
        "us_code\",\"value\":{\"intValue\":\"503\"}},{\"key\":\"http.request.resend_count\",\"val"
        "ue\":{\"intValue\":\"1\"}},{\"key\":\"error.type\",\"value\":{\"stringValue\":\"503\"}}]"
        ",\"status\":{\"code\":2}}";
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    struct gw_trace *t = common_trace();
    assert_int_equal(gw_otlp_append(&b, t, INT64_C(1796577213000000000), true), 0);
    if (b.len != sizeof want_common - 1 || memcmp(b.data, want_common, b.len) != 0)
        fail_msg("common: got\n%.*s", (int)b.len, b.data);
    free(t);
    gw_buf_reset(&b);
    t = sample_trace();
    assert_int_equal(gw_otlp_append(&b, t, 1000000000, false), 0);
    if (b.len != sizeof want_sample - 1 || memcmp(b.data, want_sample, b.len) != 0)
        fail_msg("sample: got\n%.*s", (int)b.len, b.data);
    free(t);
    gw_buf_free(&b);
}

/* Times: the seconds and 9 digits of nanoseconds for many values, each digit position going
 * through every digit (the fast conversion's lanes must never carry into each other). */
static void test_times(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    struct gw_trace *t = common_trace();
    t->nchild = 0;
    const int64_t shift = INT64_C(1796577213000000000);
    for (uint32_t i = 0; i < 30000; i++) {
        /* every 4-digit half and every 2-digit pair, then random ones */
        uint64_t frac =
            i < 10000 ? (uint64_t)i * 100010001u % 1000000000u : gw_random_u64() % 1000000000u;
        t->t_start = 5000000000u + frac;
        t->t_end = t->t_start + (i < 10000 ? 999999999u - frac : gw_random_u64() % 5000000000u);
        gw_buf_reset(&b);
        assert_int_equal(gw_otlp_append(&b, t, shift, true), 0);
        char want[128];
        snprintf(want, sizeof want, "\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\"",
                 (unsigned long long)((int64_t)t->t_start + shift),
                 (unsigned long long)((int64_t)t->t_end + shift));
        if (memmem(b.data, b.len, want, strlen(want)) == NULL)
            fail_msg("%s not in %.*s", want, 200, b.data);
    }
    free(t);
    gw_buf_free(&b);
}

/* TraceIdRatioBased: the share sampled matches the ratio, and the answer depends on the id
 * alone (every gantry in a call chain decides the same). */
static void test_ratio_sampling(void **state)
{
    (void)state;
    const double ratios[] = {0.0, 0.01, 0.25, 0.5, 0.9, 1.0};
    for (size_t k = 0; k < sizeof ratios / sizeof ratios[0]; k++) {
        unsigned yes = 0;
        const unsigned n = 200000;
        for (unsigned i = 0; i < n; i++) {
            struct gw_trace_id id = {gw_random_u64(), gw_random_u64()};
            bool s = gw_trace_ratio_sampled(&id, ratios[k]);
            assert_true(s == gw_trace_ratio_sampled(&id, ratios[k]));
            yes += s;
        }
        double share = (double)yes / n;
        /* 200,000 draws: the standard deviation is at most 0.0011 */
        if (share < ratios[k] - 0.006 || share > ratios[k] + 0.006)
            fail_msg("ratio %.2f sampled %.4f", ratios[k], share);
    }
    struct gw_trace_id low = {UINT64_MAX, 0}, high = {0, UINT64_MAX};
    assert_true(gw_trace_ratio_sampled(&low, 0.001));
    assert_false(gw_trace_ratio_sampled(&high, 0.999));
    assert_true(gw_trace_ratio_sampled(&high, 1.0));
    assert_false(gw_trace_ratio_sampled(&low, 0.0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_shape),
        cmocka_unit_test(test_root_without_parent),
        cmocka_unit_test(test_scheme_of_a_tls_request),
        cmocka_unit_test(test_unknown_method_is_other),
        cmocka_unit_test(test_query_and_url_full),
        cmocka_unit_test(test_strings_and_numbers),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_ratio_sampling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

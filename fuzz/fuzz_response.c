/*
 * libFuzzer target: HTTP/1.1 response heads (gw_http1_parse_response).
 *
 * Each input is parsed as the answer to a GET, a HEAD and a CONNECT, three ways each --
 * whole, split in two at an offset derived from the input, one byte at a time -- under the
 * default limits and under small limits derived from the input. Every call gets an
 * exactly-sized malloc'd copy, so AddressSanitizer reports any read past len; the results
 * must agree and every DONE must satisfy the framing invariants below. A violation traps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1/parser.h"

#include "http1_fuzz.h"

struct digest {
    int rc;
    int minor;
    int status;
    int body;
    uint32_t num_headers;
    uint32_t reason_off, reason_len;
    uint64_t head_len;
    uint64_t content_length;
    uint8_t keep_alive, upgrade;
    uint32_t fields[MAX_FIELDS][4];
};

static void check_done(const struct gw_http1_message *m, const char *buf, size_t len, uint32_t cap,
                       enum gw_http_method req)
{
    size_t head = m->head_len;
    CHECK(head >= 17 && head <= len); /* "HTTP/1.1 200 \r\n\r\n" is the shortest */
    CHECK(memcmp(buf, "HTTP/1.", 7) == 0);
    check_lines(buf, head);
    CHECK(m->minor_version == 0 || m->minor_version == 1);
    CHECK(m->status >= 100 && m->status <= 599);
    CHECK(m->reason >= buf && m->reason + m->reason_len <= buf + head);
    for (uint32_t i = 0; i < m->reason_len; i++) {
        unsigned char c = (unsigned char)m->reason[i];
        CHECK(c == '\t' || (c >= 0x20 && c != 0x7F));
    }

    check_fields(m, buf, head, cap);

    /* RFC 9112 6.3, in order. */
    size_t cl = count_fields(m, "content-length");
    size_t te = count_fields(m, "transfer-encoding");
    bool no_body = req == GW_METHOD_HEAD || m->status < 200 || m->status == 204 || m->status == 304;
    if (no_body)
        CHECK(m->body == GW_BODY_NONE);
    else if (req == GW_METHOD_CONNECT && m->status < 300)
        CHECK(m->body == GW_BODY_NONE || m->body == GW_BODY_UNTIL_EOF);
    switch (m->body) {
    case GW_BODY_NONE:
        CHECK(no_body || (req == GW_METHOD_CONNECT && m->status < 300) || (cl >= 1 && te == 0));
        break;
    case GW_BODY_LENGTH:
        CHECK(cl >= 1 && te == 0 && m->content_length > 0);
        CHECK(m->content_length <= (uint64_t)INT64_MAX);
        break;
    case GW_BODY_CHUNKED:
        CHECK(te >= 1 && cl == 0 && m->minor_version == 1);
        break;
    case GW_BODY_UNTIL_EOF:
        CHECK(!m->keep_alive);
        break;
    default:
        CHECK(0);
    }
    if (m->upgrade)
        CHECK(count_fields(m, "upgrade") >= 1 && count_fields(m, "connection") >= 1);
}

static void make_digest(const struct gw_http1_message *m, const char *buf, int rc, struct digest *d)
{
    memset(d, 0, sizeof(*d));
    d->rc = rc;
    if (rc != GW_HTTP1_DONE)
        return;
    d->minor = m->minor_version;
    d->status = m->status;
    d->body = (int)m->body;
    d->num_headers = m->num_headers;
    d->reason_off = (uint32_t)(m->reason - buf);
    d->reason_len = m->reason_len;
    d->head_len = m->head_len;
    d->content_length = m->body == GW_BODY_LENGTH ? m->content_length : 0;
    d->keep_alive = m->keep_alive;
    d->upgrade = m->upgrade;
    digest_fields(m, d->fields);
}

static void run(const uint8_t *data, size_t size, enum mode md, size_t k,
                const struct gw_http1_limits *lim, uint32_t cap, enum gw_http_method req,
                struct digest *out)
{
    struct gw_http1_parser p;
    struct gw_http1_message m;
    struct gw_http1_header fields[MAX_FIELDS];
    struct feed fd;
    int rc;

    message_init(&m, fields, cap);
    gw_http1_parser_init_response(&p, lim, req);
    feed_init(&fd, data, size, md, k);
    rc = feed_parse(&fd, &p, gw_http1_parse_response, &m);
    if (rc == GW_HTTP1_DONE)
        check_done(&m, fd.buf, fd.len, cap, req);
    make_digest(&m, fd.buf, rc, out);
    free(fd.buf);
}

static void check_config(const uint8_t *data, size_t size, const struct gw_http1_limits *lim,
                         uint32_t cap, uint64_t h, enum gw_http_method req, struct digest *get)
{
    static struct digest whole, other;
    run(data, size, WHOLE, size, lim, cap, req, &whole);
    run(data, size, SPLIT, size ? (size_t)(h % size) : 0, lim, cap, req, &other);
    CHECK(memcmp(&whole, &other, sizeof(whole)) == 0);
    run(data, size, BYTES, 0, lim, cap, req, &other);
    CHECK(memcmp(&whole, &other, sizeof(whole)) == 0);
    if (req == GW_METHOD_GET) {
        *get = whole;
    } else {
        /* The request method changes the framing decision, not where the head ends. */
        if (whole.rc == GW_HTTP1_DONE && get->rc == GW_HTTP1_DONE)
            CHECK(whole.head_len == get->head_len && whole.status == get->status);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum gw_http_method reqs[] = {GW_METHOD_GET, GW_METHOD_HEAD, GW_METHOD_CONNECT};
    uint64_t h = gw_fnv1a64(data, size);
    struct gw_http1_limits small = {
        .max_request_line = 16 + (uint32_t)(h >> 8) % 240,
        .max_header_bytes = 8 + (uint32_t)(h >> 20) % 500,
        .max_headers = 1 + (uint32_t)(h >> 32) % 12,
    };
    struct digest get_default, get_small;
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        check_config(data, size, NULL, MAX_FIELDS, h, reqs[i], &get_default);
        check_config(data, size, &small, 1 + (uint32_t)(h >> 40) % MAX_FIELDS, h >> 3, reqs[i],
                     &get_small);
    }
    return 0;
}

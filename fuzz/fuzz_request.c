/*
 * libFuzzer target: HTTP/1.1 request heads (gw_http1_parse_request).
 *
 * Each input is parsed three ways -- whole, split in two at an offset derived from the
 * input, one byte at a time -- under the default limits and under small limits derived from
 * the input. Every call gets an exactly-sized malloc'd copy, so AddressSanitizer reports any
 * read past len; the three results must agree, and every DONE must satisfy the invariants
 * below (slices inside the head, no smuggling-prone framing accepted). A violation traps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1/parser.h"

#include "http1_fuzz.h"

/* What a parse produced, as offsets, so runs on different buffers compare with memcmp. */
struct digest {
    int rc;
    int minor;
    int method_id;
    int body;
    int host_index;
    uint32_t num_headers;
    uint32_t method_len, target_off, target_len;
    uint64_t head_len;
    uint64_t content_length;
    uint8_t keep_alive, expect_continue, upgrade;
    uint32_t fields[MAX_FIELDS][4];
};

/* Invariants of a DONE request head in buf[0, len). */
static void check_done(const struct gw_http1_message *m, const char *buf, size_t len, uint32_t cap)
{
    size_t head = m->head_len;
    CHECK(head >= 16 && head <= len); /* "X / HTTP/1.0\r\n\r\n" is the shortest */
    check_lines(buf, head);
    CHECK(m->minor_version == 0 || m->minor_version == 1);
    CHECK(m->method >= buf && m->method_len > 0 && m->method + m->method_len <= buf + head);
    for (uint32_t i = 0; i < m->method_len; i++)
        CHECK(is_tchar((unsigned char)m->method[i]));
    CHECK(m->method_id == gw_http_method_id(m->method, m->method_len));
    CHECK(m->target >= buf && m->target_len > 0 && m->target + m->target_len <= buf + head);
    for (uint32_t i = 0; i < m->target_len; i++)
        CHECK(m->target[i] > 0x20 && m->target[i] < 0x7F && m->target[i] != '#'); /* no fragment */

    check_fields(m, buf, head, cap);

    /* Framing: exactly one way to find the end of the body. */
    size_t cl = count_fields(m, "content-length");
    size_t te = count_fields(m, "transfer-encoding");
    size_t hosts = count_fields(m, "host");
    CHECK(cl <= 1 && !(cl && te));
    CHECK(hosts <= 1);
    CHECK(m->minor_version == 0 || hosts == 1);
    CHECK(m->host_index == (hosts ? gw_http1_find_header(m, "host", 4) : -1));
    switch (m->body) {
    case GW_BODY_NONE:
        CHECK(te == 0);
        break;
    case GW_BODY_LENGTH:
        CHECK(cl == 1 && te == 0 && m->content_length > 0);
        CHECK(m->content_length <= (uint64_t)INT64_MAX);
        break;
    case GW_BODY_CHUNKED:
        CHECK(te >= 1 && cl == 0 && m->minor_version == 1);
        break;
    default:
        CHECK(0); /* UNTIL_EOF is for responses only */
    }
    if (m->expect_continue)
        CHECK(m->minor_version == 1 && count_fields(m, "expect") >= 1);
    if (m->upgrade)
        CHECK(count_fields(m, "upgrade") >= 1);
}

static void make_digest(const struct gw_http1_message *m, const char *buf, int rc, struct digest *d)
{
    memset(d, 0, sizeof(*d));
    d->rc = rc;
    if (rc != GW_HTTP1_DONE)
        return;
    d->minor = m->minor_version;
    d->method_id = (int)m->method_id;
    d->body = (int)m->body;
    d->host_index = m->host_index;
    d->num_headers = m->num_headers;
    d->method_len = m->method_len;
    d->target_off = (uint32_t)(m->target - buf);
    d->target_len = m->target_len;
    d->head_len = m->head_len;
    d->content_length = m->body == GW_BODY_LENGTH ? m->content_length : 0;
    d->keep_alive = m->keep_alive;
    d->expect_continue = m->expect_continue;
    d->upgrade = m->upgrade;
    digest_fields(m, d->fields);
}

static void run(const uint8_t *data, size_t size, enum mode md, size_t k,
                const struct gw_http1_limits *lim, uint32_t cap, struct digest *out)
{
    struct gw_http1_parser p;
    struct gw_http1_message m;
    struct gw_http1_header fields[MAX_FIELDS];
    struct feed fd;
    int rc;

    message_init(&m, fields, cap);
    gw_http1_parser_init_request(&p, lim);
    feed_init(&fd, data, size, md, k);
    rc = feed_parse(&fd, &p, gw_http1_parse_request, &m);
    if (rc == GW_HTTP1_DONE)
        check_done(&m, fd.buf, fd.len, cap);
    make_digest(&m, fd.buf, rc, out);
    free(fd.buf);
}

static void check_config(const uint8_t *data, size_t size, const struct gw_http1_limits *lim,
                         uint32_t cap, uint64_t h)
{
    static struct digest whole, other;
    run(data, size, WHOLE, size, lim, cap, &whole);
    run(data, size, SPLIT, size ? (size_t)(h % size) : 0, lim, cap, &other);
    CHECK(memcmp(&whole, &other, sizeof(whole)) == 0);
    run(data, size, BYTES, 0, lim, cap, &other);
    CHECK(memcmp(&whole, &other, sizeof(whole)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = gw_fnv1a64(data, size);
    check_config(data, size, NULL, MAX_FIELDS, h);
    struct gw_http1_limits small = {
        .max_request_line = 16 + (uint32_t)(h >> 8) % 240,
        .max_header_bytes = 8 + (uint32_t)(h >> 20) % 500,
        .max_headers = 1 + (uint32_t)(h >> 32) % 12,
    };
    check_config(data, size, &small, 1 + (uint32_t)(h >> 40) % MAX_FIELDS, h >> 3);
    return 0;
}

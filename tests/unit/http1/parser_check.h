/*
 * Running one row of parser_cases.h and judging its result: shared by test_parser.c and
 * test_parser_guard.c. A DONE result is held to the row's expectations and to the invariants
 * of every DONE (slices inside the head, offsets and pointers agreeing, every field written).
 */
#ifndef GW_TEST_HTTP1_PARSER_CHECK_H
#define GW_TEST_HTTP1_PARSER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "http1/parser.h"

#include "parser_cases.h"

/* Printable form of an input for failure messages. */
static void escape_bytes(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            out[o++] = '\\';
            out[o++] = 'r';
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20 || c >= 0x7F) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static const char *rc_name(int rc)
{
    if (rc == GW_HTTP1_DONE)
        return "DONE";
    if (rc == GW_HTTP1_PARTIAL)
        return "PARTIAL";
    return gw_err_name(rc);
}

static bool rc_accepted(const struct pcase *c, int rc)
{
    if (rc == c->rc)
        return true;
    for (size_t i = 0; i < 3; i++)
        if (c->alt[i] != 0 && rc == c->alt[i])
            return true;
    return false;
}

/* Resets p for the row and poisons m, so a field the parser forgets to fill shows. */
static void pcase_init(const struct pcase *c, struct gw_http1_parser *p, struct gw_http1_message *m,
                       struct gw_http1_header *hdrs)
{
    struct gw_http1_limits lim = c->lim;
    bool custom = lim.max_request_line || lim.max_header_bytes || lim.max_headers;
    if (!lim.max_request_line)
        lim.max_request_line = GW_HTTP1_DEFAULT_MAX_REQUEST_LINE;
    if (!lim.max_header_bytes)
        lim.max_header_bytes = GW_HTTP1_DEFAULT_MAX_HEADER_BYTES;
    if (!lim.max_headers)
        lim.max_headers = GW_HTTP1_DEFAULT_MAX_HEADERS;
    if (c->resp)
        gw_http1_parser_init_response(p, custom ? &lim : NULL, c->req);
    else
        gw_http1_parser_init_request(p, custom ? &lim : NULL);
    memset(m, 0xA5, sizeof(*m));
    memset(hdrs, 0xA5, sizeof(*hdrs) * MAX_TEST_HEADERS);
    m->headers = hdrs;
    m->headers_capacity = c->cap ? c->cap : MAX_TEST_HEADERS;
}

static int pcase_parse(const struct pcase *c, struct gw_http1_parser *p, const char *buf,
                       size_t len, struct gw_http1_message *m)
{
    return c->resp ? gw_http1_parse_response(p, buf, len, m)
                   : gw_http1_parse_request(p, buf, len, m);
}

/* A bool the parser never wrote holds 0xA5; reading it as bool would be undefined. */
static int raw_bool(const bool *b)
{
    unsigned char v;
    memcpy(&v, b, 1);
    return v;
}

static bool slice_eq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

static char check_why[512];

#define WHY(...) (snprintf(check_why, sizeof(check_why), __VA_ARGS__), check_why)

static const char *check_bool(const char *what, const bool *field, int want)
{
    int v = raw_bool(field);
    if (v > 1)
        return WHY("%s never written (0x%02x)", what, v);
    if (want && v != (want == YES))
        return WHY("%s is %d, expected %d", what, v, want == YES);
    return NULL;
}

/* Checks a DONE result: the row's expectations and the invariants of every DONE. buf and
 * len are those of the call that returned DONE. NULL when all holds. */
static const char *check_done(const struct pcase *c, const struct gw_http1_message *m,
                              const char *buf, size_t len)
{
    size_t head = c->len - c->tail;
    const char *why;

    if (m->head_len != head)
        return WHY("head_len %zu, expected %zu", m->head_len, head);
    if (m->head_len > len)
        return WHY("head_len %zu beyond len %zu", m->head_len, len);
    if (m->minor_version != 0 && m->minor_version != 1)
        return WHY("minor_version %d", m->minor_version);
    if (c->ver && m->minor_version != c->ver - 1)
        return WHY("minor_version %d, expected %d", m->minor_version, c->ver - 1);
    if (!c->resp) {
        if (!inside(m->method, m->method_len, buf, head) || m->method_len == 0)
            return WHY("method slice outside the head");
        if (!inside(m->target, m->target_len, buf, head) || m->target_len == 0)
            return WHY("target slice outside the head");
        if (c->method && !slice_eq(m->method, m->method_len, c->method))
            return WHY("method '%.*s', expected '%s'", (int)m->method_len, m->method, c->method);
        if (m->method_id != gw_http_method_id(m->method, m->method_len))
            return WHY("method_id %d disagrees with gw_http_method_id", (int)m->method_id);
        if (c->mid && (int)m->method_id != c->mid - 1)
            return WHY("method_id %d, expected %d", (int)m->method_id, c->mid - 1);
        if (c->target && !slice_eq(m->target, m->target_len, c->target))
            return WHY("target '%.*s', expected '%s'", (int)m->target_len, m->target, c->target);
        if (m->host_index < -1 || m->host_index >= (int)m->num_headers)
            return WHY("host_index %d out of range", m->host_index);
        if (m->host_index >= 0 && (m->headers[m->host_index].name_len != 4 ||
                                   strncasecmp(m->headers[m->host_index].name, "host", 4)))
            return WHY("host_index %d is not a Host field", m->host_index);
        if (c->host && m->host_index != c->host - 2)
            return WHY("host_index %d, expected %d", m->host_index, c->host - 2);
        why = check_bool("expect_continue", &m->expect_continue, c->ec);
        if (why)
            return why;
    } else {
        if (m->status < 100 || m->status > 599)
            return WHY("status %d", m->status);
        if (c->status && m->status != c->status)
            return WHY("status %d, expected %d", m->status, c->status);
        if (!inside(m->reason, m->reason_len, buf, head))
            return WHY("reason slice outside the head");
        if (c->reason && !slice_eq(m->reason, m->reason_len, c->reason))
            return WHY("reason '%.*s', expected '%s'", (int)m->reason_len, m->reason, c->reason);
    }
    uint32_t cap = c->cap ? c->cap : MAX_TEST_HEADERS;
    if (m->num_headers > cap)
        return WHY("num_headers %u over capacity %u", m->num_headers, cap);
    if (c->nh && m->num_headers != (uint32_t)(c->nh - 1))
        return WHY("num_headers %u, expected %d", m->num_headers, c->nh - 1);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name != buf + h->name_off || h->value != buf + h->value_off)
            return WHY("header %u: pointers disagree with offsets", i);
        if (h->name_len == 0 || !inside(h->name, h->name_len, buf, head))
            return WHY("header %u: name slice bad", i);
        if (!inside(h->value, h->value_len, buf, head))
            return WHY("header %u: value slice outside the head", i);
        if (h->value_len &&
            (h->value[0] == ' ' || h->value[0] == '\t' || h->value[h->value_len - 1] == ' ' ||
             h->value[h->value_len - 1] == '\t'))
            return WHY("header %u: value not trimmed", i);
    }
    for (size_t k = 0; k < 2; k++) {
        const struct hcheck *hc = &c->h[k];
        if (!hc->name)
            continue;
        if (hc->idx >= m->num_headers)
            return WHY("header %u missing", hc->idx);
        const struct gw_http1_header *h = &m->headers[hc->idx];
        if (!slice_eq(h->name, h->name_len, hc->name) ||
            !slice_eq(h->value, h->value_len, hc->value))
            return WHY("header %u is '%.*s: %.*s', expected '%s: %s'", hc->idx, (int)h->name_len,
                       h->name, (int)h->value_len, h->value, hc->name, hc->value);
        if (gw_http1_find_header(m, hc->name, strlen(hc->name)) > (int)hc->idx)
            return WHY("find_header('%s') past index %u", hc->name, hc->idx);
    }
    int body = (int)m->body;
    if (body < GW_BODY_NONE || body > GW_BODY_UNTIL_EOF)
        return WHY("body %d never written", body);
    if (!c->resp && body == GW_BODY_UNTIL_EOF)
        return WHY("request with body UNTIL_EOF");
    switch (c->body) {
    case B_NONE:
        if (body != GW_BODY_NONE)
            return WHY("body %d, expected NONE", body);
        break;
    case B_LEN:
        if (body != GW_BODY_LENGTH || m->content_length != c->cl)
            return WHY("body %d cl %llu, expected LENGTH %llu", body,
                       (unsigned long long)m->content_length, (unsigned long long)c->cl);
        break;
    case B_CHUNKED:
        if (body != GW_BODY_CHUNKED)
            return WHY("body %d, expected CHUNKED", body);
        break;
    case B_EOF:
        if (body != GW_BODY_UNTIL_EOF)
            return WHY("body %d, expected UNTIL_EOF", body);
        break;
    case B_CL0:
        if (body != GW_BODY_NONE && !(body == GW_BODY_LENGTH && m->content_length == 0))
            return WHY("body %d cl %llu, expected NONE or LENGTH 0", body,
                       (unsigned long long)m->content_length);
        break;
    default:
        break;
    }
    why = check_bool("keep_alive", &m->keep_alive, c->ka);
    if (why)
        return why;
    if (body == GW_BODY_UNTIL_EOF && raw_bool(&m->keep_alive))
        return WHY("keep_alive with a body that ends at EOF");
    return check_bool("upgrade", &m->upgrade, c->up);
}

#endif

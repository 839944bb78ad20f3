/*
 * OTLP/HTTP JSON encoding: see otlp.h. Attribute names follow the OpenTelemetry semantic
 * conventions for HTTP (http.request.method, url.path, http.response.status_code,
 * server.address, ...); gantry's own are under "gantry.".
 *
 * Written by hand, fast: at 100% sampling the control thread encodes every request's spans,
 * on the same cores as the workers, so this is on the benchmark's budget. Each record gets one
 * gw_buf_reserve of an upper bound of its size (escaping at most multiplies a string by 6), and
 * then a plain pointer writes the JSON: literals are memcpy of a constant length (a few moves),
 * strings are copied whole unless a byte needs escaping.
 */
#include "trace/otlp.h"

#include <string.h>

#include "core/error.h"
#include "trace/context.h"
#include "trace/trace.h"

/* OTLP's Span.SpanKind. */
enum {
    KIND_INTERNAL = 1,
    KIND_SERVER = 2,
    KIND_CLIENT = 3
};

/* Fixed text of one span at most (keys, punctuation, ids, numbers), strings not counted. */
#define SPAN_FIXED_MAX 3072

struct w {
    char *p;
};

#define LIT(w, s) (memcpy((w)->p, (s), sizeof(s) - 1), (w)->p += sizeof(s) - 1)

static const char hexdig[] = "0123456789abcdef";

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Whether one of the 8 bytes of x needs escaping (or is not ASCII): exact for "any", which is all
 * it is asked (a borrow or carry may flag a neighbour, never hide a byte). */
static inline bool word_needs_escape(uint64_t x)
{
    uint64_t lt20 = (x - ONES * 0x20) & ~x;
    uint64_t q = x ^ (ONES * '"');
    uint64_t bs = x ^ (ONES * '\\');
    uint64_t is_q = (q - ONES) & ~q;
    uint64_t is_bs = (bs - ONES) & ~bs;
    uint64_t hi = x | (x + ONES); /* 0x7f becomes 0x80; 0x80 and up have it already */
    return ((lt20 | is_q | is_bs | hi) & HIGHS) != 0;
}

/* RFC 8259 7: '"', '\\' and the controls are escaped; DEL too. Valid UTF-8 is kept; a byte that
 * is not part of a valid sequence becomes U+FFFD, so that a collector never sees invalid JSON
 * text (a Host field may carry obs-text). */
static inline void put_escaped_in(struct w *w, const char *s, size_t n, bool padded)
{
    size_t i = 0;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t x;
        memcpy(&x, s + k, 8);
        if (word_needs_escape(x))
            goto slow;
    }
    if (padded && k < n && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
        /* a record's string may be read past its end: its last bytes as one word, the bytes
         * after the end made harmless ('A') */
        uint64_t x, keep = (UINT64_C(1) << (8 * (n - k))) - 1;
        memcpy(&x, s + k, 8);
        if (word_needs_escape((x & keep) | (ONES * 'A' & ~keep)))
            goto slow;
        k = n;
    }
    for (; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f)
            goto slow;
    }
    if (padded && n <= 32)
        memcpy(w->p, s, 32); /* a record's string: 32 bytes readable (GW_TRACE_STRINGS_PAD) */
    else
        memcpy(w->p, s, n);
    w->p += n;
    return;
slow:
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *w->p++ = '\\';
            *w->p++ = (char)c;
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            LIT(w, "\\u00");
            *w->p++ = hexdig[c >> 4];
            *w->p++ = hexdig[c & 15];
            i++;
        } else if (c < 0x80) {
            *w->p++ = (char)c;
            i++;
        } else {
            /* One UTF-8 sequence (RFC 3629 4: no overlong forms, no surrogates, <= U+10FFFF). */
            size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                         : c >= 0xe0 && c <= 0xef ? 3
                         : c >= 0xf0 && c <= 0xf4 ? 4
                                                  : 0;
            bool ok = len > 0 && i + len <= n;
            for (size_t j = 1; ok && j < len; j++)
                ok = ((unsigned char)s[i + j] & 0xc0) == 0x80;
            if (ok && len == 3) {
                unsigned char d = (unsigned char)s[i + 1];
                ok = !(c == 0xe0 && d < 0xa0) && !(c == 0xed && d >= 0xa0);
            } else if (ok && len == 4) {
                unsigned char d = (unsigned char)s[i + 1];
                ok = !(c == 0xf0 && d < 0x90) && !(c == 0xf4 && d >= 0x90);
            }
            if (ok) {
                memcpy(w->p, s + i, len);
                w->p += len;
                i += len;
            } else {
                LIT(w, "\\ufffd");
                i++;
            }
        }
    }
}

static void put_escaped(struct w *w, const char *s, size_t n)
{
    put_escaped_in(w, s, n, false);
}

/* A string of a record (in its padded strs). */
static void put_escaped_rec(struct w *w, const char *s, size_t n)
{
    put_escaped_in(w, s, n, true);
}

#define DEC_ROW(d) d "0" d "1" d "2" d "3" d "4" d "5" d "6" d "7" d "8" d "9"
static const char digit_pairs[] = DEC_ROW("0") DEC_ROW("1") DEC_ROW("2") DEC_ROW("3") DEC_ROW("4")
    DEC_ROW("5") DEC_ROW("6") DEC_ROW("7") DEC_ROW("8") DEC_ROW("9");

static const uint64_t pow10[20] = {1u,
                                   10u,
                                   100u,
                                   1000u,
                                   10000u,
                                   100000u,
                                   1000000u,
                                   10000000u,
                                   100000000u,
                                   1000000000u,
                                   10000000000u,
                                   100000000000u,
                                   1000000000000u,
                                   10000000000000u,
                                   100000000000000u,
                                   1000000000000000u,
                                   10000000000000000u,
                                   100000000000000000u,
                                   1000000000000000000u,
                                   10000000000000000000u};

/* Decimal digits of v: the bit length gives log10 within one (1233 / 4096 ~ log10(2)). */
static unsigned digits10(uint64_t v)
{
    if (v == 0)
        return 1;
    unsigned t = (unsigned)(64 - __builtin_clzll(v)) * 1233 >> 12;
    return t - (v < pow10[t]) + 1;
}

/* Written right to left, two digits per division: times are 19 digits. */
static void put_u64(struct w *w, uint64_t v)
{
    char *end = w->p + digits10(v);
    char *q = end;
    while (v >= 100) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    w->p = end;
}

/* A string of a record that gantry itself made sure holds nothing JSON escapes: a method (a
 * token), a request id (checked at dispatch or made), an IP address, a service name, a prefix, a
 * target host (the config's checks). Copied as it is; a short one as a fixed 32 bytes, which the
 * record's padding makes readable (GW_TRACE_STRINGS_PAD) and the reserve makes writable. */
static inline void put_raw(struct w *w, const char *s, size_t n)
{
    if (n <= 32)
        memcpy(w->p, s, 32);
    else
        memcpy(w->p, s, n);
    w->p += n;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The 8 decimal digits of v < 10^8 (leading zeros included) as ASCII in a little-endian word,
 * the first digit in the lowest byte: the two 4-digit halves side by side in 32-bit lanes, each
 * cut into two 2-digit pairs in 16-bit lanes, each pair into tens and ones in bytes. The
 * divisions are multiplications that are exact over the lanes' ranges (x * 10486 >> 20 is x / 100
 * for x < 10^4, x * 103 >> 10 is x / 10 for x < 100) and no lane's product reaches the next
 * lane (the unit test checks every pair and many words). */
static inline uint64_t dec8(uint32_t v)
{
    uint64_t x = (v / 10000u) | ((uint64_t)(v % 10000u) << 32);
    uint64_t hundreds = ((x * 10486u) >> 20) & UINT64_C(0x0000007F0000007F);
    uint64_t pairs = hundreds | ((x - 100u * hundreds) << 16);
    uint64_t tens = ((pairs * 103u) >> 10) & UINT64_C(0x000F000F000F000F);
    return (tens | ((pairs - 10u * tens) << 8)) + UINT64_C(0x3030303030303030);
}

/* 9 digits, leading zeros included, for v < 10^9. */
static inline void put_9digits(char *p, uint32_t v)
{
    uint64_t d = dec8(v % 100000000u);
    p[0] = (char)('0' + v / 100000000u);
    memcpy(p + 1, &d, 8);
}
#else
static inline void put_9digits(char *p, uint32_t v)
{
    char *q = p + 9;
    for (int i = 0; i < 4; i++) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    *--q = (char)('0' + v);
}
#endif

/* The digits of the last whole second written by this thread (times of one batch mostly share
 * it): its 10 digits are copied rather than made again. */
static _Thread_local struct {
    uint64_t sec;
    char txt[10];
} last_sec;

/* Unix nanoseconds: the seconds, then the nanoseconds as 9 digits. */
static void put_time(struct w *w, uint64_t ns)
{
    uint64_t sec = ns / 1000000000u;
    uint32_t frac = (uint32_t)(ns - sec * 1000000000u);
    if (sec >= 1000000000u && sec < 10000000000u) {
        /* 2001 to 2286: ten digits of seconds */
        if (sec != last_sec.sec) {
            last_sec.txt[0] = (char)('0' + sec / 1000000000u);
            put_9digits(last_sec.txt + 1, (uint32_t)(sec % 1000000000u));
            last_sec.sec = sec;
        }
        memcpy(w->p, last_sec.txt, 10);
        put_9digits(w->p + 10, frac);
        w->p += 19;
        return;
    }
    if (sec == 0) {
        put_u64(w, frac);
        return;
    }
    put_u64(w, sec);
    put_9digits(w->p, frac);
    w->p += 9;
}

/* A small number (a status code, a port, a count) through the digit pairs, without a loop. */
static void put_small(struct w *w, uint32_t v)
{
    char *p = w->p;
    if (v < 10) {
        p[0] = (char)('0' + v);
        w->p += 1;
    } else if (v < 100) {
        memcpy(p, digit_pairs + 2 * v, 2);
        w->p += 2;
    } else if (v < 1000) {
        p[0] = (char)('0' + v / 100);
        memcpy(p + 1, digit_pairs + 2 * (v % 100), 2);
        w->p += 3;
    } else if (v < 10000) {
        memcpy(p, digit_pairs + 2 * (v / 100), 2);
        memcpy(p + 2, digit_pairs + 2 * (v % 100), 2);
        w->p += 4;
    } else if (v < 100000) {
        /* a port above 9999 (ephemeral and test ports) */
        p[0] = (char)('0' + v / 10000);
        memcpy(p + 1, digit_pairs + 2 * (v / 100 % 100), 2);
        memcpy(p + 3, digit_pairs + 2 * (v % 100), 2);
        w->p += 5;
    } else {
        put_u64(w, v);
    }
}

static void put_hex64(struct w *w, uint64_t v)
{
    gw_span_id_hex(v, w->p);
    w->p += 16;
}

/* Attributes after a span's first one (each span writes its first, always present, itself):
 * ,{"key":"<key>","value":{"stringValue":"<value>"}} with the key and the value's opening as one
 * literal. The keys are known not to need escaping. */
#define ATTR_STR(w, key, s, n)                                                                     \
    do {                                                                                           \
        LIT(w, ",{\"key\":\"" key "\",\"value\":{\"stringValue\":\"");                             \
        put_escaped(w, s, n);                                                                      \
        LIT(w, "\"}}");                                                                            \
    } while (0)

#define ATTR_INT(w, key, v)                                                                        \
    do {                                                                                           \
        LIT(w, ",{\"key\":\"" key "\",\"value\":{\"intValue\":\"");                                \
        put_small(w, v);                                                                           \
        LIT(w, "\"}}");                                                                            \
    } while (0)

/* A string of the record, escaped, when it is there. */
#define ATTR_REC(w, key, t, s)                                                                     \
    do {                                                                                           \
        if ((s).len) {                                                                             \
            LIT(w, ",{\"key\":\"" key "\",\"value\":{\"stringValue\":\"");                         \
            put_escaped_rec(w, (t)->strs + (s).off, (s).len);                                      \
            LIT(w, "\"}}");                                                                        \
        }                                                                                          \
    } while (0)

/* A string of the record that needs no escaping (put_raw), when it is there. */
#define ATTR_RAW(w, key, t, s)                                                                     \
    do {                                                                                           \
        if ((s).len) {                                                                             \
            LIT(w, ",{\"key\":\"" key "\",\"value\":{\"stringValue\":\"");                         \
            put_raw(w, (t)->strs + (s).off, (s).len);                                              \
            LIT(w, "\"}}");                                                                        \
        }                                                                                          \
    } while (0)

/* A constant value (a literal). */
#define ATTR_LIT(w, key, lit)                                                                      \
    LIT(w, ",{\"key\":\"" key "\",\"value\":{\"stringValue\":\"" lit "\"}}")

/* error.type: low-cardinality, as the semantic conventions ask (a status code as text). */
static void attr_error(struct w *w, uint8_t error, uint16_t status)
{
    LIT(w, ",{\"key\":\"error.type\",\"value\":{\"stringValue\":\"");
    switch (error) {
    case GW_TRACE_ERR_CONNECT:
        LIT(w, "connect_error");
        break;
    case GW_TRACE_ERR_TIMEOUT:
        LIT(w, "timeout");
        break;
    case GW_TRACE_ERR_RESET:
        LIT(w, "connection_reset");
        break;
    case GW_TRACE_ERR_INVALID:
        LIT(w, "invalid_response");
        break;
    case GW_TRACE_ERR_ABORTED:
        LIT(w, "aborted");
        break;
    case GW_TRACE_ERR_STATUS:
    case GW_TRACE_ERR_GATEWAY:
        if (status) {
            put_small(w, status);
            break;
        }
        LIT(w, "_OTHER");
        break;
    default:
        LIT(w, "_OTHER");
        break;
    }
    LIT(w, "\"}}");
}

static bool is_error(uint8_t error)
{
    return error != GW_TRACE_ERR_NONE && error != GW_TRACE_ERR_CANCELLED;
}

/* {"traceId":"..","spanId":"..",["parentSpanId":"..",]"name":" -- the caller writes the name. */
static void span_head(struct w *w, const char tid[32], uint64_t span, uint64_t parent)
{
    LIT(w, "{\"traceId\":\"");
    memcpy(w->p, tid, 32);
    w->p += 32;
    LIT(w, "\",\"spanId\":\"");
    put_hex64(w, span);
    if (parent) {
        LIT(w, "\",\"parentSpanId\":\"");
        put_hex64(w, parent);
    }
    LIT(w, "\",\"name\":\"");
}

/* ","kind":K,"startTimeUnixNano":"..","endTimeUnixNano":" .. -- the caller goes on with
 * "\",\"attributes\":[" and the span's first attribute. */
static void span_times(struct w *w, int kind, uint64_t start, uint64_t end, int64_t shift)
{
    if (end < start)
        end = start;
    uint64_t s = (uint64_t)((int64_t)start + shift), e = (uint64_t)((int64_t)end + shift);
    LIT(w, "\",\"kind\":");
    *w->p++ = (char)('0' + kind);
    LIT(w, ",\"startTimeUnixNano\":\"");
    uint64_t sec = s / 1000000000u, base = sec * 1000000000u;
    if (sec >= 1000000000u && sec < 10000000000u && e >= s && e - base < 1000000000u) {
        /* Start and end in the same second (nearly every span): its ten digits once (kept
         * per thread, see put_time), then the two fractions. */
        if (sec != last_sec.sec) {
            last_sec.txt[0] = (char)('0' + sec / 1000000000u);
            put_9digits(last_sec.txt + 1, (uint32_t)(sec % 1000000000u));
            last_sec.sec = sec;
        }
        memcpy(w->p, last_sec.txt, 10);
        put_9digits(w->p + 10, (uint32_t)(s - base));
        w->p += 19;
        LIT(w, "\",\"endTimeUnixNano\":\"");
        memcpy(w->p, last_sec.txt, 10);
        put_9digits(w->p + 10, (uint32_t)(e - base));
        w->p += 19;
        return;
    }
    put_time(w, s);
    LIT(w, "\",\"endTimeUnixNano\":\"");
    put_time(w, e);
}

/* An unset status is left out (OTLP's default). */
static void span_end(struct w *w, bool error)
{
    if (error)
        LIT(w, "],\"status\":{\"code\":2}}");
    else
        LIT(w, "]}");
}

/* The first attribute of the request's span and of a try's: the method, which every dispatched
 * request has (the parser requires one). */
static void attr_method_first(struct w *w, const struct gw_trace *t)
{
    LIT(w, "\",\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"");
    if (t->method_other) {
        LIT(w, "_OTHER\"}}");
        ATTR_RAW(w, "http.request.method_original", t, t->method);
        return;
    }
    put_raw(w, t->strs + t->method.off, t->method.len);
    LIT(w, "\"}}");
}

/* A span's name starts with the method, or "HTTP" for one reported as _OTHER. */
static void name_method(struct w *w, const struct gw_trace *t)
{
    if (t->method_other)
        LIT(w, "HTTP");
    else
        put_raw(w, t->strs + t->method.off, t->method.len);
}

static void server_span(struct w *w, const struct gw_trace *t, const char tid[32], int64_t shift)
{
    span_head(w, tid, t->span_id, t->parent_id);
    /* "{method} {http.route}" (semantic conventions): the route is the matched prefix. */
    name_method(w, t);
    if (t->route.len) {
        *w->p++ = ' ';
        put_raw(w, t->strs + t->route.off, t->route.len);
    }
    if (t->tracestate.len) {
        LIT(w, "\",\"traceState\":\"");
        put_escaped_rec(w, t->strs + t->tracestate.off, t->tracestate.len);
    }
    span_times(w, KIND_SERVER, t->t_start, t->t_end, shift);
    attr_method_first(w, t);
    ATTR_REC(w, "url.path", t, t->path);
    ATTR_REC(w, "url.query", t, t->query);
    if (t->secure)
        ATTR_LIT(w, "url.scheme", "https");
    else
        ATTR_LIT(w, "url.scheme", "http");
    ATTR_REC(w, "server.address", t, t->server);
    if (t->server_port)
        ATTR_INT(w, "server.port", t->server_port);
    ATTR_RAW(w, "client.address", t, t->client);
    /* Recommended, and nearly always "1.1": written when it is not, to keep exports small. */
    if (!t->http_minor)
        ATTR_LIT(w, "network.protocol.version", "1.0");
    ATTR_RAW(w, "http.route", t, t->route);
    if (t->status)
        ATTR_INT(w, "http.response.status_code", t->status);
    if (is_error(t->error))
        attr_error(w, t->error, t->status);
    ATTR_RAW(w, "gantry.request_id", t, t->request_id);
    ATTR_RAW(w, "gantry.service", t, t->service);
    ATTR_REC(w, "gantry.consumer", t, t->consumer);
    if (t->retries)
        ATTR_INT(w, "gantry.retries", t->retries);
    const char *rl = gw_trace_rl_outcome_name(t->rl_outcome);
    if (rl)
        ATTR_STR(w, "gantry.rate_limit", rl, strlen(rl));
    if (t->lost)
        ATTR_INT(w, "gantry.spans_lost", t->lost);
    span_end(w, is_error(t->error));
}

static void child_span(struct w *w, const struct gw_trace *t, const struct gw_trace_child *c,
                       const char tid[32], int64_t shift)
{
    span_head(w, tid, c->span_id, t->span_id);
    uint64_t end = c->t_end ? c->t_end : t->t_end;
    if (c->kind == GW_TRACE_STAGE) {
        const char *name = c->name ? c->name : "stage";
        size_t n = strlen(name);
        put_escaped(w, name, n);
        span_times(w, KIND_INTERNAL, c->t_start, end, shift);
        LIT(w, "\",\"attributes\":[{\"key\":\"gantry.stage\",\"value\":{\"stringValue\":\"");
        put_escaped(w, name, n);
        LIT(w, "\"}}");
        if (c->error == GW_TRACE_ERR_CANCELLED)
            ATTR_LIT(w, "gantry.outcome", "cancelled");
        else if (c->status)
            ATTR_LIT(w, "gantry.outcome", "answered");
        else
            ATTR_LIT(w, "gantry.outcome", "passed");
        if (c->status)
            ATTR_INT(w, "http.response.status_code", c->status);
        if (is_error(c->error))
            attr_error(w, c->error, c->status);
        span_end(w, is_error(c->error));
        return;
    }
    /* An upstream try: "{method}" (semantic conventions for HTTP client spans). */
    name_method(w, t);
    span_times(w, KIND_CLIENT, c->t_start, end, shift);
    attr_method_first(w, t);
    ATTR_RAW(w, "server.address", t, c->addr);
    if (c->port)
        ATTR_INT(w, "server.port", c->port);
    if (t->upath.len && c->addr.len) {
        /* url.full: what gantry asked the target for, "scheme://host:port/path?query" */
        if (c->tls)
            LIT(w, ",{\"key\":\"url.full\",\"value\":{\"stringValue\":\"https://");
        else
            LIT(w, ",{\"key\":\"url.full\",\"value\":{\"stringValue\":\"http://");
        if (c->ipv6)
            *w->p++ = '[';
        put_raw(w, t->strs + c->addr.off, c->addr.len);
        if (c->ipv6)
            *w->p++ = ']';
        *w->p++ = ':';
        put_small(w, c->port);
        put_escaped_rec(w, t->strs + t->upath.off, t->upath.len);
        LIT(w, "\"}}");
    }
    if (c->status)
        ATTR_INT(w, "http.response.status_code", c->status);
    if (c->resend)
        ATTR_INT(w, "http.request.resend_count", c->resend);
    if (c->error == GW_TRACE_ERR_CANCELLED)
        ATTR_LIT(w, "gantry.outcome", "cancelled");
    if (is_error(c->error))
        attr_error(w, c->error, c->status);
    span_end(w, is_error(c->error));
}

/* The most gw_otlp_append can write for t. */
static size_t bound(const struct gw_trace *t)
{
    /* the server span writes each string at most twice (method and route: name and attribute) */
    size_t n = SPAN_FIXED_MAX + 12 * (size_t)t->strs_len;
    for (unsigned i = 0; i < t->nchild; i++) {
        n += SPAN_FIXED_MAX + 6 * 2 * (size_t)t->method.len;
        if (t->child[i].name != NULL)
            n += 12 * strlen(t->child[i].name);
        n += 6 * (size_t)t->child[i].addr.len;
        n += t->child[i].addr.len + 6 * (size_t)t->upath.len; /* url.full */
    }
    return n;
}

int gw_otlp_begin(struct gw_buf *b, const struct gw_otlp_resource *res)
{
    size_t need = 1024 + 6 * (strlen(res->service_name) + 2 * strlen(res->service_version) +
                              strlen(res->instance_id));
    for (size_t i = 0; i < res->nextra; i++)
        need += 64 + 6 * (strlen(res->extra[i].key) + strlen(res->extra[i].value));
    if (gw_buf_reserve(b, need) < 0)
        return GW_ENOMEM;
    struct w w = {.p = b->data + b->len};
    LIT(&w, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
            "\"value\":{\"stringValue\":\"");
    put_escaped(&w, res->service_name, strlen(res->service_name));
    LIT(&w, "\"}}");
    ATTR_STR(&w, "service.version", res->service_version, strlen(res->service_version));
    ATTR_STR(&w, "service.instance.id", res->instance_id, strlen(res->instance_id));
    for (size_t i = 0; i < res->nextra; i++) {
        LIT(&w, ",{\"key\":\"");
        put_escaped(&w, res->extra[i].key, strlen(res->extra[i].key));
        LIT(&w, "\",\"value\":{\"stringValue\":\"");
        put_escaped(&w, res->extra[i].value, strlen(res->extra[i].value));
        LIT(&w, "\"}}");
    }
    LIT(&w, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"gantry\",\"version\":\"");
    put_escaped(&w, res->service_version, strlen(res->service_version));
    LIT(&w, "\"},\"spans\":[");
    b->len = (size_t)(w.p - b->data);
    return 0;
}

int gw_otlp_append(struct gw_buf *b, const struct gw_trace *t, int64_t mono_to_unix_ns, bool first)
{
    if (gw_buf_reserve(b, bound(t)) < 0)
        return GW_ENOMEM;
    const char *tid = t->trace_hex;
    struct w w = {.p = b->data + b->len};
    if (!first)
        *w.p++ = ',';
    server_span(&w, t, tid, mono_to_unix_ns);
    for (unsigned i = 0; i < t->nchild; i++) {
        *w.p++ = ',';
        child_span(&w, t, &t->child[i], tid, mono_to_unix_ns);
    }
    b->len = (size_t)(w.p - b->data);
    return 0;
}

int gw_otlp_end(struct gw_buf *b)
{
    return gw_buf_append_str(b, "]}]}]}") ? GW_ENOMEM : 0;
}

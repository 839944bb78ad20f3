/*
 * Helpers shared by the HTTP/1.1 message-head fuzz targets (fuzz_request.c, fuzz_response.c)
 * and, for CHECK, the feeding modes and the input hash, by fuzz_chunked.c: the invariants
 * every DONE head satisfies whatever its kind, and the way each target feeds its input (whole,
 * split in two, one byte at a time; an exactly-sized malloc'd copy per call).
 */
#ifndef GW_FUZZ_HTTP1_FUZZ_H
#define GW_FUZZ_HTTP1_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "http1/parser.h"

#define MAX_FIELDS 64u

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How an input reaches the code under test. */
enum mode {
    WHOLE, /* all of it in one call */
    SPLIT, /* the first k bytes, then all of it */
    BYTES  /* one more byte per call */
};

static inline bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* s[0, n) equals the lower-case lit, ignoring ASCII case. */
static inline bool ieq(const char *s, size_t n, const char *lit)
{
    if (n != strlen(lit))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c | 0x20);
        if (c != lit[i])
            return false;
    }
    return true;
}

/* How many fields of m are named name (lower case). */
static inline size_t count_fields(const struct gw_http1_message *m, const char *name)
{
    size_t n = 0;
    for (uint32_t i = 0; i < m->num_headers; i++)
        n += ieq(m->headers[i].name, m->headers[i].name_len, name);
    return n;
}

/* Every line of buf[0, head) ends in CRLF, with no bare CR or LF and no NUL. */
static inline void check_lines(const char *buf, size_t head)
{
    CHECK(memcmp(buf + head - 4, "\r\n\r\n", 4) == 0);
    for (size_t i = 0; i < head; i++) {
        CHECK(buf[i] != '\0');
        if (buf[i] == '\n')
            CHECK(i > 0 && buf[i - 1] == '\r');
        if (buf[i] == '\r')
            CHECK(i + 1 < head && buf[i + 1] == '\n');
    }
}

/* Every field of m lies in buf[0, head), has a token name and a trimmed value of field chars. */
static inline void check_fields(const struct gw_http1_message *m, const char *buf, size_t head,
                                uint32_t cap)
{
    CHECK(m->num_headers <= cap);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        CHECK(h->name == buf + h->name_off && h->value == buf + h->value_off);
        CHECK(h->name_len > 0 && h->name_off + (size_t)h->name_len <= head);
        CHECK(h->value_off + (size_t)h->value_len <= head);
        for (uint32_t j = 0; j < h->name_len; j++)
            CHECK(is_tchar((unsigned char)h->name[j]));
        for (uint32_t j = 0; j < h->value_len; j++) {
            unsigned char c = (unsigned char)h->value[j];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7F));
        }
        if (h->value_len) {
            CHECK(h->value[0] != ' ' && h->value[0] != '\t');
            CHECK(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
        }
    }
}

/* The fields of m as offsets, for a digest that compares with memcmp. */
static inline void digest_fields(const struct gw_http1_message *m, uint32_t fields[MAX_FIELDS][4])
{
    for (uint32_t i = 0; i < m->num_headers && i < MAX_FIELDS; i++) {
        fields[i][0] = m->headers[i].name_off;
        fields[i][1] = m->headers[i].name_len;
        fields[i][2] = m->headers[i].value_off;
        fields[i][3] = m->headers[i].value_len;
    }
}

/* Feeding state of one run over data[0, size). */
struct feed {
    const uint8_t *data;
    size_t size;
    enum mode md;
    size_t k; /* SPLIT: the length of the first call */
    char *buf;
    size_t len;
    bool first;
};

static inline void feed_init(struct feed *f, const uint8_t *data, size_t size, enum mode md,
                             size_t k)
{
    f->data = data;
    f->size = size;
    f->md = md;
    f->k = k;
    f->buf = NULL;
    f->len = 0;
    f->first = true;
    if (md == BYTES) {
        f->buf = malloc(size ? size : 1);
        CHECK(f->buf);
        if (size)
            memcpy(f->buf, data, size);
    }
}

/* The next call's bytes: f->buf[0, f->len). */
static inline void feed_next(struct feed *f)
{
    if (f->md == WHOLE)
        f->len = f->size;
    else if (f->md == SPLIT)
        f->len = f->first ? f->k : f->size;
    else
        f->len = f->first ? (f->size ? 1 : 0) : f->len + 1;
    f->first = false;
    if (f->md != BYTES) {
        /* A new exactly-sized buffer per call: the buffer may move between calls. */
        char *b = malloc(f->len ? f->len : 1);
        CHECK(b);
        if (f->len)
            memcpy(b, f->data, f->len);
        free(f->buf);
        f->buf = b;
    }
}

typedef int (*parse_fn)(struct gw_http1_parser *p, const char *buf, size_t len,
                        struct gw_http1_message *m);

/* An empty message whose fields go to fields[0, cap). */
static inline void message_init(struct gw_http1_message *m, struct gw_http1_header *fields,
                                uint32_t cap)
{
    memset(m, 0, sizeof(*m));
    m->headers = fields;
    m->headers_capacity = cap;
}

/* Feeds f's input to parse (p initialised by the caller) until DONE, an error or the end of the
 * input; returns the last result, f->buf[0, f->len) holding the bytes of the last call. */
static inline int feed_parse(struct feed *f, struct gw_http1_parser *p, parse_fn parse,
                             struct gw_http1_message *m)
{
    int rc;
    do {
        feed_next(f);
        rc = parse(p, f->buf, f->len, m);
        CHECK(rc == GW_HTTP1_DONE || rc == GW_HTTP1_PARTIAL || rc < 0);
    } while (rc == GW_HTTP1_PARTIAL && f->len < f->size);
    return rc;
}

#endif

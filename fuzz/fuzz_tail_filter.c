/*
 * libFuzzer target for the live log's filter (dashboard/tail.c): the input is a query string
 * (service=...&status=...&request_id=...). Checks: a parsed filter's strings are NUL-terminated
 * within their fields and hold no control byte, its status range is ordered and within
 * 0..999, a record made of the filter's own values passes it, and a record's JSON is written
 * without error. Any violation traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/tail.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void check_field(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy so the sanitizer sees any read past the query */
    char *q = malloc(size ? size : 1);
    if (q == NULL)
        return 0;
    memcpy(q, data, size);
    struct gw_tail_filter f;
    char why[128];
    int rc = gw_tail_filter_parse(q, size, &f, why, sizeof why);
    free(q);
    if (rc < 0) {
        CHECK(strnlen(why, sizeof why) < sizeof why && why[0] != '\0');
        return 0;
    }
    check_field(f.service, sizeof f.service);
    check_field(f.request_id, sizeof f.request_id);
    CHECK(f.status_lo >= 0 && f.status_lo <= f.status_hi && f.status_hi <= 999);

    struct gw_tail_record rec;
    memset(&rec, 0, sizeof rec);
    rec.status = f.status_lo;
    rec.upstream_ms = -1;
    gw_tail_copy(rec.service, sizeof rec.service, f.service, strlen(f.service));
    gw_tail_copy(rec.id, sizeof rec.id, f.request_id, strlen(f.request_id));
    CHECK(gw_tail_filter_match(&f, &rec));

    struct gw_buf b;
    gw_buf_init(&b, 1u << 16);
    CHECK(gw_tail_record_json(&rec, &b) == 0);
    CHECK(b.len > 2 && b.data[0] == '{' && b.data[b.len - 1] == '}');
    gw_buf_free(&b);
    return 0;
}

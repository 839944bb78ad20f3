/*
 * libFuzzer target for the transformation template parser (policy/template.h): any input is
 * parsed; a template that compiles is rendered against a fixed request (headers, query, ids),
 * and must then: have parts that lie inside its text, render without error into a buffer large
 * enough, and render to the same bytes twice. A refused input must say where (err_at within
 * the input, at a '$') and why (a message). Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "policy/template.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_template *t = NULL;
    size_t err_at = 0;
    char why[256];
    int rc = gw_template_parse((const char *)data, size, &t, &err_at, why, sizeof why);
    if (rc == GW_ENOMEM)
        return 0;
    if (rc < 0) {
        CHECK(t == NULL);
        CHECK(why[0] != '\0');
        CHECK(size > GW_TEMPLATE_MAX || (err_at < size && data[err_at] == '$'));
        return 0;
    }
    CHECK(rc == 0 && t != NULL);
    size_t text_len = t->text_len;
    CHECK(text_len <= size);
    for (size_t i = 0; i < t->nparts; i++) {
        CHECK(t->parts[i].off + t->parts[i].len <= text_len);
        CHECK(t->uses & (1u << t->parts[i].kind));
    }

    struct gw_http1_header hs[3] = {
        {.name = "Accept", .name_len = 6, .value = "text/html", .value_len = 9},
        {.name = "X-Tenant", .name_len = 8, .value = "acme", .value_len = 4},
        {.name = "x_tenant", .name_len = 8, .value = "two", .value_len = 3},
    };
    struct gw_http1_message m = {.headers = hs, .num_headers = 3, .headers_capacity = 3};
    struct gw_tpl_source src = {
        .request_id = "0123456789abcdef",
        .client_ip = "192.0.2.1",
        .consumer = "billing",
        .user_id = NULL,
        .service = "users",
        .route = "/api/users/7",
        .route_len = 10,
        .trace_id = "",
        .msg = &m,
        .query = "?page=2&%70age=3&q=a%20b&empty=&flag",
        .query_len = 36,
    };
    struct gw_buf a, b;
    gw_buf_init(&a, 1u << 20);
    gw_buf_init(&b, 1u << 20);
    CHECK(gw_template_render(t, &src, &a) == 0);
    CHECK(gw_template_render(t, &src, &b) == 0);
    CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
    if (gw_template_is_constant(t))
        CHECK(a.len == text_len && (a.len == 0 || memcmp(a.data, t->text, a.len) == 0));
    gw_buf_free(&a);
    gw_buf_free(&b);
    gw_template_free(t);
    return 0;
}

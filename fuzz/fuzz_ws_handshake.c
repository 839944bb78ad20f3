/*
 * libFuzzer target for http1/upgrade.c: the upgrade kind and the WebSocket handshake check over
 * any request head the parser accepts, and the query parameter lookup. Invariants (any
 * violation traps):
 *   - a head the check accepts is a GET over HTTP/1.1 without a body, whose Upgrade offers
 *     websocket, with exactly one Sec-WebSocket-Key of 24 characters and one version "13";
 *   - the verdict is deterministic and one of 0, GW_EWSHANDSHAKE, GW_EWSVERSION;
 *   - a query parameter found lies inside the query, right after "name=".
 * Inputs are copied to exact-size heap buffers, so ASan catches any read past the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "http1/upgrade.h"

#include "http1_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    if (size)
        memcpy(in, data, size);

    struct gw_http1_header fields[MAX_FIELDS];
    struct gw_http1_message m = {.headers = fields, .headers_capacity = MAX_FIELDS};
    struct gw_http1_limits lim = {
        .max_request_line = 8192, .max_header_bytes = 32768, .max_headers = MAX_FIELDS};
    struct gw_http1_parser p;
    gw_http1_parser_init_request(&p, &lim);
    if (gw_http1_parse_request(&p, in, size, &m) == GW_HTTP1_DONE) {
        enum gw_upgrade kind = gw_http1_upgrade_kind(&m);
        CHECK(m.upgrade || kind == GW_UPGRADE_NONE);
        int rc = gw_http1_ws_check(&m);
        CHECK(rc == 0 || rc == GW_EWSHANDSHAKE || rc == GW_EWSVERSION);
        CHECK(rc == gw_http1_ws_check(&m));
        if (rc == 0) {
            CHECK(m.method_id == GW_METHOD_GET && m.minor_version == 1);
            CHECK(m.body == GW_BODY_NONE);
            CHECK(count_fields(&m, "sec-websocket-key") == 1);
            CHECK(count_fields(&m, "sec-websocket-version") == 1);
            int v = gw_http1_find_header(&m, "sec-websocket-version", 21);
            CHECK(v >= 0 && m.headers[v].value_len == 2 &&
                  memcmp(m.headers[v].value, "13", 2) == 0);
            int k = gw_http1_find_header(&m, "sec-websocket-key", 17);
            CHECK(k >= 0 && m.headers[k].value_len == 24);
        }
        const char *q = memchr(m.target, '?', m.target_len);
        if (q) {
            size_t qn = m.target_len - (size_t)(q - m.target);
            const char *val;
            size_t vn;
            if (gw_http1_query_param(q, qn, "access_token", &val, &vn)) {
                CHECK(val >= q + 14 && val + vn <= q + qn);
                CHECK(memcmp(val - 13, "access_token=", 13) == 0);
            }
        }
    }
    free(in);
    return 0;
}

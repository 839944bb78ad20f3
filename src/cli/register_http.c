/*
 * The HTTP client of `gantry register` (cli/register.c): the gateway's one-shot client
 * (net/fetch.h: resolve, connect, a verified TLS handshake for https://, one request with
 * "Connection: close", the answer read with gantry's own parser) on a libuv loop made for the
 * exchange and run until it ends. Signals stay blocked while it runs (register.c waits for
 * them in ppoll between exchanges).
 */
#include "cli/register_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/error.h"
#include "net/fetch.h"

struct exchange {
    struct gw_cli_http_answer *ans;
    int rc;
};

static void on_answer(void *arg, int err, const struct gw_fetch_resp *resp)
{
    struct exchange *x = arg;
    if (err != 0) {
        snprintf(x->ans->why, sizeof x->ans->why, "%s", resp->why[0] ? resp->why : "failed");
        return;
    }
    x->ans->body = strdup(resp->body ? resp->body : "");
    if (x->ans->body == NULL) {
        snprintf(x->ans->why, sizeof x->ans->why, "out of memory");
        return;
    }
    x->ans->status = resp->status;
    x->rc = 0;
}

int gw_cli_http(const struct gw_cli_http_req *rq, struct gw_cli_http_answer *ans)
{
    uv_loop_t loop;
    char headers[1024];
    struct exchange x = {.ans = ans, .rc = -1};
    memset(ans, 0, sizeof *ans);
    int n =
        snprintf(headers, sizeof headers, "Accept: application/json\r\n%s%s%s%s",
                 rq->api_key ? "Authorization: Bearer " : "", rq->api_key ? rq->api_key : "",
                 rq->api_key ? "\r\n" : "", rq->body ? "Content-Type: application/json\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof headers) {
        snprintf(ans->why, sizeof ans->why, "the API key is too long");
        return -1;
    }
    struct gw_fetch_req req = {.url = rq->url,
                               .allow_https = true,
                               .ca_file = rq->ca_file,
                               .insecure = rq->insecure,
                               .method = rq->method,
                               .headers = headers,
                               .body = rq->body,
                               .body_len = rq->body ? strlen(rq->body) : 0,
                               .timeout_ms = rq->timeout_ms};
    if (uv_loop_init(&loop) != 0) {
        snprintf(ans->why, sizeof ans->why, "no event loop");
        return -1;
    }
    int rc = gw_fetch_start(&loop, &req, on_answer, &x, NULL);
    if (rc < 0)
        snprintf(ans->why, sizeof ans->why, "%s",
                 rc == GW_EINVAL ? "the URL or API key cannot be sent" : gw_strerror(rc));
    else
        uv_run(&loop, UV_RUN_DEFAULT);
    explicit_bzero(headers, sizeof headers); /* the API key */
    uv_loop_close(&loop);
    return x.rc;
}

/*
 * The dashboard's side of the admin API: its static files (built into the binary), the live
 * access log it streams, and the drain action.
 *
 * The page's files hold no data, so they are served without the admin key (a browser cannot
 * send a header when it navigates to a URL): the login form loads, keeps the key in
 * sessionStorage and sends it with every request for data, which needs it like any other
 * admin request. The files go out with a Content-Security-Policy that forbids inline script
 * and every other origin, X-Frame-Options: DENY, and an ETag (revalidated on every load, so a
 * new binary's page is never mixed with a cached old one).
 */
#include "admin/admin.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "control/snapshot.h"
#include "dashboard/assets.h"
#include "http1/names.h"
#include "runtime/server.h"

#define DASHBOARD_CSP                                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

static bool dashboard_on(struct gw_server *s)
{
    struct gw_snapshot *snap = gw_server_snapshot(s);
    return snap && snap->cfg && snap->cfg->admin.dashboard;
}

bool gw__admin_public_path(struct gw_server *s, enum gw_http_method method, const char *path,
                           size_t len)
{
    const char *q = memchr(path, '?', len);
    if (q)
        len = (size_t)(q - path);
    return (method == GW_METHOD_GET || method == GW_METHOD_HEAD) && dashboard_on(s) &&
           gw_dashboard_asset_find(path, len) != NULL;
}

/* Does an If-None-Match value name etag (or "*")? Weak validators compare by their opaque
 * part (RFC 9110 13.1.2: If-None-Match uses the weak comparison). */
static bool etag_matches(const char *v, size_t n, const char *etag)
{
    size_t elen = strlen(etag);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start >= 2 && v[start] == 'W' && v[start + 1] == '/')
            start += 2;
        if ((end - start == 1 && v[start] == '*') ||
            (end - start == elen && memcmp(v + start, etag, elen) == 0))
            return true;
    }
    return false;
}

void gw__admin_dashboard_file(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs)
{
    const struct gw_dashboard_asset *a = gw_dashboard_asset_find(rq->path.p, rq->path.n);
    if (!dashboard_on(s)) {
        gw__admin_error(rs, 404, "the dashboard is off (admin.dashboard is false)");
        return;
    }
    if (a == NULL) {
        gw__admin_error(rs, 404, "no dashboard file %.*s",
                        (int)(rq->path.n > 200 ? 200 : rq->path.n), rq->path.p);
        return;
    }
    snprintf(rs->headers, sizeof rs->headers,
             "ETag: %s\r\nContent-Security-Policy: " DASHBOARD_CSP "\r\n"
             "X-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n"
             "Referrer-Policy: no-referrer\r\n",
             a->etag);
    rs->cache_control = "no-cache";
    int i = rq->msg ? gw_http1_find_header(rq->msg, "if-none-match", 13) : -1;
    if (i >= 0 && etag_matches(rq->msg->headers[i].value, rq->msg->headers[i].value_len, a->etag)) {
        rs->status = 304;
        rs->content_type = gw_dashboard_asset_type(a);
        gw_buf_init(&rs->text, 0);
        return;
    }
    gw_buf_init(&rs->text, a->len + 1);
    if (gw_buf_append(&rs->text, a->data, a->len) < 0) {
        gw_buf_free(&rs->text);
        gw__admin_error(rs, 500, "out of memory");
        return;
    }
    rs->status = 200;
    rs->content_type = gw_dashboard_asset_type(a);
}

void gw__admin_access_log_stream(struct gw_server *s, const struct gw__admin_req *rq,
                                 struct gw__admin_resp *rs)
{
    char why[128];
    if (!dashboard_on(s)) {
        gw__admin_error(rs, 404, "the dashboard is off (admin.dashboard is false)");
        return;
    }
    if (gw_tail_filter_parse(rq->query.p, rq->query.n, &rs->filter, why, sizeof why) < 0) {
        gw__admin_error(rs, 400, "bad filter: %s", why);
        return;
    }
    /* admin.c opens the stream; this JSON is only answered if it cannot. */
    rs->stream = true;
    gw__admin_json(rs, 200, json_pack("{s:s}", "status", "streaming"));
}

void gw__admin_drain(struct gw_server *s, const struct gw__admin_req *rq, struct gw__admin_resp *rs)
{
    (void)rq;
    if (atomic_load(&s->draining)) {
        gw__admin_error(rs, 409, "already draining");
        return;
    }
    /* The same path as SIGTERM (runtime/server.c): the signal is handled on the control loop
     * after this answer is queued, so the client reads it before the listener closes. */
    if (kill(getpid(), SIGTERM) != 0) {
        gw__admin_error(rs, 500, "could not start the drain");
        return;
    }
    if (gw_audit_wants(GW_AUDIT_EV_ADMIN)) {
        struct gw_audit_record r = {.action = "gateway.drain", .object = "gateway", .status = 202};
        gw_audit_record(&r);
    }
    gw__admin_json(rs, 202,
                   json_pack("{s:s, s:s}", "status", "draining", "message",
                             "no new connections; requests in flight finish, then gantry exits"));
}

/*
 * Access log: one line per request, text or JSON. Lines are appended to a per-worker buffer
 * and written once per loop iteration (worker.c), so logging costs no syscall per request
 * and lines from different workers never interleave (each write is whole lines).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn/access_log.h"
#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/buf.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"

#define ACCESS_FLUSH_AT 65536

void gw_access_flush(struct gw_worker *w)
{
    struct gw_buf *b = &w->access;
    int fd = w->server->access_fd;
    size_t off = 0;
    while (fd >= 0 && off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    gw_buf_reset(b);
}

void gw_access_log(const struct gw_request *r)
{
    struct gw_worker *w = r->w;
    if (w->server->access_fd < 0)
        return;
    struct gw_buf *b = &w->access;
    char ts[96];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    uint64_t t_end = uv_hrtime();
    double total_ms = (double)(t_end - r->t_start) / 1e6;
    double up_ms = -1;
    if (r->t_upstream)
        up_ms = (double)((r->t_upstream_done ? r->t_upstream_done : t_end) - r->t_upstream) / 1e6;
    const char *svc = r->svc ? r->svc->conf->name : "-";
    const char *target = r->target ? r->target->key : "-";
    const char *id = r->id[0] ? r->id : "-";
    const char *method = r->method[0] ? r->method : "-";
    const char *path = r->path[0] ? r->path : "-";

    if (w->server->access_json) {
        gw_buf_appendf(b, "{\"time\":\"%s\",\"request_id\":\"", ts);
        gw_buf_append_json_escaped(b, id, strlen(id));
        gw_buf_appendf(b, "\",\"client\":\"%s\",\"method\":\"", r->peer);
        gw_buf_append_json_escaped(b, method, strlen(method));
        gw_buf_append_str(b, "\",\"path\":\"");
        gw_buf_append_json_escaped(b, path, strlen(path));
        gw_buf_appendf(b,
                       "\",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,"
                       "\"duration_ms\":%.3f,\"upstream_ms\":",
                       r->status, (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out,
                       total_ms);
        if (up_ms >= 0)
            gw_buf_appendf(b, "%.3f", up_ms);
        else
            gw_buf_append_str(b, "null");
        gw_buf_append_str(b, ",\"service\":\"");
        gw_buf_append_json_escaped(b, svc, strlen(svc));
        gw_buf_appendf(b, "\",\"target\":\"%s\"}\n", target);
    } else {
        /* Text: time id client "method path" status in out total_ms upstream_ms service
         * target. The target text is from the parser: VCHAR only, no quotes to escape
         * except '"', which we replace. */
        char safe_path[sizeof(r->path)];
        size_t n = strlen(path);
        for (size_t i = 0; i <= n; i++)
            safe_path[i] = path[i] == '"' ? '\'' : path[i];
        gw_buf_appendf(b, "%s %s %s \"%s %s\" %d %llu %llu %.3f ", ts, id,
                       r->peer[0] ? r->peer : "-", method, safe_path, r->status,
                       (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out, total_ms);
        if (up_ms >= 0)
            gw_buf_appendf(b, "%.3f", up_ms);
        else
            gw_buf_append_str(b, "-");
        gw_buf_appendf(b, " %s %s\n", svc, target);
    }
    if (b->len >= ACCESS_FLUSH_AT)
        gw_access_flush(w);
}

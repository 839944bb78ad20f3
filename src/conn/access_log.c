/*
 * Access log: one line per request, text or JSON. Lines are appended to a per-worker buffer
 * and written once per loop iteration (worker.c), so logging costs no syscall per request
 * and lines from different workers never interleave (each write is whole lines).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "conn/access_log.h"
#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/buf.h"
#include "dashboard/tail.h"
#include "policy/stages.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "trace/trace.h"

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

/* Text lines are split on spaces: a value from a token claim or the config (a consumer id) keeps
 * only visible characters other than '"'; anything else becomes '_'. */
static void append_text_safe(struct gw_buf *b, const char *s)
{
    char tmp[256];
    size_t n = 0;
    for (; *s && n < sizeof tmp; s++) {
        unsigned char c = (unsigned char)*s;
        tmp[n++] = c > 0x20 && c < 0x7f && c != '"' ? (char)c : '_';
    }
    gw_buf_append(b, tmp, n);
}

/* A string value, or "-" (text) / null (JSON) when s is NULL or empty. */
static void put_str(struct gw_buf *b, bool json, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        gw_buf_append_str(b, json ? "null" : "-");
        return;
    }
    if (!json) {
        append_text_safe(b, s);
        return;
    }
    gw_buf_append(b, "\"", 1);
    gw_buf_append_json_escaped(b, s, strlen(s));
    gw_buf_append(b, "\"", 1);
}

/* The request target for a text line: quoted, with '"' replaced (the parser admits only VCHAR
 * in a target, so that is the only character that could break the quotes). */
static void put_text_path(struct gw_buf *b, const char *path)
{
    char safe[sizeof(((struct gw_request *)0)->path)];
    size_t n = strlen(path);
    for (size_t i = 0; i < n; i++)
        safe[i] = path[i] == '"' ? '\'' : path[i];
    gw_buf_append(b, safe, n);
}

/* The dashboard's live log (dashboard/tail.h): only while a stream is open. */
static void tail_record(const struct gw_request *r, struct gw_tail *tail)
{
    struct gw_tail_record rec;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t t_end = uv_hrtime();
    rec.time_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    rec.status = r->status;
    rec.duration_ms = (double)(t_end - r->t_start) / 1e6;
    rec.upstream_ms = -1;
    if (r->t_upstream)
        rec.upstream_ms =
            (double)((r->t_upstream_done ? r->t_upstream_done : t_end) - r->t_upstream) / 1e6;
    rec.bytes_out = r->bytes_out;
    const char *svc = r->svc ? r->svc->conf->name : "-";
    const char *target = r->target ? r->target->key : "-";
    gw_tail_copy(rec.id, sizeof rec.id, r->id, strlen(r->id));
    gw_tail_copy(rec.method, sizeof rec.method, r->method, strlen(r->method));
    gw_tail_copy(rec.path, sizeof rec.path, r->path, strlen(r->path));
    gw_tail_copy(rec.service, sizeof rec.service, svc, strlen(svc));
    gw_tail_copy(rec.target, sizeof rec.target, target, strlen(target));
    gw_tail_copy(rec.client, sizeof rec.client, r->peer, strlen(r->peer));
    gw_tail_push(tail, r->w->id, &rec);
}

void gw_access_log(const struct gw_request *r)
{
    struct gw_worker *w = r->w;
    if (gw_tail_on(w->server->tail))
        tail_record(r, w->server->tail);
    if (w->server->access_fd < 0)
        return;
    struct gw_buf *b = &w->access;
    bool json = w->server->access_json;
    const struct gw_config *cfg = r->snap->cfg;
    uint64_t t_end = uv_hrtime();
    /* absent (a request that could not be parsed): "-" in a text line, null in a JSON one */
    const char *method = r->method[0] ? r->method : json ? "" : "-";
    const char *path = r->path[0] ? r->path : json ? "" : "-";

    const uint8_t *fields = json ? cfg->log.access_fields_json : cfg->log.access_fields;
    unsigned nfields = json ? cfg->log.naccess_fields_json : cfg->log.naccess_fields;

    gw_buf_append_str(b, json ? "{" : "");
    for (unsigned i = 0; i < nfields; i++) {
        unsigned f = fields[i];
        if (json) {
            if (i)
                gw_buf_append(b, ",", 1);
            if (f != GW_LOG_F_REQUEST)
                gw_buf_appendf(b, "\"%s\":", gw_config_log_field_name(f));
        } else if (i) {
            gw_buf_append(b, " ", 1);
        }
        switch (f) {
        case GW_LOG_F_TIME: {
            char ts[96];
            struct timespec now;
            struct tm tm;
            clock_gettime(CLOCK_REALTIME, &now);
            gmtime_r(&now.tv_sec, &tm);
            snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / 1000000);
            put_str(b, json, ts);
            break;
        }
        case GW_LOG_F_REQUEST_ID:
            put_str(b, json, r->id);
            break;
        case GW_LOG_F_CLIENT:
            put_str(b, json, r->peer);
            break;
        case GW_LOG_F_REQUEST:
            if (json) {
                gw_buf_append_str(b, "\"method\":");
                put_str(b, json, method);
                gw_buf_append_str(b, ",\"path\":");
                put_str(b, json, path);
            } else {
                gw_buf_appendf(b, "\"%s ", method);
                put_text_path(b, path);
                gw_buf_append(b, "\"", 1);
            }
            break;
        case GW_LOG_F_METHOD:
            put_str(b, json, method);
            break;
        case GW_LOG_F_PATH:
            if (json) {
                put_str(b, json, path);
            } else {
                gw_buf_append(b, "\"", 1);
                put_text_path(b, path);
                gw_buf_append(b, "\"", 1);
            }
            break;
        case GW_LOG_F_STATUS:
            gw_buf_appendf(b, "%d", r->status);
            break;
        case GW_LOG_F_BYTES_IN:
            gw_buf_append_u64(b, r->bytes_in);
            break;
        case GW_LOG_F_BYTES_OUT:
            gw_buf_append_u64(b, r->bytes_out);
            break;
        case GW_LOG_F_DURATION_MS:
            gw_buf_appendf(b, "%.3f", (double)(t_end - r->t_start) / 1e6);
            break;
        case GW_LOG_F_UPSTREAM_MS:
            if (r->t_upstream) {
                uint64_t done = r->t_upstream_done ? r->t_upstream_done : t_end;
                gw_buf_appendf(b, "%.3f", (double)(done - r->t_upstream) / 1e6);
            } else {
                gw_buf_append_str(b, json ? "null" : "-");
            }
            break;
        case GW_LOG_F_SERVICE:
            /* "-" in both formats, as lines have always had it */
            put_str(b, json, r->svc ? r->svc->conf->name : "-");
            break;
        case GW_LOG_F_TARGET:
            put_str(b, json, r->target ? r->target->key : "-");
            break;
        case GW_LOG_F_TRACE_ID:
            put_str(b, json, r->trace_id);
            break;
        case GW_LOG_F_SPAN_ID: {
            char span[17] = "";
            if (r->trace) {
                gw_span_id_hex(r->trace->span_id, span);
                span[16] = '\0';
            }
            put_str(b, json, span);
            break;
        }
        case GW_LOG_F_UPSTREAM_STATUS:
            if (r->resp_head_done)
                gw_buf_appendf(b, "%d", r->rmsg.status);
            else
                gw_buf_append_str(b, json ? "null" : "-");
            break;
        case GW_LOG_F_RETRIES:
            gw_buf_append_u64(b, r->retries);
            break;
        case GW_LOG_F_CACHE:
            put_str(b, json, r->svc ? gw_cache_status_name(r) : NULL);
            break;
        case GW_LOG_F_CONSUMER:
            put_str(b, json, r->authenticated ? r->identity.consumer : NULL);
            break;
        case GW_LOG_F_RATE_LIMIT:
            put_str(b, json, gw_trace_rl_outcome_name(r->rl_outcome));
            break;
        default:
            put_str(b, json, NULL);
            break;
        }
    }
    gw_buf_append_str(b, json ? "}\n" : "\n");
    if (b->len >= ACCESS_FLUSH_AT)
        gw_access_flush(w);
}

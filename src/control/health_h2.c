#include "control/health_h2.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "h2/client.h"
#include "h2/grpc.h"
#include "h2/grpc_health.h"

/* A HealthCheckResponse is a few bytes; anything longer is not one. */
#define GRPC_MSG_MAX 256

struct gw_health_h2 {
    struct gw_h2c_session *sess;
    int status; /* GET: 0 until the final head; gRPC: 0 until the end, then 1. <0: failed */
    int marker;
    bool grpc;
    size_t msg_len;
    uint8_t msg[GRPC_MSG_MAX];
    char why[80]; /* gRPC: why the check fails; "" when it passes */
};

/* The outcome of a gRPC call that ended: h->why, "" for SERVING. */
static void grpc_outcome(struct gw_health_h2 *h, const struct gw_h2c_stream *st)
{
    if (st->status != 200) {
        snprintf(h->why, sizeof h->why, "HTTP status %d", st->status);
        return;
    }
    /* The trailers hold grpc-status; a Trailers-Only answer has it in its only head. */
    int gs = st->trailers.len ? gw_grpc_status_field(st->trailers.data, st->trailers.len) : -1;
    if (gs < 0)
        gs = gw_grpc_status_field(st->fields.data ? st->fields.data : "", st->fields.len);
    if (gs < 0) {
        snprintf(h->why, sizeof h->why, "no grpc-status");
        return;
    }
    if (gs != 0) {
        snprintf(h->why, sizeof h->why, "grpc-status %d", gs);
        return;
    }
    int32_t serving = 0;
    if (h->msg_len == GRPC_MSG_MAX || gw_grpc_health_response(h->msg, h->msg_len, &serving) < 0) {
        snprintf(h->why, sizeof h->why, "malformed HealthCheckResponse");
        return;
    }
    if (serving == GW_GRPC_HEALTH_SERVING) {
        h->why[0] = '\0';
        return;
    }
    const char *name = gw_grpc_health_status_name(serving);
    if (strcmp(name, "other") == 0)
        snprintf(h->why, sizeof h->why, "serving status %d", (int)serving);
    else
        snprintf(h->why, sizeof h->why, "serving status %s", name);
}

static void on_stream(void *owner, struct gw_h2c_stream *st)
{
    struct gw_health_h2 *h = owner;
    if (!h->grpc) {
        if (st->head_done && h->status == 0)
            h->status = st->status;
        else if (st->ev_closed && h->status == 0)
            h->status = GW_EUPRESET;
        return;
    }
    if (h->status != 0)
        return;
    const char *p;
    size_t n;
    while ((n = gw_h2c_stream_data(st, &p)) > 0) {
        /* Kept up to the cap: one byte more marks it as too long (not a HealthCheckResponse). */
        size_t room = GRPC_MSG_MAX - h->msg_len;
        memcpy(h->msg + h->msg_len, p, n < room ? n : room);
        h->msg_len += n < room ? n : room;
        gw_h2c_stream_data_consume(st, n);
    }
    if (st->end && st->head_done) {
        grpc_outcome(h, st);
        h->status = 1;
    } else if (st->ev_closed) {
        h->status = GW_EUPRESET;
    }
}

static const struct gw_h2c_handler handler = {.stream = on_stream};

struct gw_health_h2 *gw_health_h2_start(const char *authority, const char *path, bool https,
                                        struct gw_buf *out)
{
    struct gw_health_h2 *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->sess = gw_h2c_session_new(&handler, h);
    const struct gw_h2c_field f[] = {
        {":method", 7, "GET", 3},
        {":scheme", 7, https ? "https" : "http", https ? 5u : 4u},
        {":authority", 10, authority, strlen(authority)},
        {":path", 5, path, strlen(path)},
        {"user-agent", 10, "gantry-health", 13},
    };
    int err;
    if (!h->sess ||
        !gw_h2c_stream_open(h->sess, f, sizeof f / sizeof f[0], false, &h->marker, &err) ||
        gw_h2c_session_output(h->sess, out, 65536) < 0) {
        gw_health_h2_free(h);
        return NULL;
    }
    return h;
}

struct gw_health_h2 *gw_health_h2_start_grpc(const char *authority, const char *service, bool https,
                                             struct gw_buf *out)
{
    uint8_t body[GW_GRPC_HEALTH_SERVICE_MAX + 16];
    size_t blen = gw_grpc_health_request(service ? service : "", body, sizeof body);
    if (blen == 0)
        return NULL;
    struct gw_health_h2 *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->grpc = true;
    h->sess = gw_h2c_session_new(&handler, h);
    static const char path[] = GW_GRPC_HEALTH_PATH;
    const struct gw_h2c_field f[] = {
        {":method", 7, "POST", 4},
        {":scheme", 7, https ? "https" : "http", https ? 5u : 4u},
        {":authority", 10, authority, strlen(authority)},
        {":path", 5, path, sizeof path - 1},
        {"content-type", 12, "application/grpc", 16},
        {"te", 2, "trailers", 8},
        {"user-agent", 10, "gantry-health", 13},
    };
    int err;
    struct gw_h2c_stream *st =
        h->sess ? gw_h2c_stream_open(h->sess, f, sizeof f / sizeof f[0], true, &h->marker, &err)
                : NULL;
    if (!st || gw_h2c_stream_write(st, (const char *)body, blen) < 0) {
        gw_health_h2_free(h);
        return NULL;
    }
    gw_h2c_stream_end(st);
    if (gw_h2c_session_output(h->sess, out, 65536) < 0) {
        gw_health_h2_free(h);
        return NULL;
    }
    return h;
}

int gw_health_h2_input(struct gw_health_h2 *h, const char *p, size_t n)
{
    if (gw_h2c_session_input(h->sess, p, n) < 0 && h->status == 0)
        return GW_EUPH2;
    return h->status;
}

const char *gw_health_h2_grpc_failure(const struct gw_health_h2 *h)
{
    return h->why[0] ? h->why : NULL;
}

void gw_health_h2_free(struct gw_health_h2 *h)
{
    if (!h)
        return;
    gw_h2c_session_free(h->sess);
    free(h);
}

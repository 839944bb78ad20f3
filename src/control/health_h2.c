#include "control/health_h2.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "h2/client.h"

struct gw_health_h2 {
    struct gw_h2c_session *sess;
    int status; /* 0 until the final head; negative when the stream failed */
    int marker;
};

static void on_stream(void *owner, struct gw_h2c_stream *st)
{
    struct gw_health_h2 *h = owner;
    if (st->head_done && h->status == 0)
        h->status = st->status;
    else if (st->ev_closed && h->status == 0)
        h->status = GW_EUPRESET;
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

int gw_health_h2_input(struct gw_health_h2 *h, const char *p, size_t n)
{
    if (gw_h2c_session_input(h->sess, p, n) < 0 && h->status == 0)
        return GW_EUPH2;
    return h->status;
}

void gw_health_h2_free(struct gw_health_h2 *h)
{
    if (!h)
        return;
    gw_h2c_session_free(h->sess);
    free(h);
}

/*
 * The WebSocket hub in the admin API: POST /api/channels/{channel}/messages publishes (what
 * backends call), GET /api/hub tells the hub's counters.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "core/error.h"
#include "hub/channel.h"
#include "hub/hub.h"
#include "runtime/server-t.h"

void gw__admin_hub_publish(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs)
{
    const struct gw__admin_slice *ch = &rq->params[0];
    if (s->hub == NULL) {
        gw__admin_error(rs, 404, "the WebSocket hub is off (\"hub\" in the config)");
        return;
    }
    if (!gw_hub_channel_valid(ch->p, ch->n)) {
        gw__admin_error(rs, 400, "a channel name is 1-128 of A-Z a-z 0-9 . _ : / @ -");
        return;
    }
    char id[33];
    int rc = gw_hub_publish_body(s->hub, ch->p, ch->n, rq->body, rq->body_len, NULL, id);
    if (rc == GW_EHUBMESSAGE) {
        gw__admin_error(rs, 400, "expected {\"data\": any JSON value[, \"client_id\": \"...\"]}");
        return;
    }
    if (rc < 0) {
        gw__admin_error(rs, 503, "the message could not be published");
        return;
    }
    gw__admin_json(rs, 202, json_pack("{s:s, s:s%}", "id", id, "channel", ch->p, ch->n));
}

void gw__admin_hub_stats(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs)
{
    (void)rq;
    if (s->hub == NULL) {
        gw__admin_json(rs, 200, json_pack("{s:b}", "enabled", 0));
        return;
    }
    struct gw_hub_stats st;
    gw_hub_get_stats(s->hub, &st);
    gw__admin_json(rs, 200,
                   json_pack("{s:b, s:s, s:s?, s:I, s:I, s:I, s:I, s:b, s:I, s:I}", "enabled", 1,
                             "backend", st.redis_backend ? "redis" : "local", "redis_channel",
                             st.redis_backend ? st.redis_channel : NULL, "connections",
                             (json_int_t)st.connections, "published", (json_int_t)st.published,
                             "delivered", (json_int_t)st.delivered, "slow_consumers_cut",
                             (json_int_t)st.slow_cut, "redis_up", (int)st.redis_up,
                             "redis_local_deliveries", (json_int_t)st.redis_local,
                             "redis_reconnects", (json_int_t)st.redis_reconnects));
}

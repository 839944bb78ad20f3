/*
 * A publish request's body, from the admin API (POST /api/channels/{channel}/messages) or the
 * proxy port (hub.publish_path, conn/hub_publish.c): parsed, checked against the channel rules
 * when a caller of the proxy port publishes, and handed to gw_hub_publish.
 */
#include "hub/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "runtime/worker-t.h"

int gw_hub_publish_body(struct gw_hub *h, const char *channel, size_t channel_len, const char *body,
                        size_t body_len, const struct gw_hub_publisher *who, char id_out[33])
{
    if (!gw_hub_channel_valid(channel, channel_len))
        return GW_EINVAL;
    json_error_t err;
    json_t *doc = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &err);
    json_t *data = json_object_get(doc, "data");
    json_t *to = json_object_get(doc, "client_id");
    const char *tos = json_string_value(to);
    char *text = NULL;
    int rc = GW_EHUBMESSAGE;
    if (!json_is_object(doc) || data == NULL || (to && !tos) ||
        (tos && !gw_hub_client_id_valid(tos, strlen(tos))))
        goto out;
    if (who) {
        struct gw__hub_rules *rules = gw__hub_rules_get(h);
        bool ok = gw__hub_allowed(rules, channel, channel_len, who->client_id, who->roles, true);
        gw__hub_rules_unref(rules);
        rc = GW_EFORBIDDEN;
        if (!ok)
            goto out;
    }
    rc = GW_ENOMEM;
    text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text)
        rc = gw_hub_publish(h, channel, channel_len, tos, text, strlen(text), id_out);
out:
    free(text);
    json_decref(doc);
    return rc;
}

struct gw_hub *gw_hub_of_worker(const struct gw_worker *w)
{
    return w->hub ? w->hub->hub : NULL;
}

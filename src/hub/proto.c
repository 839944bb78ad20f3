/*
 * The hub's protocol messages (hub/proto.h).
 */
#include "hub/proto.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    enum gw_hub_op op;
} ops[] = {
    {"subscribe", GW_HUB_SUBSCRIBE},
    {"unsubscribe", GW_HUB_UNSUBSCRIBE},
    {"publish", GW_HUB_PUBLISH},
    {"ping", GW_HUB_PING},
};

/* Copies an optional id-like string member; false when present but not one. */
static bool read_id(json_t *o, const char *key, char *out)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (v == NULL)
        return true;
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    if (!s || !gw_hub_client_id_valid(s, n))
        return false;
    memcpy(out, s, n + 1);
    return true;
}

int gw_hub_cmd_parse(const char *buf, size_t n, struct gw_hub_cmd *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    json_error_t e;
    json_t *o = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &e);
    int rc = 0;
    if (!json_is_object(o)) {
        rc = GW_HUB_EJSON;
        goto fail;
    }
    if (!read_id(o, "ref", cmd->ref)) {
        rc = GW_HUB_EREF;
        goto fail;
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    for (size_t i = 0; type && i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(type, ops[i].name) == 0)
            cmd->op = ops[i].op;
    if (cmd->op == 0) {
        rc = GW_HUB_ETYPE;
        goto fail;
    }
    if (cmd->op == GW_HUB_PING)
        goto done;
    json_t *ch = json_object_get(o, "channel");
    const char *c = json_string_value(ch);
    size_t cl = c ? json_string_length(ch) : 0;
    if (!c || !gw_hub_channel_valid(c, cl)) {
        rc = GW_HUB_ECHANNEL;
        goto fail;
    }
    memcpy(cmd->channel, c, cl + 1);
    cmd->channel_len = cl;
    if (cmd->op != GW_HUB_PUBLISH)
        goto done;
    if (!read_id(o, "to", cmd->to)) {
        rc = GW_HUB_EREF;
        goto fail;
    }
    json_t *data = json_object_get(o, "data");
    if (data == NULL) {
        rc = GW_HUB_EDATA;
        goto fail;
    }
    cmd->data = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (cmd->data == NULL) {
        rc = GW_HUB_ENOMEM;
        goto fail;
    }
    cmd->data_len = strlen(cmd->data);
done:
    json_decref(o);
    return 0;
fail:
    json_decref(o);
    return rc;
}

void gw_hub_cmd_clear(struct gw_hub_cmd *cmd)
{
    free(cmd->data);
    cmd->data = NULL;
    cmd->data_len = 0;
}

const char *gw_hub_perr_code(int err)
{
    switch (err) {
    case GW_HUB_EJSON:
        return "bad_json";
    case GW_HUB_ETYPE:
        return "unknown_type";
    case GW_HUB_ECHANNEL:
        return "bad_channel";
    case GW_HUB_EDATA:
        return "missing_data";
    case GW_HUB_EREF:
        return "bad_ref";
    default:
        return "internal";
    }
}

int gw_hub_wire_parse(const char *p, size_t n, struct gw_hub_wire *w)
{
    const char *end = p + n;
    const char *a = memchr(p, '\n', n);
    if (a == NULL)
        return -1;
    const char *b = memchr(a + 1, '\n', (size_t)(end - a - 1));
    if (b == NULL)
        return -1;
    w->to = p;
    w->to_len = (size_t)(a - p);
    w->channel = a + 1;
    w->channel_len = (size_t)(b - a - 1);
    w->event = b + 1;
    w->event_len = (size_t)(end - b - 1);
    if (w->to_len && !gw_hub_client_id_valid(w->to, w->to_len))
        return -1;
    if (!gw_hub_channel_valid(w->channel, w->channel_len))
        return -1;
    if (w->event_len < 2 || w->event[0] != '{')
        return -1;
    return 0;
}

long gw_hub_wire_format(const struct gw_hub_wire *w, char *out, size_t cap)
{
    size_t n = w->to_len + 1 + w->channel_len + 1 + w->event_len;
    if (n > cap)
        return -1;
    char *o = out;
    memcpy(o, w->to, w->to_len);
    o += w->to_len;
    *o++ = '\n';
    memcpy(o, w->channel, w->channel_len);
    o += w->channel_len;
    *o++ = '\n';
    memcpy(o, w->event, w->event_len);
    return (long)n;
}

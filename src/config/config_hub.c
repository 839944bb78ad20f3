/*
 * "hub": the gateway-terminated WebSocket endpoint (docs/config.md "hub", src/hub/).
 */
#include "config/internal.h"

#include <string.h>

#include "hub/channel.h"
#include "policy/origin.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define HC(f) offsetof(struct gw_hub_conf, f)
#define HR(f) offsetof(struct gw_hub_rule_conf, f)

static bool check_pattern(struct gw__cfg_ctx *ctx, char **s)
{
    const char *why = NULL;
    if (gw_hub_pattern_check(*s, &why) == 0)
        return true;
    char q[160];
    gw__cfg_error(ctx, "%s %s", gw__cfg_quote(*s, strlen(*s), q, sizeof q), why);
    return false;
}

static bool check_role(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    if (n > 0 && n <= 128 && strchr(*s, ' ') == NULL)
        return true;
    char q[160];
    gw__cfg_error(ctx, "%s is not a role name (1-128 characters, no space; \"*\" for anyone)",
                  gw__cfg_quote(*s, n, q, sizeof q));
    return false;
}

static bool check_origin(struct gw__cfg_ctx *ctx, char **s)
{
    const char *why = NULL;
    struct gw_origin_pattern p;
    size_t n = strlen(*s);
    if (gw_origin_pattern_parse(*s, n, &p, &why) == 0) {
        for (char *c = *s; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        return true;
    }
    char q[96];
    gw__cfg_error(ctx, "%s %s", gw__cfg_quote(*s, n, q, sizeof q), why);
    return false;
}

static bool check_redis_channel(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    if (n > 0 && n <= 128)
        return true;
    gw__cfg_error(ctx, "must be 1-128 characters");
    return false;
}

static const struct gw__cfg_field rule_fields[] = {
    {.name = "channels",
     .type = &gw__cfg_strlist_type,
     .offset = HR(channels),
     .arg =
         &(const struct gw__cfg_strlist){
             .count_offset = HR(nchannels), .min = 1, .check = check_pattern, .unique = true},
     .required = true},
    {.name = "subscribe",
     .type = &gw__cfg_strlist_type,
     .offset = HR(subscribe),
     .arg = &(const struct gw__cfg_strlist){.count_offset = HR(nsubscribe),
                                            .check = check_role,
                                            .unique = true}},
    {.name = "publish",
     .type = &gw__cfg_strlist_type,
     .offset = HR(publish),
     .arg = &(const struct gw__cfg_strlist){.count_offset = HR(npublish),
                                            .check = check_role,
                                            .unique = true}},
};
static const struct gw__cfg_object rule_obj = {
    .what = "hub channel rule",
    ROWS(rule_fields),
    .size = sizeof(struct gw_hub_rule_conf),
};

static const struct gw__cfg_enum backends[] = {
    {"local", GW_HUB_BACKEND_LOCAL},
    {"redis", GW_HUB_BACKEND_REDIS},
    {NULL, 0},
};

static const struct gw__cfg_range message_range = {16, 16u << 20};
static const struct gw__cfg_range queue_range = {1024, 1ull << 30};
static const struct gw__cfg_range subs_range = {1, 10000};
static const struct gw__cfg_range subscribers_range = {1, 10000000};
static const struct gw__cfg_range ping_range = {100, 3600000};
static const struct gw__cfg_range idle_range = {0, 24ull * 3600 * 1000};

static const struct gw__cfg_field hub_fields[] = {
    {.name = "path",
     .type = &gw__cfg_string_type,
     .offset = HC(path),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_prefix},
     .def = "/ws"},
    {.name = "service",
     .type = &gw__cfg_string_type,
     .offset = HC(service),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_name}},
    {.name = "publish_path",
     .type = &gw__cfg_string_type,
     .offset = HC(publish_path),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_prefix}},
    {.name = "backend",
     .type = &gw__cfg_enum_type,
     .offset = HC(backend),
     .arg = backends,
     .def = "local"},
    {.name = "redis_channel",
     .type = &gw__cfg_string_type,
     .offset = HC(redis_channel),
     .arg = &(const struct gw__cfg_str){check_redis_channel},
     .def = "gantry:hub"},
    {.name = "channels",
     .type = &gw__cfg_list_type,
     .offset = HC(rules),
     .arg = &(const struct gw__cfg_list){.elem = &rule_obj, .count_offset = HC(nrules)}},
    {.name = "max_message_size",
     .type = &gw__cfg_size32_type,
     .offset = HC(max_message_bytes),
     .arg = &message_range,
     .def = "64KiB"},
    {.name = "max_queue",
     .type = &gw__cfg_size64_type,
     .offset = HC(max_queue_bytes),
     .arg = &queue_range,
     .def = "1MiB"},
    {.name = "max_subscriptions",
     .type = &gw__cfg_uint32_type,
     .offset = HC(max_subscriptions),
     .arg = &subs_range,
     .def = "64"},
    {.name = "max_subscribers",
     .type = &gw__cfg_uint32_type,
     .offset = HC(max_subscribers),
     .arg = &subscribers_range,
     .def = "100000"},
    {.name = "ping_interval",
     .type = &gw__cfg_duration_type,
     .offset = HC(ping_interval_ms),
     .arg = &ping_range,
     .def = "30s"},
    {.name = "idle_timeout",
     .type = &gw__cfg_duration_type,
     .offset = HC(idle_timeout_ms),
     .arg = &idle_range,
     .def = "75s"},
    {.name = "origins",
     .type = &gw__cfg_strlist_type,
     .offset = HC(origins),
     .arg = &(const struct gw__cfg_strlist){.count_offset = HC(norigins),
                                            .check = check_origin,
                                            .unique = true}},
};

/* Across sections: the service must exist, the Redis backend needs rate_limit.redis.url, the
 * publish path needs the service and a path of its own. */
static void hub_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_hub_conf *hc = obj;
    const struct gw_config *cfg = ctx->root;
    if (hc->service) {
        bool found = false;
        for (size_t i = 0; i < cfg->nservices && !found; i++)
            found = cfg->services[i].name && strcmp(cfg->services[i].name, hc->service) == 0;
        if (!found) {
            gw__cfg_push_key(ctx, "service");
            gw__cfg_error(ctx, "no service named \"%s\"", hc->service);
            gw__cfg_pop(ctx);
        }
    }
    /* hc->path NULL: it was refused, and the error said why */
    if (hc->publish_path && hc->path) {
        size_t pl = strlen(hc->path), ql = strlen(hc->publish_path);
        size_t n = pl < ql ? pl : ql;
        gw__cfg_push_key(ctx, "publish_path");
        if (!hc->service)
            gw__cfg_error(ctx, "needs hub.service: its policy chain (auth) guards publishing");
        else if (memcmp(hc->path, hc->publish_path, n) == 0 &&
                 (pl == ql || (pl < ql ? hc->publish_path[pl] : hc->path[ql]) == '/' || n == 1))
            gw__cfg_error(ctx, "overlaps hub.path \"%s\"", hc->path);
        gw__cfg_pop(ctx);
    }
    if (hc->backend == GW_HUB_BACKEND_REDIS && !cfg->rate_limit.redis.url) {
        gw__cfg_push_key(ctx, "backend");
        gw__cfg_error(ctx, "backend redis uses the Redis of rate_limit.redis: set "
                           "rate_limit.redis.url (or REDIS_URL)");
        gw__cfg_pop(ctx);
    }
    if (hc->idle_timeout_ms && hc->idle_timeout_ms <= hc->ping_interval_ms) {
        gw__cfg_push_key(ctx, "idle_timeout");
        gw__cfg_error(ctx, "must be longer than ping_interval (or 0 for never)");
        gw__cfg_pop(ctx);
    }
}

const struct gw__cfg_object gw__cfg_hub_obj = {
    .what = "hub",
    ROWS(hub_fields),
    .check = hub_check,
    .toggle = true,
    .enabled_offset = HC(enabled),
};

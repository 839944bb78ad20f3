/*
 * "websocket" of a service: upgrade proxying (docs/config.md "websocket").
 */
#include "config/internal.h"

#include <string.h>

#include "policy/origin.h"

#define WS(f) offsetof(struct gw_service_conf, websocket.f)

/* An origin pattern (policy/origin.h), stored lowercased. */
static bool check_ws_origin(struct gw__cfg_ctx *ctx, char **s)
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

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* An Upgrade protocol other than websocket (RFC 9110 7.8: a token, maybe "/version"). */
static bool check_protocol(struct gw__cfg_ctx *ctx, char **s)
{
    char q[96];
    size_t n = strlen(*s);
    bool ok = n > 0;
    for (char *c = *s; *c && ok; c++) {
        ok = is_tchar(*c) || *c == '/';
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    }
    if (!ok) {
        gw__cfg_error(ctx, "%s is not a protocol name (a token such as \"mqtt\")",
                      gw__cfg_quote(*s, n, q, sizeof q));
        return false;
    }
    if (strcmp(*s, "h2c") == 0 || strcmp(*s, "websocket") == 0) {
        gw__cfg_error(ctx, "%s: %s", gw__cfg_quote(*s, n, q, sizeof q),
                      strcmp(*s, "h2c") == 0 ? "h2c upgrades are always refused"
                                             : "websocket is always tunnelled when enabled");
        return false;
    }
    return true;
}

/* A query parameter name: unreserved characters only, so it needs no escaping. */
static bool check_param(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 64;
    for (const char *c = *s; *c && ok; c++)
        ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
             strchr("-._~", *c) != NULL;
    if (!ok) {
        char q[96];
        gw__cfg_error(ctx, "%s is not a query parameter name (1-64 of A-Z a-z 0-9 - . _ ~)",
                      gw__cfg_quote(*s, n, q, sizeof q));
    }
    return ok;
}

/* A subprotocol prefix: token characters (RFC 6455 4.1: subprotocols are tokens). */
static bool check_prefix(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 64;
    for (const char *c = *s; *c && ok; c++)
        ok = is_tchar(*c);
    if (!ok) {
        char q[96];
        gw__cfg_error(ctx,
                      "%s is not a subprotocol prefix (1-64 token characters, such as "
                      "\"access_token.\")",
                      gw__cfg_quote(*s, n, q, sizeof q));
    }
    return ok;
}

#define ROUTE struct gw_ws_route_conf
static const struct gw__cfg_field route_match_fields[] = {GW__CFG_MATCH_ROWS(ROUTE, match)};
static const struct gw__cfg_object route_match_obj = {
    .what = "match",
    .fields = route_match_fields,
    .nfields = sizeof route_match_fields / sizeof route_match_fields[0],
};
static const struct gw__cfg_field route_fields[] = {
    {.name = "match", .type = &gw__cfg_object_type, .arg = &route_match_obj, .required = true},
    {.name = "enabled",
     .type = &gw__cfg_bool_type,
     .offset = offsetof(ROUTE, enabled),
     .def = "true"},
};
static const struct gw__cfg_object route_obj = {
    .what = "websocket route",
    .fields = route_fields,
    .nfields = sizeof route_fields / sizeof route_fields[0],
    .size = sizeof(ROUTE),
};

static const struct gw__cfg_range ws_duration = {0, 30ull * 24 * 3600 * 1000};
static const struct gw__cfg_str param_check = {check_param};
static const struct gw__cfg_str prefix_check = {check_prefix};

static const struct gw__cfg_field websocket_fields[] = {
    /* No default: an object turns the section on (parse_toggle), "enabled": false inside it
     * keeps upgrades off except on the routes that allow them. */
    {.name = "enabled", .type = &gw__cfg_bool_type, .offset = WS(enabled)},
    {.name = "idle_timeout",
     .type = &gw__cfg_duration_type,
     .offset = WS(idle_timeout_ms),
     .arg = &ws_duration,
     .def = "1h"},
    {.name = "max_lifetime",
     .type = &gw__cfg_duration_type,
     .offset = WS(max_lifetime_ms),
     .arg = &ws_duration,
     .def = "24h"},
    {.name = "origins",
     .type = &gw__cfg_strlist_type,
     .offset = WS(origins),
     .arg = &(const struct gw__cfg_strlist){.count_offset = WS(norigins),
                                            .check = check_ws_origin,
                                            .unique = true}},
    {.name = "protocols",
     .type = &gw__cfg_strlist_type,
     .offset = WS(protocols),
     .arg = &(const struct gw__cfg_strlist){.count_offset = WS(nprotocols),
                                            .check = check_protocol,
                                            .unique = true}},
    {.name = "token_query",
     .type = &gw__cfg_string_type,
     .offset = WS(token_query),
     .arg = &param_check},
    {.name = "token_protocol",
     .type = &gw__cfg_string_type,
     .offset = WS(token_protocol),
     .arg = &prefix_check},
    {.name = "routes",
     .type = &gw__cfg_list_type,
     .offset = WS(routes),
     .arg = &(const struct gw__cfg_list){.elem = &route_obj, .count_offset = WS(nroutes)}},
};

const struct gw__cfg_object gw__cfg_service_websocket_obj = {
    .what = "websocket",
    .fields = websocket_fields,
    .nfields = sizeof websocket_fields / sizeof websocket_fields[0],
    .toggle = true,
    .enabled_offset = WS(enabled),
};

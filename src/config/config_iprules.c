/*
 * The "ip_rules" sections of the config schema: the gateway's allow and deny lists, a
 * service's (inherited from the gateway's key by key, or switched off with false), and a
 * service's rules, which give other lists to the requests their "match" accepts.
 *
 * docs/config.md documents every row ("IP rules"); policy/iprules.c compiles the lists.
 */
#include "config/internal.h"

#include "net/addr.h"

#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define FIELD(base, f, T) ((T *)((char *)(base) + (f)->offset))

_Static_assert(sizeof(enum gw_iplist_state) == sizeof(int), "enums are stored as int");

/* ---- a list of addresses and CIDR blocks ----------------------------------------------------- */

static void release_iplist(void *base, const struct gw__cfg_field *f)
{
    struct gw_iplist_conf *l = FIELD(base, f, struct gw_iplist_conf);
    free(l->items);
    l->items = NULL;
    l->n = 0;
    l->state = GW_IPLIST_INHERIT;
}

/* A string or an array of strings ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32"), or false. */
static void parse_iplist(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    struct gw_iplist_conf *l = FIELD(base, f, struct gw_iplist_conf);
    if (json_is_false(v)) {
        release_iplist(base, f);
        l->state = GW_IPLIST_OFF;
        return;
    }
    bool is_array = json_is_array(v);
    if (!is_array && !json_is_string(v)) {
        gw__cfg_error(ctx, "expected a string, an array of strings or false, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    size_t n = is_array ? json_array_size(v) : 1;
    if (n == 0) {
        /* "allow": [] reads as "allow nobody" to some and "no list" to others: say which. */
        gw__cfg_error(ctx, "must not be empty (false drops an inherited list; to refuse every "
                           "address, deny \"0.0.0.0/0\" and \"::/0\")");
        return;
    }
    struct gw_cidr *items = calloc(n, sizeof *items);
    if (items == NULL) {
        ctx->oom = true;
        return;
    }
    size_t k = gw__cfg_cidr_items(ctx, v, items);
    release_iplist(base, f);
    l->items = items;
    l->n = k;
    l->state = GW_IPLIST_SET;
}

static const struct gw__cfg_type iplist_type = {"string, array of strings or false", parse_iplist,
                                                release_iplist};

/* ---- a service's rules ----------------------------------------------------------------------- */

static const struct gw__cfg_field rule_match_fields[] = {
    GW__CFG_MATCH_ROWS(struct gw_iprule_conf, match)};
static const struct gw__cfg_object rule_match_obj = {.what = "match", ROWS(rule_match_fields)};

/* A rule that sets neither list would change nothing: most likely a typo. */
static void rule_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)obj;
    if (json == NULL || json_object_get(json, "allow") || json_object_get(json, "deny"))
        return;
    gw__cfg_error(ctx, "a rule needs \"allow\" or \"deny\" (or both)");
}

static const struct gw__cfg_field rule_fields[] = {
    {.name = "match", .type = &gw__cfg_object_type, .arg = &rule_match_obj, .required = true},
    {.name = "allow", .type = &iplist_type, .offset = offsetof(struct gw_iprule_conf, allow)},
    {.name = "deny", .type = &iplist_type, .offset = offsetof(struct gw_iprule_conf, deny)},
};
static const struct gw__cfg_object rule_obj = {
    .what = "rule",
    ROWS(rule_fields),
    .size = sizeof(struct gw_iprule_conf),
    .check = rule_check,
};

/* ---- the sections ---------------------------------------------------------------------------- */

static const struct gw__cfg_field gateway_fields[] = {
    {.name = "allow", .type = &iplist_type, .offset = offsetof(struct gw_iprules_conf, allow)},
    {.name = "deny", .type = &iplist_type, .offset = offsetof(struct gw_iprules_conf, deny)},
};
const struct gw__cfg_object gw__cfg_ip_rules_obj = {.what = "ip_rules", ROWS(gateway_fields)};

static const struct gw__cfg_field service_fields[] = {
    {.name = "allow", .type = &iplist_type, .offset = offsetof(struct gw_iprules_conf, allow)},
    {.name = "deny", .type = &iplist_type, .offset = offsetof(struct gw_iprules_conf, deny)},
    {.name = "rules",
     .type = &gw__cfg_list_type,
     .offset = offsetof(struct gw_iprules_conf, rules),
     .arg = &(const struct gw__cfg_list){.elem = &rule_obj,
                                         .count_offset = offsetof(struct gw_iprules_conf, nrules)}},
};
const struct gw__cfg_object gw__cfg_service_ip_rules_obj = {
    .what = "ip_rules",
    ROWS(service_fields),
    .toggle = true,
    .enabled_offset = offsetof(struct gw_iprules_conf, enabled),
};

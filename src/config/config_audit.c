/*
 * The "audit" section (docs/config.md "Audit", README "Audit log"): where the audit log goes
 * and which events it records.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define CFG(f) offsetof(struct gw_config, f)

static const struct {
    const char *name;
    uint32_t bit;
} event_names[] = {
    {"admin", GW_AUDIT_EV_ADMIN},
    {"reload", GW_AUDIT_EV_RELOAD},
    {"forbidden", GW_AUDIT_EV_FORBIDDEN},
    {"unauthorized", GW_AUDIT_EV_UNAUTHORIZED},
    {"new_address", GW_AUDIT_EV_NEW_ADDRESS},
    {"identity", GW_AUDIT_EV_IDENTITY},
};
#define NEVENTS (sizeof event_names / sizeof event_names[0])

/* "audit.events": an array of event names ("all" stands for every one). */
static void parse_events(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    if (!json_is_array(v)) {
        gw__cfg_error(ctx, "expected an array of event names, got %s", gw__cfg_json_kind(v));
        return;
    }
    uint32_t bits = 0;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        gw__cfg_push_index(ctx, i);
        const char *s = json_string_value(item);
        uint32_t bit = 0;
        if (s != NULL && strcmp(s, "all") == 0)
            bit = GW_AUDIT_EV_ALL;
        for (size_t k = 0; s != NULL && bit == 0 && k < NEVENTS; k++)
            if (strcmp(s, event_names[k].name) == 0)
                bit = event_names[k].bit;
        if (bit == 0) {
            char q[96];
            gw__cfg_error(ctx,
                          "unknown audit event %s: expected admin, reload, forbidden, "
                          "unauthorized, new_address, identity or all",
                          s ? gw__cfg_quote(s, strlen(s), q, sizeof q) : gw__cfg_json_kind(item));
        }
        bits |= bit;
        gw__cfg_pop(ctx);
    }
    cfg->audit.events = bits;
}

static const struct gw__cfg_type events_type = {"array of strings", parse_events, NULL};

/* An empty string (an unset ${VAR:-}) means none. */
static bool check_optional(struct gw__cfg_ctx *ctx, char **s)
{
    (void)ctx;
    if ((*s)[0] == '\0') {
        free(*s);
        *s = NULL;
    }
    return true;
}
static const struct gw__cfg_str optional_check = {check_optional};

static const struct gw__cfg_range pg_queue_range = {1, 10000000};
static const struct gw__cfg_range queue_range = {16, 1000000};
static const struct gw__cfg_range threshold_range = {1, 1000000};
static const struct gw__cfg_range window_range = {1000, 86400000};

static const struct gw__cfg_field postgres_fields[] = {
    {.name = "dsn",
     .type = &gw__cfg_string_type,
     .offset = CFG(audit.pg_dsn),
     .arg = &optional_check},
    {.name = "queue",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(audit.pg_queue),
     .arg = &pg_queue_range,
     .def = "10000"},
};
static const struct gw__cfg_object postgres_obj = {.what = "postgres", ROWS(postgres_fields)};

static const struct gw__cfg_field unauthorized_fields[] = {
    {.name = "threshold",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(audit.unauthorized_threshold),
     .arg = &threshold_range,
     .def = "5"},
    {.name = "window",
     .type = &gw__cfg_duration_type,
     .offset = CFG(audit.unauthorized_window_ms),
     .arg = &window_range,
     .def = "60s"},
};
static const struct gw__cfg_object unauthorized_obj = {.what = "unauthorized",
                                                       ROWS(unauthorized_fields)};

static void audit_init(struct gw__cfg_ctx *ctx, void *obj)
{
    (void)ctx;
    struct gw_config *cfg = obj;
    cfg->audit.events = GW_AUDIT_EV_ALL;
}

/* The file and the SQLite database must not be the same path: one is JSON lines, the other a
 * database. */
static void audit_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    cfg->audit.enabled =
        cfg->audit.file != NULL || cfg->audit.sqlite != NULL || cfg->audit.pg_dsn != NULL;
    if (cfg->audit.file && cfg->audit.sqlite && strcmp(cfg->audit.file, cfg->audit.sqlite) == 0) {
        gw__cfg_push_key(ctx, "sqlite");
        gw__cfg_error(ctx, "audit.sqlite names the same file as audit.file");
        gw__cfg_pop(ctx);
    }
}

static const struct gw__cfg_field audit_fields[] = {
    {.name = "file",
     .type = &gw__cfg_string_type,
     .offset = CFG(audit.file),
     .arg = &optional_check},
    {.name = "sqlite",
     .type = &gw__cfg_string_type,
     .offset = CFG(audit.sqlite),
     .arg = &optional_check},
    {.name = "postgres", .type = &gw__cfg_object_type, .arg = &postgres_obj},
    {.name = "queue",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(audit.queue),
     .arg = &queue_range,
     .def = "4096"},
    {.name = "events", .type = &events_type},
    {.name = "unauthorized", .type = &gw__cfg_object_type, .arg = &unauthorized_obj},
};
const struct gw__cfg_object gw__cfg_audit_obj = {
    .what = "audit", ROWS(audit_fields), .init = audit_init, .check = audit_check};

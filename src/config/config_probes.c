/*
 * The "probes" section: the paths the proxy port answers itself for liveness, readiness and
 * startup probes.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])

#define PROBE(name) offsetof(struct gw_config, probes.name)

/* A probe path is compared byte for byte with the path a client sends, so it must be one that
 * is sent as written: the rules of a service prefix, and no trailing "/". */
static bool check_probe_path(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    char q[96];
    if ((*s)[0] != '/' || (n > 1 && (*s)[n - 1] == '/')) {
        gw__cfg_error(ctx, "%s: a probe path must start with \"/\" and not end with one",
                      gw__cfg_quote(*s, n, q, sizeof q));
        return false;
    }
    return gw__cfg_check_prefix(ctx, s);
}

/* "probes.*": a path, or "off" (also from ${ENV}) or false for no such probe. */
static void parse_probe(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                        const struct gw__cfg_field *f)
{
    struct gw_probe_path *dst = (struct gw_probe_path *)((char *)base + f->offset);
    char *s = NULL;
    free(dst->path);
    dst->path = NULL;
    dst->len = 0;
    if (json_is_false(v))
        return;
    if (!json_is_string(v)) {
        gw__cfg_error(ctx, "expected a path (\"/health\"), or \"off\" or false, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    if (strcmp(s, "off") == 0 || !check_probe_path(ctx, &s)) {
        free(s);
        return;
    }
    dst->path = s;
    dst->len = strlen(s);
}

static void release_probe(void *base, const struct gw__cfg_field *f)
{
    struct gw_probe_path *dst = (struct gw_probe_path *)((char *)base + f->offset);
    free(dst->path);
    dst->path = NULL;
    dst->len = 0;
}

static const struct gw__cfg_type probe_type = {"path or off", parse_probe, release_probe};

static const struct gw__cfg_field probes_fields[] = {
    {.name = "health", .type = &probe_type, .offset = PROBE(health), .def = "/health"},
    {.name = "ready", .type = &probe_type, .offset = PROBE(ready), .def = "/ready"},
    {.name = "startup", .type = &probe_type, .offset = PROBE(startup), .def = "/health/startup"},
};

/* Two probes on one path: only the first would ever answer. */
static void probes_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    const struct gw_probe_path *p[] = {&cfg->probes.health, &cfg->probes.ready,
                                       &cfg->probes.startup};
    for (size_t i = 1; i < sizeof p / sizeof p[0]; i++) {
        for (size_t j = 0; j < i; j++) {
            if (p[i]->len == 0 || p[j]->len == 0 || strcmp(p[i]->path, p[j]->path) != 0)
                continue;
            char q[96];
            gw__cfg_push_key(ctx, probes_fields[i].name);
            gw__cfg_error(ctx, "%s is also probes.%s",
                          gw__cfg_quote(p[i]->path, p[i]->len, q, sizeof q), probes_fields[j].name);
            gw__cfg_pop(ctx);
            break;
        }
    }
}

const struct gw__cfg_object gw__cfg_probes_obj = {
    .what = "probes", ROWS(probes_fields), .check = probes_check};

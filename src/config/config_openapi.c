/*
 * The "openapi" sections of the config schema: the gateway's (where the merged document is
 * served, how often the services' documents are fetched) and a service's (where its own
 * document is: a URL, a path on its first target, or a file).
 *
 * docs/config.md documents every row; docs/openapi.md explains the behaviour.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

#include "net/fetch.h"
#include "tls/tls.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define OC(field) offsetof(struct gw_openapi_conf, field)
#define SO(field) offsetof(struct gw_service_conf, openapi.field)

/* Judged by the rules the fetches use (net/fetch.h): http:// and https:// (verified). */
static bool check_url(struct gw__cfg_ctx *ctx, char **s)
{
    const char *why =
        strlen(*s) > 2048 ? "URL longer than 2048 characters" : gw_fetch_check_url_https(*s);
    if (why != NULL)
        gw__cfg_url_error(ctx, *s, why);
    return why == NULL;
}

/* A PEM bundle with at least one certificate (read at load: a typo fails the load, not the
 * fetches). */
static bool check_ca_file(struct gw__cfg_ctx *ctx, char **s)
{
    char why[300];
    if (gw_tls_check_ca(*s, why, sizeof why) == 0)
        return true;
    gw__cfg_error(ctx, "%s", why);
    return false;
}

static bool check_file(struct gw__cfg_ctx *ctx, char **s)
{
    if ((*s)[0] != '\0')
        return true;
    gw__cfg_error(ctx, "expected a file name");
    return false;
}

static const struct gw__cfg_field service_fields[] = {
    {.name = "url",
     .type = &gw__cfg_string_type,
     .offset = SO(url),
     .arg = &(const struct gw__cfg_str){check_url}},
    {.name = "path",
     .type = &gw__cfg_string_type,
     .offset = SO(path),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_prefix}},
    {.name = "file",
     .type = &gw__cfg_string_type,
     .offset = SO(file),
     .arg = &(const struct gw__cfg_str){check_file}},
};

static void service_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)obj;
    /* Counted on the JSON: a key whose value was refused is reported on its own. A source
     * too many is named where it is written; none, at the object. */
    const char *first = NULL;
    const char *extra = NULL;
    const char *key;
    json_t *v;
    if (!json_is_object(json))
        return;
    json_object_foreach(json, key, v)
    {
        if (strcmp(key, "url") != 0 && strcmp(key, "path") != 0 && strcmp(key, "file") != 0)
            continue;
        if (first == NULL)
            first = key;
        else if (extra == NULL)
            extra = key;
    }
    if (extra) {
        gw__cfg_push_key(ctx, extra);
        gw__cfg_error(ctx,
                      "\"%s\" is named too: name exactly one of \"url\", \"path\" or "
                      "\"file\"",
                      first);
        gw__cfg_pop(ctx);
    } else if (first == NULL) {
        gw__cfg_error(ctx, "name exactly one of \"url\", \"path\" or \"file\"");
    }
}

const struct gw__cfg_object gw__cfg_service_openapi_obj = {
    .what = "openapi",
    ROWS(service_fields),
    .check = service_check,
};

static const struct gw__cfg_range refresh_range = {1000, UINT64_MAX};
static const struct gw__cfg_range timeout_range = {100, 600000};

static const struct gw__cfg_field openapi_fields[] = {
    {.name = "path",
     .type = &gw__cfg_string_type,
     .offset = OC(path),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_prefix},
     .def = "/docs"},
    {.name = "viewer", .type = &gw__cfg_bool_type, .offset = OC(viewer), .def = "true"},
    {.name = "title", .type = &gw__cfg_string_type, .offset = OC(title), .def = "gantry"},
    {.name = "version", .type = &gw__cfg_string_type, .offset = OC(version), .def = "1.0.0"},
    {.name = "server_url", .type = &gw__cfg_string_type, .offset = OC(server_url), .def = "/"},
    {.name = "refresh",
     .type = &gw__cfg_duration_type,
     .offset = OC(refresh_ms),
     .arg = &refresh_range,
     .def = "5m"},
    {.name = "timeout",
     .type = &gw__cfg_duration_type,
     .offset = OC(timeout_ms),
     .arg = &timeout_range,
     .def = "5s"},
    {.name = "max_bytes", .type = &gw__cfg_size64_type, .offset = OC(max_bytes), .def = "4MiB"},
    {.name = "ca_file",
     .type = &gw__cfg_string_type,
     .offset = OC(ca_file),
     .arg = &(const struct gw__cfg_str){check_ca_file}},
};
static void openapi_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_openapi_conf *oc = obj;
    (void)ctx;
    (void)json;
    oc->path_len = oc->enabled && oc->path ? strlen(oc->path) : 0;
}

const struct gw__cfg_object gw__cfg_openapi_obj = {
    .what = "openapi",
    ROWS(openapi_fields),
    .check = openapi_check,
    .toggle = true,
    .enabled_offset = OC(enabled),
};

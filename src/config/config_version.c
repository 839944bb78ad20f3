/*
 * The "versioning" section of the config schema (how versioned services read a request's
 * version) and the checks of a service's "version", "deprecated_at", "sunset_at" and
 * "successor" keys (rows of the service table in config_service.c).
 *
 * docs/config.md documents every row; docs/versioning.md explains the behaviour.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

#include "policy/version.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define VC(field) offsetof(struct gw_versioning_conf, field)

static const char *const source_names[GW_VSRC__COUNT] = {
    [GW_VSRC_PATH] = "path",
    [GW_VSRC_HEADER] = "header",
    [GW_VSRC_ACCEPT] = "accept",
    [GW_VSRC_QUERY] = "query",
};

bool gw__cfg_check_version(struct gw__cfg_ctx *ctx, char **s)
{
    /* "." and ".." would make path segments that normalisation removes. */
    if (gw_version_token(*s, strlen(*s)) && strcmp(*s, ".") != 0 && strcmp(*s, "..") != 0)
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s is not a version (1 to %d letters, digits, \".\", \"_\" or \"-\")",
                  gw__cfg_quote(*s, strlen(*s), q, sizeof q), GW_VERSION_MAX);
    return false;
}

bool gw__cfg_check_time(struct gw__cfg_ctx *ctx, char **s)
{
    int64_t t;
    if (gw_version_parse_time(*s, &t) == 0)
        return true;
    gw__cfg_error(ctx, "expected an RFC 3339 UTC time such as \"2027-01-31T00:00:00Z\"");
    return false;
}

/* A URI reference for a Link header: no whitespace, controls, '<', '>' or '"'. */
bool gw__cfg_check_link_uri(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 2048;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)(*s)[i];
        ok = c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"';
    }
    if (!ok)
        gw__cfg_error(ctx, "expected a URI (printable ASCII without spaces, '<', '>' or '\"')");
    return ok;
}

static bool check_source(struct gw__cfg_ctx *ctx, char **s)
{
    for (size_t i = 0; i < GW_VSRC__COUNT; i++)
        if (strcmp(*s, source_names[i]) == 0)
            return true;
    gw__cfg_error(ctx, "unknown source (expected \"path\", \"header\", \"accept\" or \"query\")");
    return false;
}

/* A header field name (RFC 9110 token). */
static bool check_header_name(struct gw__cfg_ctx *ctx, char **s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 128;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)(*s)[i];
        ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
             (c && strchr(tchar, c));
    }
    if (!ok)
        gw__cfg_error(ctx, "expected a header field name");
    return ok;
}

/* A query parameter or media-type parameter name: a token, without '=' '&' ';'. */
static bool check_param(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)(*s)[i];
        ok = c > 0x20 && c < 0x7f && !strchr("=&;,\"#?%", c);
    }
    if (!ok)
        gw__cfg_error(ctx, "expected a parameter name (printable, without \"=&;,#?%%\")");
    return ok;
}

/* The segment before the version in "/v2": letters, digits, '-', '_', '.' (may be empty). */
static bool check_path_prefix(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    if (n == 0 || gw_version_token(*s, n))
        return true;
    gw__cfg_error(ctx, "expected letters, digits, \".\", \"_\" or \"-\" (such as \"v\")");
    return false;
}

static bool set_default_headers(struct gw__cfg_ctx *ctx, struct gw_versioning_conf *v)
{
    v->headers = calloc(2, sizeof *v->headers);
    if (v->headers == NULL) {
        ctx->oom = true;
        return false;
    }
    v->headers[0] = strdup("Accept-Version");
    v->headers[1] = strdup("API-Version");
    v->nheaders = 2;
    if (v->headers[0] == NULL || v->headers[1] == NULL) {
        ctx->oom = true;
        return false;
    }
    return true;
}

static void versioning_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_versioning_conf *v = obj;
    (void)json;
    v->norder = 0;
    if (v->nsource_names == 0) {
        for (uint8_t i = 0; i < GW_VSRC__COUNT; i++)
            v->order[v->norder++] = i;
    } else {
        for (size_t k = 0; k < v->nsource_names; k++)
            for (uint8_t i = 0; i < GW_VSRC__COUNT; i++)
                if (strcmp(v->source_names[k], source_names[i]) == 0)
                    v->order[v->norder++] = i;
    }
    v->path = false;
    for (size_t k = 0; k < v->norder; k++)
        v->path |= v->order[k] == GW_VSRC_PATH;
    if (v->nheaders == 0 && v->headers == NULL)
        (void)set_default_headers(ctx, v);
    if (v->unknown_status != 400 && v->unknown_status != 404) {
        gw__cfg_push_key(ctx, "unknown_status");
        gw__cfg_error(ctx, "must be 404 or 400");
        gw__cfg_pop(ctx);
    }
}

/* ---- a service's "versions": routes that require a version ------------------------------- */

#define VR(field) offsetof(struct gw_version_rule_conf, field)
_Static_assert(offsetof(struct gw_version_rule_conf, match) ==
                   offsetof(struct gw_auth_rule_conf, match),
               "a rule's match is parsed with the auth rules' table");

static const struct gw__cfg_field version_rule_fields[] = {
    {.name = "match",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_rule_match_obj,
     .required = true},
    {.name = "version",
     .type = &gw__cfg_strlist_type,
     .offset = VR(versions),
     .arg = &(const struct gw__cfg_strlist){.count_offset = VR(nversions),
                                            .min = 1,
                                            .check = gw__cfg_check_version,
                                            .unique = true},
     .required = true},
    {.name = "deprecated_at",
     .type = &gw__cfg_string_type,
     .offset = VR(deprecated_at),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_time}},
    {.name = "sunset_at",
     .type = &gw__cfg_string_type,
     .offset = VR(sunset_at),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_time}},
    {.name = "successor",
     .type = &gw__cfg_string_type,
     .offset = VR(successor),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_link_uri}},
};
const struct gw__cfg_object gw__cfg_version_rule_obj = {
    .what = "version rule",
    ROWS(version_rule_fields),
    .size = sizeof(struct gw_version_rule_conf),
};

static const struct gw__cfg_range status_range = {100, 599};

static const struct gw__cfg_field versioning_fields[] = {
    {.name = "sources",
     .type = &gw__cfg_strlist_type,
     .offset = VC(source_names),
     .arg =
         &(const struct gw__cfg_strlist){
             .count_offset = VC(nsource_names), .min = 1, .check = check_source, .unique = true}},
    {.name = "headers",
     .type = &gw__cfg_strlist_type,
     .offset = VC(headers),
     .arg =
         &(const struct gw__cfg_strlist){
             .count_offset = VC(nheaders), .min = 1, .check = check_header_name, .unique = true}},
    {.name = "query",
     .type = &gw__cfg_string_type,
     .offset = VC(query),
     .arg = &(const struct gw__cfg_str){check_param},
     .def = "version"},
    {.name = "accept_param",
     .type = &gw__cfg_string_type,
     .offset = VC(accept_param),
     .arg = &(const struct gw__cfg_str){check_param},
     .def = "version"},
    {.name = "path_prefix",
     .type = &gw__cfg_string_type,
     .offset = VC(path_prefix),
     .arg = &(const struct gw__cfg_str){check_path_prefix},
     .def = "v"},
    {.name = "strip_path_version",
     .type = &gw__cfg_bool_type,
     .offset = VC(strip_path_version),
     .def = "true"},
    {.name = "default",
     .type = &gw__cfg_string_type,
     .offset = VC(default_version),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_version}},
    {.name = "unknown_status",
     .type = &gw__cfg_uint32_type,
     .offset = VC(unknown_status),
     .arg = &status_range,
     .def = "404"},
};
const struct gw__cfg_object gw__cfg_versioning_obj = {
    .what = "versioning",
    ROWS(versioning_fields),
    .check = versioning_check,
};

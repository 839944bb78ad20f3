/*
 * The "security_headers" sections of the config schema: the gateway's (with the built-in
 * defaults), a service's and a service's rules (each key inherited from the level above when
 * absent), and the value type of one header: a string, false, or {"value": ..., "mode": ...}.
 *
 * Values are checked here, so that a typo ("SAMEORGIN") is a load error with its position
 * rather than a header every browser ignores. docs/config.md documents every row ("Security
 * headers"); policy/sechdr.c compiles them into header blocks.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define FIELD(base, f, T) ((T *)((char *)(base) + (f)->offset))

_Static_assert(sizeof(enum gw_sechdr_mode) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum gw_sechdr_state) == sizeof(int), "enums are stored as int");

/* Longest value accepted (a Content-Security-Policy can be long; a head has its own limit). */
#define VALUE_MAX 4096

/* ---- values ---------------------------------------------------------------------------------- */

/* NULL, or what is wrong with v as a field value that gantry writes verbatim into every answer:
 * visible ASCII, spaces and tabs inside (RFC 9110 5.5), nothing that could end the line. */
static const char *check_field_value(const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return "must not be empty (false sends no header)";
    if (n > VALUE_MAX)
        return "is longer than 4096 bytes";
    if (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t')
        return "must not start or end with white space";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return "may hold only visible ASCII characters, spaces and tabs";
    }
    return NULL;
}

/* Whether the token v[0..n) (trimmed) is one of names (case-insensitive). */
static bool token_in(const char *v, size_t n, const char *const *names)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    for (const char *const *p = names; *p; p++) {
        if (strlen(*p) == n && strncasecmp(v, *p, n) == 0)
            return true;
    }
    return false;
}

/* The value's first token (up to ';', where parameters such as report-to start) is a name. */
static bool first_token_in(const char *v, const char *const *names)
{
    const char *semi = strchr(v, ';');
    return token_in(v, semi ? (size_t)(semi - v) : strlen(v), names);
}

/* RFC 6797 6.1: directives separated by ';', "max-age" required (a number, maybe quoted). */
static const char *check_hsts(const char *v)
{
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n >= 7 && strncasecmp(p, "max-age", 7) == 0) {
            const char *q = p + 7;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '=') {
                q++;
                while (*q == ' ' || *q == '\t')
                    q++;
                if (*q == '"')
                    q++;
                if (*q >= '0' && *q <= '9')
                    return NULL;
            }
            return "has a max-age that is not a number (\"max-age=31536000; includeSubDomains\")";
        }
        p += n;
    }
    return "needs max-age (\"max-age=31536000; includeSubDomains\")";
}

static const char *check_xcto(const char *v)
{
    static const char *const names[] = {"nosniff", NULL};
    return token_in(v, strlen(v), names) ? NULL : "must be \"nosniff\" (its only value)";
}

static const char *check_xfo(const char *v)
{
    /* ALLOW-FROM is obsolete: browsers ignore the header then; CSP frame-ancestors does it. */
    static const char *const names[] = {"DENY", "SAMEORIGIN", NULL};
    return token_in(v, strlen(v), names)
               ? NULL
               : "must be \"DENY\" or \"SAMEORIGIN\" (for other origins use "
                 "content_security_policy's frame-ancestors)";
}

static const char *check_referrer(const char *v)
{
    static const char *const names[] = {"no-referrer",
                                        "no-referrer-when-downgrade",
                                        "origin",
                                        "origin-when-cross-origin",
                                        "same-origin",
                                        "strict-origin",
                                        "strict-origin-when-cross-origin",
                                        "unsafe-url",
                                        NULL};
    /* A list is allowed: browsers take the last token they know (a fallback for old ones). */
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (!token_in(p, n, names))
            return "is not a referrer policy (\"no-referrer\", \"same-origin\", "
                   "\"strict-origin-when-cross-origin\", ...)";
        if (comma == NULL)
            return NULL;
        p = comma + 1;
    }
}

static const char *check_coop(const char *v)
{
    static const char *const names[] = {"same-origin", "same-origin-allow-popups",
                                        "noopener-allow-popups", "unsafe-none", NULL};
    return first_token_in(v, names) ? NULL
                                    : "must be \"same-origin\", \"same-origin-allow-popups\", "
                                      "\"noopener-allow-popups\" or \"unsafe-none\"";
}

static const char *check_corp(const char *v)
{
    static const char *const names[] = {"same-origin", "same-site", "cross-origin", NULL};
    return token_in(v, strlen(v), names)
               ? NULL
               : "must be \"same-origin\", \"same-site\" or \"cross-origin\"";
}

static const char *check_coep(const char *v)
{
    static const char *const names[] = {"require-corp", "credentialless", "unsafe-none", NULL};
    return first_token_in(v, names)
               ? NULL
               : "must be \"require-corp\", \"credentialless\" or \"unsafe-none\"";
}

/* What one header row knows about its header. */
struct hdr_info {
    const char *(*check)(const char *v); /* beyond check_field_value; NULL: nothing more */
    bool server;                         /* "hide" and "keep" are keywords */
};

static const struct hdr_info hsts_info = {check_hsts, false};
static const struct hdr_info xcto_info = {check_xcto, false};
static const struct hdr_info xfo_info = {check_xfo, false};
static const struct hdr_info referrer_info = {check_referrer, false};
static const struct hdr_info free_info = {NULL, false}; /* CSP, Permissions-Policy */
static const struct hdr_info coop_info = {check_coop, false};
static const struct hdr_info corp_info = {check_corp, false};
static const struct hdr_info coep_info = {check_coep, false};
static const struct hdr_info server_info = {NULL, true};

static const struct gw__cfg_enum modes[] = {
    {"override", GW_SECHDR_OVERRIDE},
    {"if_absent", GW_SECHDR_IF_ABSENT},
    {NULL, 0},
};

static void release_hdr(void *base, const struct gw__cfg_field *f)
{
    struct gw_sechdr_value *h = FIELD(base, f, struct gw_sechdr_value);
    free(h->value);
    h->value = NULL;
    h->state = GW_SECHDR_INHERIT;
    h->mode = GW_SECHDR_MODE_INHERIT;
}

/* Checks s as the value of f's header; false after reporting why. */
static bool valid_value(struct gw__cfg_ctx *ctx, const struct gw__cfg_field *f, const char *s)
{
    const struct hdr_info *info = f->arg;
    const char *why = check_field_value(s);
    if (why == NULL && info->check)
        why = info->check(s);
    if (why == NULL)
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s %s", gw__cfg_quote(s, strlen(s), q, sizeof q), why);
    return false;
}

/* The object form: {"value": "...", "mode": "override" | "if_absent"}. */
struct hdr_object {
    char *value;
    int mode;
};

static const struct gw__cfg_field hdr_object_fields[] = {
    {.name = "value",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct hdr_object, value),
     .required = true},
    {.name = "mode",
     .type = &gw__cfg_enum_type,
     .offset = offsetof(struct hdr_object, mode),
     .arg = modes},
};
static const struct gw__cfg_object hdr_object_obj = {.what = "header", ROWS(hdr_object_fields)};

static void parse_hdr(struct gw__cfg_ctx *ctx, json_t *v, void *base, const struct gw__cfg_field *f)
{
    const struct hdr_info *info = f->arg;
    struct gw_sechdr_value *h = FIELD(base, f, struct gw_sechdr_value);
    if (json_is_false(v)) {
        release_hdr(base, f);
        h->state = GW_SECHDR_OFF;
        return;
    }
    if (json_is_object(v)) {
        struct hdr_object o = {NULL, GW_SECHDR_MODE_INHERIT};
        gw__cfg_parse_object(ctx, v, &o, &hdr_object_obj);
        bool ok = o.value != NULL;
        if (ok) {
            gw__cfg_push_key(ctx, "value");
            ok = valid_value(ctx, f, o.value);
            gw__cfg_pop(ctx);
        }
        if (!ok) {
            free(o.value);
            return;
        }
        release_hdr(base, f);
        h->state = GW_SECHDR_SET;
        h->value = o.value;
        h->mode = o.mode;
        return;
    }
    if (!json_is_string(v)) {
        gw__cfg_error(ctx,
                      "expected the header's value (a string), false (no header) or "
                      "{\"value\": ..., \"mode\": ...}, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    char *s;
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    int state = GW_SECHDR_SET;
    if (ctx->in_default && strcmp(s, "false") == 0) /* a built-in default of "off" */
        state = GW_SECHDR_OFF;
    else if (info->server && strcmp(s, "hide") == 0)
        state = GW_SECHDR_HIDE;
    else if (info->server && strcmp(s, "keep") == 0)
        state = GW_SECHDR_OFF;
    else if (!valid_value(ctx, f, s)) {
        free(s);
        return;
    }
    release_hdr(base, f);
    h->state = state;
    if (state == GW_SECHDR_SET)
        h->value = s;
    else
        free(s);
}

static const struct gw__cfg_type hdr_type = {"string, false or object", parse_hdr, release_hdr};

/* ---- the sections ---------------------------------------------------------------------------- */

/* The rows of the headers, at base `owner`'s `member` (a struct gw_sechdr_conf), with the
 * gateway's defaults when def is true. */
#define HDR(owner, member, key, id, info, dflt)                                                    \
    {                                                                                              \
        .name = key, .type = &hdr_type, .offset = offsetof(owner, member h[id]), .arg = &info,     \
        .def = dflt                                                                                \
    }

/* Helmet's defaults (docs/config.md "Security headers" says why each one), except
 * upgrade-insecure-requests in the CSP: gantry speaks plain HTTP, where that directive would
 * send every subresource to an https:// URL nothing answers. */
#define DEF_HSTS "max-age=31536000; includeSubDomains"
#define DEF_CSP                                                                                    \
    "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; form-action 'self'; "      \
    "frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; "         \
    "script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'"

#define HEADER_ROWS(owner, member, D)                                                              \
    HDR(owner, member, "strict_transport_security", GW_SECHDR_HSTS, hsts_info, D(DEF_HSTS)),       \
        HDR(owner, member, "x_content_type_options", GW_SECHDR_XCTO, xcto_info, D("nosniff")),     \
        HDR(owner, member, "x_frame_options", GW_SECHDR_XFO, xfo_info, D("SAMEORIGIN")),           \
        HDR(owner, member, "referrer_policy", GW_SECHDR_REFERRER, referrer_info,                   \
            D("no-referrer")),                                                                     \
        HDR(owner, member, "content_security_policy", GW_SECHDR_CSP, free_info, D(DEF_CSP)),       \
        HDR(owner, member, "permissions_policy", GW_SECHDR_PERMISSIONS, free_info, D("false")),    \
        HDR(owner, member, "cross_origin_opener_policy", GW_SECHDR_COOP, coop_info,                \
            D("same-origin")),                                                                     \
        HDR(owner, member, "cross_origin_resource_policy", GW_SECHDR_CORP, corp_info,              \
            D("same-origin")),                                                                     \
        HDR(owner, member, "cross_origin_embedder_policy", GW_SECHDR_COEP, coep_info, D("false")), \
        HDR(owner, member, "server", GW_SECHDR_SERVER, server_info, D("hide"))

#define WITH_DEFAULT(x) x
#define NO_DEFAULT(x) NULL
#define CONF struct gw_sechdr_conf
#define RULE struct gw_sechdr_rule_conf

static const struct gw__cfg_field gateway_fields[] = {
    {.name = "mode",
     .type = &gw__cfg_enum_type,
     .offset = offsetof(CONF, mode),
     .arg = modes,
     .def = "if_absent"},
    HEADER_ROWS(CONF, , WITH_DEFAULT),
};
const struct gw__cfg_object gw__cfg_security_headers_obj = {
    .what = "security_headers",
    ROWS(gateway_fields),
    .toggle = true,
    .enabled_offset = offsetof(CONF, enabled),
};

static const struct gw__cfg_field rule_match_fields[] = {GW__CFG_MATCH_ROWS(RULE, match)};
static const struct gw__cfg_object rule_match_obj = {.what = "match", ROWS(rule_match_fields)};

/* A rule that changes nothing is most likely a mistake. */
static void rule_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)obj;
    if (json == NULL || json_object_size(json) > 1 || !json_object_get(json, "match"))
        return;
    gw__cfg_error(ctx, "a rule needs a header, \"mode\" or \"enabled\" besides \"match\"");
}

static const struct gw__cfg_field rule_fields[] = {
    {.name = "match", .type = &gw__cfg_object_type, .arg = &rule_match_obj, .required = true},
    {.name = "enabled",
     .type = &gw__cfg_bool_type,
     .offset = offsetof(RULE, set.enabled),
     .def = "true"},
    {.name = "mode", .type = &gw__cfg_enum_type, .offset = offsetof(RULE, set.mode), .arg = modes},
    HEADER_ROWS(RULE, set., NO_DEFAULT),
};
static const struct gw__cfg_object rule_obj = {
    .what = "rule",
    ROWS(rule_fields),
    .size = sizeof(RULE),
    .check = rule_check,
};

static const struct gw__cfg_field service_fields[] = {
    {.name = "mode", .type = &gw__cfg_enum_type, .offset = offsetof(CONF, mode), .arg = modes},
    HEADER_ROWS(CONF, , NO_DEFAULT),
    {.name = "rules",
     .type = &gw__cfg_list_type,
     .offset = offsetof(CONF, rules),
     .arg =
         &(const struct gw__cfg_list){.elem = &rule_obj, .count_offset = offsetof(CONF, nrules)}},
};
const struct gw__cfg_object gw__cfg_service_security_headers_obj = {
    .what = "security_headers",
    ROWS(service_fields),
    .toggle = true,
    .enabled_offset = offsetof(CONF, enabled),
};

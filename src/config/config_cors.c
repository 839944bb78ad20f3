/*
 * The browser policies' sections of the config schema: "cors" and "csrf", each at three levels
 * (the gateway's, a service's, and a service's "rules"); config-t.h says how they inherit.
 * The gateway's level carries the defaults; a service's and a rule's record which keys they
 * write (their check hooks set the "set" bits from the JSON object), and the combinations only
 * the merged levels show ("*" with credentials) are refused here, at the level that made them.
 *
 * docs/config.md documents every row; docs/cors.md explains the behaviour.
 */
#include "config/internal.h"

#include "policy/cors.h"
#include "policy/origin.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define CFG(field) offsetof(struct gw_config, field)
#define SVC(field) offsetof(struct gw_service_conf, field)
#define CORS(field) offsetof(struct gw_cors_conf, field)
#define CSRF(field) offsetof(struct gw_csrf_conf, field)
#define CRULE(field) offsetof(struct gw_cors_rule_conf, field)
#define XRULE(field) offsetof(struct gw_csrf_rule_conf, field)
#define MATCH(field) offsetof(struct gw_match_conf, field)

_Static_assert(sizeof(enum gw_csrf_no_origin) == sizeof(int), "enums are stored as int");

/* ---- value checks ---------------------------------------------------------------------------- */

static void lowercase(char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }
}

/* An origin pattern (policy/origin.h), stored lowercased. */
static bool check_origin(struct gw__cfg_ctx *ctx, char **s)
{
    const char *why = NULL;
    struct gw_origin_pattern p;
    size_t n = strlen(*s);
    if (gw_origin_pattern_parse(*s, n, &p, &why) == 0) {
        lowercase(*s);
        return true;
    }
    char q[96];
    gw__cfg_error(ctx, "%s %s", gw__cfg_quote(*s, n, q, sizeof q), why);
    return false;
}

/* A trusted origin of the CSRF check: as above, but never "*" (that would check nothing). */
static bool check_csrf_origin(struct gw__cfg_ctx *ctx, char **s)
{
    if (strcmp(*s, "*") == 0) {
        gw__cfg_error(ctx, "\"*\" would trust every origin and check nothing: list the origins "
                           "allowed to send requests (or turn csrf off)");
        return false;
    }
    return check_origin(ctx, s);
}

static bool valid_token(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return false;
    }
    return true;
}

/* A request header name a preflight may ask for, or "*"; sent as written, compared without
 * regard to case. */
static bool check_allowed_header(struct gw__cfg_ctx *ctx, char **s)
{
    if (strcmp(*s, "*") == 0 || valid_token(*s))
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s is not a header name (letters, digits and !#$%%&'*+-.^_`|~), nor \"*\"",
                  gw__cfg_quote(*s, strlen(*s), q, sizeof q));
    return false;
}

/* A response header name to expose, or "*"; kept as written (it is sent as written). */
static bool check_expose_header(struct gw__cfg_ctx *ctx, char **s)
{
    if (strcmp(*s, "*") == 0 || valid_token(*s))
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s is not a header name (letters, digits and !#$%%&'*+-.^_`|~), nor \"*\"",
                  gw__cfg_quote(*s, strlen(*s), q, sizeof q));
    return false;
}

/* "methods": "*" (alone, or as the only item), or methods as a service's "methods". */
static void parse_cors_methods(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                               const struct gw__cfg_field *f)
{
    json_t *one = json_is_array(v) && json_array_size(v) == 1 ? json_array_get(v, 0) : v;
    if (json_is_string(one) && strcmp(json_string_value(one), "*") == 0) {
        *(uint32_t *)((char *)base + f->offset) = GW_CORS_ANY_METHOD;
        return;
    }
    gw__cfg_methods_type.parse(ctx, v, base, f);
}

static const struct gw__cfg_type cors_methods_type = {"string or array of strings",
                                                      parse_cors_methods, NULL};

static const struct gw__cfg_enum no_origin_modes[] = {
    {"allow", GW_CSRF_NO_ORIGIN_ALLOW},
    {"refuse", GW_CSRF_NO_ORIGIN_REFUSE},
    {NULL, 0},
};

static const struct gw__cfg_range max_age_range = {0, 86400000}; /* Firefox's cap: 24 h */
static const struct gw__cfg_range status_range = {200, 599};

/* ---- "match" of a rule ----------------------------------------------------------------------- */

static const struct gw__cfg_field match_fields[] = {
    {.name = "prefix",
     .type = &gw__cfg_strlist_type,
     .offset = MATCH(prefixes),
     .arg = &(const struct gw__cfg_strlist){.count_offset = MATCH(nprefixes),
                                            .min = 1,
                                            .check = gw__cfg_check_prefix,
                                            .unique = true}},
    {.name = "methods", .type = &gw__cfg_methods_type, .offset = MATCH(methods)},
};
static const struct gw__cfg_object match_obj = {.what = "match", ROWS(match_fields)};

/* ---- cors ------------------------------------------------------------------------------------ */

/* The rows of one cors level whose struct gw_cors_conf sits at offset at; D(x) gives the
 * defaults (the gateway's level) or none (a service's and a rule's: they inherit). */
#define WITH_DEF(x) x
#define NO_DEF(x) NULL
#define CORS_ROWS(at, D)                                                                           \
    {.name = "origins",                                                                            \
     .type = &gw__cfg_strlist_type,                                                                \
     .offset = (at) + CORS(origins),                                                               \
     .arg = &(const struct gw__cfg_strlist){.count_offset = (at) + CORS(norigins),                 \
                                            .check = check_origin,                                 \
                                            .unique = true}},                                      \
        {.name = "methods", .type = &cors_methods_type, .offset = (at) + CORS(methods)},           \
        {.name = "headers",                                                                        \
         .type = &gw__cfg_strlist_type,                                                            \
         .offset = (at) + CORS(headers),                                                           \
         .arg = &(const struct gw__cfg_strlist){.count_offset = (at) + CORS(nheaders),             \
                                                .check = check_allowed_header,                     \
                                                .unique = true},                                   \
         .def = D("*")},                                                                           \
        {.name = "expose_headers",                                                                 \
         .type = &gw__cfg_strlist_type,                                                            \
         .offset = (at) + CORS(expose_headers),                                                    \
         .arg = &(const struct gw__cfg_strlist){.count_offset = (at) + CORS(nexpose_headers),      \
                                                .check = check_expose_header,                      \
                                                .unique = true}},                                  \
        {.name = "credentials",                                                                    \
         .type = &gw__cfg_bool_type,                                                               \
         .offset = (at) + CORS(credentials),                                                       \
         .def = D("false")},                                                                       \
        {.name = "max_age",                                                                        \
         .type = &gw__cfg_duration_type,                                                           \
         .offset = (at) + CORS(max_age_ms),                                                        \
         .arg = &max_age_range},                                                                   \
    {                                                                                              \
        .name = "denied_status", .type = &gw__cfg_uint32_type,                                     \
        .offset = (at) + CORS(denied_status), .arg = &status_range, .def = D("403")                \
    }

static const struct {
    const char *name;
    uint32_t bit;
} cors_keys[] = {
    {"origins", GW_CORS_SET_ORIGINS},
    {"methods", GW_CORS_SET_METHODS},
    {"headers", GW_CORS_SET_HEADERS},
    {"expose_headers", GW_CORS_SET_EXPOSE},
    {"credentials", GW_CORS_SET_CREDENTIALS},
    {"max_age", GW_CORS_SET_MAX_AGE},
    {"denied_status", GW_CORS_SET_DENIED_STATUS},
};

static uint32_t cors_written(json_t *json)
{
    uint32_t set = 0;
    for (size_t i = 0; json && i < sizeof cors_keys / sizeof cors_keys[0]; i++) {
        if (json_object_get(json, cors_keys[i].name))
            set |= cors_keys[i].bit;
    }
    return set;
}

static bool is_star_list(char *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(items[i], "*") == 0)
            return true;
    }
    return false;
}

/* "*" stands for everything: it comes alone. */
static void check_star_alone(struct gw__cfg_ctx *ctx, const char *key, char *const *items, size_t n,
                             const char *what)
{
    if (n < 2 || !is_star_list(items, n))
        return;
    gw__cfg_push_key(ctx, key);
    gw__cfg_error(ctx, "\"*\" allows every %s: list nothing else with it", what);
    gw__cfg_pop(ctx);
}

/* Header names are compared without regard to case: "X-A" and "x-a" are one. */
static void check_names_once(struct gw__cfg_ctx *ctx, const char *key, char *const *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(items[i], items[j]) != 0 || strcmp(items[i], items[j]) == 0)
                continue; /* the same spelling twice is reported by the list itself */
            char q[96];
            gw__cfg_push_key(ctx, key);
            gw__cfg_push_index(ctx, i);
            gw__cfg_error(ctx, "%s is listed twice (header names ignore case)",
                          gw__cfg_quote(items[i], strlen(items[i]), q, sizeof q));
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            break;
        }
    }
}

/* The lists of one level, alone. */
static void check_level(struct gw__cfg_ctx *ctx, const struct gw_cors_conf *c)
{
    if (c->set & GW_CORS_SET_HEADERS)
        check_names_once(ctx, "headers", c->headers, c->nheaders);
    if (c->set & GW_CORS_SET_EXPOSE)
        check_names_once(ctx, "expose_headers", c->expose_headers, c->nexpose_headers);
    if (c->set & GW_CORS_SET_ORIGINS)
        check_star_alone(ctx, "origins", c->origins, c->norigins, "origin");
    if (c->set & GW_CORS_SET_HEADERS)
        check_star_alone(ctx, "headers", c->headers, c->nheaders, "header");
    if (c->set & GW_CORS_SET_EXPOSE)
        check_star_alone(ctx, "expose_headers", c->expose_headers, c->nexpose_headers, "header");
}

/* The merged setting eff of a level that wrote the keys in here: what browsers refuse is
 * refused at load (Fetch: with credentials, "*" is no wildcard in Access-Control-Allow-Origin
 * nor in Access-Control-Expose-Headers). Reported at a key this level wrote; a combination it
 * inherited whole was reported where it was made. */
static void check_effective(struct gw__cfg_ctx *ctx, const struct gw_cors_conf *eff, uint32_t here)
{
    if (!eff->credentials)
        return;
    const char *key = (here & GW_CORS_SET_CREDENTIALS) ? "credentials" : NULL;
    if (is_star_list(eff->origins, eff->norigins) && (key || (here & GW_CORS_SET_ORIGINS))) {
        gw__cfg_push_key(ctx, key ? key : "origins");
        gw__cfg_error(ctx, "origins \"*\" with credentials true: browsers refuse credentialed "
                           "answers for any origin; list the origins (wildcards such as "
                           "\"https://*.example.com\" are allowed) or turn credentials off");
        gw__cfg_pop(ctx);
    }
    if (is_star_list(eff->expose_headers, eff->nexpose_headers) &&
        (key || (here & GW_CORS_SET_EXPOSE))) {
        gw__cfg_push_key(ctx, key ? key : "expose_headers");
        gw__cfg_error(ctx, "expose_headers \"*\" with credentials true: browsers take \"*\" "
                           "literally in a credentialed answer; name the headers");
        gw__cfg_pop(ctx);
    }
}

/* The gateway's "cors": its methods default (a list, which a row's default cannot give). */
static void gateway_cors_init(struct gw__cfg_ctx *ctx, void *obj)
{
    (void)ctx;
    struct gw_config *cfg = obj;
    cfg->cors.c.methods = (1u << GW_METHOD_GET) | (1u << GW_METHOD_HEAD) | (1u << GW_METHOD_POST) |
                          (1u << GW_METHOD_PUT) | (1u << GW_METHOD_PATCH) |
                          (1u << GW_METHOD_DELETE);
}

static void gateway_cors_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_config *cfg = obj;
    cfg->cors.c.set = cors_written(json);
    check_level(ctx, &cfg->cors.c);
    check_effective(ctx, &cfg->cors.c, ~0u);
}

static const struct gw__cfg_field gateway_cors_fields[] = {CORS_ROWS(CFG(cors.c), WITH_DEF)};
const struct gw__cfg_object gw__cfg_cors_obj = {
    .what = "cors",
    ROWS(gateway_cors_fields),
    .init = gateway_cors_init,
    .check = gateway_cors_check,
    .toggle = true,
    .enabled_offset = CFG(cors.enabled),
};

static void cors_rule_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_cors_rule_conf *rule = obj;
    rule->cors.set = cors_written(json);
    check_level(ctx, &rule->cors);
}

static const struct gw__cfg_field cors_rule_fields[] = {
    {.name = "match",
     .type = &gw__cfg_object_type,
     .offset = CRULE(match),
     .arg = &match_obj,
     .required = true},
    {.name = "enabled", .type = &gw__cfg_bool_type, .offset = CRULE(enabled), .def = "true"},
    CORS_ROWS(CRULE(cors), NO_DEF),
};
static const struct gw__cfg_object cors_rule_obj = {
    .what = "rule",
    ROWS(cors_rule_fields),
    .size = sizeof(struct gw_cors_rule_conf),
    .check = cors_rule_check,
};

/* Runs before the rows of every form: object, true, false and absent. Only an absent section
 * reaches the check hook with no JSON and off (the toggle sets "enabled" for true and false). */
static void service_cors_init(struct gw__cfg_ctx *ctx, void *obj)
{
    (void)ctx;
    struct gw_service_conf *svc = obj;
    svc->cors.written = true;
}

static void service_cors_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_service_conf *svc = obj;
    if (json == NULL && !svc->cors.enabled) {
        svc->cors.written = false;
        svc->cors.enabled = ctx->root->cors.enabled; /* the gateway's section, if any */
        return;
    }
    svc->cors.cors.set = cors_written(json);
    check_level(ctx, &svc->cors.cors);
    struct gw_cors_conf eff = ctx->root->cors.c;
    gw_cors_conf_overlay(&eff, &svc->cors.cors);
    check_effective(ctx, &eff, svc->cors.cors.set);
    gw__cfg_push_key(ctx, "rules");
    for (size_t i = 0; i < svc->cors.nrules; i++) {
        const struct gw_cors_rule_conf *rule = &svc->cors.rules[i];
        struct gw_cors_conf reff = eff;
        gw_cors_conf_overlay(&reff, &rule->cors);
        gw__cfg_push_index(ctx, i);
        if (rule->enabled)
            check_effective(ctx, &reff, rule->cors.set);
        gw__cfg_pop(ctx);
    }
    gw__cfg_pop(ctx);
}

static const struct gw__cfg_field service_cors_fields[] = {
    CORS_ROWS(SVC(cors.cors), NO_DEF),
    {.name = "rules",
     .type = &gw__cfg_list_type,
     .offset = SVC(cors.rules),
     .arg = &(const struct gw__cfg_list){.elem = &cors_rule_obj, .count_offset = SVC(cors.nrules)}},
};
const struct gw__cfg_object gw__cfg_service_cors_obj = {
    .what = "cors",
    ROWS(service_cors_fields),
    .init = service_cors_init,
    .check = service_cors_check,
    .toggle = true,
    .enabled_offset = SVC(cors.enabled),
};

/* ---- csrf ------------------------------------------------------------------------------------ */

#define CSRF_ROWS(at, D)                                                                           \
    {.name = "origins",                                                                            \
     .type = &gw__cfg_strlist_type,                                                                \
     .offset = (at) + CSRF(origins),                                                               \
     .arg = &(const struct gw__cfg_strlist){                                                       \
         .count_offset = (at) + CSRF(norigins), .check = check_csrf_origin, .unique = true}},      \
    {                                                                                              \
        .name = "no_origin", .type = &gw__cfg_enum_type, .offset = (at) + CSRF(no_origin),         \
        .arg = no_origin_modes, .def = D("allow")                                                  \
    }

static uint32_t csrf_written(json_t *json)
{
    uint32_t set = 0;
    if (json && json_object_get(json, "origins"))
        set |= GW_CSRF_SET_ORIGINS;
    if (json && json_object_get(json, "no_origin"))
        set |= GW_CSRF_SET_NO_ORIGIN;
    return set;
}

static void gateway_csrf_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)ctx;
    struct gw_config *cfg = obj;
    cfg->csrf.c.set = csrf_written(json);
}

static const struct gw__cfg_field gateway_csrf_fields[] = {CSRF_ROWS(CFG(csrf.c), WITH_DEF)};
const struct gw__cfg_object gw__cfg_csrf_obj = {
    .what = "csrf",
    ROWS(gateway_csrf_fields),
    .check = gateway_csrf_check,
    .toggle = true,
    .enabled_offset = CFG(csrf.enabled),
};

static void csrf_rule_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)ctx;
    struct gw_csrf_rule_conf *rule = obj;
    rule->csrf.set = csrf_written(json);
}

static const struct gw__cfg_field csrf_rule_fields[] = {
    {.name = "match",
     .type = &gw__cfg_object_type,
     .offset = XRULE(match),
     .arg = &match_obj,
     .required = true},
    {.name = "enabled", .type = &gw__cfg_bool_type, .offset = XRULE(enabled), .def = "true"},
    CSRF_ROWS(XRULE(csrf), NO_DEF),
};
static const struct gw__cfg_object csrf_rule_obj = {
    .what = "rule",
    ROWS(csrf_rule_fields),
    .size = sizeof(struct gw_csrf_rule_conf),
    .check = csrf_rule_check,
};

static void service_csrf_init(struct gw__cfg_ctx *ctx, void *obj)
{
    (void)ctx;
    struct gw_service_conf *svc = obj;
    svc->csrf.written = true;
}

static void service_csrf_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_service_conf *svc = obj;
    if (json == NULL && !svc->csrf.enabled) {
        svc->csrf.written = false;
        svc->csrf.enabled = ctx->root->csrf.enabled;
        return;
    }
    svc->csrf.csrf.set = csrf_written(json);
}

static const struct gw__cfg_field service_csrf_fields[] = {
    CSRF_ROWS(SVC(csrf.csrf), NO_DEF),
    {.name = "rules",
     .type = &gw__cfg_list_type,
     .offset = SVC(csrf.rules),
     .arg = &(const struct gw__cfg_list){.elem = &csrf_rule_obj, .count_offset = SVC(csrf.nrules)}},
};
const struct gw__cfg_object gw__cfg_service_csrf_obj = {
    .what = "csrf",
    ROWS(service_csrf_fields),
    .init = service_csrf_init,
    .check = service_csrf_check,
    .toggle = true,
    .enabled_offset = SVC(csrf.enabled),
};

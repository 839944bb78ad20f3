/*
 * The transformation sections of the config schema: the gateway-wide "transform" object and a
 * service's "transform" (with its route "rules"): request and response headers, query
 * parameters, the path, the response status, JSON body fields. Value templates are compiled
 * here (policy/template.h) and regular expressions checked here, so that a mistake is reported
 * with its position inside the string; the snapshot compiles the expressions for use.
 *
 * docs/config.md documents every row; docs/transform.md explains the behaviour.
 */
#include "config/internal.h"

#include "http1/hygiene.h"
#include "policy/template.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define TF(field) offsetof(struct gw_transform_conf, field)
#define FLD(field) offsetof(struct gw_tf_fields, field)
#define REQ(field) offsetof(struct gw_tf_request_conf, field)
#define RESP(field) offsetof(struct gw_tf_response_conf, field)
#define BODY(field) offsetof(struct gw_tf_body, field)
#define AT(base, off, T) ((T *)((char *)(base) + (off)))

_Static_assert(offsetof(struct gw_tf_rule_conf, match) == offsetof(struct gw_auth_rule_conf, match),
               "a rule's match is parsed with the auth rules' table");

/* ---- names ----------------------------------------------------------------------------------- */

enum name_kind {
    NAME_REQ_HEADER,  /* a request header gantry does not manage itself */
    NAME_RESP_HEADER, /* a response header gantry does not manage itself */
    NAME_QUERY,       /* a query parameter name */
    NAME_FIELD,       /* a JSON field path */
};

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Same header name, '_' taken as '-' (a CGI backend sees both spellings as one variable). */
static bool same_loose(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

/* Why gantry keeps name to itself, or NULL when a transformation may touch it. */
static const char *managed_header(struct gw__cfg_ctx *ctx, const char *name, bool request)
{
    static const char *const framing[] = {"content-length", "transfer-encoding", "x-request-id"};
    static const char *const req_only[] = {"host", "expect", "x-forwarded-for", "x-forwarded-proto",
                                           "x-forwarded-host"};
    if (gw_http1_is_hop_by_hop(name, strlen(name)))
        return "a hop-by-hop or framing header, which gantry manages itself";
    for (size_t i = 0; i < sizeof framing / sizeof framing[0]; i++) {
        if (same_loose(name, framing[i]))
            return "a header gantry manages itself";
    }
    if (!request)
        return NULL;
    for (size_t i = 0; i < sizeof req_only / sizeof req_only[0]; i++) {
        if (same_loose(name, req_only[i]))
            return "a header gantry sets itself (see host_header for Host)";
    }
    const struct gw_config *cfg = ctx->root;
    const char *ids[] = {cfg->auth.hdr_consumer, cfg->auth.hdr_user, cfg->auth.hdr_roles};
    for (size_t i = 0; i < 3; i++) {
        if (ids[i] && same_loose(name, ids[i]))
            return "an identity header, which only authentication sets";
    }
    return NULL;
}

static bool check_name(struct gw__cfg_ctx *ctx, const char *s, enum name_kind kind)
{
    size_t n = strlen(s);
    char q[96];
    bool ok = n > 0 && n <= 128;
    switch (kind) {
    case NAME_REQ_HEADER:
    case NAME_RESP_HEADER:
        for (size_t i = 0; ok && i < n; i++)
            ok = is_tchar(s[i]);
        if (!ok) {
            gw__cfg_error(ctx,
                          "%s is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)",
                          gw__cfg_quote(s, n, q, sizeof q));
            return false;
        }
        const char *why = managed_header(ctx, s, kind == NAME_REQ_HEADER);
        if (why) {
            gw__cfg_error(ctx, "%s is %s: transformations cannot change it",
                          gw__cfg_quote(s, n, q, sizeof q), why);
            return false;
        }
        return true;
    case NAME_QUERY:
        for (size_t i = 0; ok && i < n; i++) {
            char c = s[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '~';
        }
        if (!ok)
            gw__cfg_error(
                ctx, "%s is not a valid query parameter name (1 to 128 of A-Z a-z 0-9 - _ . ~)",
                gw__cfg_quote(s, n, q, sizeof q));
        return ok;
    case NAME_FIELD:
    default:
        ok = ok && s[0] != '.' && s[n - 1] != '.' && strstr(s, "..") == NULL;
        if (!ok)
            gw__cfg_error(ctx, "%s is not a field name or a dotted path (\"meta.internal\")",
                          gw__cfg_quote(s, n, q, sizeof q));
        return ok;
    }
}

static bool check_req_header(struct gw__cfg_ctx *ctx, char **s)
{
    return check_name(ctx, *s, NAME_REQ_HEADER);
}

static bool check_resp_header(struct gw__cfg_ctx *ctx, char **s)
{
    return check_name(ctx, *s, NAME_RESP_HEADER);
}

static bool check_query(struct gw__cfg_ctx *ctx, char **s)
{
    return check_name(ctx, *s, NAME_QUERY);
}

static bool check_field(struct gw__cfg_ctx *ctx, char **s)
{
    return check_name(ctx, *s, NAME_FIELD);
}

/* ---- templates ------------------------------------------------------------------------------- */

/* Compiles string value v into *out; false after reporting (at the variable when it can). */
static bool parse_template(struct gw__cfg_ctx *ctx, json_t *v, struct gw_template **out)
{
    char *s = NULL;
    *out = NULL;
    if (!gw__cfg_get_string(ctx, v, &s))
        return false;
    size_t err_at = 0;
    char why[320];
    int rc = gw_template_parse(s, strlen(s), out, &err_at, why, sizeof why);
    if (rc == GW_ENOMEM) {
        ctx->oom = true;
    } else if (rc < 0) {
        /* Point at the variable in the file: find its text in the string as written (the
         * environment may have changed what comes before it). */
        const char *raw = json_string_value(v);
        size_t vlen = 1;
        for (char c = s[err_at + vlen];
             c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
             c = s[err_at + vlen])
            vlen++;
        const char *hit = memmem(raw, json_string_length(v), s + err_at, vlen);
        gw__cfg_error_in_string(ctx, hit ? (size_t)(hit - raw) : 0, "%s", why);
    }
    free(s);
    return rc == 0;
}

/* A header value's literal text must not break the head: no control characters (a value with
 * variables has them dropped when it is rendered). */
static bool value_ok(struct gw__cfg_ctx *ctx, const struct gw_template *t, enum name_kind kind)
{
    if (kind != NAME_REQ_HEADER && kind != NAME_RESP_HEADER)
        return true;
    for (size_t i = 0; i < t->text_len; i++) {
        unsigned char c = (unsigned char)t->text[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            gw__cfg_error(ctx, "a header value cannot hold control characters (CR, LF, ...)");
            return false;
        }
    }
    return true;
}

/* ---- name -> value maps ("set", "add", "rename") ----------------------------------------------
 */

enum map_kind {
    MAP_SET,    /* name -> template */
    MAP_ADD,    /* name -> template, or an array of them */
    MAP_RENAME, /* name -> name */
    MAP_JSON,   /* field path -> any JSON value (string values are templates) */
};

struct map_arg {
    enum map_kind map;
    enum name_kind names;
    size_t count_offset;
};

static void release_map(void *base, const struct gw__cfg_field *f)
{
    const struct map_arg *arg = f->arg;
    size_t *count = AT(base, arg->count_offset, size_t);
    if (arg->map == MAP_RENAME) {
        struct gw_tf_rename **items = AT(base, f->offset, struct gw_tf_rename *);
        for (size_t i = 0; *items && i < *count; i++) {
            free((*items)[i].from);
            free((*items)[i].to);
        }
        free(*items);
        *items = NULL;
    } else if (arg->map == MAP_JSON) {
        struct gw_tf_body *b = base;
        for (size_t i = 0; i < b->nadd; i++) {
            free(b->add_names[i]);
            json_decref(b->add[i]);
            gw_template_free(b->add_tpl[i]);
        }
        free(b->add_names);
        free(b->add);
        free(b->add_tpl);
        b->add_names = NULL;
        b->add = NULL;
        b->add_tpl = NULL;
    } else {
        struct gw_tf_value **items = AT(base, f->offset, struct gw_tf_value *);
        for (size_t i = 0; *items && i < *count; i++) {
            free((*items)[i].name);
            gw_template_free((*items)[i].value);
        }
        free(*items);
        *items = NULL;
    }
    *count = 0;
}

/* One entry's value: fills the k-th slot(s) of the map; returns the slots used. */
static size_t parse_entry(struct gw__cfg_ctx *ctx, const struct map_arg *arg, void *base,
                          const struct gw__cfg_field *f, size_t k, const char *key, json_t *v)
{
    char *name = strdup(key);
    if (name == NULL) {
        ctx->oom = true;
        return 0;
    }
    if (arg->map == MAP_RENAME) {
        struct gw_tf_rename *items = *AT(base, f->offset, struct gw_tf_rename *);
        char *to = NULL;
        if (!gw__cfg_get_string(ctx, v, &to) || !check_name(ctx, to, arg->names)) {
            free(to);
            free(name);
            return 0;
        }
        items[k].from = name;
        items[k].to = to;
        return 1;
    }
    if (arg->map == MAP_JSON) {
        struct gw_tf_body *b = base;
        struct gw_template *tpl = NULL;
        if (json_is_string(v) && !parse_template(ctx, v, &tpl)) {
            free(name);
            return 0;
        }
        b->add_names[k] = name;
        b->add[k] = json_incref(v);
        b->add_tpl[k] = tpl;
        return 1;
    }
    struct gw_tf_value *items = *AT(base, f->offset, struct gw_tf_value *);
    bool many = arg->map == MAP_ADD && json_is_array(v);
    size_t n = many ? json_array_size(v) : 1, used = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = many ? json_array_get(v, i) : v;
        if (many)
            gw__cfg_push_index(ctx, i);
        struct gw_template *tpl = NULL;
        if (!json_is_string(e))
            gw__cfg_error(ctx, "expected a string%s, got %s",
                          arg->map == MAP_ADD && !many ? " or an array of strings" : "",
                          gw__cfg_json_kind(e));
        else if (parse_template(ctx, e, &tpl) && !value_ok(ctx, tpl, arg->names)) {
            gw_template_free(tpl);
        } else if (tpl) {
            items[k + used].name = used == 0 ? name : strdup(name);
            items[k + used].value = tpl;
            if (items[k + used].name == NULL)
                ctx->oom = true;
            used++;
        }
        if (many)
            gw__cfg_pop(ctx);
    }
    if (used == 0)
        free(name);
    return used;
}

static void parse_map(struct gw__cfg_ctx *ctx, json_t *v, void *base, const struct gw__cfg_field *f)
{
    const struct map_arg *arg = f->arg;
    if (!json_is_object(v)) {
        gw__cfg_error(ctx, "expected an object of %s, got %s",
                      arg->map == MAP_RENAME ? "old name: new name" : "name: value",
                      gw__cfg_json_kind(v));
        return;
    }
    release_map(base, f);
    /* Slots: one per key, or per array item of "add". */
    size_t cap = 0;
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e)
    {
        cap += arg->map == MAP_ADD && json_is_array(e) ? json_array_size(e) : 1;
    }
    size_t elem = arg->map == MAP_RENAME ? sizeof(struct gw_tf_rename)
                  : arg->map == MAP_JSON ? 0
                                         : sizeof(struct gw_tf_value);
    if (arg->map == MAP_JSON) {
        struct gw_tf_body *b = base;
        b->add_names = calloc(cap + 1, sizeof *b->add_names);
        b->add = calloc(cap + 1, sizeof *b->add);
        b->add_tpl = calloc(cap + 1, sizeof *b->add_tpl);
        if (b->add_names == NULL || b->add == NULL || b->add_tpl == NULL) {
            ctx->oom = true;
            return;
        }
    } else {
        void *items = calloc(cap + 1, elem);
        if (items == NULL) {
            ctx->oom = true;
            return;
        }
        *AT(base, f->offset, void *) = items;
    }
    size_t *count = AT(base, arg->count_offset, size_t);
    json_object_foreach(v, key, e)
    {
        gw__cfg_push_key(ctx, key);
        if (check_name(ctx, key, arg->names))
            *count += parse_entry(ctx, arg, base, f, *count, key, e);
        gw__cfg_pop(ctx);
    }
}

static const struct gw__cfg_type map_type = {"object", parse_map, release_map};

/* ---- headers and query ------------------------------------------------------------------------
 */

#define FIELD_ROWS(names, chk)                                                                     \
    {.name = "remove",                                                                             \
     .type = &gw__cfg_strlist_type,                                                                \
     .offset = FLD(remove),                                                                        \
     .arg = &(const struct gw__cfg_strlist){.count_offset = FLD(nremove), .check = chk}},          \
        {.name = "rename",                                                                         \
         .type = &map_type,                                                                        \
         .offset = FLD(rename),                                                                    \
         .arg = &(const struct map_arg){MAP_RENAME, names, FLD(nrename)}},                         \
        {.name = "set",                                                                            \
         .type = &map_type,                                                                        \
         .offset = FLD(set),                                                                       \
         .arg = &(const struct map_arg){MAP_SET, names, FLD(nset)}},                               \
    {                                                                                              \
        .name = "add", .type = &map_type, .offset = FLD(add), .arg = &(const struct map_arg)       \
        {                                                                                          \
            MAP_ADD, names, FLD(nadd)                                                              \
        }                                                                                          \
    }

static const struct gw__cfg_field req_header_fields[] = {
    FIELD_ROWS(NAME_REQ_HEADER, check_req_header)};
static const struct gw__cfg_object req_headers_obj = {.what = "headers", ROWS(req_header_fields)};

static const struct gw__cfg_field resp_header_fields[] = {
    FIELD_ROWS(NAME_RESP_HEADER, check_resp_header)};
static const struct gw__cfg_object resp_headers_obj = {.what = "headers", ROWS(resp_header_fields)};

static const struct gw__cfg_field query_fields[] = {FIELD_ROWS(NAME_QUERY, check_query)};
static const struct gw__cfg_object query_obj = {.what = "query", ROWS(query_fields)};

/* ---- body -------------------------------------------------------------------------------------
 */

static const struct gw__cfg_field body_fields[] = {
    {.name = "remove",
     .type = &gw__cfg_strlist_type,
     .offset = BODY(remove),
     .arg = &(const struct gw__cfg_strlist){.count_offset = BODY(nremove), .check = check_field}},
    {.name = "rename",
     .type = &map_type,
     .offset = BODY(rename),
     .arg = &(const struct map_arg){MAP_RENAME, NAME_FIELD, BODY(nrename)}},
    {.name = "add",
     .type = &map_type,
     .offset = BODY(add),
     .arg = &(const struct map_arg){MAP_JSON, NAME_FIELD, BODY(nadd)}},
};
static const struct gw__cfg_object body_obj = {.what = "body", ROWS(body_fields)};

/* ---- path -------------------------------------------------------------------------------------
 */

/* Checks a regular expression and its replacement as PCRE2 will compile them at snapshot build. */
static void check_regex(struct gw__cfg_ctx *ctx, struct gw_tf_request_conf *rq, json_t *json)
{
    int err;
    PCRE2_SIZE at;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)rq->path_regex, PCRE2_ZERO_TERMINATED, 0, &err, &at, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        json_t *v = json_object_get(json, "regex");
        bool same = v && strcmp(json_string_value(v), rq->path_regex) == 0;
        gw__cfg_push_key(ctx, "regex");
        gw__cfg_error_in_string(ctx, same ? at : 0,
                                "invalid regular expression: %s (at offset %zu)", (const char *)msg,
                                (size_t)at);
        gw__cfg_pop(ctx);
        return;
    }
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    pcre2_code_free(re);
    const char *r = rq->path_replace;
    if (r == NULL) {
        gw__cfg_error(ctx, "\"regex\" needs \"replace\" (the new path; $1..$9 are its groups)");
        return;
    }
    gw__cfg_push_key(ctx, "replace");
    if (r[0] != '/' && r[0] != '$')
        gw__cfg_error(ctx, "the replacement is a path: it starts with \"/\" (or a group, $1)");
    for (size_t i = 0; r[i]; i++) {
        if (r[i] != '$')
            continue;
        if (r[i + 1] == '$') {
            i++;
            continue;
        }
        if (r[i + 1] < '0' || r[i + 1] > '9' || (uint32_t)(r[i + 1] - '0') > groups) {
            json_t *v = json_object_get(json, "replace");
            bool same = v && strcmp(json_string_value(v), r) == 0;
            gw__cfg_error_in_string(ctx, same ? i : 0,
                                    "\"$%c\" is not a group of the expression (it has %u; $0 is "
                                    "the whole match, $$ a literal \"$\")",
                                    r[i + 1] ? r[i + 1] : ' ', groups);
            break;
        }
        i++;
    }
    gw__cfg_pop(ctx);
}

/* "path": {"prefix": {"from", "to"}} or {"regex", "replace"}. */
static void path_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_tf_request_conf *rq = obj;
    bool prefix = rq->path_from || rq->path_to;
    if (json == NULL)
        return;
    if (prefix && rq->path_regex) {
        gw__cfg_error(ctx, "has both \"prefix\" and \"regex\": choose one");
        return;
    }
    if (prefix) {
        if (rq->path_from == NULL || rq->path_to == NULL) {
            gw__cfg_push_key(ctx, "prefix");
            gw__cfg_error(ctx, "needs \"from\" and \"to\"");
            gw__cfg_pop(ctx);
            return;
        }
        rq->path_kind = GW_TF_PATH_PREFIX;
    } else if (rq->path_regex) {
        rq->path_kind = GW_TF_PATH_REGEX;
        check_regex(ctx, rq, json);
    } else if (rq->path_replace) {
        gw__cfg_error(ctx, "\"replace\" without \"regex\"");
    }
}

static const struct gw__cfg_field prefix_fields[] = {
    {.name = "from",
     .type = &gw__cfg_string_type,
     .offset = REQ(path_from),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_prefix}},
    {.name = "to",
     .type = &gw__cfg_string_type,
     .offset = REQ(path_to),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_prefix}},
};
static const struct gw__cfg_object prefix_obj = {.what = "prefix", ROWS(prefix_fields)};

static const struct gw__cfg_field path_fields[] = {
    {.name = "prefix", .type = &gw__cfg_object_type, .arg = &prefix_obj},
    {.name = "regex", .type = &gw__cfg_string_type, .offset = REQ(path_regex)},
    {.name = "replace", .type = &gw__cfg_string_type, .offset = REQ(path_replace)},
};
static const struct gw__cfg_object path_obj = {
    .what = "path", ROWS(path_fields), .check = path_check};

/* ---- status -----------------------------------------------------------------------------------
 */

/* A status that may be mapped from or to: a final status whose answer has a body as any other
 * (1xx, 204 and 304 are framed differently, so mapping them would break the message). */
static bool mappable(long s)
{
    return s >= 200 && s <= 599 && s != 204 && s != 304;
}

static void release_status(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_tf_response_conf *rs = base;
    free(rs->status);
    rs->status = NULL;
    rs->nstatus = 0;
}

static void parse_status(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    struct gw_tf_response_conf *rs = base;
    if (!json_is_object(v)) {
        gw__cfg_error(ctx, "expected an object of \"status\": status (\"502\": 503), got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    release_status(base, f);
    rs->status = calloc(json_object_size(v) + 1, sizeof *rs->status);
    if (rs->status == NULL) {
        ctx->oom = true;
        return;
    }
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e)
    {
        gw__cfg_push_key(ctx, key);
        char *end = NULL;
        long from = strtol(key, &end, 10);
        long to = json_is_integer(e) ? (long)json_integer_value(e) : -1;
        if (strlen(key) != 3 || *end != '\0' || !mappable(from))
            gw__cfg_error_at_key(ctx,
                                 "\"%s\" is not a status that can be mapped (200 to 599, "
                                 "not 204 or 304)",
                                 key);
        else if (!mappable(to))
            gw__cfg_error(ctx, "expected a status from 200 to 599 other than 204 and 304, got %s",
                          json_is_integer(e) ? "another number" : gw__cfg_json_kind(e));
        else {
            rs->status[rs->nstatus].from = (uint16_t)from;
            rs->status[rs->nstatus].to = (uint16_t)to;
            rs->nstatus++;
        }
        gw__cfg_pop(ctx);
    }
}

static const struct gw__cfg_type status_type = {"object", parse_status, release_status};

/* ---- request, response, sets ------------------------------------------------------------------
 */

/* An object parsed with its own table but documented as one key (docs/transform.md has its
 * members): the walker does not list its rows, so docs/config.md stays one row per section. */
static void parse_section(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                          const struct gw__cfg_field *f)
{
    if (!json_is_object(v)) {
        gw__cfg_error(ctx, "expected an object, got %s", gw__cfg_json_kind(v));
        return;
    }
    gw__cfg_parse_object(ctx, v, AT(base, f->offset, char), f->arg);
}

static void release_section(void *base, const struct gw__cfg_field *f)
{
    gw__cfg_release_object(AT(base, f->offset, char), f->arg);
}

static const struct gw__cfg_type section_type = {"object", parse_section, release_section};

static const struct gw__cfg_field request_fields[] = {
    {.name = "headers", .type = &section_type, .offset = REQ(headers), .arg = &req_headers_obj},
    {.name = "query", .type = &section_type, .offset = REQ(query), .arg = &query_obj},
    {.name = "path", .type = &section_type, .arg = &path_obj},
    {.name = "body", .type = &section_type, .offset = REQ(body), .arg = &body_obj},
};
static const struct gw__cfg_object request_obj = {.what = "request", ROWS(request_fields)};

static const struct gw__cfg_field response_fields[] = {
    {.name = "headers", .type = &section_type, .offset = RESP(headers), .arg = &resp_headers_obj},
    {.name = "status", .type = &status_type},
    {.name = "body", .type = &section_type, .offset = RESP(body), .arg = &body_obj},
};
static const struct gw__cfg_object response_obj = {.what = "response", ROWS(response_fields)};

#define SET_ROWS(base)                                                                             \
    {.name = "request",                                                                            \
     .type = &gw__cfg_object_type,                                                                 \
     .offset = offsetof(base, set.request),                                                        \
     .arg = &request_obj},                                                                         \
    {                                                                                              \
        .name = "response", .type = &gw__cfg_object_type, .offset = offsetof(base, set.response),  \
        .arg = &response_obj                                                                       \
    }

static const struct gw__cfg_field rule_fields[] = {
    {.name = "match",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_rule_match_obj,
     .required = true},
    SET_ROWS(struct gw_tf_rule_conf),
};
static const struct gw__cfg_object rule_obj = {
    .what = "rule", ROWS(rule_fields), .size = sizeof(struct gw_tf_rule_conf)};

static const struct gw__cfg_field transform_fields[] = {
    SET_ROWS(struct gw_transform_conf),
    {.name = "max_body_bytes",
     .type = &gw__cfg_size64_type,
     .offset = TF(max_body_bytes),
     .def = "64KiB"},
};
const struct gw__cfg_object gw__cfg_transform_obj = {.what = "transform", ROWS(transform_fields)};

/* A service inherits the gateway's body size. */
static void service_transform_init(struct gw__cfg_ctx *ctx, void *obj)
{
    struct gw_transform_conf *t = obj;
    t->max_body_bytes = ctx->root->transform.max_body_bytes;
    t->inherit = true;
}

static const struct gw__cfg_field service_transform_fields[] = {
    {.name = "inherit", .type = &gw__cfg_bool_type, .offset = TF(inherit), .def = "true"},
    SET_ROWS(struct gw_transform_conf),
    {.name = "max_body_bytes", .type = &gw__cfg_size64_type, .offset = TF(max_body_bytes)},
    {.name = "rules",
     .type = &gw__cfg_list_type,
     .offset = TF(rules),
     .arg = &(const struct gw__cfg_list){.elem = &rule_obj, .count_offset = TF(nrules)}},
};
const struct gw__cfg_object gw__cfg_service_transform_obj = {
    .what = "transform",
    ROWS(service_transform_fields),
    .init = service_transform_init,
    .toggle = true,
    .enabled_offset = TF(enabled),
};

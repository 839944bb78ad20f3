/*
 * The "registration" section of the config schema: backends that register themselves through
 * the admin API (src/registry/, README "Registering backends").
 *
 * "defaults" holds the keys of the service gantry makes for the prefix of a new registration.
 * It is checked here as a service would be (every key, type and range of a service, with
 * positions at "registration.defaults...."), with the name, prefix and targets that each
 * registration brings left out, so a registration never fails because of the defaults.
 */
#include "config/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/url.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define RC(field) offsetof(struct gw_registration_conf, field)

/* Keys of "defaults" that each registration sets itself. */
static const char *const per_registration[] = {"name", "prefix", "targets"};

static void check_defaults(struct gw__cfg_ctx *ctx, json_t *v)
{
    json_t *probe = NULL;
    struct gw_service_conf svc;
    for (size_t i = 0; i < sizeof per_registration / sizeof per_registration[0]; i++) {
        if (json_object_get(v, per_registration[i]) == NULL)
            continue;
        gw__cfg_push_key(ctx, per_registration[i]);
        gw__cfg_error_at_key(ctx,
                             "\"%s\" comes from each registration; leave it out of the "
                             "defaults",
                             per_registration[i]);
        gw__cfg_pop(ctx);
    }
    /* The defaults plus stand-ins for what each registration brings, parsed as a service: the
     * values are the file's own, so errors point into the file. */
    probe = json_copy(v);
    if (probe == NULL ||
        json_object_set_new(probe, "name", json_string("registration-defaults")) != 0 ||
        json_object_set_new(probe, "prefix", json_string("/")) != 0 ||
        json_object_set_new(probe, "targets", json_pack("[s]", "http://127.0.0.1:1")) != 0) {
        ctx->oom = true;
        json_decref(probe);
        return;
    }
    memset(&svc, 0, sizeof svc);
    gw__cfg_parse_object(ctx, probe, &svc, &gw__cfg_service_obj);
    gw__cfg_release_object(&svc, &gw__cfg_service_obj);
    json_decref(probe);
}

static void parse_defaults(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                           const struct gw__cfg_field *f)
{
    json_t **out = (json_t **)((char *)base + f->offset);
    if (!json_is_object(v)) {
        gw__cfg_error(ctx,
                      "expected an object with the keys of a service (load_balancer, "
                      "health_check, ...), got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    check_defaults(ctx, v);
    *out = json_incref(v);
}

static void release_defaults(void *base, const struct gw__cfg_field *f)
{
    json_t **p = (json_t **)((char *)base + f->offset);
    json_decref(*p);
    *p = NULL;
}

static const struct gw__cfg_type defaults_type = {
    .doc = "object",
    .parse = parse_defaults,
    .release = release_defaults,
};

static const struct gw__cfg_range ttl_range = {1000, 7ull * 24 * 3600 * 1000};
static const struct gw__cfg_range max_regs_range = {1, 1000000};
static const struct gw__cfg_range publish_range = {0, 10000};
static const struct gw__cfg_range failures_range = {1, 100};

static bool is_key(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (!isxdigit((unsigned char)s[n]))
            return false;
    }
    return n == 64;
}

#define KEY_FORMAT "64 hex digits (32 random bytes: openssl rand -hex 32)"

static bool check_key(struct gw__cfg_ctx *ctx, char **s)
{
    if (is_key(*s))
        return true;
    gw__cfg_error(ctx, "expected %s", KEY_FORMAT);
    return false;
}

/* A header name (RFC 9110 token). */
static bool check_header_name(struct gw__cfg_ctx *ctx, char **s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    bool ok = (*s)[0] != '\0';
    for (const char *p = *s; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || strchr(tchar, *p) != NULL;
    if (!ok)
        gw__cfg_error(ctx, "expected a header name such as \"Authorization\"");
    return ok;
}

/* Visible characters and spaces only: it goes into a header line. */
static bool check_header_text(struct gw__cfg_ctx *ctx, char **s)
{
    for (const char *p = *s; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
            gw__cfg_error(ctx, "only visible ASCII characters and spaces are allowed");
            return false;
        }
    }
    return true;
}

static void registration_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_registration_conf *rc = obj;
    (void)json;
    const char *env = getenv("ENCRYPTION_KEY");
    if (rc->encryption_key == NULL && env && env[0]) {
        if (!is_key(env)) {
            gw__cfg_push_key(ctx, "encryption_key");
            gw__cfg_error(ctx, "absent, and ENCRYPTION_KEY is not %s", KEY_FORMAT);
            gw__cfg_pop(ctx);
        } else {
            rc->encryption_key = strdup(env);
            if (rc->encryption_key == NULL)
                ctx->oom = true;
        }
    }
    if (rc->ttl_ms > rc->max_ttl_ms) {
        gw__cfg_push_key(ctx, "ttl");
        gw__cfg_error(ctx, "longer than max_ttl");
        gw__cfg_pop(ctx);
    }
}

/* A file name: not empty, no NUL (json strings may hold one). */
static bool check_store(struct gw__cfg_ctx *ctx, char **s)
{
    if ((*s)[0] != '\0')
        return true;
    gw__cfg_error(ctx, "expected a file name such as \"/var/lib/gantry/registrations.json\"");
    return false;
}

static bool check_redis(struct gw__cfg_ctx *ctx, char **s)
{
    struct gw_url u;
    const char *why = NULL;
    if (gw_url_scheme_of(*s, strlen(*s)) == GW_URL_REDISS)
        why = "TLS (rediss://) is not possible in this build: Debian 12's hiredis 0.14 has no "
              "TLS; reach Redis over loopback or a TLS tunnel (stunnel) and use redis://";
    else if (gw_url_parse(*s, strlen(*s), &u, &why) == 0 && u.scheme != GW_URL_REDIS)
        why = "expected redis://[[user]:password@]host[:port][/db]";
    if (why == NULL)
        return true;
    gw__cfg_url_error(ctx, *s, why);
    return false;
}

/* Goes into every Redis key and the channel name: printable ASCII without spaces. */
static bool check_prefix(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (*s)[i] > ' ' && (*s)[i] < 0x7f;
    if (!ok)
        gw__cfg_error(ctx, "expected at most 64 printable characters without spaces");
    return ok;
}

static const struct gw__cfg_str redis_check = {check_redis};
static const struct gw__cfg_str prefix_check = {check_prefix};
static const struct gw__cfg_str key_check = {check_key};
static const struct gw__cfg_str store_check = {check_store};
static const struct gw__cfg_strlist key_list = {
    .count_offset = RC(nprevious_keys), .check = check_key, .unique = true};
static const struct gw__cfg_str header_name_check = {check_header_name};
static const struct gw__cfg_str header_text_check = {check_header_text};

static const struct gw__cfg_field registration_fields[] = {
    {.name = "encryption_key",
     .type = &gw__cfg_string_type,
     .offset = RC(encryption_key),
     .arg = &key_check},
    {.name = "previous_keys",
     .type = &gw__cfg_strlist_type,
     .offset = RC(previous_keys),
     .arg = &key_list},
    {.name = "token_header",
     .type = &gw__cfg_string_type,
     .offset = RC(token_header),
     .arg = &header_name_check,
     .def = "Authorization"},
    {.name = "token_prefix",
     .type = &gw__cfg_string_type,
     .offset = RC(token_prefix),
     .arg = &header_text_check,
     .def = "Bearer "},
    {.name = "defaults", .type = &defaults_type, .offset = RC(defaults)},
    {.name = "store", .type = &gw__cfg_string_type, .offset = RC(store), .arg = &store_check},
    {.name = "redis", .type = &gw__cfg_string_type, .offset = RC(redis), .arg = &redis_check},
    {.name = "redis_key_prefix",
     .type = &gw__cfg_string_type,
     .offset = RC(redis_key_prefix),
     .arg = &prefix_check,
     .def = "gantry:reg:"},
    {.name = "ttl",
     .type = &gw__cfg_duration_type,
     .offset = RC(ttl_ms),
     .arg = &ttl_range,
     .def = "30s"},
    {.name = "max_ttl",
     .type = &gw__cfg_duration_type,
     .offset = RC(max_ttl_ms),
     .arg = &ttl_range,
     .def = "24h"},
    {.name = "max_registrations",
     .type = &gw__cfg_uint32_type,
     .offset = RC(max_registrations),
     .arg = &max_regs_range,
     .def = "10000"},
    {.name = "failures",
     .type = &gw__cfg_uint32_type,
     .offset = RC(failures),
     .arg = &failures_range,
     .def = "3"},
    {.name = "publish_interval",
     .type = &gw__cfg_duration_type,
     .offset = RC(publish_interval_ms),
     .arg = &publish_range,
     .def = "100ms"},
};

const struct gw__cfg_object gw__cfg_registration_obj = {
    .what = "registration",
    ROWS(registration_fields),
    .check = registration_check,
    .toggle = true,
    .enabled_offset = RC(enabled),
};

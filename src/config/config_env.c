/*
 * Environment overrides: the variables container platforms and twelve-factor deployments set,
 * each a shorthand for one config key. They are written into the parsed tree before the schema
 * walk, so an overridden value is checked exactly like one in the file, and its errors name the
 * variable. GATEWAY_PORT (the port part of "listen") is applied after the walk instead
 * (config_fields.c), because it replaces only half of a value.
 *
 * DATABASE_URL (audit.postgres.dsn) applies only when the file has an "audit" section: the
 * variable names where the audit log goes, not whether there is one. It also gives
 * identity.postgres.dsn, only when the file's identity section says "store": "postgres".
 *
 * Precedence, highest first: the variable (when set and not empty), the file (with its
 * ${NAME} substitutions), the built-in default. Where the file has something other than an
 * object on the way ("auth": false, say), the variable is not applied and the schema reports
 * the file's value as it would without it.
 */
#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One step of an override's key path: an object key, or (key NULL) element 0 of an array. */
struct env_step {
    const char *key;
};

struct env_override {
    const char *var;
    const char *path; /* as errors print it */
    struct env_step steps[5];
    size_t nsteps;
    /* Members of an array element created on the way (JWT_SECRET's key needs an alg). */
    const char *elem_key;
    const char *elem_value;
    /* Applied only when the file has the first step's section: DATABASE_URL must not switch
     * the audit log on by itself (platforms set it for other reasons). */
    bool only_in_section;
    /* Applied only when the section's member when_key is the string when_value. */
    const char *when_key;
    const char *when_value;
};

static const struct env_override overrides[] = {
    {.var = "LOG_LEVEL", .path = "log.level", .steps = {{"log"}, {"level"}}, .nsteps = 2},
    {.var = "REDIS_URL",
     .path = "rate_limit.redis.url",
     .steps = {{"rate_limit"}, {"redis"}, {"url"}},
     .nsteps = 3},
    {.var = "JWT_SECRET",
     .path = "auth.jwt.keys[0].secret",
     .steps = {{"auth"}, {"jwt"}, {"keys"}, {NULL}, {"secret"}},
     .nsteps = 5,
     .elem_key = "alg",
     .elem_value = "HS256"},
    {.var = "ADMIN_API_KEY",
     .path = "admin.api_key",
     .steps = {{"admin"}, {"api_key"}},
     .nsteps = 2},
    {.var = "DATABASE_URL",
     .path = "audit.postgres.dsn",
     .steps = {{"audit"}, {"postgres"}, {"dsn"}},
     .nsteps = 3,
     .only_in_section = true},
    {.var = "DATABASE_URL",
     .path = "identity.postgres.dsn",
     .steps = {{"identity"}, {"postgres"}, {"dsn"}},
     .nsteps = 3,
     .only_in_section = true,
     .when_key = "store",
     .when_value = "postgres"},
};

/* A new container for the value after step i: an array when the next step is an index; an
 * element of an array gets elem_key. */
static json_t *new_container(struct gw__cfg_ctx *ctx, const struct env_override *o, size_t i)
{
    json_t *c = o->steps[i + 1].key == NULL ? json_array() : json_object();
    if (c != NULL && o->steps[i].key == NULL && o->elem_key &&
        json_object_set_new(c, o->elem_key, json_string(o->elem_value)) != 0) {
        json_decref(c);
        c = NULL;
    }
    if (c == NULL)
        ctx->oom = true;
    return c;
}

/* The container reached by step i from node, created when absent. NULL when the file has
 * something else there (false, a string, ...): the schema reports that, or the section is
 * off. */
static json_t *step_into(struct gw__cfg_ctx *ctx, json_t *node, const struct env_override *o,
                         size_t i)
{
    const char *key = o->steps[i].key;
    json_t *next = key ? json_object_get(node, key) : json_array_get(node, 0);
    if (next == NULL) {
        next = new_container(ctx, o, i);
        if (next == NULL)
            return NULL;
        if ((key ? json_object_set_new(node, key, next) : json_array_append_new(node, next)) != 0) {
            ctx->oom = true;
            return NULL;
        }
        return next;
    }
    bool want_array = o->steps[i + 1].key == NULL;
    return (want_array ? json_is_array(next) : json_is_object(next)) ? next : NULL;
}

static void apply_one(struct gw__cfg_ctx *ctx, json_t *root, const struct env_override *o,
                      const char *value)
{
    json_t *node = root;
    json_t *section = json_object_get(root, o->steps[0].key);
    if (o->only_in_section && section == NULL)
        return;
    if (o->when_key) {
        const char *v = json_string_value(json_object_get(section, o->when_key));
        if (v == NULL || strcmp(v, o->when_value) != 0)
            return;
    }
    for (size_t i = 0; node != NULL && i + 1 < o->nsteps; i++)
        node = step_into(ctx, node, o, i);
    if (node == NULL)
        return;
    if (json_object_set_new(node, o->steps[o->nsteps - 1].key, json_string(value)) != 0) {
        ctx->oom = true;
        return;
    }
    if (ctx->nenv < sizeof ctx->env / sizeof ctx->env[0]) {
        ctx->env[ctx->nenv].var = o->var;
        snprintf(ctx->env[ctx->nenv].path, sizeof ctx->env[ctx->nenv].path, "%s", o->path);
        ctx->nenv++;
    }
}

void gw__cfg_env_apply(struct gw__cfg_ctx *ctx, json_t *root)
{
    if (!json_is_object(root))
        return;
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const char *value = getenv(overrides[i].var);
        if (value != NULL && value[0] != '\0')
            apply_one(ctx, root, &overrides[i], value);
    }
}

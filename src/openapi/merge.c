/*
 * Merging the services' OpenAPI documents (openapi/merge.h has the contract). The services'
 * documents are never modified: what goes into the merged document is a deep copy, renamed
 * and rewritten there.
 */
#include "openapi/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-t.h"
#include "core/error.h"

/* The component kinds whose names are namespaced (securitySchemes are replaced instead). */
static const char *const kinds[] = {"schemas",  "responses",     "parameters",
                                    "examples", "requestBodies", "headers",
                                    "links",    "callbacks",     "pathItems"};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                      "options", "head", "patch", "trace"};
#define NMETHODS (sizeof methods / sizeof methods[0])

/* Longest path key, mount and base path put together. */
#define PATH_MAX_LEN 4096

const char *gw_openapi_check(const json_t *doc)
{
    if (!json_is_object(doc))
        return "not a JSON object";
    const char *v = json_string_value(json_object_get(doc, "openapi"));
    if (v == NULL || strncmp(v, "3.", 2) != 0)
        return "not an OpenAPI 3 document (no \"openapi\": \"3.x\")";
    const json_t *p = json_object_get(doc, "paths");
    if (p != NULL && !json_is_object(p))
        return "\"paths\" is not an object";
    const json_t *c = json_object_get(doc, "components");
    if (c != NULL && !json_is_object(c))
        return "\"components\" is not an object";
    return NULL;
}

static bool known_kind(const char *k, size_t n)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strlen(kinds[i]) == n && memcmp(kinds[i], k, n) == 0)
            return true;
    return false;
}

/* "#/components/<kind>/<rest>" with a namespaced kind becomes "#/components/<kind>/<ns>.<rest>"
 * (ns has no '/' or '~', so the JSON pointer needs no escaping). Returns 0 (unchanged or
 * rewritten) or GW_ENOMEM. */
static int rewrite_ref(json_t *s, const char *ns)
{
    static const char head[] = "#/components/";
    const char *v = json_string_value(s);
    size_t hl = sizeof head - 1;
    if (v == NULL || strncmp(v, head, hl) != 0)
        return 0;
    const char *kind = v + hl;
    const char *slash = strchr(kind, '/');
    if (slash == NULL || slash[1] == '\0' || !known_kind(kind, (size_t)(slash - kind)))
        return 0;
    size_t n = strlen(v) + strlen(ns) + 2;
    char *out = malloc(n);
    if (out == NULL)
        return GW_ENOMEM;
    snprintf(out, n, "%.*s%s.%s", (int)(slash + 1 - v), v, ns, slash + 1);
    int rc = json_string_set(s, out) == 0 ? 0 : GW_ENOMEM;
    free(out);
    return rc;
}

/* Rewrites every "$ref" string inside v. */
static int rewrite_refs(json_t *v, const char *ns)
{
    int rc = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val)
        {
            if (strcmp(key, "$ref") == 0 && json_is_string(val))
                rc = rewrite_ref(val, ns);
            else
                rc = rewrite_refs(val, ns);
            if (rc < 0)
                return rc;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *val;
        json_array_foreach(v, i, val)
        {
            rc = rewrite_refs(val, ns);
            if (rc < 0)
                return rc;
        }
    }
    return rc;
}

/* The security requirement gantry enforces for a service, or NULL (none: no auth). */
static json_t *security_requirement(const struct gw_openapi_service *s, char *bearer, char *apikey)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    if (s->auth & (GW_AUTH_JWT | GW_AUTH_INTROSPECTION))
        json_array_append_new(arr, json_pack("{s:[]}", bearer));
    if (s->auth & GW_AUTH_API_KEY)
        json_array_append_new(arr, json_pack("{s:[]}", apikey));
    if (!s->auth_required)
        json_array_append_new(arr, json_object());
    return arr;
}

/* The path item src copied for service s: operationIds namespaced, servers dropped, security
 * replaced by gantry's (sec, or none), $refs rewritten. NULL when out of memory. */
static json_t *copy_path_item(const json_t *src, const struct gw_openapi_service *s,
                              const json_t *sec)
{
    json_t *item = json_deep_copy(src);
    if (item == NULL)
        return NULL;
    if (!json_is_object(item))
        return item;
    json_object_del(item, "servers");
    for (size_t m = 0; m < NMETHODS; m++) {
        json_t *op = json_object_get(item, methods[m]);
        if (!json_is_object(op))
            continue;
        json_object_del(op, "servers");
        const char *id = json_string_value(json_object_get(op, "operationId"));
        if (id != NULL) {
            size_t n = strlen(id) + strlen(s->name) + 2;
            char *nid = malloc(n);
            if (nid == NULL || (snprintf(nid, n, "%s.%s", s->name, id),
                                json_object_set_new(op, "operationId", json_string(nid)) != 0)) {
                free(nid);
                json_decref(item);
                return NULL;
            }
            free(nid);
        }
        int rc = sec ? json_object_set(op, "security", (json_t *)sec)
                     : (json_object_del(op, "security"), 0);
        if (rc != 0) {
            json_decref(item);
            return NULL;
        }
    }
    if (rewrite_refs(item, s->name) < 0) {
        json_decref(item);
        return NULL;
    }
    return item;
}

/* The path of the document's first server URL ("https://h/api/v1/" gives "/api/v1"): the
 * upstream serves the paths under it. "" when there is none, or it has variables. */
static void base_path(const json_t *doc, char *out, size_t cap)
{
    const char *url = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "servers"), 0), "url"));
    out[0] = '\0';
    if (url == NULL || strchr(url, '{') != NULL)
        return;
    const char *p = strstr(url, "://");
    if (p != NULL)
        p = strchr(p + 3, '/');
    else
        p = url[0] == '/' ? url : NULL;
    if (p == NULL)
        return;
    size_t n = strcspn(p, "?#");
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n < cap)
        snprintf(out, cap, "%.*s", (int)n, p);
}

static int add_paths(json_t *paths, const struct gw_openapi_service *s, const json_t *sec)
{
    char base[1024];
    base_path(s->doc, base, sizeof base);
    const json_t *src = json_object_get(s->doc, "paths");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)src, key, val)
    {
        if (key[0] != '/')
            continue; /* extensions ("x-...") */
        char full[PATH_MAX_LEN];
        int w = snprintf(full, sizeof full, "%s%s%s", s->mount, base, key);
        if (w < 0 || (size_t)w >= sizeof full)
            continue;
        if (strlen(full) > 1 && full[strlen(full) - 1] == '/' && key[1] == '\0')
            full[strlen(full) - 1] = '\0'; /* "/api" + "/" is "/api" */
        json_t *item = copy_path_item(val, s, sec);
        if (item == NULL)
            return GW_ENOMEM;
        json_t *have = json_object_get(paths, full);
        int rc = 0;
        if (json_is_object(have) && json_is_object(item))
            rc = json_object_update_missing(have, item); /* two versions on one path */
        else if (have == NULL)
            rc = json_object_set(paths, full, item);
        json_decref(item);
        if (rc != 0)
            return GW_ENOMEM;
    }
    return 0;
}

static int add_components(json_t *comps, const struct gw_openapi_service *s)
{
    const json_t *src = json_object_get(s->doc, "components");
    for (size_t k = 0; k < NKINDS; k++) {
        const json_t *sect = json_object_get(src, kinds[k]);
        if (!json_is_object(sect) || json_object_size(sect) == 0)
            continue;
        json_t *dst = json_object_get(comps, kinds[k]);
        if (dst == NULL) {
            dst = json_object();
            if (dst == NULL || json_object_set_new(comps, kinds[k], dst) != 0)
                return GW_ENOMEM;
        }
        const char *name;
        json_t *val;
        json_object_foreach((json_t *)sect, name, val)
        {
            size_t n = strlen(name) + strlen(s->name) + 2;
            char *nn = malloc(n);
            json_t *copy = json_deep_copy(val);
            int rc = nn && copy ? 0 : GW_ENOMEM;
            if (rc == 0) {
                snprintf(nn, n, "%s.%s", s->name, name);
                rc = rewrite_refs(copy, s->name);
            }
            if (rc == 0 && json_object_set(dst, nn, copy) != 0)
                rc = GW_ENOMEM;
            json_decref(copy);
            free(nn);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* gantry's security schemes for s into comps.securitySchemes; names in bearer, apikey. */
static int add_schemes(json_t *comps, const struct gw_openapi_service *s, const char *bearer,
                       const char *apikey)
{
    json_t *dst = json_object_get(comps, "securitySchemes");
    if (dst == NULL) {
        dst = json_object();
        if (dst == NULL || json_object_set_new(comps, "securitySchemes", dst) != 0)
            return GW_ENOMEM;
    }
    int rc = 0;
    if (s->auth & GW_AUTH_JWT)
        rc |= json_object_set_new(
            dst, bearer,
            json_pack("{s:s,s:s,s:s}", "type", "http", "scheme", "bearer", "bearerFormat", "JWT"));
    else if (s->auth & GW_AUTH_INTROSPECTION)
        rc |= json_object_set_new(dst, bearer,
                                  json_pack("{s:s,s:s}", "type", "http", "scheme", "bearer"));
    if (s->auth & GW_AUTH_API_KEY)
        rc |=
            json_object_set_new(dst, apikey,
                                json_pack("{s:s,s:s,s:s}", "type", "apiKey", "in", "header", "name",
                                          s->api_key_header ? s->api_key_header : "x-api-key"));
    return rc ? GW_ENOMEM : 0;
}

static int add_tags(json_t *tags, const json_t *doc)
{
    size_t i, j;
    json_t *t, *o;
    json_array_foreach(json_object_get(doc, "tags"), i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (name == NULL)
            continue;
        bool dup = false;
        json_array_foreach(tags, j, o)
        {
            const char *on = json_string_value(json_object_get(o, "name"));
            dup |= on != NULL && strcmp(on, name) == 0;
        }
        if (!dup && json_array_append_new(tags, json_deep_copy(t)) != 0)
            return GW_ENOMEM;
    }
    return 0;
}

static int merge_service(json_t *paths, json_t *comps, json_t *tags,
                         const struct gw_openapi_service *s)
{
    size_t n = strlen(s->name) + sizeof ".bearer";
    char *bearer = malloc(n), *apikey = malloc(n + 1);
    json_t *sec = NULL;
    int rc = GW_ENOMEM;
    if (bearer == NULL || apikey == NULL)
        goto fail;
    snprintf(bearer, n, "%s.bearer", s->name);
    snprintf(apikey, n + 1, "%s.apiKey", s->name);
    if (s->auth) {
        sec = security_requirement(s, bearer, apikey);
        if (sec == NULL || add_schemes(comps, s, bearer, apikey) < 0)
            goto fail;
    }
    rc = add_paths(paths, s, sec);
    if (rc == 0)
        rc = add_components(comps, s);
    if (rc == 0)
        rc = add_tags(tags, s->doc);
fail:
    json_decref(sec);
    free(bearer);
    free(apikey);
    return rc;
}

int gw_openapi_merge(const struct gw_openapi_info *info, const struct gw_openapi_service *svcs,
                     size_t n, json_t **out)
{
    bool v31 = false;
    for (size_t i = 0; i < n; i++) {
        const char *v =
            svcs[i].doc ? json_string_value(json_object_get(svcs[i].doc, "openapi")) : NULL;
        v31 |= v != NULL && strncmp(v, "3.1", 3) == 0;
    }
    json_t *paths = json_object(), *comps = json_object(), *tags = json_array();
    json_t *doc = json_pack("{s:s,s:{s:s,s:s},s:[{s:s}]}", "openapi", v31 ? "3.1.0" : "3.0.3",
                            "info", "title", info->title, "version", info->version, "servers",
                            "url", info->server_url);
    int rc = doc && paths && comps && tags ? 0 : GW_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (svcs[i].doc != NULL)
            rc = merge_service(paths, comps, tags, &svcs[i]);
    if (rc == 0 && (json_object_set(doc, "paths", paths) != 0 ||
                    json_object_set(doc, "components", comps) != 0 ||
                    (json_array_size(tags) && json_object_set(doc, "tags", tags) != 0)))
        rc = GW_ENOMEM;
    json_decref(paths);
    json_decref(comps);
    json_decref(tags);
    if (rc < 0) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

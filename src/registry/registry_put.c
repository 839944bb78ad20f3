/*
 * Registering: checking a request body with the config loader, the ownership of names and
 * prefixes, and turning the registrations into services of the config document.
 *
 * Ownership rules (README "Registering backends"):
 * - a service of the file owns its name and its prefixes: a registration with that name joins
 *   it as a target (its prefix must be one of the service's); another name with one of its
 *   prefixes is refused (409). Services that share a prefix by API version all own it: the
 *   registration names the one it joins;
 * - a registration name owns its prefix among registrations: the same name with another
 *   prefix, or another name with the same prefix, is refused (409).
 */
#include "registry/internal.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "net/listen.h"

static const char *const body_keys[] = {"name", "url",   "prefix",      "weight",
                                        "ttl",  "token", "sealed_token"};
#define MAX_TOKEN 4096
#define NBODY_KEYS (sizeof body_keys / sizeof body_keys[0])

void gw__registry_trim_prefix(char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
}

bool gw__registry_parse_ttl(json_t *v, uint64_t *ms)
{
    if (json_is_integer(v) || json_is_real(v)) {
        double s = json_number_value(v);
        if (!(s > 0 && s < 1e9))
            return false;
        *ms = (uint64_t)(s * 1000.0);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end = NULL;
    double x = strtod(s, &end);
    if (end == s || !(x > 0 && x < 1e9))
        return false;
    double mult = 1000.0;
    if (strcmp(end, "ms") == 0)
        mult = 1.0;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000.0;
    else if (strcmp(end, "m") == 0)
        mult = 60000.0;
    else if (strcmp(end, "h") == 0)
        mult = 3600000.0;
    else
        return false;
    *ms = (uint64_t)(x * mult);
    return true;
}

static void fail(struct gw_registry_result *res, int status, const char *path, const char *msg)
{
    res->status = status;
    snprintf(res->why, sizeof res->why, "%s%s%s", path[0] ? path : "", path[0] ? ": " : "", msg);
    if (status == 400 && res->errors == NULL)
        res->errors = json_array();
    if (status == 400 && res->errors)
        json_array_append_new(res->errors, json_pack("{s:s, s:s}", "path", path, "message", msg));
}

/* A loader path of the probe document as the body's key: "services[0].targets[0].url" ->
 * "url", "services[0].prefix" -> "prefix", other service keys -> "registration.defaults.x". */
static void body_path(const char *p, char *out, size_t cap)
{
    static const char svc[] = "services[0]";
    static const char tgt[] = "services[0].targets[0]";
    if (strncmp(p, tgt, sizeof tgt - 1) == 0) {
        p += sizeof tgt - 1;
        snprintf(out, cap, "%s", *p == '.' ? p + 1 : "url");
        return;
    }
    if (strncmp(p, svc, sizeof svc - 1) == 0) {
        p += sizeof svc - 1;
        if (*p == '.')
            p++;
        if (strncmp(p, "name", 4) == 0 || strncmp(p, "prefix", 6) == 0)
            snprintf(out, cap, "%s", p);
        else
            snprintf(out, cap, "registration.defaults%s%s", *p ? "." : "", p);
        return;
    }
    snprintf(out, cap, "%s", p);
}

/* The service a registration creates, or NULL when out of memory. Values are the body's own
 * (not yet checked). */
static json_t *service_doc(const json_t *defaults, json_t *name, json_t *prefix, json_t *url,
                           json_t *weight)
{
    json_t *svc = defaults ? json_deep_copy(defaults) : json_object();
    json_t *target = json_object();
    json_t *targets = json_array();
    if (svc == NULL || target == NULL || targets == NULL)
        goto fail;
    if ((name && json_object_set(svc, "name", name) != 0) ||
        (prefix && json_object_set(svc, "prefix", prefix) != 0) ||
        (url && json_object_set(target, "url", url) != 0) ||
        (weight && json_object_set(target, "weight", weight) != 0) ||
        json_array_append(targets, target) != 0 || json_object_set(svc, "targets", targets) != 0)
        goto fail;
    json_decref(target);
    json_decref(targets);
    return svc;
fail:
    json_decref(svc);
    json_decref(target);
    json_decref(targets);
    return NULL;
}

/* Checks the body's values with the config loader; on success *loaded holds the probe config
 * (services[0] is the registration's service). */
static bool check_values(const struct gw_config *cfg, json_t *body, struct gw_registry_result *res,
                         struct gw_config **loaded)
{
    struct gw_config_errors errs = {0};
    json_t *svc = service_doc(cfg->registration.defaults, json_object_get(body, "name"),
                              json_object_get(body, "prefix"), json_object_get(body, "url"),
                              json_object_get(body, "weight"));
    json_t *doc = svc ? json_pack("{s:[o]}", "services", svc) : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        fail(res, 500, "", "out of memory");
        return false;
    }
    int rc = gw_config_load_string("registration", text, strlen(text), loaded, &errs);
    free(text);
    if (rc == 0)
        return true;
    if (rc == GW_ENOMEM) {
        fail(res, 500, "", "out of memory");
    } else {
        for (size_t i = 0; i < errs.count; i++) {
            char path[160];
            body_path(errs.items[i].path ? errs.items[i].path : "", path, sizeof path);
            fail(res, 400, path, errs.items[i].message ? errs.items[i].message : "invalid");
        }
        if (res->status != 400)
            fail(res, 400, "", "invalid registration");
    }
    gw_config_errors_free(&errs);
    return false;
}

static void make_id(const char *name, const char *url, char id[GW_REGISTRY_ID_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    size_t nl = strlen(name), ul = strlen(url);
    char *buf = malloc(nl + ul + 1);
    memset(md, 0, sizeof md);
    if (buf) {
        memcpy(buf, name, nl);
        buf[nl] = '\n';
        memcpy(buf + nl + 1, url, ul);
        EVP_Digest(buf, nl + ul + 1, md, &mdlen, EVP_sha256(), NULL);
    }
    free(buf);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < GW_REGISTRY_ID_LEN / 2; i++) {
        id[2 * i] = hex[md[i] >> 4];
        id[2 * i + 1] = hex[md[i] & 15];
    }
    id[GW_REGISTRY_ID_LEN] = '\0';
}

/* Does the file's service svc have prefix p (after trimming)? */
static bool has_prefix(json_t *svc, const char *p)
{
    json_t *pv = json_object_get(svc, "prefix");
    size_t n = json_is_array(pv) ? json_array_size(pv) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *one = json_is_array(pv) ? json_array_get(pv, i) : pv;
        if (!json_is_string(one))
            continue;
        char buf[512];
        snprintf(buf, sizeof buf, "%s", json_string_value(one));
        gw__registry_trim_prefix(buf);
        if (strcmp(buf, p) == 0)
            return true;
    }
    return false;
}

/* 409 when name or prefix belong to someone else. Several services of the file may own one
 * prefix (API versions, docs/versioning.md): a registration joins the one it names. */
static bool check_owner(const struct gw_registry *reg, const char *id, const char *name,
                        const char *prefix, struct gw_registry_result *res)
{
    json_t *services = json_object_get(gw__registry_file_doc(reg), "services");
    size_t i;
    json_t *svc;
    char owners[160]; /* the owners named in the answer (the list may be cut) */
    size_t nowners = 0, at = 0;
    owners[0] = '\0';
    json_array_foreach(services, i, svc)
    {
        json_t *n = json_object_get(svc, "name");
        const char *sname = json_is_string(n) ? json_string_value(n) : "";
        bool owns = has_prefix(svc, prefix);
        if (strcmp(sname, name) == 0) {
            if (owns)
                return true; /* joins the file's service */
            res->status = 409;
            snprintf(res->why, sizeof res->why,
                     "name \"%s\" is a service of the config file, which does not have prefix "
                     "%s: a registration joins a service of the file as a target with one of "
                     "its prefixes",
                     name, prefix);
            return false;
        }
        if (owns && at < sizeof owners) {
            int w =
                snprintf(owners + at, sizeof owners - at, "%s\"%s\"", nowners ? ", " : "", sname);
            at += w > 0 ? (size_t)w : 0;
            nowners++;
        }
    }
    if (nowners == 1) {
        res->status = 409;
        snprintf(res->why, sizeof res->why,
                 "prefix %s belongs to service %s of the config file (register with name %s "
                 "to join it as a target)",
                 prefix, owners, owners);
        return false;
    }
    if (nowners > 1) {
        res->status = 409;
        snprintf(res->why, sizeof res->why,
                 "prefix %s belongs to the services %s of the config file (API versions): "
                 "register with the name of one of them to join it as a target",
                 prefix, owners);
        return false;
    }
    for (size_t k = 0; k < gw_registry_count(reg); k++) {
        const struct gw_registration *o = gw_registry_at(reg, k);
        if (strcmp(o->id, id) == 0)
            continue;
        bool same = strcmp(o->name, name) == 0;
        bool owns = strcmp(o->prefix, prefix) == 0;
        if (same != owns) {
            res->status = 409;
            if (same)
                snprintf(res->why, sizeof res->why,
                         "name \"%s\" is registered with prefix %s (registration %s): one name, "
                         "one prefix",
                         name, o->prefix, o->id);
            else
                snprintf(res->why, sizeof res->why,
                         "prefix %s is registered by name \"%s\" (registration %s); register "
                         "with that name to join it as a target",
                         prefix, o->name, o->id);
            return false;
        }
    }
    return true;
}

/* 1 to MAX_TOKEN visible ASCII characters: it goes into a header line. */
static bool token_chars_ok(const char *s, size_t n)
{
    if (n == 0 || n > MAX_TOKEN || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    }
    return true;
}

static bool token_ok(json_t *v)
{
    return json_is_string(v) && token_chars_ok(json_string_value(v), json_string_length(v));
}

/* Does old carry exactly token (NULL: none)? */
static bool same_token(const struct gw_config *cfg, const struct gw_registration *old,
                       const char *token)
{
    if (old->token_box == NULL || token == NULL)
        return old->token_box == NULL && token == NULL;
    size_t n = 0;
    char *t = gw__registry_open(cfg, old, &n);
    bool same = t != NULL && n == strlen(token) && sodium_memcmp(t, token, n) == 0;
    gw__registry_wipe(t, n + 1);
    return same;
}

/* Fields of the body that are not the loader's business. */
static bool check_body(const struct gw_config *cfg, json_t *body, uint64_t *ttl_ms,
                       struct gw_registry_result *res)
{
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        fail(res, 400, "",
             "the body must be an object {\"name\", \"url\", \"prefix\"} with "
             "optional \"weight\" and \"ttl\"");
        return false;
    }
    json_object_foreach(body, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < NBODY_KEYS; i++)
            known = known || strcmp(key, body_keys[i]) == 0;
        if (!known)
            fail(res, 400, key,
                 "unknown key (expected name, url, prefix, weight, ttl, token, sealed_token)");
        else if (strcmp(key, "token") != 0 && strcmp(key, "sealed_token") != 0 &&
                 json_is_string(v) && strchr(json_string_value(v), '$'))
            fail(res, 400, key, "'$' is not allowed in a registration");
    }
    json_t *prefix = json_object_get(body, "prefix");
    if (prefix && !json_is_string(prefix))
        fail(res, 400, "prefix", "expected one prefix, a string such as \"/api/orders\"");
    json_t *token = json_object_get(body, "token");
    if (token && !token_ok(token))
        fail(res, 400, "token",
             "expected a string of 1 to 4096 visible ASCII characters (it goes into a header)");
    else if (token && cfg->registration.encryption_key == NULL)
        fail(res, 400, "token",
             "the gateway has no encryption key for tokens (registration.encryption_key or "
             "ENCRYPTION_KEY)");
    json_t *sealed = json_object_get(body, "sealed_token");
    if (sealed && token)
        fail(res, 400, "sealed_token", "give token or sealed_token, not both");
    else if (sealed && (!json_is_string(sealed) || json_string_length(sealed) > 2 * MAX_TOKEN))
        fail(res, 400, "sealed_token",
             "expected a string \"v1.KEYID.BOX\" as gantry register --encryption-key writes it");
    else if (sealed && cfg->registration.encryption_key == NULL)
        fail(res, 400, "sealed_token",
             "the gateway has no encryption key for tokens (registration.encryption_key or "
             "ENCRYPTION_KEY)");
    *ttl_ms = cfg->registration.ttl_ms;
    v = json_object_get(body, "ttl");
    if (v && !gw__registry_parse_ttl(v, ttl_ms))
        fail(res, 400, "ttl", "expected seconds or a duration such as \"30s\" or \"5m\"");
    else if (*ttl_ms < 1000 || *ttl_ms > cfg->registration.max_ttl_ms) {
        char msg[128];
        snprintf(msg, sizeof msg, "must be between 1s and registration.max_ttl (%llu s)",
                 (unsigned long long)(cfg->registration.max_ttl_ms / 1000));
        fail(res, 400, "ttl", msg);
    }
    return res->status == 0;
}

static char *copy_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    return p ? memcpy(p, s, n) : NULL;
}

void gw_registry_put(struct gw_registry *reg, const struct gw_config *cfg, json_t *body,
                     uint64_t now_ms, struct gw_registry_result *res)
{
    struct gw_config *probe = NULL;
    struct gw_registration *e = NULL;
    uint64_t ttl_ms = 0;
    char *opened = NULL; /* the plaintext of a sealed_token */
    size_t opened_len = 0;
    memset(res, 0, sizeof *res);
    if (!check_body(cfg, body, &ttl_ms, res) || !check_values(cfg, body, res, &probe))
        goto out;
    const char *token = json_string_value(json_object_get(body, "token"));
    json_t *sealed = json_object_get(body, "sealed_token");
    if (sealed) {
        const char *why = NULL;
        opened = gw__registry_token_unseal(cfg, json_string_value(json_object_get(body, "name")),
                                           json_string_value(json_object_get(body, "url")),
                                           json_string_value(sealed), &opened_len, &why);
        if (opened == NULL || !token_chars_ok(opened, opened_len)) {
            fail(res, 400, "sealed_token",
                 opened ? "the token inside is not 1 to 4096 visible ASCII characters" : why);
            goto out;
        }
        token = opened;
    }
    const struct gw_service_conf *svc = &probe->services[0];
    struct sockaddr_storage addr;
    socklen_t alen;
    if (gw_net_resolve(svc->targets[0].host, svc->targets[0].port, &addr, &alen) < 0) {
        /* A name that does not resolve would fail the reload of every registration. */
        fail(res, 400, "url", "the host does not resolve");
        goto out;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL)
        goto oom;
    e->name = copy_str(svc->name);
    e->url = copy_str(svc->targets[0].url);
    e->prefix = copy_str(svc->prefixes[0]);
    if (e->name == NULL || e->url == NULL || e->prefix == NULL)
        goto oom;
    gw__registry_trim_prefix(e->prefix);
    e->weight = svc->targets[0].weight;
    e->ttl_ms = ttl_ms;
    make_id(e->name, e->url, e->id);
    if (!check_owner(reg, e->id, e->name, e->prefix, res))
        goto out;
    const struct gw_registration *old = gw_registry_get(reg, e->id);
    if (old == NULL && gw_registry_count(reg) >= cfg->registration.max_registrations) {
        res->status = 503;
        snprintf(res->why, sizeof res->why,
                 "the registry is full (registration.max_registrations "
                 "is %u)",
                 cfg->registration.max_registrations);
        goto out;
    }
    if (token && gw__registry_seal(cfg, e, token) < 0)
        goto oom;
    e->created_ms = old ? old->created_ms : now_ms;
    e->renewed_ms = now_ms;
    e->expires_ms = now_ms + ttl_ms;
    res->changed = old == NULL || strcmp(old->prefix, e->prefix) != 0 || old->weight != e->weight ||
                   !same_token(cfg, old, token);
    struct gw_registration *prev = gw__registry_swap(reg, e);
    if (prev == e)
        goto oom;
    res->prev = prev;
    res->entry = e;
    res->status = prev ? 200 : 201;
    e = NULL;
    goto out;
oom:
    fail(res, 500, "", "out of memory");
out:
    gw__registry_wipe(opened, opened_len + 1);
    gw_registration_free(e);
    gw_config_free(probe);
}

/* ---- into the config document ------------------------------------------------------------- */

static int add_target(json_t *svc, const struct gw_registration *e)
{
    json_t *targets = json_object_get(svc, "targets");
    if (!json_is_array(targets))
        return 0; /* the file's service is malformed: its reload fails on its own */
    return json_array_append_new(targets,
                                 json_pack("{s:s, s:i}", "url", e->url, "weight", (int)e->weight));
}

/* A made service's failure thresholds: registration.failures in a row, passive (outlier
 * detection) and active (health checks, when the defaults turn them on), unless the defaults
 * say otherwise. */
static int set_failures(json_t *svc, uint32_t failures)
{
    json_t *od = json_object_get(svc, "outlier_detection");
    if (od == NULL || json_is_true(od)) {
        if (json_object_set_new(svc, "outlier_detection",
                                json_pack("{s:i}", "consecutive_failures", (int)failures)) != 0)
            return GW_ENOMEM;
    } else if (json_is_object(od) && json_object_get(od, "consecutive_failures") == NULL) {
        if (json_object_set_new(od, "consecutive_failures", json_integer(failures)) != 0)
            return GW_ENOMEM;
    }
    json_t *hc = json_object_get(svc, "health_check");
    if (json_is_object(hc) && json_object_get(hc, "unhealthy_threshold") == NULL &&
        json_object_set_new(hc, "unhealthy_threshold", json_integer(failures)) != 0)
        return GW_ENOMEM;
    return 0;
}

int gw_registry_extend(const struct gw_registry *reg, const struct gw_config *cfg, json_t *doc)
{
    json_t *by_name = NULL;
    int rc = GW_ENOMEM;
    if (!cfg->registration.enabled || gw_registry_count(reg) == 0)
        return 0;
    json_t *services = json_object_get(doc, "services");
    if (services == NULL) {
        services = json_array();
        if (services == NULL || json_object_set_new(doc, "services", services) != 0)
            return GW_ENOMEM;
    }
    if (!json_is_array(services))
        return 0;
    by_name = json_object();
    if (by_name == NULL)
        goto out;
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc)
    {
        json_t *n = json_object_get(svc, "name");
        if (json_is_string(n) && json_object_set(by_name, json_string_value(n), svc) != 0)
            goto out;
    }
    for (size_t k = 0; k < gw_registry_count(reg); k++) {
        const struct gw_registration *e = gw_registry_at(reg, k);
        svc = json_object_get(by_name, e->name);
        if (svc == NULL) {
            svc = cfg->registration.defaults ? json_deep_copy(cfg->registration.defaults)
                                             : json_object();
            if (svc == NULL || json_object_set_new(svc, "name", json_string(e->name)) != 0 ||
                json_object_set_new(svc, "prefix", json_string(e->prefix)) != 0 ||
                json_object_set_new(svc, "targets", json_array()) != 0 ||
                set_failures(svc, cfg->registration.failures) != 0 ||
                json_object_set(by_name, e->name, svc) != 0 ||
                json_array_append_new(services, svc) != 0)
                goto out;
        }
        if (add_target(svc, e) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(by_name);
    return rc;
}

/* ---- tokens into the loaded configuration ----------------------------------------------- */

static int set_secret(const struct gw_config *cfg, struct gw_service_conf *svc,
                      struct gw_target_conf *t, const char *token, size_t n)
{
    const char *name = cfg->registration.token_header;
    const char *prefix = cfg->registration.token_prefix;
    size_t len = strlen(name) + 2 + strlen(prefix) + n + 2;
    char *line = malloc(len + 1);
    if (line == NULL)
        return GW_ENOMEM;
    snprintf(line, len + 1, "%s: %s%s\r\n", name, prefix, token);
    if (t->secret_header)
        explicit_bzero(t->secret_header, t->secret_header_len);
    free(t->secret_header);
    t->secret_header = line;
    t->secret_header_len = len;
    svc->secret_name = name;
    svc->secret_name_len = strlen(name);
    return 0;
}

int gw_registry_decorate(struct gw_registry *reg, struct gw_config *merged)
{
    json_t *by_name = json_object();
    int rc = GW_ENOMEM;
    if (by_name == NULL)
        return rc;
    for (size_t i = 0; i < merged->nservices; i++) {
        if (json_object_set_new(by_name, merged->services[i].name, json_integer((json_int_t)i)))
            goto out;
    }
    for (size_t k = 0; k < gw_registry_count(reg); k++) {
        struct gw_registration *e = (struct gw_registration *)gw_registry_at(reg, k);
        json_t *idx = e->token_box ? json_object_get(by_name, e->name) : NULL;
        if (idx == NULL)
            continue;
        struct gw_service_conf *svc = &merged->services[json_integer_value(idx)];
        size_t n = 0;
        char *token = gw__registry_open(merged, e, &n);
        if (token == NULL) {
            gw_log_error("registration %s: its token was sealed with key %s, which is not "
                         "registration.encryption_key nor one of previous_keys: it is sent "
                         "without its token until it registers again",
                         e->id, e->key_id);
            free(e->token_box);
            e->token_box = NULL;
            gw__registry_touch(reg);
            continue;
        }
        char current[9];
        unsigned char key[32];
        if (gw__registry_key_id(merged->registration.encryption_key, key, current) &&
            strcmp(current, e->key_id) != 0 && gw__registry_seal(merged, e, token) == 0) {
            gw_log_info("registration %s: token sealed again with key %s", e->id, current);
            gw__registry_touch(reg);
        }
        sodium_memzero(key, sizeof key);
        for (size_t t = 0; t < svc->ntargets; t++) {
            if (strcmp(svc->targets[t].url, e->url) == 0 &&
                set_secret(merged, svc, &svc->targets[t], token, n) < 0) {
                gw__registry_wipe(token, n + 1);
                goto out;
            }
        }
        gw__registry_wipe(token, n + 1);
    }
    rc = 0;
out:
    json_decref(by_name);
    return rc;
}

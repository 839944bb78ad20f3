/*
 * What the admin API writes to the audit log: one entry per change, with the service's hash
 * before and after and the names of the keys that changed (never their values: a service may
 * hold credentials). The actor (key id, client address) was set by admin.c around the request.
 */
#include "admin/admin.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

/* The service called name in a config document, or NULL. */
static json_t *service_in(json_t *doc, const char *name)
{
    size_t i;
    json_t *svc;
    json_array_foreach(json_object_get(doc, "services"), i, svc)
    {
        const char *n = json_string_value(json_object_get(svc, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return svc;
    }
    return NULL;
}

/* "sha256:<hex>" of v serialised with sorted keys; false when v is NULL. */
static bool hash_of(json_t *v, char out[72])
{
    static const char digits[] = "0123456789abcdef";
    if (v == NULL)
        return false;
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    unsigned char md[32];
    unsigned int len = 0;
    bool ok = text && EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL) == 1;
    free(text);
    if (!ok)
        return false;
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < 32; i++) {
        out[7 + 2 * i] = digits[md[i] >> 4];
        out[8 + 2 * i] = digits[md[i] & 15];
    }
    out[71] = '\0';
    return true;
}

/* The keys whose values differ between two objects (either may be NULL). */
static json_t *changed_keys(json_t *a, json_t *b)
{
    json_t *out = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v)
    {
        if (!json_equal(v, json_object_get(b, key)))
            json_array_append_new(out, json_string(key));
    }
    json_object_foreach(b, key, v)
    {
        if (json_object_get(a, key) == NULL)
            json_array_append_new(out, json_string(key));
    }
    return out;
}

void gw__admin_audit_change(const char *action, const char *name, json_t *before_doc,
                            json_t *after_doc, int status, const char *error)
{
    if (!gw_audit_wants(GW_AUDIT_EV_ADMIN))
        return;
    char object[160];
    char before[72], after[72];
    snprintf(object, sizeof object, "service:%s", name);
    json_t *b = before_doc ? service_in(before_doc, name) : NULL;
    json_t *a = after_doc ? service_in(after_doc, name) : NULL;
    json_t *d = json_object();
    if (d != NULL && (before_doc != NULL || after_doc != NULL) && status < 300)
        json_object_set_new(d, "changed", changed_keys(b, a));
    if (d != NULL && error != NULL && error[0])
        json_object_set_new(d, "error", json_string(error));
    char *detail = d && json_object_size(d) ? json_dumps(d, JSON_COMPACT) : NULL;
    struct gw_audit_record r = {
        .action = action,
        .object = object,
        .before = hash_of(b, before) ? before : NULL,
        .after = status < 300 && hash_of(a, after) ? after : NULL,
        .detail = detail,
        .status = status,
    };
    gw_audit_record(&r);
    free(detail);
    json_decref(d);
}

void gw__admin_audit_event(const char *action, const char *object, json_t *detail, int status)
{
    gw__admin_audit_event_as(NULL, action, object, detail, status);
}

void gw__admin_audit_event_as(const struct gw_audit_actor *actor, const char *action,
                              const char *object, json_t *detail, int status)
{
    if (gw_audit_wants(GW_AUDIT_EV_ADMIN)) {
        char *text = detail && json_object_size(detail) ? json_dumps(detail, JSON_COMPACT) : NULL;
        struct gw_audit_record r = {
            .actor = actor, .action = action, .object = object, .detail = text, .status = status};
        gw_audit_record(&r);
        free(text);
    }
    json_decref(detail);
}

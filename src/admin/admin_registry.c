/*
 * /api/registrations: backends registering themselves (src/registry/, README "Registering
 * backends").
 *
 * A registration is checked completely before it is accepted (the config loader, ownership of
 * its name and prefix, its address resolves); then the answer goes out and the change is
 * published by gw_server_reload (the same validation, snapshot and atomic swap as SIGHUP) at
 * most once per registration.publish_interval, so a burst of registrations costs one reload.
 * A renewal that changes nothing but the expiry reloads nothing. Registrations are not
 * written to the config file: they live until their TTL passes without renewal.
 */
#include "admin/admin.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "control/snapshot.h"
#include "core/log.h"
#include "registry/registry.h"
#include "runtime/server.h"

/* The registry when registration is on; otherwise rs gets 404 and NULL is returned. */
static struct gw_registry *registry_of(struct gw_server *s, struct gw__admin_resp *rs,
                                       const struct gw_config **cfg)
{
    struct gw_snapshot *snap = gw_server_snapshot(s);
    struct gw_registry *reg = gw__admin_registry(s);
    *cfg = snap ? snap->cfg : NULL;
    if (*cfg == NULL || reg == NULL || !(*cfg)->registration.enabled) {
        gw__admin_error(rs, 404,
                        "backend registration is off (add a \"registration\" section to the "
                        "config file)");
        return NULL;
    }
    return reg;
}

/* The registration as the API shows it, with "state": its target's in the running snapshot
 * ("up", "down", "ejected", "circuit_open"), or "pending" until it is published. */
static json_t *registration_json(struct gw_server *s, const struct gw_registration *e, uint64_t now)
{
    json_t *j = gw_registration_json(e, now);
    struct gw_snapshot *snap = gw_server_snapshot(s);
    const char *state = "pending";
    uv_update_time(s->control_loop);
    for (size_t i = 0; snap && i < snap->nservices; i++) {
        const struct gw_service *svc = &snap->services[i];
        if (strcmp(svc->conf->name, e->name) != 0)
            continue;
        for (size_t k = 0; k < svc->ntargets; k++) {
            uint64_t since = 0;
            if (strcmp(svc->targets[k].conf->url, e->url) == 0)
                state =
                    gw__admin_target_state(svc, &svc->targets[k], uv_now(s->control_loop), &since);
        }
        break;
    }
    if (j)
        json_object_set_new(j, "state", json_string(state));
    return j;
}

/* The {id} of the path, NUL-terminated; false (rs set to 404) when it cannot be an id. */
static bool path_id(const struct gw__admin_req *rq, char *id, struct gw__admin_resp *rs)
{
    const struct gw__admin_slice *p = &rq->params[0];
    bool ok = rq->nparams > 0 && p->n == GW_REGISTRY_ID_LEN;
    for (size_t i = 0; ok && i < p->n; i++)
        ok = (p->p[i] >= '0' && p->p[i] <= '9') || (p->p[i] >= 'a' && p->p[i] <= 'f');
    if (!ok) {
        gw__admin_error(rs, 404, "no registration %.*s", (int)(p->n > 64 ? 64 : p->n), p->p);
        return false;
    }
    memcpy(id, p->p, GW_REGISTRY_ID_LEN);
    id[GW_REGISTRY_ID_LEN] = '\0';
    return true;
}

void gw__admin_list_registrations(struct gw_server *s, const struct gw__admin_req *rq,
                                  struct gw__admin_resp *rs)
{
    const struct gw_config *cfg;
    struct gw_registry *reg = registry_of(s, rs, &cfg);
    (void)rq;
    if (reg == NULL)
        return;
    uint64_t now = gw_registry_now_ms();
    json_t *a = json_array();
    for (size_t i = 0; a && i < gw_registry_count(reg); i++) {
        if (json_array_append_new(a, registration_json(s, gw_registry_at(reg, i), now)) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    if (a)
        gw__admin_json(
            rs, 200,
            json_pack("{s:o, s:I}", "registrations", a, "count", (json_int_t)json_array_size(a)));
}

void gw__admin_get_registration(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs)
{
    const struct gw_config *cfg;
    char id[GW_REGISTRY_ID_LEN + 1];
    struct gw_registry *reg = registry_of(s, rs, &cfg);
    if (reg == NULL || !path_id(rq, id, rs))
        return;
    const struct gw_registration *e = gw_registry_get(reg, id);
    if (e == NULL) {
        gw__admin_error(rs, 404, "no registration %s (it may have expired)", id);
        return;
    }
    gw__admin_json(rs, 200, registration_json(s, e, gw_registry_now_ms()));
}

void gw__admin_register(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs)
{
    const struct gw_config *cfg;
    struct gw_registry_result res;
    json_error_t jerr;
    struct gw_registry *reg = registry_of(s, rs, &cfg);
    if (reg == NULL)
        return;
    json_t *body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        gw__admin_error(rs, 400, "the body is not JSON: %s (line %d, column %d)", jerr.text,
                        jerr.line, jerr.column);
        return;
    }
    uint64_t now = gw_registry_now_ms();
    gw_registry_put(reg, cfg, body, now, &res);
    json_decref(body);
    if (res.status >= 300) {
        gw__admin_error(rs, res.status, "%s", res.why);
        if (res.errors)
            json_object_set_new(rs->json, "errors", res.errors);
        return;
    }
    gw_registration_free(res.prev);
    const struct gw_registration *e = res.entry;
    if (res.changed)
        gw_registry_changed(reg, cfg->registration.publish_interval_ms);
    gw_registry_share_put(gw__admin_share(s), e);
    if (res.status == 201 || res.changed) { /* renewals are not changes: no entry each time */
        char object[160];
        snprintf(object, sizeof object, "registration:%s", e->id);
        gw__admin_audit_event(
            res.status == 201 ? "registration.create" : "registration.update", object,
            json_pack("{s:s, s:s, s:s}", "name", e->name, "prefix", e->prefix, "url", e->url),
            res.status);
    }
    if (res.status == 201 || res.changed)
        gw_log_info("registration %s: %s at %s is a target of %s (ttl %llu s)%s", e->id, e->url,
                    e->prefix, e->name, (unsigned long long)(e->ttl_ms / 1000),
                    res.status == 201 ? "" : ", changed");
    else
        gw_log_debug("registration %s renewed", e->id);
    gw__admin_json(rs, res.status, registration_json(s, e, now));
    snprintf(rs->headers, sizeof rs->headers, "Location: /api/registrations/%s\r\n", e->id);
}

void gw__admin_heartbeat(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs)
{
    const struct gw_config *cfg;
    char id[GW_REGISTRY_ID_LEN + 1];
    struct gw_registry *reg = registry_of(s, rs, &cfg);
    if (reg == NULL || !path_id(rq, id, rs))
        return;
    uint64_t now = gw_registry_now_ms();
    const struct gw_registration *e = gw_registry_renew(reg, id, now);
    if (e == NULL) {
        gw__admin_error(rs, 404, "no registration %s (it may have expired: register again)", id);
        return;
    }
    gw_log_debug("registration %s renewed", id);
    gw_registry_share_put(gw__admin_share(s), e);
    gw__admin_json(rs, 200, registration_json(s, e, now));
}

void gw__admin_deregister(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    const struct gw_config *cfg;
    char id[GW_REGISTRY_ID_LEN + 1];
    struct gw_registry *reg = registry_of(s, rs, &cfg);
    if (reg == NULL || !path_id(rq, id, rs))
        return;
    struct gw_registration *e = gw_registry_remove(reg, id);
    if (e == NULL) {
        gw__admin_error(rs, 404, "no registration %s (it may have expired)", id);
        return;
    }
    gw_registry_changed(reg, cfg->registration.publish_interval_ms);
    gw_registry_share_del(gw__admin_share(s), id);
    gw_log_info("registration %s removed: %s at %s is no longer a target of %s", id, e->url,
                e->prefix, e->name);
    char object[160];
    snprintf(object, sizeof object, "registration:%s", id);
    gw__admin_audit_event(
        "registration.delete", object,
        json_pack("{s:s, s:s, s:s}", "name", e->name, "prefix", e->prefix, "url", e->url), 200);
    json_t *j = gw_registration_json(e, gw_registry_now_ms());
    json_object_set_new(j, "removed", json_true());
    gw__admin_json(rs, 200, j);
    gw_registration_free(e);
}

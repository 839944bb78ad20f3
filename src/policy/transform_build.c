/*
 * The transformation stage's plans (docs/transform.md; policy/transform.h has the model): built
 * once per snapshot from the configuration — the layers of each service (gateway, service,
 * rules) with their templates and regular expressions compiled, what each layer does, and the
 * constant request headers joined into one ready block when nothing after the stage reads
 * them. The stage itself, per request, is transform.c.
 */
#include "policy/transform.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "http1/hygiene.h"
#include "http1/names.h"
#include "policy/chain.h"
#include "policy/client_addr.h"
#include "policy/policy.h"
#include "policy/stages.h"
#include "policy/transform_help.h"
#include "route/normalize.h"

/* ---- plans (per snapshot) ------------------------------------------------------------------- */

static bool set_empty(const struct gw_tf_set *s)
{
    return gw__tf_fields_empty(&s->request.headers) && gw__tf_fields_empty(&s->request.query) &&
           s->request.path_kind == GW_TF_PATH_NONE && gw__tf_body_empty(&s->request.body) &&
           gw__tf_fields_empty(&s->response.headers) && s->response.nstatus == 0 &&
           gw__tf_body_empty(&s->response.body);
}

static void layer_free(struct gw_tf_layer *l)
{
    pcre2_code_free(l->re);
    pcre2_match_context_free(l->mctx);
    l->re = NULL;
    l->mctx = NULL;
}

static uint32_t fields_uses(const struct gw_tf_fields *f)
{
    uint32_t u = 0;
    for (size_t i = 0; i < f->nset; i++)
        u |= f->set[i].value->uses;
    for (size_t i = 0; i < f->nadd; i++)
        u |= f->add[i].value->uses;
    return u;
}

/* The kinds of variables the templates of set use (bit (1u << enum gw_tpl_kind)). */
static uint32_t set_uses(const struct gw_tf_set *set)
{
    uint32_t u = fields_uses(&set->request.headers) | fields_uses(&set->request.query) |
                 fields_uses(&set->response.headers);
    const struct gw_tf_body *bodies[2] = {&set->request.body, &set->response.body};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < bodies[k]->nadd; i++)
            u |= bodies[k]->add_tpl[i] ? bodies[k]->add_tpl[i]->uses : 0;
    return u;
}

static unsigned layer_does(const struct gw_tf_set *set)
{
    const struct gw_tf_response_conf *rs = &set->response;
    return (gw__tf_fields_empty(&set->request.headers) ? 0u : GW_TF_REQ_HEADERS) |
           (gw__tf_fields_empty(&set->request.query) ? 0u : GW_TF_REQ_QUERY) |
           (set->request.path_kind == GW_TF_PATH_NONE ? 0u : GW_TF_REQ_PATH) |
           (gw__tf_body_empty(&set->request.body) ? 0u : GW_TF_REQ_BODY) |
           (rs->headers.nset + rs->headers.nadd > 0 ? GW_TF_RESP_LINES : 0u) |
           (rs->nstatus + rs->headers.nremove + rs->headers.nrename + rs->headers.nset > 0
                ? GW_TF_RESP_HEAD
                : 0u) |
           (gw__tf_body_empty(&rs->body) ? 0u : GW_TF_RESP_BODY | GW_TF_RESP_HEAD);
}

static int layer_init(struct gw_tf_layer *l, const struct gw_tf_set *set, char *why, size_t cap)
{
    l->set = set;
    l->does = layer_does(set);
    l->re = NULL;
    l->mctx = NULL;
    if (set->request.path_kind != GW_TF_PATH_REGEX)
        return 0;
    int err;
    PCRE2_SIZE at;
    l->re = pcre2_compile((PCRE2_SPTR)set->request.path_regex, PCRE2_ZERO_TERMINATED, 0, &err, &at,
                          NULL);
    if (l->re == NULL) {
        snprintf(why, cap, "transform: cannot compile %s", set->request.path_regex);
        return GW_EINVAL;
    }
    /* JIT is an optimisation: without it (no JIT on this CPU) the interpreter matches. */
    (void)pcre2_jit_compile(l->re, PCRE2_JIT_COMPLETE);
    l->mctx = pcre2_match_context_create(NULL);
    if (l->mctx == NULL)
        return GW_ENOMEM;
    pcre2_set_match_limit(l->mctx, GW_TF_MATCH_LIMIT);
    pcre2_set_depth_limit(l->mctx, GW_TF_MATCH_LIMIT / 10);
    return 0;
}

/* Adds name to plan->drop (once) and its length to drop_lens. */
static void plan_drop(struct gw_tf_plan *plan, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < plan->ndrop; i++) {
        if (plan->drop[i].n == n && gw__tf_header_is(plan->drop[i].s, n, name))
            return; /* the same name (loosely) */
    }
    plan->drop[plan->ndrop].s = name;
    plan->drop[plan->ndrop++].n = (uint32_t)n;
    plan->drop_lens |= UINT64_C(1) << (n < 63 ? n : 63);
}

/* Works out a const_headers plan's edits (struct gw_tf_plan): the layers in order, each
 * removing its remove and set names from what came before (the request's fields and the
 * earlier layers' additions) and then adding its set and add fields. Names and values point
 * into the config, which lives as long as the snapshot. 0 or GW_ENOMEM. */
static int plan_const_headers(struct gw_tf_plan *plan)
{
    size_t ndrop = 0, nadd = 0;
    for (size_t k = 0; k < plan->nbase; k++) {
        const struct gw_tf_fields *f = &plan->base[k].set->request.headers;
        ndrop += f->nremove + f->nset;
        nadd += f->nset + f->nadd;
    }
    plan->drop = calloc(ndrop ? ndrop : 1, sizeof *plan->drop);
    plan->added = calloc(nadd ? nadd : 1, sizeof *plan->added);
    if (plan->drop == NULL || plan->added == NULL)
        return GW_ENOMEM;
    for (size_t k = 0; k < plan->nbase; k++) {
        const struct gw_tf_fields *f = &plan->base[k].set->request.headers;
        for (size_t i = 0; i < f->nremove + f->nset; i++) {
            const char *name = i < f->nremove ? f->remove[i] : f->set[i - f->nremove].name;
            plan->nadded = gw__tf_drop_named(plan->added, plan->nadded, name, strlen(name));
            plan_drop(plan, name);
        }
        const struct gw_tf_value *lists[2] = {f->set, f->add};
        size_t counts[2] = {f->nset, f->nadd};
        for (size_t l = 0; l < 2; l++) {
            for (size_t i = 0; i < counts[l]; i++) {
                struct gw_http1_header *h = &plan->added[plan->nadded++];
                h->name = lists[l][i].name;
                h->name_len = (uint32_t)strlen(lists[l][i].name);
                h->value = lists[l][i].value->text;
                h->value_len = (uint32_t)lists[l][i].value->text_len;
                plan->adds_origin =
                    plan->adds_origin || gw__tf_header_is(h->name, h->name_len, "origin");
            }
        }
    }
    return 0;
}

/* True when the upstream request carries a field of this name as the transformation wrote it:
 * not one gantry writes or drops itself (upstream/rewrite.c gw_rewrite_request_head: Host,
 * X-Forwarded-*, X-Request-ID, trace context, identity and client-certificate fields, the
 * target's token, hop-by-hop fields), and not Origin (the request's origin_index). */
static bool forwarded_as_is(const struct gw_config *cfg, const struct gw_service_conf *sc,
                            const char *name)
{
    static const char *const own[] = {"host",
                                      "expect",
                                      "x-request-id",
                                      "x-forwarded-for",
                                      "x-forwarded-proto",
                                      "x-forwarded-host",
                                      "traceparent",
                                      "tracestate",
                                      "origin"};
    const char *configured[] = {cfg->auth.hdr_consumer,
                                cfg->auth.hdr_user,
                                cfg->auth.hdr_roles,
                                cfg->tls.client_auth.subject_header,
                                cfg->tls.client_auth.san_header,
                                sc->secret_name};
    size_t n = strlen(name);
    if (gw_http1_is_hop_by_hop(name, n))
        return false;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (gw__tf_header_is(name, n, own[i]))
            return false;
    }
    for (size_t i = 0; i < sizeof configured / sizeof configured[0]; i++) {
        if (configured[i] && gw__tf_header_is(name, n, configured[i]))
            return false;
    }
    return true;
}

/* plan->fwd_block, when every added field is forwarded as it is. 0 or GW_ENOMEM. */
static int plan_fwd_block(struct gw_tf_plan *plan, const struct gw_config *cfg,
                          const struct gw_service_conf *sc)
{
    size_t len = 0;
    for (size_t i = 0; i < plan->nadded; i++) {
        if (!forwarded_as_is(cfg, sc, plan->added[i].name))
            return 0;
        len += plan->added[i].name_len + 2 + plan->added[i].value_len + 2;
    }
    char *b = malloc(len + 1);
    if (b == NULL)
        return GW_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < plan->nadded; i++) {
        const struct gw_http1_header *h = &plan->added[i];
        memcpy(b + at, h->name, h->name_len);
        memcpy(b + at + h->name_len, ": ", 2);
        memcpy(b + at + h->name_len + 2, h->value, h->value_len);
        at += h->name_len + 2 + h->value_len;
        memcpy(b + at, "\r\n", 2);
        at += 2;
    }
    b[at] = '\0';
    plan->fwd_block = b;
    plan->fwd_block_len = at;
    return 0;
}

int gw_transform_build(struct gw_policy *p, const struct gw_snapshot *s, char *why, size_t why_cap)
{
    const struct gw_config *cfg = s->cfg;
    if (s->nservices == 0)
        return 0;
    p->transforms = calloc(s->nservices, sizeof *p->transforms);
    if (p->transforms == NULL)
        return GW_ENOMEM;
    for (size_t i = 0; i < s->nservices; i++) {
        struct gw_tf_plan *plan = &p->transforms[i];
        const struct gw_transform_conf *tc = &cfg->services[i].transform;
        if (!tc->enabled)
            continue;
        int rc = 0;
        if (tc->inherit && !set_empty(&cfg->transform.set))
            rc = layer_init(&plan->base[plan->nbase++], &cfg->transform.set, why, why_cap);
        if (rc == 0 && !set_empty(&tc->set))
            rc = layer_init(&plan->base[plan->nbase++], &tc->set, why, why_cap);
        if (rc == 0 && tc->nrules) {
            plan->rule_layers = calloc(tc->nrules, sizeof *plan->rule_layers);
            if (plan->rule_layers == NULL)
                return GW_ENOMEM;
            plan->rules = tc->rules;
            for (size_t k = 0; k < tc->nrules && rc == 0; k++) {
                rc = layer_init(&plan->rule_layers[k], &tc->rules[k].set, why, why_cap);
                plan->nrules = k + 1;
            }
        }
        if (rc < 0)
            return rc;
        plan->max_body = tc->max_body_bytes;
        plan->on = plan->nbase > 0 || plan->nrules > 0;
        for (size_t k = 0; k < plan->nbase; k++)
            plan->uses |= set_uses(plan->base[k].set);
        for (size_t k = 0; k < plan->nrules; k++)
            plan->uses |= set_uses(plan->rule_layers[k].set);
        plan->const_headers = plan->nbase > 0 && plan->nrules == 0;
        for (size_t k = 0; k < plan->nbase; k++) {
            const struct gw_tf_fields *f = &plan->base[k].set->request.headers;
            bool constant = f->nrename == 0;
            for (size_t j = 0; j < f->nset; j++)
                constant = constant && gw_template_is_constant(f->set[j].value);
            for (size_t j = 0; j < f->nadd; j++)
                constant = constant && gw_template_is_constant(f->add[j].value);
            plan->const_headers =
                plan->const_headers && constant && plan->base[k].does == GW_TF_REQ_HEADERS;
        }
        if (plan->const_headers &&
            (plan_const_headers(plan) < 0 || plan_fwd_block(plan, cfg, &cfg->services[i]) < 0))
            return GW_ENOMEM;
    }
    return 0;
}

void gw_transform_free(struct gw_policy *p)
{
    if (p->transforms == NULL)
        return;
    for (size_t i = 0; i < p->cfg->nservices; i++) {
        struct gw_tf_plan *plan = &p->transforms[i];
        for (size_t k = 0; k < plan->nbase; k++)
            layer_free(&plan->base[k]);
        for (size_t k = 0; k < plan->nrules; k++)
            layer_free(&plan->rule_layers[k]);
        free(plan->rule_layers);
        free(plan->drop);
        free(plan->added);
        free(plan->fwd_block);
    }
    free(p->transforms);
    p->transforms = NULL;
}

bool gw_transform_applies(const struct gw_snapshot *s, size_t i)
{
    return s->policy->transforms && s->policy->transforms[i].on;
}

/*
 * Compiling the browser policies (policy/cors.h) when a snapshot is built: the gateway's, the
 * service's and each rule's settings merged, origin patterns parsed, the header lines that do
 * not depend on the request rendered once. Nothing here runs per request except the two select
 * functions and the origin check.
 */
#include "policy/cors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "http1/names.h"
#include "policy/answer.h"
#include "policy/policy.h"
#include "policy/sechdr.h"

void gw_cors_conf_overlay(struct gw_cors_conf *dst, const struct gw_cors_conf *src)
{
    uint32_t set = src->set;
    if (set & GW_CORS_SET_ORIGINS) {
        dst->origins = src->origins;
        dst->norigins = src->norigins;
    }
    if (set & GW_CORS_SET_METHODS)
        dst->methods = src->methods;
    if (set & GW_CORS_SET_HEADERS) {
        dst->headers = src->headers;
        dst->nheaders = src->nheaders;
    }
    if (set & GW_CORS_SET_EXPOSE) {
        dst->expose_headers = src->expose_headers;
        dst->nexpose_headers = src->nexpose_headers;
    }
    if (set & GW_CORS_SET_CREDENTIALS)
        dst->credentials = src->credentials;
    if (set & GW_CORS_SET_MAX_AGE)
        dst->max_age_ms = src->max_age_ms;
    if (set & GW_CORS_SET_DENIED_STATUS)
        dst->denied_status = src->denied_status;
    dst->set |= set;
}

void gw_csrf_conf_overlay(struct gw_csrf_conf *dst, const struct gw_csrf_conf *src)
{
    if (src->set & GW_CSRF_SET_ORIGINS) {
        dst->origins = src->origins;
        dst->norigins = src->norigins;
    }
    if (src->set & GW_CSRF_SET_NO_ORIGIN)
        dst->no_origin = src->no_origin;
    dst->set |= src->set;
}

enum gw_http_method gw_cors_route_method(const struct gw_http1_message *m)
{
    if (m->method_id != GW_METHOD_OPTIONS || gw_http1_find_header(m, "origin", 6) < 0)
        return m->method_id;
    int i = gw_http1_find_header(m, "access-control-request-method", 29);
    if (i < 0)
        return m->method_id;
    return gw_http_method_id(m->headers[i].value, m->headers[i].value_len);
}

/* ---- compiling ------------------------------------------------------------------------------- */

/* Parses the config's origin strings (validated at load) into patterns. */
static int compile_origins(char *const *items, size_t n, struct gw_origin_pattern **out, bool *any)
{
    *out = NULL;
    if (n == 0)
        return 0;
    struct gw_origin_pattern *ps = calloc(n, sizeof *ps);
    if (ps == NULL)
        return GW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *why;
        if (gw_origin_pattern_parse(items[i], strlen(items[i]), &ps[i], &why) != 0) {
            free(ps);
            return GW_EINVAL;
        }
        if (any && ps[i].kind == GW_ORIGIN_ANY)
            *any = true;
    }
    *out = ps;
    return 0;
}

/* "<name>: a, b, c\r\n" from a list of words, or NULL for an empty list. */
static char *header_line(const char *name, char *const *items, size_t n, int *rc)
{
    if (n == 0)
        return NULL;
    size_t len = strlen(name) + 5;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 2;
    char *s = malloc(len);
    if (s == NULL) {
        *rc = GW_ENOMEM;
        return NULL;
    }
    size_t at = (size_t)snprintf(s, len, "%s: ", name);
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(s + at, len - at, "%s%s", i ? ", " : "", items[i]);
    snprintf(s + at, len - at, "\r\n");
    return s;
}

static void free_joined(struct gw_cors_pick *pick)
{
    free(pick->joined[0]);
    free(pick->joined[1]);
    pick->joined[0] = pick->joined[1] = NULL;
}

static void free_set(struct gw_cors_set *s)
{
    for (size_t i = 0; s->exact && i < s->nexact; i++) {
        free(s->exact[i].s);
        free(s->exact[i].lines);
        free_joined(&s->exact[i].pick);
    }
    free_joined(&s->star);
    free_joined(&s->disallow);
    free(s->star_lines);
    free(s->exact);
    free(s->origins);
    free(s->allow_methods);
    free(s->allow_headers);
    free(s->max_age);
    free(s->actual);
    free(s->actual_tail);
    memset(s, 0, sizeof *s);
}

/* "Access-Control-Allow-Origin: <origin>" and s->actual_tail as one string. 0 or GW_ENOMEM. */
static int allow_lines(const struct gw_cors_set *s, const char *origin, size_t olen, char **out,
                       size_t *out_len)
{
    static const char acao[] = "Access-Control-Allow-Origin: ";
    size_t n = sizeof acao - 1 + olen + s->actual_tail_len;
    char *p = malloc(n + 1);
    if (p == NULL)
        return GW_ENOMEM;
    memcpy(p, acao, sizeof acao - 1);
    memcpy(p + sizeof acao - 1, origin, olen);
    memcpy(p + sizeof acao - 1 + olen, s->actual_tail, s->actual_tail_len + 1);
    *out = p;
    *out_len = n;
    return 0;
}

/* The set's shared picks (struct gw_cors_pick): its address is final (sets live in arrays
 * allocated once per snapshot). */
static void make_picks(struct gw_cors_set *s)
{
    /* no allowed origin: only Vary (the Fetch standard's CORS-safe answer to any origin) */
    static const char vary[] = "Vary: Origin\r\n";
    s->disallow = (struct gw_cors_pick){
        .set = s, .lines = vary, .lines_len = sizeof vary - 1, .shared = true};
    if (s->star_lines)
        s->star = (struct gw_cors_pick){.set = s,
                                        .lines = s->star_lines,
                                        .lines_len = s->star_lines_len,
                                        .origin = "*",
                                        .origin_len = 1,
                                        .allowed = true,
                                        .shared = true};
    for (size_t i = 0; i < s->nexact; i++)
        s->exact[i].pick = (struct gw_cors_pick){.set = s,
                                                 .lines = s->exact[i].lines,
                                                 .lines_len = s->exact[i].lines_len,
                                                 .origin = s->exact[i].s,
                                                 .origin_len = (uint16_t)s->exact[i].n,
                                                 .allowed = true,
                                                 .shared = true};
}

static int compile_set(struct gw_cors_set *s, const struct gw_cors_conf *c, bool enabled)
{
    memset(s, 0, sizeof *s);
    s->enabled = enabled;
    if (!enabled)
        return 0;
    int rc = compile_origins(c->origins, c->norigins, &s->origins, &s->any_origin);
    if (rc < 0)
        return rc;
    s->norigins = c->norigins;
    if (c->norigins) {
        s->exact = calloc(c->norigins, sizeof *s->exact);
        if (s->exact == NULL)
            return GW_ENOMEM;
    }
    for (size_t i = 0; i < c->norigins; i++) {
        char text[GW_ORIGIN_MAX + 1];
        size_t n = s->origins[i].kind == GW_ORIGIN_EXACT
                       ? gw_origin_serialize(&s->origins[i].o, text, sizeof text)
                       : 0;
        if (n == 0)
            continue;
        s->exact[s->nexact].s = strdup(text);
        if (s->exact[s->nexact].s == NULL)
            return GW_ENOMEM;
        s->exact[s->nexact++].n = n;
    }
    s->credentials = c->credentials;
    s->methods = c->methods;
    s->any_header = c->nheaders == 1 && strcmp(c->headers[0], "*") == 0;
    s->headers = c->headers;
    s->nheaders = c->nheaders;
    s->denied_status = c->denied_status;
    rc = 0;
    if (!(c->methods & GW_CORS_ANY_METHOD)) {
        char list[160];
        gw_http_method_list(c->methods, ", ", list, sizeof list);
        size_t cap = strlen(list) + 40;
        s->allow_methods = malloc(cap);
        if (s->allow_methods == NULL)
            return GW_ENOMEM;
        snprintf(s->allow_methods, cap, "Access-Control-Allow-Methods: %s\r\n", list);
    }
    if (!s->any_header)
        s->allow_headers =
            header_line("Access-Control-Allow-Headers", c->headers, c->nheaders, &rc);
    static const char credentials[] = "Access-Control-Allow-Credentials: true\r\n";
    s->credentials_line = s->credentials ? credentials : "";
    s->credentials_len = s->credentials ? sizeof credentials - 1 : 0;
    s->actual =
        header_line("Access-Control-Expose-Headers", c->expose_headers, c->nexpose_headers, &rc);
    s->actual_len = s->actual ? strlen(s->actual) : 0;
    if (rc == 0) {
        static const char vary[] = "Vary: Origin\r\n";
        size_t n = 2 + s->credentials_len + s->actual_len + sizeof vary - 1;
        s->actual_tail = malloc(n + 1);
        if (s->actual_tail == NULL)
            return GW_ENOMEM;
        snprintf(s->actual_tail, n + 1, "\r\n%s%s%s", s->credentials_line,
                 s->actual ? s->actual : "", vary);
        s->actual_tail_len = n;
        /* an exact origin's answer echoes the bytes it matched: its lines are known now */
        for (size_t i = 0; i < s->nexact && rc == 0; i++)
            rc = allow_lines(s, s->exact[i].s, s->exact[i].n, &s->exact[i].lines,
                             &s->exact[i].lines_len);
        if (rc == 0 && s->any_origin && !s->credentials)
            rc = allow_lines(s, "*", 1, &s->star_lines, &s->star_lines_len);
    }
    if (rc == 0)
        make_picks(s);
    if (rc == 0 && (c->set & GW_CORS_SET_MAX_AGE)) {
        s->max_age = malloc(48);
        if (s->max_age == NULL)
            return GW_ENOMEM;
        snprintf(s->max_age, 48, "Access-Control-Max-Age: %" PRIu64 "\r\n", c->max_age_ms / 1000);
    }
    return rc;
}

static int build_cors_service(struct gw_cors_service *cs, const struct gw_config *cfg,
                              const struct gw_service_conf *sc)
{
    const struct gw_service_cors_conf *sv = &sc->cors;
    struct gw_cors_conf eff = cfg->cors.c;
    gw_cors_conf_overlay(&eff, &sv->cors);
    int rc = compile_set(&cs->base, &eff, sv->enabled);
    cs->plain = rc == 0 && sv->enabled && sv->nrules == 0 && cs->base.star_lines == NULL;
    if (rc < 0 || !sv->enabled || sv->nrules == 0)
        return rc;
    cs->rules = calloc(sv->nrules, sizeof *cs->rules);
    if (cs->rules == NULL)
        return GW_ENOMEM;
    cs->nrules = sv->nrules;
    for (size_t k = 0; k < sv->nrules; k++) {
        const struct gw_cors_rule_conf *rule = &sv->rules[k];
        struct gw_cors_conf reff = eff;
        gw_cors_conf_overlay(&reff, &rule->cors);
        cs->rules[k].match = &rule->match;
        rc = compile_set(&cs->rules[k].set, &reff, rule->enabled);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int compile_csrf_set(struct gw_csrf_set *s, const struct gw_csrf_conf *c, bool enabled)
{
    memset(s, 0, sizeof *s);
    s->enabled = enabled;
    if (!enabled)
        return 0;
    s->refuse_no_origin = c->no_origin == GW_CSRF_NO_ORIGIN_REFUSE;
    s->norigins = c->norigins;
    return compile_origins(c->origins, c->norigins, &s->origins, NULL);
}

static int build_csrf_service(struct gw_csrf_service *cs, const struct gw_config *cfg,
                              const struct gw_service_conf *sc)
{
    const struct gw_service_csrf_conf *sv = &sc->csrf;
    struct gw_csrf_conf eff = cfg->csrf.c;
    gw_csrf_conf_overlay(&eff, &sv->csrf);
    int rc = compile_csrf_set(&cs->base, &eff, sv->enabled);
    if (rc < 0 || !sv->enabled || sv->nrules == 0)
        return rc;
    cs->rules = calloc(sv->nrules, sizeof *cs->rules);
    if (cs->rules == NULL)
        return GW_ENOMEM;
    cs->nrules = sv->nrules;
    for (size_t k = 0; k < sv->nrules; k++) {
        const struct gw_csrf_rule_conf *rule = &sv->rules[k];
        struct gw_csrf_conf reff = eff;
        gw_csrf_conf_overlay(&reff, &rule->csrf);
        cs->rules[k].match = &rule->match;
        rc = compile_csrf_set(&cs->rules[k].set, &reff, rule->enabled);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int gw_cors_build(struct gw_policy *p, const struct gw_config *cfg, char *why, size_t why_cap)
{
    bool any_cors = false, any_csrf = false;
    for (size_t i = 0; i < cfg->nservices; i++) {
        any_cors = any_cors || cfg->services[i].cors.enabled;
        any_csrf = any_csrf || cfg->services[i].csrf.enabled;
    }
    if (any_cors) {
        p->cors = calloc(cfg->nservices, sizeof *p->cors);
        if (p->cors == NULL)
            return GW_ENOMEM;
    }
    if (any_csrf) {
        p->csrf = calloc(cfg->nservices, sizeof *p->csrf);
        if (p->csrf == NULL)
            return GW_ENOMEM;
    }
    if (p->cors)
        p->answer_hooks |= 1u << GW_ANSWER_CORS;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_service_conf *sc = &cfg->services[i];
        int rc = p->cors ? build_cors_service(&p->cors[i], cfg, sc) : 0;
        if (rc == 0 && p->csrf)
            rc = build_csrf_service(&p->csrf[i], cfg, sc);
        if (rc < 0) {
            snprintf(why, why_cap, "service %s: cannot compile its CORS or CSRF settings%s",
                     sc->name, rc == GW_ENOMEM ? " (out of memory)" : "");
            return rc;
        }
    }
    return 0;
}

/* pick's joined blocks: its lines, then set's block over plain HTTP and over TLS. */
static int join_pick(const struct gw_policy *p, struct gw_cors_pick *pick,
                     const struct gw_sechdr_set *set)
{
    for (int tls = 0; tls < 2; tls++) {
        size_t more = set ? set->block_len[tls] : 0;
        char *b = malloc(pick->lines_len + more + 1);
        if (b == NULL)
            return GW_ENOMEM;
        memcpy(b, pick->lines, pick->lines_len);
        if (more)
            memcpy(b + pick->lines_len, set->block[tls], more);
        b[pick->lines_len + more] = '\0';
        pick->joined[tls] = b;
        pick->joined_len[tls] = pick->lines_len + more;
        pick->joined_filter[tls] = gw_answer_filter_of(p, set, set ? set->index : 0, tls, true);
    }
    pick->joined_set = set;
    return 0;
}

static int join_set(const struct gw_policy *p, struct gw_cors_set *s,
                    const struct gw_sechdr_set *set)
{
    int rc = 0;
    if (!s->enabled)
        return 0;
    for (size_t i = 0; i < s->nexact && rc == 0; i++)
        rc = join_pick(p, &s->exact[i].pick, set);
    if (rc == 0 && s->star_lines)
        rc = join_pick(p, &s->star, set);
    if (rc == 0)
        rc = join_pick(p, &s->disallow, set);
    return rc;
}

int gw_cors_join(struct gw_policy *p)
{
    const struct gw_sechdr_policy *sp = p->sechdr;
    for (size_t i = 0; p->cors && i < p->cfg->nservices; i++) {
        struct gw_cors_service *cs = &p->cors[i];
        /* With rules, the request's security headers are known only per request. */
        if (sp && i < sp->nsvc && sp->svc[i].nrules)
            continue;
        const struct gw_sechdr_set *set = sp && i < sp->nsvc ? sp->svc[i].base : NULL;
        int rc = join_set(p, &cs->base, set);
        for (size_t k = 0; k < cs->nrules && rc == 0; k++)
            rc = join_set(p, &cs->rules[k].set, set);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void gw_cors_free(struct gw_policy *p)
{
    const struct gw_config *cfg = p->cfg;
    for (size_t i = 0; p->cors && i < cfg->nservices; i++) {
        struct gw_cors_service *cs = &p->cors[i];
        free_set(&cs->base);
        for (size_t k = 0; cs->rules && k < cs->nrules; k++)
            free_set(&cs->rules[k].set);
        free(cs->rules);
    }
    for (size_t i = 0; p->csrf && i < cfg->nservices; i++) {
        struct gw_csrf_service *cs = &p->csrf[i];
        free(cs->base.origins);
        for (size_t k = 0; cs->rules && k < cs->nrules; k++)
            free(cs->rules[k].set.origins);
        free(cs->rules);
    }
    free(p->cors);
    free(p->csrf);
    p->cors = NULL;
    p->csrf = NULL;
}

/* ---- per request ----------------------------------------------------------------------------- */

const struct gw_cors_set *gw_cors_select(const struct gw_cors_service *cs, const char *path,
                                         size_t n, int method_id)
{
    for (size_t k = 0; k < cs->nrules; k++) {
        if (gw_policy_match(cs->rules[k].match, path, n, method_id))
            return &cs->rules[k].set;
    }
    return &cs->base;
}

const struct gw_csrf_set *gw_csrf_select(const struct gw_csrf_service *cs, const char *path,
                                         size_t n, int method_id)
{
    for (size_t k = 0; k < cs->nrules; k++) {
        if (gw_policy_match(cs->rules[k].match, path, n, method_id))
            return &cs->rules[k].set;
    }
    return &cs->base;
}

const struct gw_cors_text *gw_cors_exact_origin(const struct gw_cors_set *s, const char *v,
                                                size_t n)
{
    for (size_t i = 0; i < s->nexact; i++) {
        if (s->exact[i].n == n && memcmp(s->exact[i].s, v, n) == 0)
            return s->enabled ? &s->exact[i] : NULL;
    }
    return NULL;
}

bool gw_cors_origin_value_allowed(const struct gw_cors_set *s, const char *v, size_t n)
{
    for (size_t i = 0; i < s->nexact; i++) {
        if (s->exact[i].n == n && memcmp(s->exact[i].s, v, n) == 0)
            return s->enabled;
    }
    struct gw_origin o;
    return gw_origin_parse(v, n, &o) == 0 && gw_cors_origin_allowed(s, &o);
}

bool gw_cors_origin_allowed(const struct gw_cors_set *s, const struct gw_origin *o)
{
    if (!s->enabled)
        return false;
    for (size_t i = 0; i < s->norigins; i++) {
        if (gw_origin_pattern_match(&s->origins[i], o))
            return true;
    }
    return false;
}

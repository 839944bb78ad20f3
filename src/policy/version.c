/*
 * The API versioning stage (docs/versioning.md). The router already chose the service by the
 * version; this stage does what is left for the services that need it:
 * - deprecation: every answer of a service with "deprecated_at", "sunset_at" or "successor"
 *   carries Deprecation (RFC 9745: "@" and seconds since the epoch), Sunset (RFC 8594: an
 *   HTTP-date) and Link: <successor>; rel="successor-version" (RFC 5829) — its own answers
 *   (a 429, a 401) as well as the upstream's, so the stage takes its state first thing;
 * - Vary: the answers of a service chosen by version (it serves one, has version rules, or
 *   answers the requests of its prefix that name none) carry Vary with the version headers and
 *   Accept when those are sources, so that no cache gives one version's answer for another;
 * - the path version segment: a request routed by "/v2/api/..." goes upstream as "/api/..."
 *   when versioning.strip_path_version is on (and strip_prefix is off: with strip_prefix the
 *   whole "/v2/api" is stripped anyway).
 * The header lines are formatted once per snapshot (gw_version_build), not per request.
 */
#include "policy/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "policy/policy.h"
#include "policy/stages.h"
#include "route/normalize.h"

/* A route that requires a version (a service's "versions"), compiled. */
struct version_rule {
    const struct gw_version_rule_conf *conf;
    char *headers; /* its deprecation header lines, or NULL */
    char *offered; /* "\"versions\":[\"2\",\"3\"]": the unknown-version answer's member */
};

struct gw_version_service {
    char *headers; /* the deprecation header lines, or NULL */
    char *vseg;    /* "/v2": the path version segment when it is stripped, or NULL */
    size_t vseg_len;
    struct version_rule *rules; /* the service's "versions", or NULL */
    size_t nrules;
    struct gw_version_path *paths; /* the rules' path routes (version_paths.c), or NULL */
    size_t npaths;
};

struct version_state {
    const char *headers;
};
_Static_assert(sizeof(struct version_state) <= GW_STAGE_STATE_MAX, "version state too large");

static bool strips_segment(const struct gw_config *cfg, const struct gw_service_conf *sc)
{
    return sc->version && cfg->versioning.path && cfg->versioning.strip_path_version &&
           !sc->strip_prefix;
}

/* The Vary line of the answers of a service chosen by API version (RFC 9110 12.5.5: the
 * request fields that select the answer) into *out: the version headers and Accept when they
 * are sources (a path segment or a query parameter is part of the URL); NULL when neither is.
 * 0 or GW_ENOMEM. */
static int vary_line(const struct gw_versioning_conf *vc, char **out)
{
    char text[1024]; /* header names are tokens of at most 64 bytes (config_version.c) */
    size_t n = (size_t)snprintf(text, sizeof text, "Vary: ");
    const size_t start = n;
    *out = NULL;
    for (uint8_t k = 0; k < vc->norder; k++) {
        if (vc->order[k] == GW_VSRC_HEADER) {
            for (size_t i = 0; i < vc->nheaders && n < sizeof text; i++)
                n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", n > start ? ", " : "",
                                      vc->headers[i]);
        } else if (vc->order[k] == GW_VSRC_ACCEPT && n < sizeof text) {
            n += (size_t)snprintf(text + n, sizeof text - n, "%sAccept", n > start ? ", " : "");
        }
    }
    if (n == start || n + 3 > sizeof text)
        return 0;
    memcpy(text + n, "\r\n", 3);
    *out = strdup(text);
    return *out ? 0 : GW_ENOMEM;
}

/* Whether the answers of service i depend on the version the request names: it serves a version,
 * has version rules, or shares a prefix with a service that serves one (it answers the requests
 * naming none). */
static bool chosen_by_version(const struct gw_config *cfg, size_t i)
{
    const struct gw_service_conf *sc = &cfg->services[i];
    if (sc->version || sc->nversion_rules > 0)
        return true;
    for (size_t j = 0; j < cfg->nservices; j++) {
        const struct gw_service_conf *o = &cfg->services[j];
        if (j == i || o->version == NULL)
            continue;
        for (size_t a = 0; a < sc->nprefixes; a++)
            for (size_t b = 0; b < o->nprefixes; b++)
                if (strcmp(sc->prefixes[a], o->prefixes[b]) == 0)
                    return true;
    }
    return false;
}

static char *format_headers(const char *deprecated_at, const char *sunset_at, const char *successor,
                            const char *vary)
{
    char text[3700];
    size_t n = 0;
    int64_t t;
    text[0] = '\0';
    if (deprecated_at && gw_version_parse_time(deprecated_at, &t) == 0)
        n += (size_t)snprintf(text + n, sizeof text - n, "Deprecation: @%lld\r\n", (long long)t);
    if (sunset_at && gw_version_parse_time(sunset_at, &t) == 0) {
        time_t tt = (time_t)t;
        struct tm tm;
        char date[64];
        gmtime_r(&tt, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        n += (size_t)snprintf(text + n, sizeof text - n, "Sunset: %s\r\n", date);
    }
    if (successor) /* at most 2048 bytes (config_version.c) */
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "Link: <%s>; rel=\"successor-version\"\r\n", successor);
    if (vary) /* under 1024 bytes (vary_line) */
        n += (size_t)snprintf(text + n, sizeof text - n, "%s", vary);
    return n ? strdup(text) : NULL;
}

/* The "versions" member of a rule's unknown-version answer: the versions are tokens
 * (config_version.c), so no JSON escaping is needed. */
static char *offered_text(const struct gw_version_rule_conf *rc)
{
    size_t n = 16;
    for (size_t i = 0; i < rc->nversions; i++)
        n += strlen(rc->versions[i]) + 3;
    char *t = malloc(n);
    if (t == NULL)
        return NULL;
    size_t at = (size_t)snprintf(t, n, "\"versions\":[");
    for (size_t i = 0; i < rc->nversions; i++)
        at += (size_t)snprintf(t + at, n - at, "%s\"%s\"", i ? "," : "", rc->versions[i]);
    snprintf(t + at, n - at, "]");
    return t;
}

static int build_rules(const struct gw_service_conf *sc, struct gw_version_service *v,
                       const char *vary)
{
    v->rules = calloc(sc->nversion_rules, sizeof *v->rules);
    if (v->rules == NULL)
        return GW_ENOMEM;
    v->nrules = sc->nversion_rules;
    for (size_t k = 0; k < sc->nversion_rules; k++) {
        const struct gw_version_rule_conf *rc = &sc->version_rules[k];
        struct version_rule *vr = &v->rules[k];
        vr->conf = rc;
        if ((vr->offered = offered_text(rc)) == NULL)
            return GW_ENOMEM;
        if ((rc->deprecated_at || rc->sunset_at || rc->successor || vary) &&
            (vr->headers = format_headers(rc->deprecated_at, rc->sunset_at, rc->successor, vary)) ==
                NULL)
            return GW_ENOMEM;
    }
    return 0;
}

int gw_version_build(struct gw_policy *p, const struct gw_snapshot *s)
{
    const struct gw_config *cfg = s->cfg;
    bool any = false;
    for (size_t i = 0; i < s->nservices; i++) {
        const struct gw_service_conf *sc = s->services[i].conf;
        any |= sc->deprecated_at || sc->sunset_at || sc->successor || strips_segment(cfg, sc) ||
               sc->nversion_rules > 0 || sc->version;
    }
    if (!any)
        return 0;
    char *vary = NULL;
    p->versions = calloc(s->nservices, sizeof *p->versions);
    if (p->versions == NULL || vary_line(&cfg->versioning, &vary) < 0)
        goto fail;
    for (size_t i = 0; i < s->nservices; i++) {
        const struct gw_service_conf *sc = s->services[i].conf;
        struct gw_version_service *v = &p->versions[i];
        const char *svary = vary && chosen_by_version(cfg, i) ? vary : NULL;
        if (sc->deprecated_at || sc->sunset_at || sc->successor || svary) {
            v->headers = format_headers(sc->deprecated_at, sc->sunset_at, sc->successor, svary);
            if (v->headers == NULL)
                goto fail;
        }
        if (sc->nversion_rules > 0 &&
            (build_rules(sc, v, svary) < 0 || gw_version_paths(cfg, sc, &v->paths, &v->npaths) < 0))
            goto fail;
        if (strips_segment(cfg, sc)) {
            size_t n = 1 + strlen(cfg->versioning.path_prefix) + strlen(sc->version) + 1;
            v->vseg = malloc(n);
            if (v->vseg == NULL)
                goto fail;
            snprintf(v->vseg, n, "/%s%s", cfg->versioning.path_prefix, sc->version);
            v->vseg_len = n - 1;
        }
    }
    free(vary);
    return 0;
fail:
    free(vary);
    return GW_ENOMEM;
}

void gw_version_free(struct gw_policy *p)
{
    if (p->versions == NULL)
        return;
    for (size_t i = 0; i < p->cfg->nservices; i++) {
        free(p->versions[i].headers);
        free(p->versions[i].vseg);
        for (size_t k = 0; k < p->versions[i].nrules; k++) {
            free(p->versions[i].rules[k].headers);
            free(p->versions[i].rules[k].offered);
        }
        free(p->versions[i].rules);
        gw_version_paths_free(p->versions[i].paths, p->versions[i].npaths);
    }
    free(p->versions);
    p->versions = NULL;
}

const char *gw_version_rule_offered(const struct gw_snapshot *s, const struct gw_service *svc,
                                    const char *path, size_t n, int method)
{
    if (s->policy == NULL || s->policy->versions == NULL)
        return NULL;
    const struct gw_version_service *v = &s->policy->versions[svc - s->services];
    if (v->npaths == 0) /* no path routes: the segment names no version of a rule */
        return NULL;
    for (size_t k = 0; k < v->nrules; k++)
        if (gw_policy_match(&v->rules[k].conf->match, path, n, method))
            return v->rules[k].offered;
    return NULL;
}

bool gw_version_applies(const struct gw_snapshot *s, size_t i)
{
    const struct gw_version_service *v = s->policy ? s->policy->versions : NULL;
    return v != NULL && (v[i].headers != NULL || v[i].vseg != NULL || v[i].nrules > 0);
}

/* True if r was routed by the path route of its service: "/v2" + one of its prefixes. */
static bool routed_by_path(const struct gw_request *r, const struct gw_version_service *v)
{
    size_t n = v->vseg_len;
    if (r->prefix_len < n || r->npath_len < n || memcmp(r->npath, v->vseg, n) != 0 ||
        (r->npath_len > n && r->npath[n] != '/'))
        return false;
    const struct gw_service_conf *sc = r->svc->conf;
    for (size_t k = 0; k < sc->nprefixes; k++) {
        size_t pl = strlen(sc->prefixes[k]);
        if (pl == 1 ? r->prefix_len == n
                    : r->prefix_len == n + pl && memcmp(r->npath + n, sc->prefixes[k], pl) == 0)
            return true;
    }
    return false;
}

/* Removes the leading version segment from r->npath, in place: the packed buffer (route/
 * normalize.h) holds the normalised path and, when it differs, the client's spelling right
 * after it; both lose their first segment and only move left. */
static void strip_segment(struct gw_request *r, size_t vlen)
{
    char *buf = r->npath;
    size_t n = r->npath_len, sl;
    const char *sp = gw_path_packed_spelling(buf, n, &sl);
    bool same = sp == buf;
    size_t skip = same ? vlen : gw_path_spelled_prefix(buf, vlen, sp, sl);
    size_t nn = n - vlen;
    if (nn == 0) { /* "/v2" itself, for the prefix "/" */
        buf[0] = '/';
        buf[1] = '\0';
        r->npath_len = 1;
        r->prefix_len = 0;
        return;
    }
    memmove(buf, buf + vlen, nn);
    if (same || sl - skip == 0) {
        buf[nn] = '\0';
    } else {
        memmove(buf + nn, buf + n + skip, sl - skip);
        buf[nn + sl - skip] = '\0';
    }
    r->npath_len = nn;
    r->prefix_len = r->prefix_len > vlen ? r->prefix_len - vlen : 0;
}

static size_t service_index(const struct gw_request *r)
{
    return (size_t)(r->svc - r->snap->services);
}

/* The first of the service's version rules whose match the request's path (without the
 * version segment of skip bytes) meets, or NULL. */
static const struct version_rule *rule_of(const struct gw_request *r,
                                          const struct gw_version_service *v, size_t skip)
{
    const char *p = r->npath + skip;
    size_t n = r->npath_len - skip;
    if (n == 0) { /* "/v2" routed for the prefix "/" */
        p = "/";
        n = 1;
    }
    for (size_t k = 0; k < v->nrules; k++)
        if (gw_policy_match(&v->rules[k].conf->match, p, n, r->msg.method_id))
            return &v->rules[k];
    return NULL;
}

/* The rule path route r was routed by ("/v2" + a rule's prefix), or NULL. */
static const struct gw_version_path *routed_by_rule_path(const struct gw_request *r,
                                                         const struct gw_version_service *v)
{
    for (size_t i = 0; i < v->npaths; i++) {
        const struct gw_version_path *p = &v->paths[i];
        if (r->prefix_len == p->path_len && memcmp(r->npath, p->path, p->path_len) == 0)
            return p;
    }
    return NULL;
}

/* Does the request name one of the rule's versions (or is the default one of them)? A request
 * routed by a rule's path route names the version of its segment (path_ver). The version it
 * names becomes r->api_version. */
static bool rule_allows(struct gw_request *r, const struct version_rule *vr, const char *path_ver)
{
    const struct gw_versioning_conf *vc = &r->snap->cfg->versioning;
    const char *ver = path_ver;
    size_t len = path_ver ? strlen(path_ver) : 0;
    if (ver == NULL && !gw_version_extract(vc, &r->msg, r->query, r->query_len, &ver, &len) &&
        vc->default_version != NULL) {
        ver = vc->default_version;
        len = strlen(ver);
    }
    for (size_t i = 0; ver != NULL && i < vr->conf->nversions; i++) {
        if (strlen(vr->conf->versions[i]) == len && memcmp(vr->conf->versions[i], ver, len) == 0) {
            r->api_version = vr->conf->versions[i]; /* the snapshot's: outlives the request */
            r->api_version_len = len;
            return true;
        }
    }
    return false;
}

enum gw_stage_result gw_version_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_version_service *v = &r->snap->policy->versions[service_index(r)];
    /* Routed by a rule's path route ("/v2/api/users/export"): the version is the segment's,
     * the service's prefix is what follows it (for strip_prefix). */
    const struct gw_version_path *vp = v->npaths ? routed_by_rule_path(r, v) : NULL;
    if (vp != NULL)
        r->prefix_len = vp->seg_len + vp->svc_prefix_len;
    const struct version_rule *vr = v->nrules ? rule_of(r, v, vp ? vp->seg_len : 0) : NULL;
    const char *headers = vr && vr->headers ? vr->headers : v->headers;
    if (headers != NULL && *slot == NULL) {
        struct version_state *st = gw_stage_alloc(r, sizeof *st);
        if (st == NULL) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        st->headers = headers;
        *slot = st;
    }
    if (vr != NULL && !rule_allows(r, vr, vp ? vp->version : NULL)) {
        gw_answer_init(a, GW_EAPIVERSION);
        a->status = (int)r->snap->cfg->versioning.unknown_status;
        a->extra = vr->offered;
        return GW_STAGE_RESPOND;
    }
    if (vp != NULL) {
        if (r->snap->cfg->versioning.strip_path_version)
            strip_segment(r, vp->seg_len);
    } else if (v->vseg != NULL && routed_by_path(r, v)) {
        strip_segment(r, v->vseg_len);
    }
    return GW_STAGE_CONTINUE;
}

int gw_version_on_response(struct gw_request *r, void *slot, struct gw_buf *head)
{
    const struct version_state *st = slot;
    (void)r;
    return gw_buf_append_str(head, st->headers);
}

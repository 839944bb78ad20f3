/*
 * The API versioning stage (docs/versioning.md). The router already chose the service by the
 * version; this stage does what is left for the services that need it:
 * - deprecation: every answer of a service with "deprecated_at", "sunset_at" or "successor"
 *   carries Deprecation (RFC 9745: "@" and seconds since the epoch), Sunset (RFC 8594: an
 *   HTTP-date) and Link: <successor>; rel="successor-version" (RFC 5829) — its own answers
 *   (a 429, a 401) as well as the upstream's, so the stage takes its state first thing;
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

struct gw_version_service {
    char *headers; /* the deprecation header lines, or NULL */
    char *vseg;    /* "/v2": the path version segment when it is stripped, or NULL */
    size_t vseg_len;
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

static char *format_headers(const struct gw_service_conf *sc)
{
    char text[2600];
    size_t n = 0;
    int64_t t;
    text[0] = '\0';
    if (sc->deprecated_at && gw_version_parse_time(sc->deprecated_at, &t) == 0)
        n += (size_t)snprintf(text + n, sizeof text - n, "Deprecation: @%lld\r\n", (long long)t);
    if (sc->sunset_at && gw_version_parse_time(sc->sunset_at, &t) == 0) {
        time_t tt = (time_t)t;
        struct tm tm;
        char date[64];
        gmtime_r(&tt, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        n += (size_t)snprintf(text + n, sizeof text - n, "Sunset: %s\r\n", date);
    }
    if (sc->successor) /* at most 2048 bytes (config_version.c) */
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "Link: <%s>; rel=\"successor-version\"\r\n", sc->successor);
    return n ? strdup(text) : NULL;
}

int gw_version_build(struct gw_policy *p, const struct gw_snapshot *s)
{
    const struct gw_config *cfg = s->cfg;
    bool any = false;
    for (size_t i = 0; i < s->nservices; i++) {
        const struct gw_service_conf *sc = s->services[i].conf;
        any |= sc->deprecated_at || sc->sunset_at || sc->successor || strips_segment(cfg, sc);
    }
    if (!any)
        return 0;
    p->versions = calloc(s->nservices, sizeof *p->versions);
    if (p->versions == NULL)
        return GW_ENOMEM;
    for (size_t i = 0; i < s->nservices; i++) {
        const struct gw_service_conf *sc = s->services[i].conf;
        struct gw_version_service *v = &p->versions[i];
        if (sc->deprecated_at || sc->sunset_at || sc->successor) {
            v->headers = format_headers(sc);
            if (v->headers == NULL)
                return GW_ENOMEM;
        }
        if (strips_segment(cfg, sc)) {
            size_t n = 1 + strlen(cfg->versioning.path_prefix) + strlen(sc->version) + 1;
            v->vseg = malloc(n);
            if (v->vseg == NULL)
                return GW_ENOMEM;
            snprintf(v->vseg, n, "/%s%s", cfg->versioning.path_prefix, sc->version);
            v->vseg_len = n - 1;
        }
    }
    return 0;
}

void gw_version_free(struct gw_policy *p)
{
    if (p->versions == NULL)
        return;
    for (size_t i = 0; i < p->cfg->nservices; i++) {
        free(p->versions[i].headers);
        free(p->versions[i].vseg);
    }
    free(p->versions);
    p->versions = NULL;
}

bool gw_version_applies(const struct gw_snapshot *s, size_t i)
{
    const struct gw_version_service *v = s->policy ? s->policy->versions : NULL;
    return v != NULL && (v[i].headers != NULL || v[i].vseg != NULL);
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

enum gw_stage_result gw_version_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_version_service *v = &r->snap->policy->versions[service_index(r)];
    if (v->headers != NULL && *slot == NULL) {
        struct version_state *st = gw_stage_alloc(r, sizeof *st);
        if (st == NULL) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        st->headers = v->headers;
        *slot = st;
    }
    if (v->vseg != NULL && routed_by_path(r, v))
        strip_segment(r, v->vseg_len);
    return GW_STAGE_CONTINUE;
}

int gw_version_on_response(struct gw_request *r, void *slot, struct gw_buf *head)
{
    const struct version_state *st = slot;
    (void)r;
    return gw_buf_append_str(head, st->headers);
}

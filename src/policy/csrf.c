/*
 * The CSRF check: OWASP's "verifying origin with standard headers" defence. A browser says
 * where a request comes from in Origin (every cross-origin request, and every request whose
 * method is not GET or HEAD, carries one: Fetch, "append a request Origin header"), or at least
 * in Referer; a forged request from another site cannot change either. So a request with an
 * unsafe method (anything but GET, HEAD, OPTIONS and TRACE) whose Origin, or when absent whose
 * Referer's origin, is not trusted is refused with 403 before authentication looks at its
 * cookies.
 *
 * Trusted: the request's own host (the target origin, by its Host header: a browser sets it and
 * a forging page cannot), the setting's origins, and the origins the request's CORS setting
 * allows (a site allowed to read the API with credentials is a site allowed to write to it).
 *
 * A request with neither header comes from something that is not a browser of this decade
 * (curl, a server, a mobile app) and carries no ambient cookies a page could abuse: it passes,
 * unless no_origin is "refuse" (for services only browsers use).
 */
#include <string.h>
#include <strings.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "policy/chain.h"
#include "policy/cors.h"
#include "policy/policy.h"
#include "policy/stages.h"

bool gw_csrf_applies(const struct gw_snapshot *s, size_t i)
{
    const struct gw_policy *p = s->policy;
    return p && p->csrf && p->csrf[i].base.enabled;
}

static bool is_safe(enum gw_http_method m)
{
    return m == GW_METHOD_GET || m == GW_METHOD_HEAD || m == GW_METHOD_OPTIONS ||
           m == GW_METHOD_TRACE;
}

static bool trusted(const struct gw_request *r, size_t svc, const struct gw_csrf_set *set,
                    const struct gw_origin *o)
{
    const struct gw_http1_message *m = &r->msg;
    const char *host = r->authority;
    size_t host_len = r->authority_len;
    if (host == NULL) {
        host = m->host_index >= 0 ? m->headers[m->host_index].value : "";
        host_len = m->host_index >= 0 ? m->headers[m->host_index].value_len : 0;
    }
    if (gw_origin_is_host(o, host, host_len))
        return true;
    for (size_t i = 0; i < set->norigins; i++) {
        if (gw_origin_pattern_match(&set->origins[i], o))
            return true;
    }
    const struct gw_policy *p = r->snap->policy;
    if (p->cors == NULL || !p->cors[svc].base.enabled)
        return false;
    const struct gw_cors_set *cs =
        gw_cors_select(&p->cors[svc], r->npath, r->npath_len, (int)m->method_id);
    /* "*" lets any site read; it does not make any site trusted to write */
    return !cs->any_origin && gw_cors_origin_allowed(cs, o);
}

static enum gw_stage_result refuse(struct gw_request *r, const char *why, struct gw_answer *a)
{
    gw_log_info("request %s: %s %s: cross-site request refused: %s", r->id, r->method, r->path,
                why);
    gw_answer_init(a, GW_ECSRF);
    a->reason = why;
    return GW_STAGE_RESPOND;
}

enum gw_stage_result gw_csrf_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_http1_message *m = &r->msg;
    (void)slot;
    if (is_safe(m->method_id))
        return GW_STAGE_CONTINUE;
    size_t svc = (size_t)(r->svc - r->snap->services);
    const struct gw_csrf_set *set =
        gw_csrf_select(&r->snap->policy->csrf[svc], r->npath, r->npath_len, (int)m->method_id);
    if (!set->enabled)
        return GW_STAGE_CONTINUE;
    struct gw_origin o;
    int oi = gw_http1_find_header(m, "origin", 6);
    if (oi >= 0) {
        const struct gw_http1_header *h = &m->headers[oi];
        if (gw_origin_parse(h->value, h->value_len, &o) != 0)
            return refuse(r, "the Origin header is not an origin", a);
        if (!trusted(r, svc, set, &o))
            return refuse(r, "the request's Origin is not a trusted origin", a);
        return GW_STAGE_CONTINUE;
    }
    int ri = gw_http1_find_header(m, "referer", 7);
    if (ri >= 0) {
        const struct gw_http1_header *h = &m->headers[ri];
        if (gw_origin_of_url(h->value, h->value_len, &o) != 0)
            return refuse(r, "the Referer header is not an absolute URL", a);
        if (!trusted(r, svc, set, &o))
            return refuse(r, "the request's Referer is not from a trusted origin", a);
        return GW_STAGE_CONTINUE;
    }
    if (set->refuse_no_origin)
        return refuse(r, "the request has neither Origin nor Referer", a);
    return GW_STAGE_CONTINUE;
}
